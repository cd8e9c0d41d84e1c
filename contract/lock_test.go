package contract_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/contract"
	"github.com/tongbao/tongbao/internal/domaintest"
)

func TestTwoPartyLockReleasedByPayer(t *testing.T) {
	e := newEnv(t)
	payer, payee := e.wallet(yuan("500.00")), e.wallet(0)
	c := e.deploy("lock_two_party", map[string]any{"payer": payer.String(), "payee": payee.String(), "amount": "200.00",
		"deadline": start.Add(48 * time.Hour).Format(time.RFC3339)})
	if c.Status != contract.StatusPending {
		t.Fatalf("status %s; want pending", c.Status)
	}
	// The payee's request before the payer accepted: not active.
	if _, err := e.svc.Request(e.Ctx, c.ID, "release", "payer", tongbao.ID{}, "k0", nil); !errors.Is(err, contract.ErrNotActive) {
		t.Fatalf("request before consent: %v; want ErrNotActive", err)
	}
	c = e.acceptAll(c, "payer")
	if c.Status != contract.StatusActive {
		t.Fatalf("status %s; want active", c.Status)
	}
	if got := e.balance(payer); got != yuan("300.00") {
		t.Fatalf("payer available %s; want 300.00 (200.00 held)", got)
	}
	inv, err := e.svc.Request(e.Ctx, c.ID, "release", "payer", tongbao.ID{}, "k1", nil)
	domaintest.Must(t, err)
	if inv.Outcome != contract.OutcomeSucceeded {
		t.Fatalf("outcome %s (%s)", inv.Outcome, inv.Error)
	}
	if got := e.balances(payer, payee); got[0] != yuan("300.00") || got[1] != yuan("200.00") {
		t.Fatalf("balances %v; want 300.00 and 200.00", got)
	}
	// Asked again: the same invocation, nothing moves.
	again, err := e.svc.Request(e.Ctx, c.ID, "release", "payer", tongbao.ID{}, "k1", nil)
	domaintest.Must(t, err)
	if again.ID != inv.ID || e.balance(payee) != yuan("200.00") {
		t.Fatalf("a retried request moved money or made another invocation")
	}
	if got := e.contract(c.ID).Status; got != contract.StatusCompleted {
		t.Fatalf("status %s; want completed", got)
	}
	if n := e.advance(72 * time.Hour); n != 0 {
		t.Fatalf("%d timers fired after the contract completed; want 0", n)
	}
	e.SupplyOK(t, "released")
}

func TestTwoPartyLockRefundedAtDeadline(t *testing.T) {
	e := newEnv(t)
	payer, payee := e.wallet(yuan("500.00")), e.wallet(0)
	c := e.deploy("lock_two_party", map[string]any{"payer": payer.String(), "payee": payee.String(), "amount": "200.00",
		"deadline": start.Add(48 * time.Hour).Format(time.RFC3339)})
	e.acceptAll(c, "payer")
	if n := e.advance(47 * time.Hour); n != 0 {
		t.Fatalf("%d timers fired before the deadline", n)
	}
	if n := e.advance(time.Hour); n != 1 {
		t.Fatalf("%d timers fired at the deadline; want 1", n)
	}
	if got := e.balances(payer, payee); got[0] != yuan("500.00") || got[1] != 0 {
		t.Fatalf("balances %v; want 500.00 and 0", got)
	}
	if _, err := e.svc.Request(e.Ctx, c.ID, "release", "payer", tongbao.ID{}, "late", nil); !errors.Is(err, contract.ErrEnded) {
		t.Fatalf("release after the deadline: %v; want ErrEnded", err)
	}
	e.SupplyOK(t, "refunded")
}

func TestHTLC(t *testing.T) {
	e := newEnv(t)
	payer, payee := e.wallet(yuan("500.00")), e.wallet(0)
	sum := sha256.Sum256([]byte("open sesame"))
	c := e.deploy("htlc", map[string]any{"payer": payer.String(), "payee": payee.String(), "amount": "80.00",
		"hash": hex.EncodeToString(sum[:]), "deadline": start.Add(time.Hour).Format(time.RFC3339)})
	e.acceptAll(c, "payer")
	before := e.balances(payer, payee)
	_, err := e.svc.Request(e.Ctx, c.ID, "claim", "payee", tongbao.ID{}, "c1", map[string]any{"preimage": "open sesame!"})
	if !errors.Is(err, contract.ErrWrongPreimage) {
		t.Fatalf("wrong preimage: %v; want ErrWrongPreimage", err)
	}
	if got := e.balances(payer, payee); got[0] != before[0] || got[1] != before[1] {
		t.Fatalf("a wrong preimage moved money: %v -> %v", before, got)
	}
	inv, err := e.svc.Request(e.Ctx, c.ID, "claim", "payee", tongbao.ID{}, "c2", map[string]any{"preimage": "open sesame"})
	domaintest.Must(t, err)
	if inv.Outcome != contract.OutcomeSucceeded || e.balance(payee) != yuan("80.00") {
		t.Fatalf("claim: %s %s, payee %s", inv.Outcome, inv.Error, e.balance(payee))
	}
	if got := e.contract(c.ID).Runtime.State["preimage"]; got != "open sesame" {
		t.Fatalf("state preimage %v", got)
	}
	e.SupplyOK(t, "claimed")
}
