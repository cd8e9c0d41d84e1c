package httpapi_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/ledger"
)

// TestStandby checks what a process that does not hold the writer
// answers: it is alive, not ready, and refuses every /v1 request,
// reads and writes alike, with a retryable 503 not-the-writer.
func TestStandby(t *testing.T) {
	keys, err := httpapi.NewKeys(t.Context(), nil)
	must(t, err)
	secret, _, err := keys.Create(httpapi.Principal{Role: httpapi.RoleCentralBank, Institution: tongbao.NewID()})
	must(t, err)
	srv, err := httpapi.New(httpapi.Config{
		Current: func() (httpapi.Services, error) { return httpapi.Services{}, ledger.ErrNotWriter },
		Keys:    keys,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	must(t, err)
	do := func(method, path, key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Idempotency-Key", "k1")
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		return w
	}
	if w := do("GET", "/healthz", ""); w.Code != http.StatusOK {
		t.Errorf("/healthz: got %d; want 200", w.Code)
	}
	w := do("GET", "/readyz", "")
	var h wire.Health
	must(t, json.Unmarshal(w.Body.Bytes(), &h))
	if w.Code != http.StatusServiceUnavailable || h.Status != "standby" || h.Writer == nil || *h.Writer {
		t.Errorf("/readyz: got %d %s; want 503, standby, not the writer", w.Code, w.Body)
	}
	if w := do("GET", "/metrics", ""); w.Code != http.StatusOK {
		t.Errorf("/metrics: got %d; want 200", w.Code)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/supply"},
		{"POST", "/v1/settlement-windows/close"},
		{"POST", "/v1/operators/" + tongbao.NewID().String() + "/issue"},
	} {
		w := do(c.method, c.path, secret)
		var p wire.Problem
		must(t, json.Unmarshal(w.Body.Bytes(), &p))
		if w.Code != http.StatusServiceUnavailable || p.Type != httpapi.ProblemNotWriter.URI() || w.Header().Get("Retry-After") == "" {
			t.Errorf("%s %s: got %d %s, Retry-After %q; want 503 %s with a Retry-After",
				c.method, c.path, w.Code, p.Type, w.Header().Get("Retry-After"), httpapi.ProblemNotWriter.URI())
		}
	}
	// A caller without a key learns nothing about the writer.
	if w := do("GET", "/v1/supply", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("/v1/supply without a key: got %d; want 401", w.Code)
	}
}
