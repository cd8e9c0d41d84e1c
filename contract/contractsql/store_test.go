package contractsql_test

import (
	"testing"

	"github.com/tongbao/tongbao/contract/contractsql"
	"github.com/tongbao/tongbao/internal/storetest/contracttest"
)

// TestConformance runs the store's conformance suite on SQLite, and on
// PostgreSQL when TONGBAO_TEST_POSTGRES names one.
func TestConformance(t *testing.T) { contracttest.Run(t, contractsql.Open) }
