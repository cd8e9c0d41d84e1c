// Package merchanttest is the conformance suite of merchant.Store: the
// contract every implementation keeps, spelled out as tests and run on
// every database the store supports (storetest.Databases).
//
// The contract, beyond what merchant.Store's doc comments say:
//   - every method is durable when it returns, and safe for concurrent
//     use, also from another store open on the same database;
//   - every field comes back as stored (times to the nanosecond);
//   - the Swap, Use and Update methods change only the fields they name;
//   - a refused call changes nothing;
//   - of concurrent swaps of one request from one status and attempt, or
//     uses of one payment code, exactly one succeeds; concurrent refunds
//     of one payment never together exceed it;
//   - ReserveRefund needs the request stored (ErrRequestNotFound), except
//     that a refund id already stored is answered with that refund;
//   - failed refunds do not count against the payment;
//   - lists are in the order their doc comment names and hold at most
//     their limit.
package merchanttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/storetest"
	"github.com/tongbao/tongbao/merchant"
)

// Store is a merchant.Store that can be closed.
type Store interface {
	merchant.Store
	Close() error
}

// Run runs the suite on every database, each test on a database of its
// own, with stores open opens on target (see storetest.Database.Target),
// creating the tables if needed; opened twice on one target, the second
// store sees what the first wrote.
func Run[S Store](t *testing.T, open func(ctx context.Context, target string) (S, error)) {
	storetest.RunDomain(t, "merchant.db", func(ctx context.Context, target string) (Store, error) { return open(ctx, target) }, []storetest.DomainTest[Store]{
		{Name: "RequestRoundTrip", Fn: testRequestRoundTrip},
		{Name: "RequestConflicts", Fn: testRequestConflicts},
		{Name: "SwapRequest", Fn: testSwapRequest},
		{Name: "ConcurrentSwaps", Fn: testConcurrentSwaps},
		{Name: "ReserveRefund", Fn: testReserveRefund},
		{Name: "RefundsMax", Fn: testRefundsMax},
		{Name: "ConcurrentRefunds", Fn: testConcurrentRefunds},
		{Name: "Lists", Fn: testLists},
		{Name: "PaymentCodes", Fn: testPaymentCodes},
		{Name: "ConcurrentCodeUses", Fn: testConcurrentCodeUses},
		{Name: "Reopen", Fn: testReopen},
	})
}

type env = storetest.Env[Store]

var (
	must    = storetest.Must
	wantErr = storetest.WantErr
	at      = storetest.At
)

func id(n uint64) tongbao.ID { return tongbao.IDFromUint64(n) }

var (
	shop  = id(0x5A)
	other = id(0x5B)
	op    = id(0xA0)
)

// request returns an open request with every field set and distinct.
func request(n uint64, m tongbao.ID) merchant.Request {
	return merchant.Request{
		ID: id(0x1000 + n), Merchant: m, Operator: op, OrderID: fmt.Sprintf("order-%d", n), Amount: tongbao.Amount(1000 + n),
		ExpiresAt: at(int(n) + 1000), Payload: fmt.Sprintf("payload-%d", n), Status: merchant.RequestOpen,
		Payer: id(0x2000 + n), Attempt: 3, OneOff: true, PaidAt: at(int(n) + 2), PaymentTimestamp: int64(5000 + n),
		CreatedAt: at(int(n)), UpdatedAt: at(int(n) + 1),
	}
}

// paid stores a paid request of amount and returns it.
func paid(t *testing.T, e *env, n uint64, amount tongbao.Amount) merchant.Request {
	t.Helper()
	r := request(n, shop)
	r.Status, r.Amount = merchant.RequestPaid, amount
	must(t, e.Store.CreateRequest(e.Ctx, r))
	return r
}

// refund returns a pending refund of request r.
func refund(n uint64, r merchant.Request, amount tongbao.Amount) merchant.Refund {
	return merchant.Refund{
		ID: id(0x3000 + n), Request: r.ID, Merchant: r.Merchant, Payer: r.Payer, Amount: amount,
		Reason: fmt.Sprintf("reason %d", n), Status: merchant.RefundPending, CreatedAt: at(int(n)), UpdatedAt: at(int(n) + 1),
	}
}

