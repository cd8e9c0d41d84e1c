package sqlite_test

import (
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
// account, every batch replacing the balances of the accounts it touched.
// Commits are durable (fsync per batch), as in production. Run it with a
// fixed count, which also fixes how large the database grows:
//
//	go test ./sqlite -run '^$' -bench Commit -benchtime 30x
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
				},
				Hash: rng.Uint64(),
			}
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

// cpuTime returns the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
