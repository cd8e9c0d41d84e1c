package merchantsql_test

import (
	"testing"

	"github.com/tongbao/tongbao/internal/storetest/merchanttest"
	"github.com/tongbao/tongbao/merchant/merchantsql"
)

// TestConformance runs the store's conformance suite on SQLite, and on
// PostgreSQL when TONGBAO_TEST_POSTGRES names one.
func TestConformance(t *testing.T) { merchanttest.Run(t, merchantsql.Open) }
