package keysql_test

import (
	"context"
	"testing"

	"github.com/tongbao/tongbao/httpapi/keysql"
	"github.com/tongbao/tongbao/internal/storetest/keystest"
)

// TestConformance runs the store's conformance suite on SQLite, and on
// PostgreSQL when TONGBAO_TEST_POSTGRES names one.
func TestConformance(t *testing.T) {
	keystest.Run(t, func(ctx context.Context, target string) (keystest.Store, error) {
		return keysql.Open(ctx, target)
	})
}