func testRequestRoundTrip(t *testing.T, e *env) {
	_, err := e.Store.Request(e.Ctx, id(1))
	wantErr(t, "missing request", err, merchant.ErrRequestNotFound)
	_, err = e.Store.RequestByOrder(e.Ctx, shop, "order-1")
	wantErr(t, "missing order", err, merchant.ErrRequestNotFound)
	r := request(1, shop)
	must(t, e.Store.CreateRequest(e.Ctx, r))
	plain := request(2, shop)
	// The zero values: no payer, not paid, not one-off.
	plain.OneOff, plain.Payer, plain.PaidAt, plain.PaymentTimestamp, plain.Attempt = false, tongbao.ID{}, time.Time{}, 0, 0
	must(t, e.Store.CreateRequest(e.Ctx, plain))
	for _, want := range []merchant.Request{r, plain} {
		got, err := e.Store.Request(e.Ctx, want.ID)
		must(t, err)
		storetest.WantEqual(t, "request", got, want)
		got, err = e.Store.RequestByOrder(e.Ctx, want.Merchant, want.OrderID)
		must(t, err)
		storetest.WantEqual(t, "request by order", got, want)
	}
	_, err = e.Store.RequestByOrder(e.Ctx, other, r.OrderID)
	wantErr(t, "order of another merchant", err, merchant.ErrRequestNotFound)
}

func testRequestConflicts(t *testing.T, e *env) {
	r := request(1, shop)
	must(t, e.Store.CreateRequest(e.Ctx, r))
	sameID := request(2, shop)
	sameID.ID = r.ID
	wantErr(t, "request id taken", e.Store.CreateRequest(e.Ctx, sameID), merchant.ErrRequestExists)
	wantErr(t, "same request again", e.Store.CreateRequest(e.Ctx, r), merchant.ErrRequestExists)
	sameOrder := request(3, shop)
	sameOrder.OrderID = r.OrderID
	wantErr(t, "order id taken", e.Store.CreateRequest(e.Ctx, sameOrder), merchant.ErrOrderIDTaken)
	_, err := e.Store.Request(e.Ctx, sameOrder.ID)
	wantErr(t, "request refused for its order id", err, merchant.ErrRequestNotFound)
	// The order id is per merchant.
	elsewhere := request(4, other)
	elsewhere.OrderID = r.OrderID
	must(t, e.Store.CreateRequest(e.Ctx, elsewhere))
	got, err := e.Store.RequestByOrder(e.Ctx, shop, r.OrderID)
	must(t, err)
	storetest.WantEqual(t, "first request after the conflicts", got, r)
}

func testSwapRequest(t *testing.T, e *env) {
	r := request(1, shop)
	r.Status, r.Attempt, r.Payer, r.PaidAt, r.PaymentTimestamp = merchant.RequestOpen, 0, tongbao.ID{}, time.Time{}, 0
	must(t, e.Store.CreateRequest(e.Ctx, r))
	claim := r
	claim.Status, claim.Attempt, claim.Payer, claim.UpdatedAt = merchant.RequestPaying, 1, id(77), at(10)
	// The fields SwapRequest does not replace: changed here, kept there.
	sent := claim
	sent.Amount, sent.OrderID, sent.Payload, sent.ExpiresAt, sent.CreatedAt, sent.Merchant, sent.OneOff = 1, "x", "y", at(99), at(98), other, !r.OneOff
	must(t, e.Store.SwapRequest(e.Ctx, sent, merchant.RequestOpen, 0))
	got, err := e.Store.Request(e.Ctx, r.ID)
	must(t, err)
	storetest.WantEqual(t, "claimed request", got, claim)

	done := claim
	done.Status, done.PaidAt, done.PaymentTimestamp, done.UpdatedAt = merchant.RequestPaid, at(11), 4242, at(11)
	wantErr(t, "swap from a stale status", e.Store.SwapRequest(e.Ctx, done, merchant.RequestOpen, 1), merchant.ErrRequestChanged)
	wantErr(t, "swap from a stale attempt", e.Store.SwapRequest(e.Ctx, done, merchant.RequestPaying, 0), merchant.ErrRequestChanged)
	got, err = e.Store.Request(e.Ctx, r.ID)
	must(t, err)
	storetest.WantEqual(t, "request after refused swaps", got, claim)
	must(t, e.Store.SwapRequest(e.Ctx, done, merchant.RequestPaying, 1))
	got, err = e.Store.Request(e.Ctx, r.ID)
	must(t, err)
	storetest.WantEqual(t, "paid request", got, done)

	wantErr(t, "swap of a missing request", e.Store.SwapRequest(e.Ctx, request(5, shop), merchant.RequestOpen, 0), merchant.ErrRequestNotFound)
}

