package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.yaml.in/yaml/v3"
)

// openAPIYAML is the API contract (OpenAPI 3.1), written by hand next to the
// routes it describes. The API tests validate every request and answer
// against it (apitest_test.go), so it cannot drift from the handlers.
//
//go:embed openapi.yaml
var openAPIYAML []byte

// OpenAPIJSON returns the contract as JSON, the form GET /v1/openapi.json
// serves.
func OpenAPIJSON() ([]byte, error) {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		return nil, fmt.Errorf("decode openapi.yaml: %w", err)
	}
	b, err := json.MarshalIndent(jsonable(doc), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode openapi document: %w", err)
	}
	return b, nil
}

// jsonable turns YAML's map[any]any (numeric keys such as response codes)
// into map[string]any so encoding/json can write it.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = jsonable(e)
		}
		return v
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range v {
			v[i] = jsonable(e)
		}
		return v
	}
	return v
}

// handleOpenAPI serves the contract (public: it holds no secret). The JSON
// is built once, when the route is registered.
func handleOpenAPI() echo.HandlerFunc {
	doc, err := OpenAPIJSON()
	if err != nil {
		panic("api: " + err.Error()) // a broken embedded file is a build defect; the tests load it
	}
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=300")
		return c.JSONBlob(http.StatusOK, doc)
	}
}
