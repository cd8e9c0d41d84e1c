package keysql_test

import (
	"testing"

	"github.com/tongbao/tongbao/httpapi/keysql"
	"github.com/tongbao/tongbao/internal/storetest/keystest"
)

// TestConformance runs the store's conformance suite on SQLite, and on
// PostgreSQL when TONGBAO_TEST_POSTGRES names one.
func TestConformance(t *testing.T) { keystest.Run(t, keysql.Open) }
