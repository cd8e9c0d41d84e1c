package httpapi_test

import (
	"bytes"
	"encoding/csv"
	"image/png"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/merchant"
)

// shopEnv is a server with two operators, a merchant wallet at A with its
// merchant key, and holders at A and B with 5,000.00 each.
type shopEnv struct {
	*env
	adminA, adminB   *client.Client
	shop             wire.Wallet
	shopKey          *client.Client
	payerA, payerB   wire.Wallet
	holderA, holderB *client.Client
}

func newShopEnv(tb testing.TB, clock tongbao.Clock) *shopEnv {
	tb.Helper()
	e := &shopEnv{env: newEnvClock(tb, clock)}
	var a, b tongbao.ID
	a, e.adminA = e.operator("Operator A", 50_000*yuan, 1_000_000*yuan)
	b, e.adminB = e.operator("Operator B", 50_000*yuan, 1_000_000*yuan)
	var err error
	e.shop, err = e.adminA.OpenWallet(e.ctx, client.NewKey(), a, wire.OpenWallet{Category: 2, HolderName: "Noodle Shop", Merchant: true, MerchantCategory: "5812", Region: "310000"})
	must(tb, err)
	k, err := e.adminA.CreateKey(e.ctx, wire.CreateKey{Role: wire.RoleMerchant, Wallet: &e.shop.ID})
	must(tb, err)
	e.shopKey = e.adminA.WithKey(k.Secret)
	e.payerA, e.holderA = e.wallet(e.adminA, a, wire.OpenWallet{Category: 2, HolderName: "李四", Phone: "13800000002"})
	e.payerB, e.holderB = e.wallet(e.adminB, b, wire.OpenWallet{Category: 2, HolderName: "赵六", Phone: "13900000002"})
	_, err = e.adminA.TopUp(e.ctx, client.NewKey(), e.payerA.ID, 5_000*yuan)
	must(tb, err)
	_, err = e.adminB.TopUp(e.ctx, client.NewKey(), e.payerB.ID, 5_000*yuan)
	must(tb, err)
	return e
}

// balances reads the shop's and both payers' balances.
func (e *shopEnv) balances() [3]tongbao.Amount {
	e.tb.Helper()
	return [3]tongbao.Amount{e.balance(e.adminA, e.shop.ID), e.balance(e.adminA, e.payerA.ID), e.balance(e.adminB, e.payerB.ID)}
}

func (e *shopEnv) unchanged(step string, before [3]tongbao.Amount) {
	e.tb.Helper()
	if got := e.balances(); got != before {
		e.tb.Fatalf("after %s: balances %v; want %v", step, got, before)
	}
	e.supplyOK(step)
}

// readQR decodes a PNG with a QR reader.
func readQR(tb testing.TB, b []byte) string {
	tb.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	must(tb, err)
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	must(tb, err)
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_CHARACTER_SET: "UTF-8",
		// The image is the symbol alone, as rendered: read it as such
		// (finding a symbol in a photo is the camera app's part).
		gozxing.DecodeHintType_PURE_BARCODE: true})
	must(tb, err)
	return res.GetText()
}