func testConcurrentSwaps(t *testing.T, e *env) {
	r := request(1, shop)
	r.Status, r.Attempt = merchant.RequestOpen, 0
	must(t, e.Store.CreateRequest(e.Ctx, r))
	store := e.TwoStores()
	winners := storetest.Succeeded(t, storetest.Concurrently(8, func(i int) error {
		claim := r
		claim.Status, claim.Attempt, claim.Payer = merchant.RequestPaying, 1, id(uint64(100+i))
		return store(i).SwapRequest(e.Ctx, claim, merchant.RequestOpen, 0)
	}), merchant.ErrRequestChanged)
	if len(winners) != 1 {
		t.Fatalf("callers %v claimed the request; want one", winners)
	}
	won := winners[0]
	got, err := e.Store.Request(e.Ctx, r.ID)
	must(t, err)
	if got.Payer != id(uint64(100+won)) {
		t.Fatalf("payer %v; want the winner's %v", got.Payer, id(uint64(100+won)))
	}
}

func testReserveRefund(t *testing.T, e *env) {
	r := paid(t, e, 1, 1000)
	orphan := refund(9, request(9, shop), 10)
	_, _, err := e.Store.ReserveRefund(e.Ctx, orphan, 1000)
	wantErr(t, "refund of a missing request", err, merchant.ErrRequestNotFound)

	f1 := refund(1, r, 600)
	stored, created, err := e.Store.ReserveRefund(e.Ctx, f1, r.Amount)
	must(t, err)
	if !created {
		t.Fatal("first refund: created false")
	}
	storetest.WantEqual(t, "reserved refund", stored, f1)
	// A retry with other content answers the stored refund.
	retry := f1
	retry.Amount = 5
	stored, created, err = e.Store.ReserveRefund(e.Ctx, retry, r.Amount)
	must(t, err)
	if created {
		t.Fatal("retried refund: created true")
	}
	storetest.WantEqual(t, "retried refund", stored, f1)

	over := refund(2, r, 401)
	_, _, err = e.Store.ReserveRefund(e.Ctx, over, r.Amount)
	wantErr(t, "refund past the payment", err, merchant.ErrRefundExceedsPayment)
	_, err = e.Store.Refund(e.Ctx, over.ID)
	wantErr(t, "refused refund", err, merchant.ErrRefundNotFound)
	for _, amount := range []tongbao.Amount{0, -1} {
		_, _, err = e.Store.ReserveRefund(e.Ctx, refund(3, r, amount), r.Amount)
		wantErr(t, fmt.Sprintf("refund of %d", amount), err, merchant.ErrRefundExceedsPayment)
	}

	// A failed refund gives its room back; a posted one keeps it.
	failed := f1
	failed.Status, failed.FailReason, failed.UpdatedAt = merchant.RefundFailed, "insufficient funds", at(20)
	sent := failed
	sent.Amount, sent.Reason, sent.Request, sent.CreatedAt = 1, "x", id(1), at(90)
	must(t, e.Store.UpdateRefund(e.Ctx, sent))
	got, err := e.Store.Refund(e.Ctx, f1.ID)
	must(t, err)
	storetest.WantEqual(t, "failed refund", got, failed)
	f2 := refund(4, r, 1000)
	_, created, err = e.Store.ReserveRefund(e.Ctx, f2, r.Amount)
	must(t, err)
	if !created {
		t.Fatal("refund after a failed one: created false")
	}
	posted := f2
	posted.Status, posted.Timestamp, posted.UpdatedAt = merchant.RefundPosted, 777, at(30)
	must(t, e.Store.UpdateRefund(e.Ctx, posted))
	_, _, err = e.Store.ReserveRefund(e.Ctx, refund(5, r, 1), r.Amount)
	wantErr(t, "refund past a posted one", err, merchant.ErrRefundExceedsPayment)

	list, err := e.Store.Refunds(e.Ctx, r.ID)
	must(t, err)
	storetest.WantEqual(t, "refunds in creation order", list, []merchant.Refund{failed, posted})
	wantErr(t, "update of a missing refund", e.Store.UpdateRefund(e.Ctx, refund(8, r, 1)), merchant.ErrRefundNotFound)

	// An id stored for one request, retried under another, answers the stored refund.
	r2 := paid(t, e, 2, 50)
	moved := f1
	moved.Request = r2.ID
	stored, created, err = e.Store.ReserveRefund(e.Ctx, moved, r2.Amount)
	must(t, err)
	if created {
		t.Fatal("refund id reused under another request: created true")
	}
	storetest.WantEqual(t, "refund id reused under another request", stored, failed)
}

