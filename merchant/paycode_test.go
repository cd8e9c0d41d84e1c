package merchant_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/merchant"
	"github.com/tongbao/tongbao/twotier"
)

func TestPaymentCodeChargedOnce(t *testing.T) {
	e := newEnv(t)
	code, err := e.merchant.IssuePaymentCode(e.ctx, e.payerB.ID, 200*yuan)
	must(t, err)
	if err := merchant.CheckPaymentCode(code.Code); err != nil {
		t.Fatalf("issued code %q does not check: %v", code.Code, err)
	}
	if !code.ExpiresAt.Equal(start.Add(merchant.PaymentCodeTTL)) {
		t.Fatalf("expires at %v; want a minute from now", code.ExpiresAt)
	}
	before := e.balances()
	id := tongbao.NewID()
	r, err := e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: id, Merchant: e.shop.ID, Code: code.Code, Amount: 88 * yuan, OrderID: "till-1"})
	must(t, err)
	if r.Status != merchant.RequestPaid || r.Payer != e.payerB.ID || r.Amount != 88*yuan || r.OrderID != "till-1" {
		t.Fatalf("charge: %+v", r)
	}
	if got := e.balance(e.shop.ID) - before[e.shop.ID]; got != 88*yuan {
		t.Fatalf("shop got %v; want 88.00", got)
	}
	if got := before[e.payerB.ID] - e.balance(e.payerB.ID); got != 88*yuan {
		t.Fatalf("payer paid %v; want 88.00", got)
	}
	e.supplyOK("charge")

	// The same charge again is answered with the same request; nothing moves.
	after := e.balances()
	again, err := e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: id, Merchant: e.shop.ID, Code: code.Code, Amount: 88 * yuan, OrderID: "till-1"})
	must(t, err)
	if again.ID != r.ID || again.Status != merchant.RequestPaid {
		t.Fatalf("retry: %+v", again)
	}
	e.unchanged("retried charge", after)

	// Another charge of the used code is refused.
	_, err = e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: tongbao.NewID(), Merchant: e.shop.ID, Code: code.Code, Amount: 1 * yuan})
	wantCode(t, "second charge", err, tongbao.ECONFLICT, merchant.ErrPaymentCodeUsed)
	e.unchanged("second charge", after)
}

func TestPaymentCodeRefusals(t *testing.T) {
	e := newEnv(t)
	code, err := e.merchant.IssuePaymentCode(e.ctx, e.payerA.ID, 0)
	must(t, err)
	if code.Cap != merchant.PaymentCodeCapDefault {
		t.Fatalf("default cap %v; want %v", code.Cap, merchant.PaymentCodeCapDefault)
	}
	before := e.balances()
	charge := func(c string, amount tongbao.Amount) error {
		_, err := e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: tongbao.NewID(), Merchant: e.shop.ID, Code: c, Amount: amount})
		return err
	}
	// A misread digit fails the check digit; a made-up code is not found.
	bad := []byte(code.Code)
	bad[5] = '0' + (bad[5]-'0'+1)%10
	wantCode(t, "misread", charge(string(bad), yuan), tongbao.EINVALID, merchant.ErrPaymentCodeInvalid)
	for _, c := range []string{"", "01", strings.Repeat("1", 18), code.Code + "0", "02" + code.Code[2:], "01abcdefghijklmnop"} {
		wantCode(t, fmt.Sprintf("code %q", c), charge(c, yuan), tongbao.EINVALID, merchant.ErrPaymentCodeInvalid)
	}
	other, err := e.merchant.IssuePaymentCode(e.ctx, e.payerA.ID, 0)
	must(t, err)
	body := other.Code[:16] + fmt.Sprint((int(other.Code[16]-'0')+1)%10)
	made := body + string(luhnOf(body))
	if made != other.Code {
		wantCode(t, "unknown code", charge(made, yuan), tongbao.ENOTFOUND, merchant.ErrPaymentCodeNotFound)
	}
	wantCode(t, "zero", charge(code.Code, 0), tongbao.EINVALID, tongbao.ErrAmountInvalid)
	wantCode(t, "negative", charge(code.Code, -yuan), tongbao.EINVALID, tongbao.ErrAmountInvalid)
	wantCode(t, "above cap", charge(code.Code, merchant.PaymentCodeCapDefault+1), tongbao.EUNPROCESSABLE, merchant.ErrPaymentCodeCap)
	// A personal wallet cannot charge; a merchant wallet cannot show codes.
	_, err = e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: tongbao.NewID(), Merchant: e.payerB.ID, Code: code.Code, Amount: yuan})
	wantCode(t, "charged by a personal wallet", err, tongbao.EINVALID, twotier.ErrNotMerchantWallet)
	_, err = e.merchant.IssuePaymentCode(e.ctx, e.shop.ID, 0)
	wantCode(t, "code for a merchant wallet", err, tongbao.EINVALID, nil)
	_, err = e.merchant.IssuePaymentCode(e.ctx, e.payerA.ID, -1)
	wantCode(t, "negative cap", err, tongbao.EINVALID, nil)
	e.unchanged("refused charges", before)

	// The refusals above left the code unused: it still pays, once.
	_, err = e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: tongbao.NewID(), Merchant: e.shop.ID, Code: code.Code, Amount: 5 * yuan})
	must(t, err)

	// A code past its minute is refused.
	late, err := e.merchant.IssuePaymentCode(e.ctx, e.payerA.ID, 0)
	must(t, err)
	e.clock.Advance(merchant.PaymentCodeTTL)
	before = e.balances()
	wantCode(t, "expired", charge(late.Code, yuan), tongbao.ECONFLICT, merchant.ErrPaymentCodeExpired)
	e.unchanged("expired code", before)
	e.supplyOK("refusals")
}

