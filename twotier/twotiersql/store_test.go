package twotiersql_test

import (
	"testing"

	"github.com/tongbao/tongbao/internal/storetest/twotiertest"
	"github.com/tongbao/tongbao/twotier/twotiersql"
)

// TestConformance runs the store's conformance suite on SQLite, and on
// PostgreSQL when TONGBAO_TEST_POSTGRES names one.
func TestConformance(t *testing.T) { twotiertest.Run(t, twotiersql.Open) }
