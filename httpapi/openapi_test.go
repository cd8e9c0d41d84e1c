package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes reads /openapi.json from a running server and
// checks it both ways: every route the server serves is documented, and
// every documented route is served (the mux does not answer 404 or 405).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(e.base + "/openapi.json")
	must(t, err)
	defer resp.Body.Close()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	must(t, json.NewDecoder(resp.Body).Decode(&doc))
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q; want 3.1.0", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range e.srv.Routes() {
		served[rt.Method+" "+rt.Pattern] = true
		if !documented[rt.Method+" "+rt.Pattern] {
			t.Errorf("served route %s %s is not in /openapi.json", rt.Method, rt.Pattern)
		}
	}
	for route := range documented {
		method, path, _ := strings.Cut(route, " ")
		if !served[route] {
			t.Errorf("documented route %s is not in the route table", route)
		}
		url := e.base + strings.NewReplacer("{operator}", "00000000000000000000000000000001", "{wallet}", "00000000000000000000000000000002").Replace(path)
		req, err := http.NewRequest(method, url, nil)
		must(t, err)
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound && !strings.Contains(path, "{") || resp.StatusCode == http.StatusMethodNotAllowed {
			t.Errorf("documented route %s answers %d", route, resp.StatusCode)
		}
		if resp.StatusCode == http.StatusNotFound {
			t.Errorf("documented route %s answers 404 without a key", route)
		}
	}
	// And a route nobody documented is not served.
	resp, err = http.Get(e.base + "/v1/undocumented")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("undocumented route: %d %s; want a 404 problem", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// TestOperations checks the health checks and the metrics.
func TestOperations(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(e.base + path)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Request-Id") == "" {
			t.Fatalf("%s: %d, request id %q", path, resp.StatusCode, resp.Header.Get("X-Request-Id"))
		}
	}
	e.supplyOK("reading the supply")
	resp, err := http.Get(e.base + "/metrics")
	must(t, err)
	defer resp.Body.Close()
	var b strings.Builder
	_, err = io.Copy(&b, resp.Body)
	must(t, err)
	for _, want := range []string{"tongbao_http_requests_total", "tongbao_http_request_duration_seconds", "tongbao_ledger_batches_total", "tongbao_ledger_commit_seconds_total", "tongbao_ledger_queue_depth", "tongbao_ledger_batch_size_mean", `route="/v1/supply"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	e.srv.SetClosing()
	resp2, err := http.Get(e.base + "/readyz")
	must(t, err)
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz while closing: %d; want 503", resp2.StatusCode)
	}
}
