package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	tongbao "github.com/tongbao/tongbao"
)

// TestLogFailureLevels checks that a 503 asking only for a retry is
// logged as a warning, and a storage failure or an internal error as an
// error (a chaos run logged every "window closed twice, retry" as an
// error).
func TestLogFailureLevels(t *testing.T) {
	retry := tongbao.Sentinel(tongbao.EUNAVAILABLE, "unavailable", "the window closed; retry")
	storage := &tongbao.Error{Code: tongbao.EUNAVAILABLE, Message: "ledger stopped after a storage failure", Err: errors.New("disk full")}
	for _, tt := range []struct {
		name     string
		err      error
		internal bool
		want     string
	}{
		{"a retry", fmt.Errorf("pay: %w", retry), false, "level=WARN"},
		{"a storage failure", fmt.Errorf("pay: %w", storage), false, "level=ERROR"},
		{"an internal error", errors.New("bug"), true, "level=ERROR"},
	} {
		var buf bytes.Buffer
		ctx := context.WithValue(context.Background(), ctxKey{}, &requestLog{base: slog.New(slog.NewTextHandler(&buf, nil)), id: "r1"})
		logFailure(ctx, tt.err, tt.internal)
		if got := buf.String(); !strings.Contains(got, tt.want) || !strings.Contains(got, "request_id=r1") {
			t.Errorf("%s: logged %q; want %s with the request id", tt.name, got, tt.want)
		}
	}
}