// luhnOf computes a Luhn check digit the long way, apart from the
// package's own.
func luhnOf(digits string) byte {
	for d := byte('0'); d <= '9'; d++ {
		s := digits + string(d)
		sum := 0
		for i := 0; i < len(s); i++ {
			v := int(s[len(s)-1-i] - '0')
			if i%2 == 1 {
				v *= 2
				if v > 9 {
					v -= 9
				}
			}
			sum += v
		}
		if sum%10 == 0 {
			return d
		}
	}
	panic("no check digit")
}

// A refused charge (the wallet is short) spends the code and moves nothing;
// the request it made cannot be paid another way.
func TestPaymentCodeRefusedPaymentSpendsCode(t *testing.T) {
	e := newEnv(t)
	poor := e.holder(e.a)
	_, err := e.svc.Withdraw(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: poor.ID, Amount: holderFunds - 10*yuan})
	must(t, err)
	code, err := e.merchant.IssuePaymentCode(e.ctx, poor.ID, 0)
	must(t, err)
	shop := e.balance(e.shop.ID)
	id := tongbao.NewID()
	_, err = e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: id, Merchant: e.shop.ID, Code: code.Code, Amount: 20 * yuan})
	wantCode(t, "short wallet", err, tongbao.EUNPROCESSABLE, nil)
	if e.balance(poor.ID) != 10*yuan || e.balance(e.shop.ID) != shop {
		t.Fatalf("money moved on a refused charge")
	}
	r, err := e.merchant.Request(e.ctx, id)
	must(t, err)
	if r.Status != merchant.RequestCancelled {
		t.Fatalf("request of a refused charge is %s; want cancelled", r.Status)
	}
	_, err = e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: tongbao.NewID(), Merchant: e.shop.ID, Code: code.Code, Amount: 5 * yuan})
	wantCode(t, "charge after refusal", err, tongbao.ECONFLICT, merchant.ErrPaymentCodeUsed)
	e.supplyOK("refused charge")
}

// Tills racing for one code: exactly one charge goes through.
func TestPaymentCodeConcurrentCharges(t *testing.T) {
	e := newEnv(t)
	code, err := e.merchant.IssuePaymentCode(e.ctx, e.payerB.ID, 100*yuan)
	must(t, err)
	total := e.total()
	const tills = 16
	var wg sync.WaitGroup
	errs := make([]error, tills)
	for i := range tills {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: tongbao.NewID(), Merchant: e.shop.ID, Code: code.Code, Amount: 30 * yuan})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case tongbao.ErrorCode(err) != tongbao.ECONFLICT:
			t.Fatalf("losing charge: %v; want a conflict", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d charges of one code went through; want 1", ok)
	}
	if got := holderFunds - e.balance(e.payerB.ID); got != 30*yuan {
		t.Fatalf("payer paid %v; want 30.00", got)
	}
	if e.total() != total {
		t.Fatalf("money created or lost")
	}
	e.supplyOK("concurrent charges")
}

func TestCheckPaymentCodeProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		body := merchant.PaymentCodePrefix + rapid.StringMatching(`[0-9]{15}`).Draw(t, "digits")
		code := body + string(luhnOf(body))
		if err := merchant.CheckPaymentCode(code); err != nil {
			t.Fatalf("valid code %q refused: %v", code, err)
		}
		// Any single changed digit is caught by the check digit.
		i := rapid.IntRange(0, len(code)-1).Draw(t, "at")
		d := byte('0' + rapid.IntRange(1, 9).Draw(t, "by"))
		b := []byte(code)
		b[i] = '0' + (b[i]-'0'+d-'0')%10
		if err := merchant.CheckPaymentCode(string(b)); err == nil {
			t.Fatalf("code %q with digit %d changed passes", string(b), i)
		}
	})
}

func TestStaticCodePayment(t *testing.T) {
	e := newEnv(t)
	payload, err := e.merchant.StaticCode(e.ctx, e.shop.ID, merchant.Names{MerchantName: "Noodle Shop", MerchantCity: "Shanghai"})
	must(t, err)
	c, err := merchant.Decode(payload)
	must(t, err)
	if c.Kind != merchant.Static || c.Wallet != e.shop.ID || c.Amount != 0 {
		t.Fatalf("static code decodes to %+v", c)
	}
	before := e.balances()
	for _, amount := range []tongbao.Amount{0, -yuan} {
		_, err := e.merchant.PayCode(e.ctx, merchant.CodePayment{ID: tongbao.NewID(), Payload: payload, Payer: e.payerB.ID, Amount: amount})
		wantCode(t, fmt.Sprintf("static code with %v", amount), err, tongbao.EINVALID, nil)
	}
	bad := []byte(payload) // the last digit of the CRC, changed
	bad[len(bad)-1] = "10"[min(1, int(bad[len(bad)-1]-'0'))]
	if string(bad) == payload {
		t.Fatal("the corrupted payload is the payload")
	}
	_, err = e.merchant.PayCode(e.ctx, merchant.CodePayment{ID: tongbao.NewID(), Payload: string(bad), Payer: e.payerB.ID, Amount: yuan})
	wantCode(t, "bad checksum", err, tongbao.EINVALID, nil)
	e.unchanged("refused static payments", before)

	id := tongbao.NewID()
	r, err := e.merchant.PayCode(e.ctx, merchant.CodePayment{ID: id, Payload: payload, Payer: e.payerB.ID, Amount: 12*yuan + 50})
	must(t, err)
	if r.Status != merchant.RequestPaid || r.Amount != 12*yuan+50 || r.Payer != e.payerB.ID {
		t.Fatalf("static payment: %+v", r)
	}
	after := e.balances()
	if after[e.shop.ID]-before[e.shop.ID] != 12*yuan+50 || before[e.payerB.ID]-after[e.payerB.ID] != 12*yuan+50 {
		t.Fatalf("static payment moved the wrong amounts")
	}
	// Paying it again under the same id is the same payment.
	again, err := e.merchant.PayCode(e.ctx, merchant.CodePayment{ID: id, Payload: payload, Payer: e.payerB.ID, Amount: 12*yuan + 50})
	must(t, err)
	if again.ID != r.ID {
		t.Fatalf("retry made another request")
	}
	e.unchanged("retried static payment", after)
	// A static payment can be refunded like any request.
	_, err = e.merchant.Refund(e.ctx, merchant.RefundSpec{ID: tongbao.NewID(), Request: r.ID, Amount: 2 * yuan, Reason: "short portion"})
	must(t, err)
	e.supplyOK("static payment")

	// A dynamic code is paid through the same call; its amount is the code's.
	req := e.request("dyn-1", 30*yuan)
	_, err = e.merchant.PayCode(e.ctx, merchant.CodePayment{ID: tongbao.NewID(), Payload: req.Payload, Payer: e.payerA.ID, Amount: 31 * yuan})
	wantCode(t, "dynamic code with another amount", err, tongbao.EINVALID, nil)
	paid, err := e.merchant.PayCode(e.ctx, merchant.CodePayment{ID: tongbao.NewID(), Payload: req.Payload, Payer: e.payerA.ID})
	must(t, err)
	if paid.ID != req.ID || paid.Status != merchant.RequestPaid {
		t.Fatalf("dynamic code payment: %+v", paid)
	}
	_, err = e.merchant.PayCode(e.ctx, merchant.CodePayment{ID: tongbao.NewID(), Payload: req.Payload, Payer: e.payerB.ID})
	wantCode(t, "dynamic code paid twice", err, tongbao.ECONFLICT, merchant.ErrRequestPaid)
}

