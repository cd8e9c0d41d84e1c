package sqlite_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/sqlite"
)

// BenchmarkCommit commits batches the size of the engine's largest: 8190
// transfers over 10,000 accounts, one transfer in ten touching one hot
// account, every batch replacing the balances and heads of history of the
// accounts it touched. Commits are durable (fsync per batch), as in
// production. Run it with a fixed count, which also fixes how large the
// database grows; a longer run shows whether commits slow down as the
// history grows:
//
//	go test ./sqlite -run '^$' -bench Commit -benchtime 30x
//	go test ./sqlite -run '^$' -bench Commit -benchtime 150x
func BenchmarkCommit(b *testing.B) {
	const (
		accountsN = 10_000
		batchN    = 8190
		hotEvery  = 10
	)
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "ledger.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()

	accounts := make([]ledger.AccountRecord, accountsN)
	ts := int64(1)
	for i := range accounts {
		accounts[i].ID = tongbao.NewID()
		accounts[i].Currency = tongbao.CNY
		accounts[i].Flags = ledger.FlagDebitsMustNotExceedCredits
		accounts[i].CreditLine = 1 << 40
		accounts[i].Timestamp = ts
		ts++
	}
	if err := s.Commit(b.Context(), &ledger.Batch{Accounts: accounts}); err != nil {
		b.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	touched := make([]int, 0, accountsN)
	seen := make([]bool, accountsN)
	touch := func(i int) {
		if !seen[i] {
			seen[i] = true
			touched = append(touched, i)
		}
	}
	batch := &ledger.Batch{Transfers: make([]ledger.PostedTransfer, batchN)}
	var cpu time.Duration // of the whole process while committing: SQLite, driver, GC
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		b.StopTimer()
		touched = touched[:0]
		clear(seen)
		for j := range batch.Transfers {
			debit, credit := 1+rng.IntN(accountsN-1), 1+rng.IntN(accountsN-2)
			if credit >= debit {
				credit++
			}
			if j%hotEvery == 0 {
				if j%(2*hotEvery) == 0 {
					debit = 0
				} else {
					credit = 0
				}
			}
			amount := tongbao.Amount(1 + rng.IntN(10_000))
			accounts[debit].DebitsPosted += amount
			accounts[credit].CreditsPosted += amount
			touch(debit)
			touch(credit)
			batch.Transfers[j] = ledger.PostedTransfer{
				Transfer: ledger.Transfer{
					ID:              tongbao.NewID(),
					DebitAccountID:  accounts[debit].ID,
					CreditAccountID: accounts[credit].ID,
					Amount:          amount,
					Code:            1,
					Timestamp:       ts,
					DebitPrevious:   accounts[debit].LastTransfer,
					CreditPrevious:  accounts[credit].LastTransfer,
				},
				Hash: rng.Uint64(),
			}
			accounts[debit].LastTransfer = ts
			accounts[credit].LastTransfer = ts
			ts++
		}
		batch.Balances = batch.Balances[:0]
		for _, i := range touched {
			batch.Balances = append(batch.Balances, accounts[i])
		}
		b.StartTimer()
		cpuStart := cpuTime()
		if err := s.Commit(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - cpuStart
	}
	b.ReportMetric(float64(b.N*batchN)/b.Elapsed().Seconds(), "transfers/s")
	b.ReportMetric(float64(len(batch.Balances)), "accounts/batch")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

// BenchmarkAccountHistory walks the history of an account with 10,400
// transfers, one in ten of a ledger of 104,000, in pages of the sizes a
// caller asks for and whole.
func BenchmarkAccountHistory(b *testing.B) {
	const (
		accountsN = 1000
		batches   = 13
		batchN    = 8000
		hotEvery  = 10
	)
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "ledger.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	accounts := make([]ledger.AccountRecord, accountsN)
	ts := int64(1)
	for i := range accounts {
		accounts[i] = ledger.AccountRecord{Account: ledger.Account{ID: tongbao.NewID(), Currency: tongbao.CNY, Timestamp: ts}}
		ts++
	}
	if err := s.Commit(b.Context(), &ledger.Batch{Accounts: accounts}); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	hotN := 0
	for range batches {
		batch := &ledger.Batch{}
		for j := range batchN {
			debit, credit := 1+rng.IntN(accountsN-1), 1+rng.IntN(accountsN-2)
			if credit >= debit {
				credit++
			}
			if j%hotEvery == 0 {
				hotN++
				if j%(2*hotEvery) == 0 {
					debit = 0
				} else {
					credit = 0
				}
			}
			d, c := &accounts[debit], &accounts[credit]
			batch.Transfers = append(batch.Transfers, ledger.PostedTransfer{Transfer: ledger.Transfer{
				ID: tongbao.NewID(), DebitAccountID: d.ID, CreditAccountID: c.ID, Amount: 1, Code: 1,
				Metadata: "invoice 2026-000123", Timestamp: ts, DebitPrevious: d.LastTransfer, CreditPrevious: c.LastTransfer,
			}})
			d.LastTransfer, c.LastTransfer = ts, ts
			ts++
		}
		if err := s.Commit(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	hot := accounts[0]
	for _, limit := range []int{1, 10, ledger.AccountTransfersMax, hotN} {
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) {
			for b.Loop() {
				history, err := s.AccountHistory(b.Context(), hot.ID, hot.LastTransfer, limit)
				if err != nil {
					b.Fatal(err)
				}
				if len(history) != limit {
					b.Fatalf("got %d transfers; want %d", len(history), limit)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*limit), "ns/transfer")
		})
	}
}

// cpuTime returns the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