// TestMerchantStory collects over HTTP the ways a shop does: a dynamic
// code paid once (the second payer is refused), a static code with an
// amount, a payment code scanned at the till, partial refunds up to and
// past the total, an expired request, and a statement that reconciles
// to the wallet's movement; the supply check holds after every step.
func TestMerchantStory(t *testing.T) {
	clock := tongbao.NewManualClock(time.Now())
	e := newShopEnv(t, clock)
	ctx := e.ctx
	day := clock.Now().In(shanghaiTZ(t)).Format(time.DateOnly)
	opening := e.balance(e.adminA, e.shop.ID)

	// A dynamic code: the payload and its PNG say the same.
	req, err := e.shopKey.CreatePaymentRequest(ctx, client.NewKey(), wire.CreatePaymentRequest{OrderID: "T-1001", Amount: wire.Amount(36 * yuan), MerchantName: "Noodle Shop", MerchantCity: "Shanghai", LocalName: "兰州拉面"})
	must(t, err)
	if req.Status != "open" || tongbao.Amount(req.Amount) != 36*yuan {
		t.Fatalf("request %+v", req)
	}
	img, err := e.shopKey.PaymentRequestPNG(ctx, req.ID, 400)
	must(t, err)
	if got := readQR(t, img); got != req.Payload {
		t.Fatalf("PNG reads %q; want %q", got, req.Payload)
	}
	c, err := merchant.Decode(req.Payload)
	must(t, err)
	if c.Kind != merchant.Dynamic || c.Amount != 36*yuan || c.OrderID != "T-1001" || c.Wallet != e.shop.ID {
		t.Fatalf("payload decodes to %+v", c)
	}
	before := e.balances()
	paid, err := e.holderB.PayCollectionCode(ctx, client.NewKey(), e.payerB.ID, req.Payload, 0) // across operators
	must(t, err)
	if paid.Status != "paid" || paid.Payer != e.payerB.ID {
		t.Fatalf("paid request %+v", paid)
	}
	if got := e.balances(); got[0]-before[0] != 36*yuan || before[2]-got[2] != 36*yuan {
		t.Fatalf("balances %v → %v", before, got)
	}
	e.supplyOK("paying a dynamic code")
	if seen, err := e.holderA.PaymentRequest(ctx, req.ID); err != nil || seen.Status != "paid" || !seen.Payer.IsZero() {
		t.Fatalf("another holder reads the paid request as %+v (%v); want it paid, without its payer", seen, err)
	}
	if seen, err := e.holderB.PaymentRequest(ctx, req.ID); err != nil || seen.Payer != e.payerB.ID {
		t.Fatalf("the payer reads its request as %+v (%v)", seen, err)
	}
	before = e.balances()
	_, err = e.holderA.PayPaymentRequest(ctx, client.NewKey(), req.ID, e.payerA.ID)
	wantProblem(t, "a code paid twice", err, "payment-request-paid")
	e.unchanged("a code paid twice", before)

	// A static code: the payer enters the amount.
	static, err := e.shopKey.CollectionCode(ctx, e.shop.ID, "Noodle Shop", "Shanghai")
	must(t, err)
	raw, ctype, err := e.shopKey.GetRaw(ctx, "/v1/wallets/"+e.shop.ID.String()+"/collection-code?merchant_name=Noodle+Shop&merchant_city=Shanghai&format=png&size=300")
	must(t, err)
	if ctype != "image/png" || readQR(t, raw) != static.Payload {
		t.Fatalf("static PNG (%s) does not read back to the payload", ctype)
	}
	key := client.NewKey()
	sp, err := e.holderA.PayCollectionCode(ctx, key, e.payerA.ID, static.Payload, 12*yuan+50)
	must(t, err)
	if sp.Status != "paid" || tongbao.Amount(sp.Amount) != 12*yuan+50 {
		t.Fatalf("static payment %+v", sp)
	}
	after := e.balances()
	again, err := e.holderA.PayCollectionCode(ctx, key, e.payerA.ID, static.Payload, 12*yuan+50)
	must(t, err)
	if again.ID != sp.ID {
		t.Fatalf("a retry under the same key made another payment")
	}
	e.unchanged("a retried static payment", after)

	// A payment code scanned at the till; a second charge is refused.
	code, err := e.holderA.IssuePaymentCode(ctx, e.payerA.ID, 100*yuan)
	must(t, err)
	if merchant.CheckPaymentCode(code.Code) != nil || !code.ExpiresAt.After(clock.Now()) || code.ExpiresAt.Sub(clock.Now()) > time.Minute {
		t.Fatalf("payment code %+v", code)
	}
	before = e.balances()
	_, err = e.shopKey.Charge(ctx, client.NewKey(), wire.Charge{Code: code.Code, Amount: wire.Amount(101 * yuan)})
	wantProblem(t, "a charge above the code's cap", err, "payment-code-cap-exceeded")
	e.unchanged("a charge above the cap", before)
	ch, err := e.shopKey.Charge(ctx, client.NewKey(), wire.Charge{Code: code.Code, Amount: wire.Amount(58 * yuan), OrderID: "TILL-7"})
	must(t, err)
	if ch.Status != "paid" || ch.Payer != e.payerA.ID || ch.OrderID != "TILL-7" {
		t.Fatalf("charge %+v", ch)
	}
	if got := e.balances(); got[0]-before[0] != 58*yuan || before[1]-got[1] != 58*yuan {
		t.Fatalf("charge moved %v → %v", before, got)
	}
	before = e.balances()
	_, err = e.shopKey.Charge(ctx, client.NewKey(), wire.Charge{Code: code.Code, Amount: wire.Amount(1 * yuan)})
	wantProblem(t, "a payment code charged twice", err, "payment-code-used")
	e.unchanged("a payment code charged twice", before)
	late, err := e.holderA.IssuePaymentCode(ctx, e.payerA.ID, 0)
	must(t, err)
	clock.Advance(merchant.PaymentCodeTTL)
	_, err = e.shopKey.Charge(ctx, client.NewKey(), wire.Charge{Code: late.Code, Amount: wire.Amount(1 * yuan)})
	wantProblem(t, "an expired payment code", err, "payment-code-expired")
	e.unchanged("an expired payment code", before)

	// An expired request.
	old, err := e.shopKey.CreatePaymentRequest(ctx, client.NewKey(), wire.CreatePaymentRequest{OrderID: "T-1002", Amount: wire.Amount(9 * yuan), ExpiresIn: 60, MerchantName: "Noodle Shop", MerchantCity: "Shanghai"})
	must(t, err)
	clock.Advance(time.Minute)
	_, err = e.holderA.PayPaymentRequest(ctx, client.NewKey(), old.ID, e.payerA.ID)
	wantProblem(t, "an expired request", err, "payment-request-expired")
	if r, err := e.shopKey.PaymentRequest(ctx, old.ID); err != nil || r.Status != "expired" {
		t.Fatalf("expired request reads %+v, %v", r, err)
	}
	e.unchanged("an expired request", before)

	// Partial refunds of the dynamic payment up to its total, then past it.
	for _, amount := range []tongbao.Amount{10 * yuan, 20 * yuan} {
		f, err := e.shopKey.Refund(ctx, client.NewKey(), req.ID, amount, "part of the order was missing")
		must(t, err)
		if f.Status != "posted" || f.Payer != e.payerB.ID {
			t.Fatalf("refund %+v", f)
		}
		e.supplyOK("a partial refund")
	}
	before = e.balances()
	_, err = e.shopKey.Refund(ctx, client.NewKey(), req.ID, 6*yuan+1, "one fen too many")
	wantProblem(t, "a refund past the total", err, "refund-exceeds-payment")
	e.unchanged("a refund past the total", before)
	_, err = e.shopKey.Refund(ctx, client.NewKey(), req.ID, 6*yuan, "the rest")
	must(t, err)
	list, err := e.shopKey.Refunds(ctx, req.ID)
	must(t, err)
	if len(list.Items) != 3 || tongbao.Amount(list.Refunded) != 36*yuan || list.Refundable != 0 {
		t.Fatalf("refunds %+v", list)
	}
	// Refunds of the static payment, requested at once: together they
	// never pass what was paid (12.50, in 20 refunds of 1.00).
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, exceeded := 0, 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.shopKey.Refund(ctx, client.NewKey(), sp.ID, yuan, "concurrent")
			mu.Lock()
			defer mu.Unlock()
			switch client.ProblemName(err) {
			case "":
				ok++
			case "refund-exceeds-payment":
				exceeded++
			default:
				t.Errorf("concurrent refund: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 12 || exceeded != 8 {
		t.Fatalf("%d concurrent refunds passed and %d were refused; want 12 and 8", ok, exceeded)
	}
	e.supplyOK("concurrent refunds")

	// The day's statement reconciles to the wallet's movement.
	closing := e.balance(e.adminA, e.shop.ID)
	st, err := e.shopKey.Statement(ctx, e.shop.ID, day)
	must(t, err)
	if tongbao.Amount(st.Opening) != opening || tongbao.Amount(st.Closing) != closing {
		t.Fatalf("statement opening %v closing %v; want %v and %v", st.Opening, st.Closing, opening, closing)
	}
	wantPaid, wantRefunded := 36*yuan+12*yuan+50+58*yuan, 36*yuan+12*yuan
	if tongbao.Amount(st.Payments) != wantPaid || tongbao.Amount(st.Refunds) != wantRefunded || st.PaymentCount != 3 || st.RefundCount != 15 || st.Other != 0 {
		t.Fatalf("statement totals %+v", st)
	}
	var sum tongbao.Amount
	for _, l := range st.Lines {
		sum += tongbao.Amount(l.Amount)
	}
	if sum != closing-opening || tongbao.Amount(st.Net) != closing-opening {
		t.Fatalf("statement lines sum to %v, net %v; the wallet moved %v", sum, st.Net, closing-opening)
	}
	csvBody, err := e.shopKey.StatementCSV(ctx, e.shop.ID, day)
	must(t, err)
	rows, err := csv.NewReader(bytes.NewReader(csvBody)).ReadAll()
	must(t, err)
	if len(rows) != 1+len(st.Lines)+6 || rows[len(rows)-1][1] != "total:closing" || rows[len(rows)-1][2] != closing.String() {
		t.Fatalf("CSV statement:\n%s", csvBody)
	}
	e.supplyOK("the statement")
}

// TestMerchantBadInput sends what a till or a wallet could get wrong; each
// gets its problem type and nothing moves.
func TestMerchantBadInput(t *testing.T) {
	e := newShopEnv(t, nil)
	ctx := e.ctx
	req, err := e.shopKey.CreatePaymentRequest(ctx, client.NewKey(), wire.CreatePaymentRequest{OrderID: "B-1", Amount: wire.Amount(10 * yuan), MerchantName: "Noodle Shop", MerchantCity: "Shanghai"})
	must(t, err)
	static, err := e.shopKey.CollectionCode(ctx, e.shop.ID, "Noodle Shop", "Shanghai")
	must(t, err)
	before := e.balances()
	do := func(cl *client.Client, method, path, key, body string) error {
		var in any
		if body != "" {
			in = []byte(body)
		}
		return cl.Do(ctx, method, path, key, in, nil)
	}
	reqPath := "/v1/payment-requests/" + req.ID.String()
	from := e.payerA.ID.String()
	cases := []struct {
		name      string
		cl        *client.Client
		method    string
		path, key string
		body      string
		problem   string
	}{
		{"malformed JSON", e.holderA, "POST", reqPath + "/pay", "k", `{"from":`, "malformed-json"},
		{"unknown field", e.holderA, "POST", reqPath + "/pay", "k", `{"from":"` + from + `","tip":"1.00"}`, "malformed-json"},
		{"pay without a key", e.holderA, "POST", reqPath + "/pay", "", `{"from":"` + from + `"}`, "idempotency-key-required"},
		{"pay from another's wallet", e.holderA, "POST", reqPath + "/pay", "k", `{"from":"` + e.payerB.ID.String() + `"}`, "forbidden"},
		{"unknown request", e.holderA, "POST", "/v1/payment-requests/" + tongbao.NewID().String() + "/pay", "k", `{"from":"` + from + `"}`, "payment-request-not-found"},
		{"bad request id", e.holderA, "GET", "/v1/payment-requests/nope", "", "", "invalid-request"},
		{"static code without amount", e.holderA, "POST", "/v1/collection-codes/pay", "k", `{"from":"` + from + `","payload":"` + static.Payload + `"}`, "invalid-request"},
		{"static code with zero", e.holderA, "POST", "/v1/collection-codes/pay", "k", `{"from":"` + from + `","payload":"` + static.Payload + `","amount":"0"}`, "invalid-request"},
		{"static code with a negative amount", e.holderA, "POST", "/v1/collection-codes/pay", "k", `{"from":"` + from + `","payload":"` + static.Payload + `","amount":"-1.00"}`, "invalid-request"},
		{"overflowing amount", e.holderA, "POST", "/v1/collection-codes/pay", "k", `{"from":"` + from + `","payload":"` + static.Payload + `","amount":"99999999999999999999.00"}`, "invalid-amount"},
		{"three decimals", e.holderA, "POST", "/v1/collection-codes/pay", "k", `{"from":"` + from + `","payload":"` + static.Payload + `","amount":"1.001"}`, "invalid-amount"},
		{"corrupt payload", e.holderA, "POST", "/v1/collection-codes/pay", "k", `{"from":"` + from + `","payload":"` + static.Payload[:len(static.Payload)-1] + `X","amount":"1.00"}`, "invalid-request"},
		{"dynamic code with another amount", e.holderA, "POST", "/v1/collection-codes/pay", "k", `{"from":"` + from + `","payload":"` + req.Payload + `","amount":"9.99"}`, "invalid-request"},
		{"request with zero", e.shopKey, "POST", "/v1/payment-requests", "", `{"order_id":"B-2","amount":"0","merchant_name":"Noodle Shop","merchant_city":"Shanghai"}`, "invalid-amount"},
		{"request with a taken order id", e.shopKey, "POST", "/v1/payment-requests", "", `{"order_id":"B-1","amount":"1.00","merchant_name":"Noodle Shop","merchant_city":"Shanghai"}`, "order-id-taken"},
		{"request expiring in the past", e.shopKey, "POST", "/v1/payment-requests", "", `{"order_id":"B-3","amount":"1.00","expires_at":"2020-01-01T00:00:00Z","merchant_name":"Noodle Shop","merchant_city":"Shanghai"}`, "invalid-request"},
		{"request without a name", e.shopKey, "POST", "/v1/payment-requests", "", `{"order_id":"B-4","amount":"1.00","merchant_city":"Shanghai"}`, "invalid-request"},
		{"refund of an unpaid request", e.shopKey, "POST", reqPath + "/refunds", "k", `{"amount":"1.00","reason":"x"}`, "payment-request-not-paid"},
		{"refund without a key", e.shopKey, "POST", reqPath + "/refunds", "", `{"amount":"1.00","reason":"x"}`, "idempotency-key-required"},
		{"charge a malformed code", e.shopKey, "POST", "/v1/payment-codes/charge", "k", `{"code":"0123","amount":"1.00"}`, "payment-code-invalid"},
		{"charge an unknown code", e.shopKey, "POST", "/v1/payment-codes/charge", "k", `{"code":"010000000000000009","amount":"1.00"}`, "payment-code-not-found"},
		{"charge without a key", e.shopKey, "POST", "/v1/payment-codes/charge", "", `{"code":"010000000000000000","amount":"1.00"}`, "idempotency-key-required"},
		{"payment code with a zero cap", e.holderA, "POST", "/v1/wallets/" + from + "/payment-codes", "", `{"cap":"0"}`, "invalid-request"},
		{"statement of a bad day", e.shopKey, "GET", "/v1/wallets/" + e.shop.ID.String() + "/statement?day=2026-02-30", "", "", "invalid-request"},
		{"statement in a bad format", e.shopKey, "GET", "/v1/wallets/" + e.shop.ID.String() + "/statement?format=xls", "", "", "invalid-request"},
		{"statement of a personal wallet", e.adminA, "GET", "/v1/wallets/" + from + "/statement", "", "", "not-a-merchant-wallet"},
		{"code image too large", e.shopKey, "GET", reqPath + "/qr?size=100000", "", "", "invalid-request"},
	}
	for _, c := range cases {
		key := c.key
		if key == "k" {
			key = client.NewKey()
		}
		err := do(c.cl, c.method, c.path, key, c.body)
		wantProblem(t, c.name, err, c.problem)
		e.unchanged(c.name, before)
	}
	if r, err := e.shopKey.PaymentRequest(ctx, req.ID); err != nil || r.Status != "open" {
		t.Fatalf("request after bad input: %+v, %v", r, err)
	}
	if !strings.HasPrefix(req.Payload, "000201") {
		t.Fatalf("payload %q is not EMVCo", req.Payload)
	}
}

// TestPaymentRequestRetryWithDefaultExpiry guards against a retry of a
// payment request made without an expiry being refused as a conflict: the
// default expiry was computed in the handler from the time of each
// attempt, so the same request sent again a moment later (after a
// restart emptied the replay cache, or at another node) differed.
func TestPaymentRequestRetryWithDefaultExpiry(t *testing.T) {
	clock := tongbao.NewManualClock(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	e := newShopEnv(t, clock)
	id := tongbao.NewID()
	for _, in := range []wire.CreatePaymentRequest{
		{ID: &id, OrderID: "A-1", Amount: wire.Amount(36 * yuan), MerchantName: "Noodle Shop", MerchantCity: "Shanghai"},
		{ID: new(tongbao.NewID()), OrderID: "A-2", Amount: wire.Amount(12 * yuan), ExpiresIn: 600, MerchantName: "Noodle Shop", MerchantCity: "Shanghai"},
	} {
		first, err := e.shopKey.CreatePaymentRequest(e.ctx, client.NewKey(), in)
		must(t, err)
		clock.Advance(2500 * time.Millisecond)
		// A new Idempotency-Key misses the replay cache, as after a restart.
		again, err := e.shopKey.CreatePaymentRequest(e.ctx, client.NewKey(), in)
		if err != nil {
			t.Fatalf("%s: the same request again: %v", in.OrderID, err)
		}
		if again.ID != first.ID || !again.ExpiresAt.Equal(first.ExpiresAt) || again.Payload != first.Payload {
			t.Errorf("%s: the retry gave %+v; want %+v", in.OrderID, again, first)
		}
		changed := in
		changed.Amount++
		_, err = e.shopKey.CreatePaymentRequest(e.ctx, client.NewKey(), changed)
		wantProblem(t, in.OrderID+": the same id with another amount", err, "idempotency-key-conflict")
	}
}