// The statement lists every movement of the day and balances to the
// wallet: opening + net + other = closing, and the lines sum to the
// movement; payments and refunds carry their order ids.
func TestStatementReconcilesToWallet(t *testing.T) {
	e := newEnv(t)
	day := e.merchant.Today()
	opening := e.balance(e.shop.ID)
	r1 := e.paid("order-1", 100*yuan, e.payerA)
	r2 := e.paid("order-2", 40*yuan, e.payerB) // across operators
	_, err := e.merchant.Refund(e.ctx, merchant.RefundSpec{ID: tongbao.NewID(), Request: r1.ID, Amount: 30 * yuan, Reason: "cold"})
	must(t, err)
	_, err = e.merchant.Refund(e.ctx, merchant.RefundSpec{ID: tongbao.NewID(), Request: r2.ID, Amount: 40 * yuan, Reason: "gone"})
	must(t, err)
	code, err := e.merchant.IssuePaymentCode(e.ctx, e.payerA.ID, 0)
	must(t, err)
	_, err = e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: tongbao.NewID(), Merchant: e.shop.ID, Code: code.Code, Amount: 7 * yuan, OrderID: "till-7"})
	must(t, err)
	// Movement not through a code: a direct payment and a withdrawal.
	_, err = e.svc.Pay(e.ctx, twotier.Payment{ID: tongbao.NewID(), From: e.payerA.ID, To: e.shop.ID, Amount: 5 * yuan})
	must(t, err)
	_, err = e.svc.Withdraw(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: e.shop.ID, Amount: 20 * yuan})
	must(t, err)
	closing := e.balance(e.shop.ID)

	// Tomorrow's movement must not show in today's statement.
	e.clock.Set(start.Add(24 * time.Hour))
	e.paid("tomorrow", 9*yuan, e.payerA)

	st, err := e.merchant.Statement(e.ctx, e.shop.ID, day)
	must(t, err)
	if st.Opening != opening || st.Closing != closing {
		t.Fatalf("opening %v closing %v; want %v and %v", st.Opening, st.Closing, opening, closing)
	}
	if st.Payments != 147*yuan || st.PaymentCount != 3 || st.Refunds != 70*yuan || st.RefundCount != 2 || st.Net != 77*yuan || st.Other != -15*yuan {
		t.Fatalf("totals: payments %v (%d) refunds %v (%d) net %v other %v", st.Payments, st.PaymentCount, st.Refunds, st.RefundCount, st.Net, st.Other)
	}
	var sum tongbao.Amount
	orders := map[string]string{}
	for _, l := range st.Lines {
		sum += l.Amount
		if l.OrderID != "" {
			orders[l.OrderID] += l.Kind + " "
		}
	}
	if sum != closing-opening || st.Opening+st.Net+st.Other != st.Closing {
		t.Fatalf("lines sum to %v; wallet moved %v", sum, closing-opening)
	}
	want := map[string]string{"order-1": "payment refund ", "order-2": "payment refund ", "till-7": "payment "}
	for o, k := range want {
		if orders[o] != k {
			t.Fatalf("order %s has lines %q; want %q (all: %v)", o, orders[o], k, orders)
		}
	}
	csv := string(st.CSV())
	for _, s := range []string{"total:net,77.00", "total:closing," + closing.String(), "order-2", "refund,-40.00"} {
		if !strings.Contains(csv, s) {
			t.Fatalf("CSV lacks %q:\n%s", s, csv)
		}
	}

	next, err := e.merchant.Statement(e.ctx, e.shop.ID, e.merchant.Today())
	must(t, err)
	if next.Opening != closing || next.Payments != 9*yuan || next.Closing != closing+9*yuan {
		t.Fatalf("next day: %+v", next)
	}
	for _, bad := range []string{"", "2026-13-01", "yesterday", "2026-03-10T00:00"} {
		_, err := e.merchant.Statement(e.ctx, e.shop.ID, bad)
		wantCode(t, "day "+bad, err, tongbao.EINVALID, nil)
	}
	_, err = e.merchant.Statement(e.ctx, e.payerA.ID, day)
	wantCode(t, "personal wallet", err, tongbao.EINVALID, twotier.ErrNotMerchantWallet)
}

