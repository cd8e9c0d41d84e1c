package merchant_test

import (
	"sync"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/merchant"
	"github.com/tongbao/tongbao/twotier"
)

func TestPayRequest(t *testing.T) {
	for _, tc := range []struct {
		name  string
		payer func(e *env) twotier.Wallet
	}{
		{"same operator", func(e *env) twotier.Wallet { return e.payerA }},
		{"across operators", func(e *env) twotier.Wallet { return e.payerB }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			payer := tc.payer(e)
			total := e.total()
			r := e.request("A-1001", 36*yuan)
			code, err := merchant.Decode(r.Payload)
			must(t, err)
			if code.Kind != merchant.Dynamic || code.Wallet != e.shop.ID || code.Operator != e.a || code.Amount != 36*yuan || code.OrderID != "A-1001" || !code.ExpiresAt.Equal(r.ExpiresAt) {
				t.Fatalf("payload decodes to %+v; want the request %+v", code, r)
			}
			if r.Status != merchant.RequestOpen {
				t.Fatalf("status %q; want open", r.Status)
			}
			r, err = e.merchant.PayRequest(e.ctx, r.ID, payer.ID)
			must(t, err)
			if r.Status != merchant.RequestPaid || r.Payer != payer.ID || r.PaymentTimestamp == 0 {
				t.Fatalf("after paying: %+v; want paid by %v", r, payer.ID)
			}
			if got := e.balance(e.shop.ID); got != 36*yuan {
				t.Fatalf("shop holds %v; want %v", got, 36*yuan)
			}
			if got := e.balance(payer.ID); got != holderFunds-36*yuan {
				t.Fatalf("payer holds %v; want %v", got, holderFunds-36*yuan)
			}
			if got := e.total(); got != total {
				t.Fatalf("total %v; want %v", got, total)
			}
			e.supplyOK("pay")
			stored, err := e.merchant.RequestByOrder(e.ctx, e.shop.ID, "A-1001")
			must(t, err)
			if stored.Status != merchant.RequestPaid {
				t.Fatalf("stored status %q; want paid", stored.Status)
			}
		})
	}
}

// TestPayRequestTwice: a paid request refuses another payer, and answers
// its own payer with the paid request again, moving nothing. That is how
// a retry whose answer was lost gets the first answer after a restart,
// when the HTTP replay cache is gone: `tongbao chaos` found it answered
// 409 payment-request-paid instead.
func TestPayRequestTwice(t *testing.T) {
	e := newEnv(t)
	r := e.paid("A-1", 20*yuan, e.payerA)
	before := e.balances()
	_, err := e.merchant.PayRequest(e.ctx, r.ID, e.payerB.ID)
	wantCode(t, "payment by another payer", err, tongbao.ECONFLICT, merchant.ErrRequestPaid)
	e.unchanged("payment by another payer", before)
	again, err := e.merchant.PayRequest(e.ctx, r.ID, e.payerA.ID)
	must(t, err)
	if again.Status != merchant.RequestPaid || again.Payer != e.payerA.ID || again.PaymentTimestamp != r.PaymentTimestamp {
		t.Fatalf("paid again by its payer: %+v; want the first payment %+v", again, r)
	}
	e.unchanged("payment again by its payer", before)
	e.supplyOK("pay twice")
}

