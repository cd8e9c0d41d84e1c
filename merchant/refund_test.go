package merchant_test

import (
	"errors"
	"sync"
	"testing"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/merchant"
	"github.com/tongbao/tongbao/twotier"
)

func (e *env) refund(r merchant.Request, amount tongbao.Amount) (merchant.Refund, error) {
	return e.merchant.Refund(e.ctx, merchant.RefundSpec{ID: tongbao.NewID(), Request: r.ID, Amount: amount, Reason: "customer returned goods"})
}

// checkRefunded fails the test unless the posted refunds are want and
// never more than the request paid.
func (e *env) checkRefunded(r merchant.Request, want tongbao.Amount) {
	e.tb.Helper()
	posted, pending, err := e.merchant.Refunded(e.ctx, r.ID)
	must(e.tb, err)
	if posted != want || pending != 0 {
		e.tb.Fatalf("refunded %v (pending %v); want %v", posted, pending, want)
	}
	if posted > r.Amount {
		e.tb.Fatalf("refunded %v of %v paid", posted, r.Amount)
	}
}

func TestPartialRefunds(t *testing.T) {
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
			r := e.paid("A-1", 100*yuan, payer)
			var refunded tongbao.Amount
			for i, amount := range []tongbao.Amount{30 * yuan, 50 * yuan, 20 * yuan} {
				f, err := e.refund(r, amount)
				must(t, err)
				if f.Status != merchant.RefundPosted || f.Payer != payer.ID || f.Merchant != e.shop.ID {
					t.Fatalf("refund %d: %+v; want posted from the shop to the payer", i, f)
				}
				refunded += amount
				if got, want := e.balance(payer.ID), holderFunds-100*yuan+refunded; got != want {
					t.Fatalf("after refund %d: payer holds %v; want %v", i, got, want)
				}
				if got := e.total(); got != total {
					t.Fatalf("after refund %d: total %v; want %v", i, got, total)
				}
				e.checkRefunded(r, refunded)
				e.supplyOK("refund")
			}
			before := e.balances()
			_, err := e.refund(r, 1)
			wantCode(t, "refund past the total", err, tongbao.EUNPROCESSABLE, merchant.ErrRefundExceedsPayment)
			e.unchanged("refund past the total", before)
			e.checkRefunded(r, 100*yuan)
			e.supplyOK("refund past the total")
		})
	}
}

func TestRefundIdempotent(t *testing.T) {
	e := newEnv(t)
	r := e.paid("A-1", 100*yuan, e.payerA)
	spec := merchant.RefundSpec{ID: tongbao.NewID(), Request: r.ID, Amount: 40 * yuan, Reason: "overcharged"}
	f1, err := e.merchant.Refund(e.ctx, spec)
	must(t, err)
	before := e.balances()
	f2, err := e.merchant.Refund(e.ctx, spec)
	must(t, err)
	if f1.ID != f2.ID || f2.Status != merchant.RefundPosted || f1.Timestamp != f2.Timestamp {
		t.Fatalf("repeat gave %+v; want %+v", f2, f1)
	}
	e.unchanged("repeated refund", before)
	spec.Amount = 41 * yuan
	_, err = e.merchant.Refund(e.ctx, spec)
	wantCode(t, "same id, other amount", err, tongbao.ECONFLICT, tongbao.ErrIDConflict)
	e.unchanged("conflicting refund", before)
	e.checkRefunded(r, 40*yuan)
	e.supplyOK("idempotent refund")
}

func TestRefundRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	r := e.paid("A-1", 100*yuan, e.payerA)
	open := e.request("A-2", 10*yuan)
	before := e.balances()
	for _, tc := range []struct {
		name string
		spec merchant.RefundSpec
		code string
		err  error
	}{
		{"no id", merchant.RefundSpec{Request: r.ID, Amount: yuan, Reason: "x"}, tongbao.EINVALID, twotier.ErrIDRequired},
		{"zero amount", merchant.RefundSpec{ID: tongbao.NewID(), Request: r.ID, Reason: "x"}, tongbao.EINVALID, nil},
		{"negative amount", merchant.RefundSpec{ID: tongbao.NewID(), Request: r.ID, Amount: -yuan, Reason: "x"}, tongbao.EINVALID, nil},
		{"no reason", merchant.RefundSpec{ID: tongbao.NewID(), Request: r.ID, Amount: yuan, Reason: " "}, tongbao.EINVALID, nil},
		{"unknown request", merchant.RefundSpec{ID: tongbao.NewID(), Request: tongbao.NewID(), Amount: yuan, Reason: "x"}, tongbao.ENOTFOUND, merchant.ErrRequestNotFound},
		{"open request", merchant.RefundSpec{ID: tongbao.NewID(), Request: open.ID, Amount: yuan, Reason: "x"}, tongbao.ECONFLICT, merchant.ErrRequestNotPaid},
		{"more than paid", merchant.RefundSpec{ID: tongbao.NewID(), Request: r.ID, Amount: 100*yuan + 1, Reason: "x"}, tongbao.EUNPROCESSABLE, merchant.ErrRefundExceedsPayment},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.merchant.Refund(e.ctx, tc.spec)
			wantCode(t, tc.name, err, tc.code, tc.err)
			e.unchanged(tc.name, before)
			e.checkRefunded(r, 0)
		})
	}
	e.supplyOK("bad refunds")
}

