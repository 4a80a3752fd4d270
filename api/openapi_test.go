package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"fundigo/pkg/tasks"
)

func TestOpenAPIDocumentIsValid31(t *testing.T) {
	t.Parallel()
	k, err := loadContract()
	require.NoError(t, err)
	require.True(t, k.doc.IsOpenAPI31OrLater(), "the document is OpenAPI 3.1")
}

// TestOpenAPIServed: GET /v1/openapi.json needs no credentials and serves
// the embedded document as JSON that loads as the same contract.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	r := s.do(t, http.MethodGet, "/v1/openapi.json", nil, nil)
	require.Equal(t, http.StatusOK, r.Code, "body: %s", r.Body)
	require.Contains(t, r.Header.Get("Content-Type"), "application/json")
	doc, err := openapi3.NewLoader().LoadFromData(r.Body)
	require.NoError(t, err)
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.NotNil(t, doc.Paths.Find("/v1/payments"))
}

// TestOpenAPICoversEveryRoute: every route registered on the server is in
// the document with its method, and every operation in the document is
// served: neither can gain a route the other lacks.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	k, err := loadContract()
	require.NoError(t, err)

	served := map[string]bool{}
	for _, r := range s.e.Routes() {
		if !strings.HasPrefix(r.Path, "/") || strings.HasSuffix(r.Path, "/*") || r.Method == "echo_route_not_found" {
			continue
		}
		served[r.Method+" "+echoPathToOpenAPI(r.Path)] = true
	}
	documented := map[string]bool{}
	for path, item := range k.doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	require.Equal(t, sortedKeys(documented), sortedKeys(served))
}

func echoPathToOpenAPI(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestContractCatchesMismatch shows the suite's contract check failing on
// a document that departs from a handler: the same real exchange (a 202
// from POST /v1/payments) passes the embedded document and is refused by
// copies that each lose one thing the handler does.
func TestContractCatchesMismatch(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, noPaymentThrottle)
	body := []byte(`{"job_id":"job-1","customer_id":"cust-1","phone":"0712345678","amount":10}`)
	req := httptest.NewRequest(http.MethodPost, "/v1/payments", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", testKey)
	rec := s.serve(t, req) // passes against the real document
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())

	mutations := map[string]struct {
		from, to string
		want     string
	}{
		"an undocumented field": {
			from: "        mpesa_receipt: {type: [string, \"null\"]}\n", to: "",
			want: `property "mpesa_receipt" is unsupported`,
		},
		"an undocumented status": {
			from: "        \"202\":\n          description: Accepted; the STK Push is queued.", to: "        \"201\":\n          description: Accepted; the STK Push is queued.",
			want: "status is not supported",
		},
		"a required header it does not send": {
			from: "            Location: {$ref: \"#/components/headers/LocationPayment\"}\n",
			to:   "            Location: {$ref: \"#/components/headers/LocationPayment\"}\n            X-Not-Sent: {$ref: \"#/components/headers/LocationTask\"}\n",
			want: `X-Not-Sent`,
		},
		"a wrong header value": {
			from: `pattern: "^/v1/payments/[^/]+$"`, to: `pattern: "^/payments/[^/]+$"`,
			want: `response header "Location"`,
		},
	}
	for name, m := range mutations {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := string(openAPIYAML)
			require.Contains(t, src, m.from, "the mutation must apply")
			k, err := newContract([]byte(strings.Replace(src, m.from, m.to, 1)))
			require.NoError(t, err)
			probe := httptest.NewRequest(http.MethodPost, "/v1/payments", bytes.NewReader(body))
			probe.Header = req.Header.Clone()
			err = k.check(probe, body, rec.Code, rec.Header(), rec.Body.Bytes())
			require.Error(t, err)
			require.Contains(t, err.Error(), m.want)
		})
	}
}

// TestProblemsAreDocumented: an answer from a path the document does not
// have must still be a problem.
func TestUnknownPathAnswersProblem(t *testing.T) {
	t.Parallel()
	k, err := loadContract()
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "/v1/nope", nil)
	h := http.Header{"Content-Type": {"application/json"}}
	b, _ := json.Marshal(map[string]any{"status": 404})
	require.Error(t, k.check(req, nil, http.StatusNotFound, h, b), "a 404 that is not problem+json is refused")
}

// TestOpenAPIListsTheRemoteTaskTypes: the task types the document lets a
// client enqueue are exactly those pkg/tasks accepts.
func TestOpenAPIListsTheRemoteTaskTypes(t *testing.T) {
	t.Parallel()
	k, err := loadContract()
	require.NoError(t, err)
	var documented []string
	for _, b := range k.doc.Components.Schemas["EnqueueTask"].Value.OneOf {
		documented = append(documented, fmt.Sprint(b.Value.Properties["type"].Value.Const))
	}
	sort.Strings(documented)
	require.Equal(t, tasks.RemoteTypes(), documented)
}