// A charge's id names one charge: another code, another amount or another
// order under it is a conflict that spends nothing; copies of the same
// charge sent at once pay once and all answer with that payment.
func TestChargeIdempotency(t *testing.T) {
	e := newEnv(t)
	code1, err := e.merchant.IssuePaymentCode(e.ctx, e.payerA.ID, 0)
	must(t, err)
	code2, err := e.merchant.IssuePaymentCode(e.ctx, e.payerB.ID, 0)
	must(t, err)
	id := tongbao.NewID()
	first, err := e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: id, Merchant: e.shop.ID, Code: code1.Code, Amount: 20 * yuan})
	must(t, err)
	before := e.balances()
	_, err = e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: id, Merchant: e.shop.ID, Code: code2.Code, Amount: 20 * yuan})
	wantCode(t, "another customer's code under a charge's id", err, tongbao.ECONFLICT, tongbao.ErrIDConflict)
	_, err = e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: id, Merchant: e.shop.ID, Code: code1.Code, Amount: 21 * yuan})
	wantCode(t, "another amount under a charge's id", err, tongbao.ECONFLICT, tongbao.ErrIDConflict)
	_, err = e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: id, Merchant: e.shop.ID, Code: code1.Code, Amount: 20 * yuan, OrderID: "other"})
	wantCode(t, "another order under a charge's id", err, tongbao.ECONFLICT, tongbao.ErrIDConflict)
	// Bad input does not spend a code either.
	_, err = e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: tongbao.NewID(), Merchant: e.shop.ID, Code: code2.Code, Amount: yuan, OrderID: strings.Repeat("x", 26)})
	wantCode(t, "an order id too long", err, tongbao.EINVALID, nil)
	_, err = e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: tongbao.NewID(), Merchant: e.payerA.ID, Code: code2.Code, Amount: yuan})
	wantCode(t, "a personal wallet charging", err, tongbao.EINVALID, twotier.ErrNotMerchantWallet)
	e.unchanged("conflicting charges", before)
	again, err := e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: id, Merchant: e.shop.ID, Code: code1.Code, Amount: 20 * yuan})
	must(t, err)
	if again.ID != first.ID || again.Payer != e.payerA.ID {
		t.Fatalf("retry answered %+v", again)
	}
	// Nor does the same customer's next code under the first charge's id
	// with another amount.
	code4, err := e.merchant.IssuePaymentCode(e.ctx, e.payerA.ID, 0)
	must(t, err)
	_, err = e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: id, Merchant: e.shop.ID, Code: code4.Code, Amount: 5 * yuan})
	wantCode(t, "the same wallet's next code with another amount under a charge's id", err, tongbao.ECONFLICT, tongbao.ErrIDConflict)
	_, err = e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: tongbao.NewID(), Merchant: e.shop.ID, Code: code4.Code, Amount: yuan})
	must(t, err)
	// The second customer's code was not spent by any of that.
	_, err = e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: tongbao.NewID(), Merchant: e.shop.ID, Code: code2.Code, Amount: 3 * yuan})
	must(t, err)

	// Copies of one charge at once.
	code3, err := e.merchant.IssuePaymentCode(e.ctx, e.payerB.ID, 0)
	must(t, err)
	before = e.balances()
	copyID := tongbao.NewID()
	var wg sync.WaitGroup
	answers := make([]merchant.Request, 8)
	errs := make([]error, 8)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i], errs[i] = e.merchant.Charge(e.ctx, merchant.ChargeSpec{ID: copyID, Merchant: e.shop.ID, Code: code3.Code, Amount: 9 * yuan})
		}()
	}
	wg.Wait()
	paid := 0
	for i, err := range errs {
		switch {
		case err == nil:
			if answers[i].ID != copyID || answers[i].Status != merchant.RequestPaid {
				t.Fatalf("copy answered %+v", answers[i])
			}
			paid++
		default:
			t.Fatalf("copy failed: %v", err)
		}
	}
	if paid != len(answers) {
		t.Fatalf("%d of %d copies answered with the payment", paid, len(answers))
	}
	after := e.balances()
	if before[e.payerB.ID]-after[e.payerB.ID] != 9*yuan || after[e.shop.ID]-before[e.shop.ID] != 9*yuan {
		t.Fatalf("copies of one charge moved %v from the payer", before[e.payerB.ID]-after[e.payerB.ID])
	}
	// Its request is the charge's alone: another wallet cannot pay it.
	_, err = e.merchant.PayRequest(e.ctx, copyID, e.payerA.ID)
	wantCode(t, "paying another's charge", err, tongbao.ECONFLICT, merchant.ErrRequestPaid)
	e.supplyOK("charge idempotency")
}
