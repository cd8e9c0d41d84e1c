package scenariosql_test

import (
	"testing"

	"github.com/tongbao/tongbao/internal/storetest/scenariotest"
	"github.com/tongbao/tongbao/scenario/scenariosql"
)

// TestConformance runs the store's conformance suite on SQLite, and on
// PostgreSQL when TONGBAO_TEST_POSTGRES names one.
func TestConformance(t *testing.T) { scenariotest.Run(t, scenariosql.Open) }
