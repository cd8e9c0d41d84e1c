package offlinesql_test

import (
	"testing"

	"github.com/tongbao/tongbao/internal/storetest/offlinetest"
	"github.com/tongbao/tongbao/offline/offlinesql"
)

// TestConformance runs the store's conformance suite on SQLite, and on
// PostgreSQL when TONGBAO_TEST_POSTGRES names one.
func TestConformance(t *testing.T) { offlinetest.Run(t, offlinesql.Open) }