func testRefundsMax(t *testing.T, e *env) {
	r := paid(t, e, 1, merchant.RefundsMax*10)
	for n := range uint64(merchant.RefundsMax) {
		f := refund(n, r, 1)
		_, _, err := e.Store.ReserveRefund(e.Ctx, f, r.Amount)
		must(t, err)
		if n%2 == 0 { // failed refunds count too
			f.Status = merchant.RefundFailed
			must(t, e.Store.UpdateRefund(e.Ctx, f))
		}
	}
	_, _, err := e.Store.ReserveRefund(e.Ctx, refund(merchant.RefundsMax, r, 1), r.Amount)
	wantErr(t, "refund past the most", err, merchant.ErrTooManyRefunds)
	list, err := e.Store.Refunds(e.Ctx, r.ID)
	must(t, err)
	if len(list) != merchant.RefundsMax {
		t.Fatalf("refunds: got %d; want %d", len(list), merchant.RefundsMax)
	}
	for i, f := range list {
		if f.ID != refund(uint64(i), r, 1).ID {
			t.Fatalf("refund %d is %v: not in creation order", i, f.ID)
		}
	}
}

func testConcurrentRefunds(t *testing.T, e *env) {
	r := paid(t, e, 1, 100)
	store := e.TwoStores()
	winners := storetest.Succeeded(t, storetest.Concurrently(10, func(i int) error {
		_, created, err := store(i).ReserveRefund(e.Ctx, refund(uint64(i), r, 30), r.Amount)
		if err == nil && !created {
			err = fmt.Errorf("a new refund id answered as stored")
		}
		return err
	}), merchant.ErrRefundExceedsPayment)
	if n := len(winners); n != 3 {
		t.Fatalf("concurrent refunds of 30 from 100: %d reserved; want 3", n)
	}
	list, err := e.Store.Refunds(e.Ctx, r.ID)
	must(t, err)
	if len(list) != 3 {
		t.Fatalf("refunds stored: %d; want 3", len(list))
	}
}

func testLists(t *testing.T, e *env) {
	// Paid requests by payment timestamp, created in another order.
	var paidWant []merchant.Request
	for _, n := range []uint64{3, 1, 2, 4} {
		r := request(n, shop)
		r.Status, r.PaymentTimestamp = merchant.RequestPaid, int64(100*n)
		must(t, e.Store.CreateRequest(e.Ctx, r))
	}
	for _, n := range []uint64{1, 2, 3} {
		r := request(n, shop)
		r.Status, r.PaymentTimestamp = merchant.RequestPaid, int64(100*n)
		paidWant = append(paidWant, r)
	}
	unpaid := request(5, shop)
	unpaid.Status, unpaid.PaymentTimestamp = merchant.RequestPaying, 150
	must(t, e.Store.CreateRequest(e.Ctx, unpaid))
	elsewhere := request(6, other)
	elsewhere.Status, elsewhere.PaymentTimestamp = merchant.RequestPaid, 150
	must(t, e.Store.CreateRequest(e.Ctx, elsewhere))
	got, err := e.Store.PaidRequests(e.Ctx, shop, 100, 400, 10)
	must(t, err)
	storetest.WantEqual(t, "paid requests in [100, 400)", got, paidWant)
	got, err = e.Store.PaidRequests(e.Ctx, shop, 100, 400, 2)
	must(t, err)
	storetest.WantEqual(t, "paid requests, limit 2", got, paidWant[:2])

	// Stale claims: paying, updated before the moment, oldest first.
	for _, n := range []uint64{12, 10, 11, 13} {
		r := request(n, other)
		r.Status, r.UpdatedAt = merchant.RequestPaying, at(int(n))
		must(t, e.Store.CreateRequest(e.Ctx, r))
	}
	stale, err := e.Store.StaleClaims(e.Ctx, at(13), 10)
	must(t, err)
	var staleIDs []tongbao.ID
	for _, r := range stale {
		staleIDs = append(staleIDs, r.ID)
	}
	// request 5 is paying too, updated at(6).
	storetest.WantEqual(t, "stale claims", staleIDs, []tongbao.ID{unpaid.ID, request(10, other).ID, request(11, other).ID, request(12, other).ID})
	stale, err = e.Store.StaleClaims(e.Ctx, at(13), 1)
	must(t, err)
	if len(stale) != 1 || stale[0].ID != unpaid.ID {
		t.Fatalf("stale claims, limit 1: got %v", stale)
	}

	// Posted refunds by timestamp.
	r := paid(t, e, 20, 10_000)
	var postedWant []merchant.Refund
	for _, n := range []uint64{3, 1, 2} {
		f := refund(n, r, 10)
		_, _, err := e.Store.ReserveRefund(e.Ctx, f, r.Amount)
		must(t, err)
		f.Status, f.Timestamp = merchant.RefundPosted, int64(10*n)
		must(t, e.Store.UpdateRefund(e.Ctx, f))
	}
	pending := refund(4, r, 10)
	_, _, err = e.Store.ReserveRefund(e.Ctx, pending, r.Amount)
	must(t, err)
	for _, n := range []uint64{1, 2} {
		f := refund(n, r, 10)
		f.Status, f.Timestamp = merchant.RefundPosted, int64(10*n)
		postedWant = append(postedWant, f)
	}
	posted, err := e.Store.PostedRefunds(e.Ctx, shop, 10, 30, 10)
	must(t, err)
	storetest.WantEqual(t, "posted refunds in [10, 30)", posted, postedWant)
	posted, err = e.Store.PostedRefunds(e.Ctx, other, 0, 1000, 10)
	must(t, err)
	if len(posted) != 0 {
		t.Fatalf("posted refunds of another merchant: %d", len(posted))
	}
}

