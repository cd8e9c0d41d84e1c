package ledger_test

import (
	"context"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// A linked chain that is rolled back uses up timestamps that are never
// stored; a clean close then checkpoints every row at that timestamp. After
// the restart the engine must not hand out timestamps at or below a
// checkpoint, or a crash would lose the transfers that got them.
func TestRestartNeverReusesCheckpointedTimestamps(t *testing.T) {
	h := newHarness(t)
	h.accounts(acct(1, 0), acct(2, 0), acct(3, 0))
	h.must(xfer(10, 1, 2, 100))
	a := xfer(11, 1, 3, 5)
	a.Flags = ledger.FlagLinked
	rs := h.submit(a, xfer(11, 1, 3, 6)) // same id, other content: the chain fails, nothing recorded
	if rs[1].Err != tongbao.ErrIDConflict {
		t.Fatalf("chain: %v", rs[1].Err)
	}
	h.reopen()
	h.must(xfer(12, 1, 2, 7))
	h.crash()
	if b := h.balance(acct(1, 0).ID); b.DebitsPosted != 107 {
		t.Fatalf("account 1 after crash: %+v; want 107 debited", b)
	}
	checkInvariants(t, h.balances())
}

// An idle ledger writes the balance rows whose changes have grown
// CheckpointDelay old by its clock, rather than committing empty batches
// at every tick that never write them.
func TestIdleLedgerWritesDueBalanceRows(t *testing.T) {
	h := newHarness(t)
	h.close()
	h.cfg.ExpiryInterval = time.Millisecond
	h.open()
	h.accounts(acct(1, 0), acct(2, 0))
	h.must(xfer(10, 1, 2, 100))
	h.clock.Advance(2 * ledger.CheckpointDelay)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var debited tongbao.Amount
		err := h.store.LoadAccounts(context.Background(), func(a ledger.AccountRecord) error {
			if a.ID == acct(1, 0).ID {
				debited = a.DebitsPosted
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if debited == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("balance row still not written after %d idle batches", h.l.Stats().Batches.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Holds with a timeout that are posted before it leave no lasting trace in
// the expiry queue: memory follows the open holds, not every hold ever made.
func TestExpiryQueueFollowsOpenHolds(t *testing.T) {
	h := newHarness(t)
	h.accounts(acct(1, 0), acct(2, 0))
	const holds = 3000
	var ts []ledger.Transfer
	for i := uint64(0); i < holds; i++ {
		hold := xfer(1_000_000+i, 1, 2, 1)
		hold.Flags = ledger.FlagPending
		hold.TimeoutSeconds = 30 * 24 * 3600
		post := ledger.Transfer{ID: tongbao.IDFromUint64(2_000_000 + i), PendingID: hold.ID, Flags: ledger.FlagPostPending, Code: 1}
		ts = append(ts, hold, post)
	}
	for i, r := range h.submit(ts...) {
		if r.Err != nil {
			t.Fatalf("transfer %d: %v", i, r.Err)
		}
	}
	h.must(xfer(10, 1, 2, 1))
	if n := h.l.ExpiryQueueLen(); n > holds/2 {
		t.Fatalf("expiry queue holds %d entries with no hold open", n)
	}
}
