package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"
)

// The contract check: every request an API test sends through the test
// server (testServer.serve) and every answer it gets is validated against
// openapi.yaml, the document GET /v1/openapi.json serves.
//
//   - Every answer must be documented: its route and method, its status
//     (openapi3filter IncludeResponseStatus), its content type, its body
//     (response objects are additionalProperties: false, so an undocumented
//     field fails too) and its required headers (Location on 202,
//     Retry-After on 429/503, WWW-Authenticate on 401).
//   - A request the server accepted (2xx) must be one the document allows:
//     parameters, headers and body. Requests the tests send to be refused
//     (malformed JSON, unknown fields) are not held to the document; their
//     answer is, like every other.
//   - A path or method the document does not have may only be answered with
//     a problem (404, 405, or the 401/429 of a refused caller).
//   - Routes under /v1/test/ and /test/ are test-only (server_test.go adds them) and
//     are not part of the contract.
//
// kin-openapi v0.153 reads OpenAPI 3.1 and, for 3.1 documents, validates
// schemas as JSON Schema 2020-12 (type arrays with "null", const); the
// document is therefore written, served and checked as 3.1 only.

type contract struct {
	doc    *openapi3.T
	router routers.Router
}

var (
	contractOnce sync.Once
	contractDoc  *contract
	contractErr  error
)

// loadContract parses and validates the embedded document once per test
// binary.
func loadContract() (*contract, error) {
	contractOnce.Do(func() { contractDoc, contractErr = newContract(openAPIYAML) })
	return contractDoc, contractErr
}

func newContract(src []byte) (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(src)
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("openapi.yaml is not a valid OpenAPI document: %w", err)
	}
	// Match paths only: the servers list names localhost:8080, test
	// requests go to example.com.
	doc.Servers = nil
	r, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route openapi.yaml: %w", err)
	}
	return &contract{doc: doc, router: r}, nil
}

// check reports how the exchange departs from the document (nil: it
// conforms).
func (k *contract) check(req *http.Request, reqBody []byte, status int, header http.Header, body []byte) error {
	if strings.HasPrefix(req.URL.Path, "/v1/test/") || strings.HasPrefix(req.URL.Path, "/test/") {
		return nil
	}
	ctx := context.Background()
	route, params, err := k.router.FindRoute(req)
	if err != nil {
		var re *routers.RouteError
		if !errors.As(err, &re) {
			return fmt.Errorf("find route: %w", err)
		}
		switch status {
		case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusUnauthorized, http.StatusTooManyRequests:
		default:
			return fmt.Errorf("%s %s is not in the document, yet it answered %d", req.Method, req.URL.Path, status)
		}
		return k.checkProblem(header, body)
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if status >= 200 && status < 300 {
		in.Request = cloneWithBody(req, reqBody)
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			return fmt.Errorf("the server accepted (%d) a request the document does not allow: %w", status, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: opts}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("answer %d to %s %s: %w", status, req.Method, route.Path, err)
	}
	return nil
}

// checkProblem validates a problem+json body against the Problem schema.
func (k *contract) checkProblem(header http.Header, body []byte) error {
	mt, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	if mt != "application/problem+json" {
		return fmt.Errorf("content type %q, want application/problem+json", mt)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("problem body: %w", err)
	}
	schema := k.doc.Components.Schemas["Problem"].Value
	return schema.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

func cloneWithBody(req *http.Request, body []byte) *http.Request {
	r := req.Clone(context.Background())
	r.Body = io.NopCloser(bytes.NewReader(body))
	return r
}

// serve runs req through the test server and fails the test when the
// exchange departs from the document.
func (s *testServer) serve(t testing.TB, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		require.NoError(t, err)
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	probe := req.Clone(context.Background())
	rec := httptest.NewRecorder()
	s.e.ServeHTTP(rec, req)
	k, err := loadContract()
	require.NoError(t, err)
	if err := k.check(probe, reqBody, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
		t.Errorf("the exchange departs from openapi.yaml: %v\nanswer body: %.2000s", err, rec.Body.String())
	}
	return rec
}
