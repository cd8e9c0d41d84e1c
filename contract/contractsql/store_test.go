package contractsql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/contract"
	"github.com/tongbao/tongbao/contract/contractsql"
	"github.com/tongbao/tongbao/internal/storetest"
	"github.com/tongbao/tongbao/internal/storetest/contracttest"
)

// TestConformance runs the store's conformance suite on SQLite, and on
// PostgreSQL when TONGBAO_TEST_POSTGRES names one.
func TestConformance(t *testing.T) { contracttest.Run(t, contractsql.Open) }

// BenchmarkFinishInvocation measures one contract-triggered payment's
// store writes, CreateInvocation then FinishInvocation, durable, from
// parallel callers each on a contract of its own: what group commit buys.
func BenchmarkFinishInvocation(b *testing.B) {
	for _, db := range storetest.Databases() {
		b.Run(db.Name, func(b *testing.B) {
			ctx := context.Background()
			target := filepath.Join(b.TempDir(), "contract.db")
			if db.Name != "SQLite" {
				dsn, err := storetest.TempSchema(b)
				if err != nil {
					b.Fatal(err)
				}
				target = dsn
			}
			s, err := contractsql.Open(ctx, target)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var next atomic.Uint64
			runtime := contract.Runtime{State: map[string]any{"paid": int64(0)}, TakenIn: 10_000}
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c := contract.Contract{ID: tongbao.IDFromUint64(next.Add(1)), Hash: "h", Operator: tongbao.IDFromUint64(1),
					Document: json.RawMessage(`{}`), Status: contract.StatusActive, Runtime: runtime, DeployedAt: time.Unix(1, 0)}
				if _, _, err := s.CreateContract(ctx, c); err != nil {
					b.Error(err)
					return
				}
				version := int64(1)
				for n := 0; pb.Next(); n++ {
					key := fmt.Sprintf("event:shop:%d", n)
					inv, _, err := s.CreateInvocation(ctx, contract.Invocation{ID: tongbao.DeriveID("bench", c.ID, key), Contract: c.ID, Key: key,
						Trigger: "delivered", Input: json.RawMessage(`{"order":"A-1"}`), BaseVersion: version, At: time.Unix(2, 0),
						Moves: []contract.PlannedMove{{Kind: "transfer", Transfer: tongbao.DeriveID("t", c.ID, key), From: c.Wallet, To: c.Operator, Amount: 100}}})
					if err != nil {
						b.Error(err)
						return
					}
					inv.Outcome, inv.Next, inv.NextStatus, inv.Finished = contract.OutcomeSucceeded, runtime, contract.StatusActive, time.Unix(3, 0)
					if err := s.FinishInvocation(ctx, inv); err != nil {
						b.Error(err)
						return
					}
					version++
				}
			})
		})
	}
}
