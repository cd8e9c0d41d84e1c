package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/postgres"
)

// TestFence checks that a commit made under a lease that expired or was
// taken by another owner fails with ErrNotWriter and writes nothing.
func TestFence(t *testing.T) {
	needPostgres(t)
	s, dsn := openTemp(t)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	account := ledger.AccountRecord{Account: ledger.Account{ID: tongbao.IDFromUint64(1), Currency: tongbao.CNY, Timestamp: 1}}
	for _, c := range []struct {
		name  string
		lease string // the lease row's state when the commit runs
		ok    bool
	}{
		{"held", `INSERT INTO writer_leases VALUES ('l', 'me', 1, clock_timestamp() + interval '1 minute')`, true},
		{"expired", `UPDATE writer_leases SET expires_at = clock_timestamp() - interval '1 millisecond'`, false},
		{"taken", `UPDATE writer_leases SET owner = 'other', epoch = 2, expires_at = clock_timestamp() + interval '1 minute'`, false},
		{"taken by me again", `UPDATE writer_leases SET owner = 'me', epoch = 3`, false},
		{"missing", `DELETE FROM writer_leases`, false},
	} {
		if _, err := conn.Exec(t.Context(), c.lease); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		s.SetFence(&postgres.Fence{Name: "l", Owner: "me", Epoch: 1})
		account.ID = tongbao.IDFromUint64(uint64(len(c.name)))
		err := s.Commit(t.Context(), &ledger.Batch{Accounts: []ledger.AccountRecord{account}})
		_, found := s.Account(t.Context(), account.ID)
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: Commit: %v", c.name, err)
		case !c.ok && !errors.Is(err, postgres.ErrNotWriter):
			t.Errorf("%s: Commit error = %v; want ErrNotWriter", c.name, err)
		case !c.ok && found == nil:
			t.Errorf("%s: the refused commit wrote its account", c.name)
		}
	}
	if code := tongbao.ErrorCode(postgres.ErrNotWriter); code != tongbao.EUNAVAILABLE {
		t.Errorf("ErrNotWriter code = %q; want %q, which callers retry", code, tongbao.EUNAVAILABLE)
	}
}

// TestWriterHandsOver runs two Writers on one database: one is the writer,
// the other refuses with ErrNotWriter; when the first closes, it gives the
// lease up and the second takes over with the first's transfers.
func TestWriterHandsOver(t *testing.T) {
	needPostgres(t)
	dsn := tempDSN(t)
	start := func(owner string) *postgres.Writer {
		w, err := postgres.StartWriter(t.Context(), postgres.WriterConfig{DSN: dsn, Owner: owner, LeaseTTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		return w
	}
	waitWriter := func(w *postgres.Writer) *ledger.Ledger {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			changed := w.Changed()
			if l, err := w.Ledger(); err == nil {
				return l
			}
			select {
			case <-changed:
			case <-deadline:
				t.Fatalf("%s never became the writer", w.Owner())
			}
		}
	}
	a := start("a")
	l := waitWriter(a)
	b := start("b")
	if _, err := b.Submit(t.Context(), []ledger.Transfer{{}}); !errors.Is(err, postgres.ErrNotWriter) {
		t.Fatalf("standby Submit error = %v; want ErrNotWriter", err)
	}
	issuer, wallet := tongbao.IDFromUint64(1), tongbao.IDFromUint64(2)
	if _, err := l.CreateAccounts(t.Context(), []ledger.Account{{ID: issuer, Currency: tongbao.CNY, Code: 1}, {ID: wallet, Currency: tongbao.CNY, Code: 1}}); err != nil {
		t.Fatal(err)
	}
	paid := ledger.Transfer{ID: tongbao.NewID(), DebitAccountID: issuer, CreditAccountID: wallet, Amount: 5, Code: 1}
	if rs, err := a.Submit(t.Context(), []ledger.Transfer{paid}); err != nil || rs[0].Err != nil {
		t.Fatalf("Submit: %v, %v", err, rs)
	}
	epoch := a.Epoch()
	a.Close()
	if _, err := a.Ledger(); !errors.Is(err, postgres.ErrNotWriter) {
		t.Errorf("closed Writer's Ledger error = %v; want ErrNotWriter", err)
	}
	// The TTL is a minute: b takes over this soon only because a gave the
	// lease up.
	l = waitWriter(b)
	if b.Epoch() <= epoch {
		t.Errorf("b's epoch %d; want more than a's %d", b.Epoch(), epoch)
	}
	got, err := l.Account(t.Context(), wallet)
	if err != nil || got.CreditsPosted != 5 {
		t.Errorf("wallet at the new writer: %+v, %v; want 5 credited", got.Balance, err)
	}
}
