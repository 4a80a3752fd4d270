package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"
)

// bindStrict decodes a JSON body into v: JSON media type required (415),
// malformed JSON → 400, unknown fields or wrong types → 422 naming the field,
// trailing data → 400. The body size is already capped by middleware.
func bindStrict(c echo.Context, v any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if !isJSONMediaType(ct) {
		return NewProblem(http.StatusUnsupportedMediaType, "the body must be application/json")
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return decodeProblem(err)
	}
	// PostgreSQL text cannot hold NUL: refuse it here as bad input rather
	// than fail later with a 500.
	if bytes.Contains(body, []byte(`\u0000`)) {
		return Validation(FieldError{Field: "body", Message: "strings must not contain NUL (\\u0000)"})
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return NewProblem(http.StatusBadRequest, "the body must hold exactly one JSON value")
	}
	return nil
}

func isJSONMediaType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

func decodeProblem(err error) error {
	var (
		typeErr *json.UnmarshalTypeError
		syntax  *json.SyntaxError
		maxErr  *http.MaxBytesError
		he      *echo.HTTPError
	)
	switch {
	case errors.As(err, &he):
		return he // body limit
	case errors.As(err, &maxErr):
		return NewProblem(http.StatusRequestEntityTooLarge, "the body is too large")
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return Validation(FieldError{Field: field, Message: "must be " + jsonKind(typeErr.Type)})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return Validation(FieldError{Field: name, Message: "unknown field"})
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return NewProblem(http.StatusBadRequest, "the body is not valid JSON")
	}
	return NewProblem(http.StatusBadRequest, "the body could not be decoded")
}

// zerologCtx returns the request-scoped logger.
func zerologCtx(c echo.Context) *zerolog.Logger {
	return zerolog.Ctx(c.Request().Context())
}

// jsonKind names what a Go type accepts in JSON words, so a 422 never shows
// a Go type name (store.QuietHours, int64).
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a value of another type"
}