func code(n byte) merchant.PaymentCode {
	var h [32]byte
	h[0], h[31] = n, 0xEE
	return merchant.PaymentCode{Hash: h, Wallet: id(0x4000 + uint64(n)), Cap: 5000, ExpiresAt: at(int(n) + 60), CreatedAt: at(int(n))}
}

func testPaymentCodes(t *testing.T, e *env) {
	c := code(1)
	_, err := e.Store.PaymentCode(e.Ctx, c.Hash)
	wantErr(t, "missing code", err, merchant.ErrPaymentCodeNotFound)
	must(t, e.Store.CreatePaymentCode(e.Ctx, c))
	got, err := e.Store.PaymentCode(e.Ctx, c.Hash)
	must(t, err)
	storetest.WantEqual(t, "code", got, c)
	dup := c
	dup.Wallet = id(9)
	wantErr(t, "code hash taken", e.Store.CreatePaymentCode(e.Ctx, dup), merchant.ErrPaymentCodeExists)

	must(t, e.Store.UsePaymentCode(e.Ctx, c.Hash, id(0x77), shop, at(70)))
	used := c
	used.Request, used.Merchant, used.UsedAt = id(0x77), shop, at(70)
	got, err = e.Store.PaymentCode(e.Ctx, c.Hash)
	must(t, err)
	storetest.WantEqual(t, "used code", got, used)
	wantErr(t, "code used twice", e.Store.UsePaymentCode(e.Ctx, c.Hash, id(0x78), other, at(71)), merchant.ErrPaymentCodeUsed)
	got, err = e.Store.PaymentCode(e.Ctx, c.Hash)
	must(t, err)
	storetest.WantEqual(t, "code after a second use", got, used)
	wantErr(t, "use of a missing code", e.Store.UsePaymentCode(e.Ctx, code(2).Hash, id(0x79), shop, at(72)), merchant.ErrPaymentCodeNotFound)
}

func testConcurrentCodeUses(t *testing.T, e *env) {
	c := code(1)
	must(t, e.Store.CreatePaymentCode(e.Ctx, c))
	store := e.TwoStores()
	winners := storetest.Succeeded(t, storetest.Concurrently(8, func(i int) error {
		return store(i).UsePaymentCode(e.Ctx, c.Hash, id(uint64(0x100+i)), shop, at(i))
	}), merchant.ErrPaymentCodeUsed)
	if len(winners) != 1 {
		t.Fatalf("concurrent uses of one code: %d succeeded; want 1", len(winners))
	}
}

func testReopen(t *testing.T, e *env) {
	r := paid(t, e, 1, 100)
	f := refund(1, r, 40)
	_, _, err := e.Store.ReserveRefund(e.Ctx, f, r.Amount)
	must(t, err)
	must(t, e.Store.CreatePaymentCode(e.Ctx, code(1)))
	must(t, e.Store.Close())
	s := e.Reopen()
	gr, err := s.Request(e.Ctx, r.ID)
	must(t, err)
	storetest.WantEqual(t, "request after reopen", gr, r)
	gf, err := s.Refund(e.Ctx, f.ID)
	must(t, err)
	storetest.WantEqual(t, "refund after reopen", gf, f)
	gc, err := s.PaymentCode(e.Ctx, code(1).Hash)
	must(t, err)
	storetest.WantEqual(t, "code after reopen", gc, code(1))
}