// TestRefundMerchantShortOfFunds: a refund the ledger refuses (the shop has
// spent the money) fails, is recorded failed, and no longer counts
// against what may be refunded.
func TestRefundMerchantShortOfFunds(t *testing.T) {
	e := newEnv(t)
	r := e.paid("A-1", 100*yuan, e.payerA)
	_, err := e.svc.Pay(e.ctx, twotier.Payment{ID: tongbao.NewID(), From: e.shop.ID, To: e.payerB.ID, Amount: 80 * yuan})
	must(t, err)
	before := e.balances()
	spec := merchant.RefundSpec{ID: tongbao.NewID(), Request: r.ID, Amount: 50 * yuan, Reason: "returned"}
	_, err = e.merchant.Refund(e.ctx, spec)
	wantCode(t, "refund beyond the shop's balance", err, tongbao.EUNPROCESSABLE, merchant.ErrRefundFailed)
	if got := tongbao.ErrorKind(err); got != "insufficient-funds" {
		t.Fatalf("refund beyond the shop's balance: kind %q; want the ledger's insufficient-funds", got)
	}
	e.unchanged("refused refund", before)
	_, err = e.merchant.Refund(e.ctx, spec)
	if !errors.Is(err, merchant.ErrRefundFailed) {
		t.Fatalf("failed refund asked again: got %v; want ErrRefundFailed", err)
	}
	e.checkRefunded(r, 0)
	_, err = e.refund(r, 20*yuan)
	must(t, err)
	e.checkRefunded(r, 20*yuan)
	e.supplyOK("refund short of funds")
}

// TestConcurrentRefunds asks 20 refunds of one payment at once, together
// more than it paid: exactly the ones that fit succeed, and the refunded
// total never exceeds the payment.
func TestConcurrentRefunds(t *testing.T) {
	const (
		refundsCount = 20
		paid         = 100 * yuan
		each         = 7 * yuan // 20 × 7 = 140 > 100: 14 fit, 2 yuan stay
	)
	e := newEnv(t)
	total := e.total()
	r := e.paid("A-1", paid, e.payerB)
	var wg sync.WaitGroup
	errs := make([]error, refundsCount)
	for i := range refundsCount {
		wg.Go(func() { _, errs[i] = e.refund(r, each) })
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, merchant.ErrRefundExceedsPayment):
			t.Fatalf("refund %d: got %v; want success or ErrRefundExceedsPayment", i, err)
		}
	}
	if want := int(paid / each); ok != want {
		t.Fatalf("%d refunds succeeded; want %d", ok, want)
	}
	refunded := tongbao.Amount(ok) * each
	e.checkRefunded(r, refunded)
	if got, want := e.balance(e.shop.ID), paid-refunded; got != want {
		t.Fatalf("shop holds %v; want %v", got, want)
	}
	if got, want := e.balance(e.payerB.ID), holderFunds-paid+refunded; got != want {
		t.Fatalf("payer holds %v; want %v", got, want)
	}
	if got := e.total(); got != total {
		t.Fatalf("total %v; want %v", got, total)
	}
	e.supplyOK("concurrent refunds")
	// What is left may still be refunded, and not a fen more.
	_, err := e.refund(r, paid-refunded)
	must(t, err)
	_, err = e.refund(r, 1)
	wantCode(t, "refund past the total", err, tongbao.EUNPROCESSABLE, merchant.ErrRefundExceedsPayment)
	e.checkRefunded(r, paid)
	e.supplyOK("final refund")
}

// TestConcurrentReservesAcrossStores reserves refunds of one payment at
// once through several stores opened on the same database, as several
// processes would: the store alone keeps them within the payment.
func TestConcurrentReservesAcrossStores(t *testing.T) {
	const (
		storesCount = 4
		perStore    = 6
		each        = 7 * yuan // 24 × 7 = 168 > 100: 14 fit
	)
	e := newEnv(t)
	r := e.paid("A-1", 100*yuan, e.payerB)
	stores := make([]merchantStore, storesCount)
	for i := range stores {
		stores[i] = e.openStore()
		t.Cleanup(func() { stores[i].Close() })
	}
	var wg sync.WaitGroup
	created := make([]bool, storesCount*perStore)
	errs := make([]error, storesCount*perStore)
	for i := range created {
		s := stores[i%storesCount]
		wg.Go(func() {
			f := merchant.Refund{ID: tongbao.NewID(), Request: r.ID, Merchant: r.Merchant, Payer: r.Payer, Amount: each,
				Status: merchant.RefundPending, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
			_, created[i], errs[i] = s.ReserveRefund(e.ctx, f, r.Amount)
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil && created[i]:
			ok++
		case !errors.Is(err, merchant.ErrRefundExceedsPayment):
			t.Fatalf("reserve %d: got %v (created %v); want created or ErrRefundExceedsPayment", i, err, created[i])
		}
	}
	if want := int(r.Amount / each); ok != want {
		t.Fatalf("%d reserves succeeded; want %d", ok, want)
	}
	fs, err := e.store.Refunds(e.ctx, r.ID)
	must(t, err)
	if len(fs) != ok {
		t.Fatalf("%d refunds stored; want %d", len(fs), ok)
	}
	var sum tongbao.Amount
	for _, f := range fs {
		sum += f.Amount
	}
	if sum > r.Amount {
		t.Fatalf("reserved %v of %v paid", sum, r.Amount)
	}
}