// TestPayRequestConcurrently has payers race for one request: exactly one
// pays it, across operators and within one (their ledger payment ids
// differ, so only the claim keeps the second from paying too).
func TestPayRequestConcurrently(t *testing.T) {
	e := newEnv(t)
	payers := []twotier.Wallet{e.payerA, e.payerB, e.holder(e.a), e.holder(e.b)}
	sum := func() tongbao.Amount {
		s := e.balance(e.shop.ID)
		for _, p := range payers {
			s += e.balance(p.ID)
		}
		return s
	}
	total := sum()
	r := e.request("A-race", 50*yuan)
	var wg sync.WaitGroup
	errs := make([]error, len(payers))
	for i, p := range payers {
		wg.Go(func() { _, errs[i] = e.merchant.PayRequest(e.ctx, r.ID, p.ID) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if tongbao.ErrorCode(err) != tongbao.ECONFLICT {
			t.Fatalf("losing payer: got %v; want a conflict", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d payments succeeded; want 1", ok)
	}
	if got := e.balance(e.shop.ID); got != 50*yuan {
		t.Fatalf("shop holds %v; want %v", got, 50*yuan)
	}
	if got := sum(); got != total {
		t.Fatalf("total %v; want %v", got, total)
	}
	e.supplyOK("race")
}

func TestPayRequestExpired(t *testing.T) {
	e := newEnv(t)
	r := e.request("A-2", 20*yuan)
	before := e.balances()
	e.clock.Set(r.ExpiresAt)
	_, err := e.merchant.PayRequest(e.ctx, r.ID, e.payerA.ID)
	wantCode(t, "pay expired", err, tongbao.ECONFLICT, merchant.ErrRequestExpired)
	e.unchanged("pay expired", before)
	got, err := e.merchant.Request(e.ctx, r.ID)
	must(t, err)
	if got.Status != merchant.RequestExpired {
		t.Fatalf("status %q; want expired", got.Status)
	}
	_, err = e.merchant.CancelRequest(e.ctx, r.ID)
	wantCode(t, "cancel expired", err, tongbao.ECONFLICT, merchant.ErrRequestExpired)
	// A second before the expiry, a request is still payable.
	r = e.request("A-3", 20*yuan)
	e.clock.Set(r.ExpiresAt.Add(-time.Second))
	_, err = e.merchant.PayRequest(e.ctx, r.ID, e.payerA.ID)
	must(t, err)
	e.supplyOK("expiry")
}

func TestCancelRequest(t *testing.T) {
	e := newEnv(t)
	r := e.request("A-4", 20*yuan)
	before := e.balances()
	c, err := e.merchant.CancelRequest(e.ctx, r.ID)
	must(t, err)
	if c.Status != merchant.RequestCancelled {
		t.Fatalf("status %q; want cancelled", c.Status)
	}
	_, err = e.merchant.CancelRequest(e.ctx, r.ID)
	must(t, err) // again: nothing to do
	_, err = e.merchant.PayRequest(e.ctx, r.ID, e.payerA.ID)
	wantCode(t, "pay cancelled", err, tongbao.ECONFLICT, merchant.ErrRequestCancelled)
	e.unchanged("pay cancelled", before)
	p := e.paid("A-5", 10*yuan, e.payerA)
	_, err = e.merchant.CancelRequest(e.ctx, p.ID)
	wantCode(t, "cancel paid", err, tongbao.ECONFLICT, merchant.ErrRequestPaid)
	e.supplyOK("cancel")
}

// TestPayRequestRefusedThenPaid: a payment the ledger refuses leaves the
// request open, and the payer may pay it once funded (under a new
// attempt: the ledger keeps answering a refused id with its refusal).
func TestPayRequestRefusedThenPaid(t *testing.T) {
	e := newEnv(t)
	r := e.request("A-6", holderFunds+yuan)
	before := e.balances()
	_, err := e.merchant.PayRequest(e.ctx, r.ID, e.payerA.ID)
	wantCode(t, "pay beyond funds", err, tongbao.EUNPROCESSABLE, ledger.ErrInsufficientFunds)
	e.unchanged("refused payment", before)
	got, err := e.merchant.Request(e.ctx, r.ID)
	must(t, err)
	if got.Status != merchant.RequestOpen || !got.Payer.IsZero() {
		t.Fatalf("after a refused payment: %+v; want open without payer", got)
	}
	_, err = e.svc.TopUp(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: e.payerA.ID, Amount: yuan})
	must(t, err)
	_, err = e.merchant.PayRequest(e.ctx, r.ID, e.payerA.ID)
	must(t, err)
	if got := e.balance(e.payerA.ID); got != 0 {
		t.Fatalf("payer holds %v; want 0", got)
	}
	e.supplyOK("refused then paid")
}

func TestCreateRequestRefuses(t *testing.T) {
	e := newEnv(t)
	e.request("A-7", 10*yuan)
	now := e.clock.Now()
	ok := merchant.RequestSpec{Merchant: e.shop.ID, OrderID: "A-8", Amount: 10 * yuan, ExpiresAt: now.Add(time.Minute), MerchantName: "Noodle Shop", MerchantCity: "Shanghai"}
	for _, tc := range []struct {
		name   string
		change func(s *merchant.RequestSpec)
		code   string
		err    error
	}{
		{"order id taken", func(s *merchant.RequestSpec) { s.OrderID = "A-7" }, tongbao.ECONFLICT, merchant.ErrOrderIDTaken},
		{"no order id", func(s *merchant.RequestSpec) { s.OrderID = "" }, tongbao.EINVALID, nil},
		{"zero amount", func(s *merchant.RequestSpec) { s.Amount = 0 }, tongbao.EINVALID, nil},
		{"negative amount", func(s *merchant.RequestSpec) { s.Amount = -1 }, tongbao.EINVALID, nil},
		{"expired already", func(s *merchant.RequestSpec) { s.ExpiresAt = now }, tongbao.EINVALID, nil},
		{"expiry too far", func(s *merchant.RequestSpec) { s.ExpiresAt = now.Add(merchant.RequestTTLMax + time.Minute) }, tongbao.EINVALID, nil},
		{"personal wallet", func(s *merchant.RequestSpec) { s.Merchant = e.payerA.ID }, tongbao.EINVALID, twotier.ErrNotMerchantWallet},
		{"no such wallet", func(s *merchant.RequestSpec) { s.Merchant = tongbao.NewID() }, tongbao.ENOTFOUND, twotier.ErrWalletNotFound},
		{"no merchant name", func(s *merchant.RequestSpec) { s.MerchantName = "" }, tongbao.EINVALID, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := ok
			tc.change(&spec)
			_, err := e.merchant.CreateRequest(e.ctx, spec)
			wantCode(t, tc.name, err, tc.code, tc.err)
			if _, err := e.merchant.RequestByOrder(e.ctx, e.shop.ID, "A-8"); err == nil {
				t.Fatalf("a refused request was stored")
			}
		})
	}
	// The same spec and id again is the same request; other content under
	// the id is a conflict.
	spec := ok
	spec.ID = tongbao.NewID()
	r1, err := e.merchant.CreateRequest(e.ctx, spec)
	must(t, err)
	r2, err := e.merchant.CreateRequest(e.ctx, spec)
	must(t, err)
	if r1.ID != r2.ID || r1.Payload != r2.Payload {
		t.Fatalf("repeat gave %+v; want %+v", r2, r1)
	}
	spec.Amount++
	_, err = e.merchant.CreateRequest(e.ctx, spec)
	wantCode(t, "same id, other amount", err, tongbao.ECONFLICT, nil)
}

func TestPayRequestRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	r := e.request("A-9", 10*yuan)
	before := e.balances()
	_, err := e.merchant.PayRequest(e.ctx, tongbao.NewID(), e.payerA.ID)
	wantCode(t, "unknown request", err, tongbao.ENOTFOUND, merchant.ErrRequestNotFound)
	_, err = e.merchant.PayRequest(e.ctx, r.ID, tongbao.ID{})
	wantCode(t, "no payer", err, tongbao.EINVALID, nil)
	_, err = e.merchant.PayRequest(e.ctx, r.ID, tongbao.NewID())
	wantCode(t, "unknown payer", err, tongbao.ENOTFOUND, twotier.ErrWalletNotFound)
	_, err = e.merchant.PayRequest(e.ctx, r.ID, e.shop.ID)
	wantCode(t, "shop pays itself", err, tongbao.EINVALID, nil)
	e.unchanged("bad input", before)
	got, err := e.merchant.Request(e.ctx, r.ID)
	must(t, err)
	if got.Status != merchant.RequestOpen || got.Attempt != 0 {
		t.Fatalf("after bad input: %+v; want open, no attempt", got)
	}
	e.supplyOK("bad input")
}

// A payer who claimed a request and never came back (its outcome unknown
// to it) does not block the request for ever: after ClaimStaleAfter the
// claim's own payment is submitted again, once, and settles it.
func TestResolveStaleClaims(t *testing.T) {
	e := newEnv(t)
	r := e.request("stale-1", 25*yuan)
	short := e.holder(e.a)
	_, err := e.svc.Withdraw(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: short.ID, Amount: holderFunds})
	must(t, err)
	r2 := e.request("stale-2", 25*yuan)
	// Claims as PayRequest makes them, left without an outcome.
	claim := func(r merchant.Request, payer tongbao.ID) {
		c := r
		c.Status, c.Payer, c.Attempt, c.UpdatedAt = merchant.RequestPaying, payer, r.Attempt+1, e.clock.Now()
		must(t, e.store.SwapRequest(e.ctx, c, merchant.RequestOpen, r.Attempt))
	}
	claim(r, e.payerB.ID)
	claim(r2, short.ID)
	before := e.balances()
	_, err = e.merchant.PayRequest(e.ctx, r.ID, e.payerA.ID)
	wantCode(t, "another payer meanwhile", err, tongbao.ECONFLICT, merchant.ErrRequestInProgress)

	// Too early: nothing is settled.
	n, err := e.merchant.ResolveStaleClaims(e.ctx)
	must(t, err)
	if n != 0 {
		t.Fatalf("settled %d fresh claims", n)
	}
	e.unchanged("fresh claims", before)

	e.clock.Advance(merchant.ClaimStaleAfter + time.Second)
	n, err = e.merchant.ResolveStaleClaims(e.ctx)
	must(t, err)
	if n != 2 {
		t.Fatalf("settled %d stale claims; want 2", n)
	}
	got, err := e.merchant.Request(e.ctx, r.ID)
	must(t, err)
	if got.Status != merchant.RequestPaid || got.Payer != e.payerB.ID {
		t.Fatalf("stale claim with funds: %+v", got)
	}
	after := e.balances()
	if after[e.shop.ID]-before[e.shop.ID] != 25*yuan || before[e.payerB.ID]-after[e.payerB.ID] != 25*yuan {
		t.Fatalf("stale claim paid the wrong amounts")
	}
	// The short payer's claim was refused: the request is open again for
	// anyone, and nothing moved from the short wallet.
	got2, err := e.merchant.Request(e.ctx, r2.ID)
	must(t, err)
	if got2.Status != merchant.RequestOpen || !got2.Payer.IsZero() || e.balance(short.ID) != 0 {
		t.Fatalf("refused stale claim: %+v", got2)
	}
	// Settling again changes nothing.
	n, err = e.merchant.ResolveStaleClaims(e.ctx)
	must(t, err)
	if n != 0 {
		t.Fatalf("settled %d claims twice", n)
	}
	e.unchanged("settling again", after)
	e.supplyOK("stale claims")
}
