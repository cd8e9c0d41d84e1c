package contract_test

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/contract"
	"github.com/tongbao/tongbao/internal/domaintest"
)

// signer registers an external party and returns its id and key.
func (e *env) signer(name string) (tongbao.ID, ed25519.PrivateKey) {
	e.t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	domaintest.Must(e.t, err)
	p, err := e.svc.RegisterParty(e.Ctx, contract.RegisterSpec{Operator: e.A, Name: name, PublicKey: pub})
	domaintest.Must(e.t, err)
	return p.ID, priv
}

func (e *env) post(key ed25519.PrivateKey, signer, c tongbao.ID, id, typ string, data map[string]any) (contract.Invocation, error) {
	e.t.Helper()
	jws, err := contract.SignEvent(key, signer, contract.Event{ID: id, Type: typ, Contract: c, Data: data, IssuedAt: e.Clock.Now().Unix()})
	domaintest.Must(e.t, err)
	return e.svc.PostEvent(e.Ctx, jws)
}

func TestEscrowReleasedOnSignedDelivery(t *testing.T) {
	e := newEnv(t)
	buyer, seller := e.wallet(yuan("300.00")), e.merchant("5999", "310000")
	carrier, key := e.signer("顺丰")
	stranger, strangerKey := e.signer("someone else")
	c := e.deploy("escrow", map[string]any{"buyer": buyer.String(), "seller": seller.String(), "carrier": carrier.String(),
		"price": "120.00", "deadline": start.Add(72 * time.Hour).Format(time.RFC3339)})
	e.acceptAll(c, "buyer")
	before := e.balances(buyer, seller)
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"signed by a party that is not the contract's", func() error {
			_, err := e.post(strangerKey, stranger, c.ID, "ev-1", "delivered", nil)
			return err
		}(), contract.ErrUnregistered},
		{"signed with another key", func() error {
			_, err := e.post(strangerKey, carrier, c.ID, "ev-1", "delivered", nil)
			return err
		}(), contract.ErrSignature},
		{"an event type the contract does not take", func() error {
			_, err := e.post(key, carrier, c.ID, "ev-1", "lost", nil)
			return err
		}(), contract.ErrNoTrigger},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Fatalf("%s: %v; want %v", tc.name, tc.err, tc.want)
		}
		if got := e.balances(buyer, seller); got[0] != before[0] || got[1] != before[1] {
			t.Fatalf("%s moved money", tc.name)
		}
	}
	inv, err := e.post(key, carrier, c.ID, "ev-1", "delivered", map[string]any{"waybill": "SF123"})
	domaintest.Must(t, err)
	if inv.Outcome != contract.OutcomeSucceeded || len(inv.Notices) != 1 {
		t.Fatalf("delivery: %s %s %v", inv.Outcome, inv.Error, inv.Notices)
	}
	if got := e.balances(buyer, seller); got[0] != yuan("180.00") || got[1] != yuan("120.00") {
		t.Fatalf("balances %v; want 180.00 and 120.00", got)
	}
	if _, err := e.post(key, carrier, c.ID, "ev-1", "delivered", map[string]any{"waybill": "SF123"}); !errors.Is(err, contract.ErrReplayed) {
		t.Fatalf("replayed event: %v; want ErrReplayed", err)
	}
	e.SupplyOK(t, "escrow")
}

func TestEscrowDeadlinePassed(t *testing.T) {
	e := newEnv(t)
	buyer, seller := e.wallet(yuan("300.00")), e.merchant("5999", "310000")
	carrier, key := e.signer("顺丰")
	c := e.deploy("escrow", map[string]any{"buyer": buyer.String(), "seller": seller.String(), "carrier": carrier.String(),
		"price": "120.00", "deadline": start.Add(72 * time.Hour).Format(time.RFC3339)})
	e.acceptAll(c, "buyer")
	e.advance(72 * time.Hour)
	if got := e.balances(buyer, seller); got[0] != yuan("300.00") || got[1] != 0 {
		t.Fatalf("after the deadline: %v; want the buyer refunded", got)
	}
	if _, err := e.post(key, carrier, c.ID, "ev-9", "delivered", nil); !errors.Is(err, contract.ErrEnded) {
		t.Fatalf("delivery after the deadline: %v; want ErrEnded", err)
	}
}

func TestEscrowFundsShort(t *testing.T) {
	e := newEnv(t)
	buyer, seller := e.wallet(yuan("100.00")), e.merchant("5999", "310000")
	carrier, _ := e.signer("顺丰")
	c := e.deploy("escrow", map[string]any{"buyer": buyer.String(), "seller": seller.String(), "carrier": carrier.String(),
		"price": "120.00", "deadline": start.Add(72 * time.Hour).Format(time.RFC3339)})
	_, err := e.svc.Accept(e.Ctx, c.ID, "buyer", c.Hash, "test")
	if !errors.Is(err, contract.ErrFundsShort) {
		t.Fatalf("funding past the balance: %v; want ErrFundsShort", err)
	}
	if got := e.contract(c.ID); got.Status != contract.StatusPending || got.Runtime.Failure == "" {
		t.Fatalf("status %s, failure %q; want pending with the reason", got.Status, got.Runtime.Failure)
	}
	if got := e.balance(buyer); got != yuan("100.00") {
		t.Fatalf("buyer %s; want 100.00", got)
	}
}

func TestPrepaidCustodyLessonByLesson(t *testing.T) {
	e := newEnv(t)
	student, school := e.wallet(yuan("1000.00")), e.merchant("8299", "310000")
	signer, key := e.signer("学校")
	c := e.deploy("prepaid_custody", map[string]any{"student": student.String(), "school": school.String(), "school_signer": signer.String(),
		"lesson_price": "50.00", "lessons": 10, "end": start.Add(90 * 24 * time.Hour).Format(time.RFC3339)})
	e.acceptAll(c, "student")
	if got := e.balance(student); got != yuan("500.00") {
		t.Fatalf("student %s; want 500.00 with 500.00 held", got)
	}
	for i := range 3 {
		_, err := e.post(key, signer, c.ID, "lesson-"+string(rune('a'+i)), "lesson_given", nil)
		domaintest.Must(t, err)
	}
	if got := e.balance(school); got != yuan("150.00") {
		t.Fatalf("school %s after three lessons; want 150.00", got)
	}
	// The hold was posted at the first lesson: the runtime keeps open
	// holds only, so it does not grow with every hold.
	if rt := e.contract(c.ID).Runtime; len(rt.Holds) != 0 || rt.Balance != yuan("350.00") {
		t.Fatalf("holds %+v, balance %s; want none open and 350.00 in the contract's wallet", rt.Holds, rt.Balance)
	}
	inv, err := e.svc.Request(e.Ctx, c.ID, "refund", "student", tongbao.ID{}, "r1", nil)
	domaintest.Must(t, err)
	if inv.Outcome != contract.OutcomeSucceeded {
		t.Fatalf("refund: %s %s", inv.Outcome, inv.Error)
	}
	if got := e.balances(student, school); got[0] != yuan("850.00") || got[1] != yuan("150.00") {
		t.Fatalf("after the refund: %v; want 850.00 and 150.00", got)
	}
	e.SupplyOK(t, "prepaid")
}
