package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/sqlite"
)

// BenchmarkSubmit measures durable transfers through the writer on SQLite:
// 64 clients, 10,000 wallets, a tenth of transfers touching one hot account,
// over a range of request sizes (transfers per client request).
func BenchmarkSubmit(b *testing.B) {
	for _, request := range []int{1, 32, ledger.DefaultBatchMax} {
		b.Run(fmt.Sprintf("request=%d", request), func(b *testing.B) {
			benchmarkSubmit(b, 10000, 64, request)
		})
	}
}

func benchmarkSubmit(b *testing.B, wallets, clients, request int) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "ledger.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	l, err := ledger.Open(ctx, ledger.Config{Store: st})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	accounts := []ledger.Account{acct(1, 0)}
	for i := 0; i < wallets; i++ {
		accounts = append(accounts, acct(uint64(2+i), wallet))
	}
	for len(accounts) > 0 {
		n := min(len(accounts), l.BatchMax())
		if _, err := l.CreateAccounts(ctx, accounts[:n]); err != nil {
			b.Fatal(err)
		}
		accounts = accounts[n:]
	}
	var fund []ledger.Transfer
	for i := 0; i < wallets; i++ {
		fund = append(fund, ledger.Transfer{ID: tongbao.NewID(), DebitAccountID: tongbao.IDFromUint64(1), CreditAccountID: tongbao.IDFromUint64(uint64(2 + i)), Amount: 1 << 40, Code: 1})
		if len(fund) == l.BatchMax() || i == wallets-1 {
			if _, err := l.Submit(ctx, fund); err != nil {
				b.Fatal(err)
			}
			fund = fund[:0]
		}
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	var failed atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ts := make([]ledger.Transfer, 0, request)
			for {
				n := left.Add(-int64(request))
				take := request
				if n < 0 {
					take += int(n)
				}
				if take <= 0 {
					return
				}
				ts = ts[:0]
				for i := 0; i < take; i++ {
					d := tongbao.IDFromUint64(uint64(2 + rand.IntN(wallets)))
					c := tongbao.IDFromUint64(uint64(2 + rand.IntN(wallets)))
					for c == d {
						c = tongbao.IDFromUint64(uint64(2 + rand.IntN(wallets)))
					}
					if rand.Float64() < 0.1 {
						c = tongbao.IDFromUint64(1)
					}
					ts = append(ts, ledger.Transfer{ID: tongbao.NewID(), DebitAccountID: d, CreditAccountID: c, Amount: tongbao.Amount(1 + rand.IntN(1000)), Code: 1})
				}
				rs, err := l.Submit(ctx, ts)
				if err != nil {
					b.Error(err)
					return
				}
				for _, r := range rs {
					if r.Err != nil {
						failed.Add(1)
					}
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d transfers failed", failed.Load())
	}
	s := l.Stats()
	b.ReportMetric(float64(s.Transfers.Load())/float64(s.Batches.Load()), "transfers/batch")
}
