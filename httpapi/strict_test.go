package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// answer is a raw HTTP answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// problem decodes the answer as a problem, failing the test if it is not
// one.
func (a answer) problem(tb testing.TB) wire.Problem {
	tb.Helper()
	var p wire.Problem
	if err := json.Unmarshal(a.body, &p); err != nil || p.Type == "" {
		tb.Fatalf("answer %d %s is not a problem: %v", a.status, a.body, err)
	}
	return p
}

// send sends a request as it is, headers given as name, value pairs.
func send(tb testing.TB, method, url, body string, header ...string) answer {
	tb.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	must(tb, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	must(tb, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(tb, err)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// payer is a funded holder wallet with its token's secret, and a payee.
type payer struct {
	e      *env
	admin  *client.Client
	op     tongbao.ID
	wallet tongbao.ID
	secret string
	payee  wire.Wallet
}

func newPayer(e *env) payer {
	e.tb.Helper()
	op, admin := e.operator("Operator A", 50_000*yuan, 1_000_000*yuan)
	w, err := admin.OpenWallet(e.ctx, client.NewKey(), op, wire.OpenWallet{Category: 2, HolderName: "李四", Phone: "13800000002"})
	must(e.tb, err)
	_, err = admin.TopUp(e.ctx, client.NewKey(), w.ID, 1_000*yuan)
	must(e.tb, err)
	k, err := admin.CreateKey(e.ctx, wire.CreateKey{Role: wire.RoleHolder, Wallet: &w.ID})
	must(e.tb, err)
	payee, _ := e.wallet(admin, op, wire.OpenWallet{Category: 2, HolderName: "王五", Phone: "13800000003"})
	return payer{e: e, admin: admin, op: op, wallet: w.ID, secret: k.Secret, payee: payee}
}

// pay posts a payment body as JSON under an Idempotency-Key.
func (p payer) pay(base, key, body string, header ...string) answer {
	p.e.tb.Helper()
	h := append([]string{"Authorization", "Bearer " + p.secret, "Content-Type", "application/json", "Idempotency-Key", key}, header...)
	return send(p.e.tb, "POST", base+"/v1/payments", body, h...)
}

// balances returns the payer's and the payee's balances.
func (p payer) balances() [2]tongbao.Amount {
	p.e.tb.Helper()
	return [2]tongbao.Amount{p.e.balance(p.admin, p.wallet), p.e.balance(p.admin, p.payee.ID)}
}

// TestDuplicateNamesRefused guards against a past bug: a member named
// twice in a body was accepted and the last one won, so a payment of 1.00
// paid 900.00.
func TestDuplicateNamesRefused(t *testing.T) {
	e := newEnv(t)
	p := newPayer(e)
	before := p.balances()
	for _, body := range []string{
		`{"from":"` + p.wallet.String() + `","to":"` + p.payee.ID.String() + `","amount":"1.00","amount":"900.00"}`,
		`{"from":"` + p.wallet.String() + `","to":"` + p.payee.ID.String() + `","amount":"1.00","Amount":"900.00"}`,
		`{"from":"` + p.wallet.String() + `", "to":"13800000001", "to":"` + p.payee.ID.String() + `", "amount":"1.00"}`,
	} {
		a := p.pay(e.base, client.NewKey(), body)
		if pr := a.problem(t); a.status != http.StatusBadRequest || pr.Type != httpapi.ProblemMalformedJSON.URI() {
			t.Errorf("%s: %d %s; want 400 malformed-json", body, a.status, a.body)
		}
	}
	batch := `{"payments":[{"from":"` + p.wallet.String() + `","to":"` + p.payee.ID.String() + `","amount":"1.00","amount":"900.00"}]}`
	a := send(t, "POST", e.base+"/v1/payments/batch", batch, "Authorization", "Bearer "+p.secret, "Content-Type", "application/json", "Idempotency-Key", client.NewKey())
	if pr := a.problem(t); pr.Type != httpapi.ProblemMalformedJSON.URI() {
		t.Errorf("batch: %d %s; want malformed-json", a.status, a.body)
	}
	if after := p.balances(); after != before {
		t.Errorf("balances moved from %v to %v", before, after)
	}
}

// TestInvalidUTF8Refused guards against a past bug: a holder name that
// was not UTF-8 opened a wallet named with replacement characters.
func TestInvalidUTF8Refused(t *testing.T) {
	e := newEnv(t)
	op, admin := e.operator("Operator A", 50_000*yuan, 0)
	k, err := e.cb.CreateKey(e.ctx, wire.CreateKey{Role: wire.RoleOperatorAdmin, Operator: &op})
	must(t, err)
	for _, body := range []string{"{\"category\":2,\"holder_name\":\"\xff\xfe\"}", `{"category":2,"holder_name":"\ud800"}`} {
		a := send(t, "POST", e.base+"/v1/operators/"+op.String()+"/wallets", body, "Authorization", "Bearer "+k.Secret, "Content-Type", "application/json")
		if pr := a.problem(t); a.status != http.StatusBadRequest || pr.Type != httpapi.ProblemMalformedJSON.URI() {
			t.Errorf("%q: %d %s; want 400 malformed-json", body, a.status, a.body)
		}
	}
	page, err := admin.Wallets(e.ctx, op, client.Page{})
	must(t, err)
	if len(page.Items) != 0 {
		t.Errorf("wallets opened: %+v", page.Items)
	}
}

// TestRetryComparedByContent guards against a past bug: the same payment
// re-spaced, with its members in another order, under the same
// Idempotency-Key was a conflict while the process ran (its raw bytes
// differed) but a duplicate after a restart (the domain compares what
// was asked). Both now compare the decoded request.
func TestRetryComparedByContent(t *testing.T) {
	e := newEnv(t)
	p := newPayer(e)
	hex := strings.ToUpper(strings.ReplaceAll(p.wallet.String(), "-", ""))
	key := client.NewKey()
	first := p.pay(e.base, key, `{"from":"`+p.wallet.String()+`","to":"`+p.payee.ID.String()+`","amount":"12.30"}`)
	if first.status != http.StatusCreated {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	same := " {\n \"amount\" : \"12.3\",\n \"to\": \"" + p.payee.ID.String() + "\",\n \"from\": \"" + hex + "\" }\n"
	retry := p.pay(e.base, key, same)
	if retry.status != http.StatusCreated || !bytes.Equal(retry.body, first.body) || retry.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry re-spaced and reordered: %d %s (replayed %q); want the first answer %s", retry.status, retry.body, retry.header.Get("Idempotent-Replayed"), first.body)
	}
	other := `{"from":"` + p.wallet.String() + `","to":"` + p.payee.ID.String() + `","amount":"12.31"}`
	if a := p.pay(e.base, key, other); a.status != http.StatusConflict || a.problem(t).Type != httpapi.ProblemIdempotencyConflict.URI() {
		t.Errorf("retry with another amount: %d %s; want 409 idempotency-key-conflict", a.status, a.body)
	}

	// After a restart the same retry is the same payment, and the other
	// one is still a conflict.
	base := e.restart()
	after := p.pay(base, key, same)
	var pay wire.Payment
	if err := json.Unmarshal(after.body, &pay); after.status != http.StatusCreated || err != nil || !pay.Duplicate || pay.Amount != wire.Amount(1230) {
		t.Errorf("after a restart: %d %s; want 201, a duplicate of 12.30", after.status, after.body)
	}
	if a := p.pay(base, key, other); a.status != http.StatusConflict {
		t.Errorf("after a restart, another amount: %d %s; want 409", a.status, a.body)
	}
	want := [2]tongbao.Amount{1_000*yuan - 1230, 1230}
	if got := p.balances(); got != want {
		t.Errorf("balances %v; want %v (one payment)", got, want)
	}
}

// TestProblemUnderKeyHasRequestID guards against a past bug: a refusal
// answered under an Idempotency-Key had no request_id, and its replay
// must carry the retry's.
func TestProblemUnderKeyHasRequestID(t *testing.T) {
	e := newEnv(t)
	p := newPayer(e)
	key := client.NewKey()
	body := `{"from":"` + p.wallet.String() + `","to":"` + p.payee.ID.String() + `","amount":"5000.00"}`
	for i, rid := range []string{"first-try", "second-try"} {
		a := p.pay(e.base, key, body, "X-Request-Id", rid)
		pr := a.problem(t)
		if pr.Type != httpapi.ProblemInsufficientFunds.URI() || pr.RequestID != rid || a.header.Get("X-Request-Id") != rid {
			t.Errorf("try %d: %s, X-Request-Id %q; want insufficient-funds with request_id %q", i, a.body, a.header.Get("X-Request-Id"), rid)
		}
		if i == 1 && a.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("try %d: not replayed", i)
		}
	}
}

// TestUnauthorizedSaysHow guards against a past bug: a 401 answer did not
// say how to authenticate.
func TestUnauthorizedSaysHow(t *testing.T) {
	e := newEnv(t)
	for _, auth := range []string{"", "Bearer nope"} {
		a := send(t, "GET", e.base+"/v1/me", "", "Authorization", auth)
		if a.status != http.StatusUnauthorized || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("Authorization %q: %d, WWW-Authenticate %q; want 401 with a Bearer challenge", auth, a.status, a.header.Get("WWW-Authenticate"))
		}
	}
}

// TestBodyMustBeJSON guards against a past bug: a body sent as text or
// as a form was read as JSON.
func TestBodyMustBeJSON(t *testing.T) {
	e := newEnv(t)
	p := newPayer(e)
	before := p.balances()
	body := `{"from":"` + p.wallet.String() + `","to":"` + p.payee.ID.String() + `","amount":"1.00"}`
	for _, ctype := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=latin1", "application/jsonx", "application/problem+json"} {
		a := send(t, "POST", e.base+"/v1/payments", body, "Authorization", "Bearer "+p.secret, "Content-Type", ctype, "Idempotency-Key", client.NewKey())
		if a.status != http.StatusUnsupportedMediaType || a.problem(t).Type != httpapi.ProblemUnsupportedMediaType.URI() {
			t.Errorf("Content-Type %q: %d %s; want 415 unsupported-media-type", ctype, a.status, a.body)
		}
	}
	if after := p.balances(); after != before {
		t.Errorf("balances moved from %v to %v", before, after)
	}
	for i, ctype := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"} {
		a := send(t, "POST", e.base+"/v1/payments", body, "Authorization", "Bearer "+p.secret, "Content-Type", ctype, "Idempotency-Key", client.NewKey())
		if a.status != http.StatusCreated {
			t.Errorf("Content-Type %q: %d %s; want 201", ctype, a.status, a.body)
		}
		if got, want := p.balances()[1], tongbao.Amount(i+1)*yuan; got != want {
			t.Errorf("payee holds %v; want %v", got, want)
		}
	}
	// A body left out needs no type.
	a := send(t, "POST", e.base+"/v1/settlement-windows/close", "", "Authorization", "Bearer "+e.secret, "Idempotency-Key", client.NewKey())
	if a.status != http.StatusOK {
		t.Errorf("close without a body: %d %s; want 200", a.status, a.body)
	}
}

// TestAmountGrammar guards against a past bug: "+1.00" and "01.00" were
// taken as amounts.
func TestAmountGrammar(t *testing.T) {
	e := newEnv(t)
	p := newPayer(e)
	before := p.balances()
	for _, amount := range []string{"+1.00", "01.00", "00.50", "+0.5", "1.", ".5", "1e2", " 1", "1,00"} {
		body := `{"from":"` + p.wallet.String() + `","to":"` + p.payee.ID.String() + `","amount":"` + amount + `"}`
		a := p.pay(e.base, client.NewKey(), body)
		if a.status != http.StatusBadRequest || a.problem(t).Type != httpapi.ProblemInvalidAmount.URI() {
			t.Errorf("amount %q: %d %s; want 400 invalid-amount", amount, a.status, a.body)
		}
	}
	if after := p.balances(); after != before {
		t.Errorf("balances moved from %v to %v", before, after)
	}
}

// TestEvictedRetryPaysOnce checks what makes a bounded cache safe: a
// retry whose first answer was evicted reaches the domain, which knows the
// payment by its derived id and answers it as a duplicate; no money moves
// twice.
func TestEvictedRetryPaysOnce(t *testing.T) {
	// Room for no answer at all: each is evicted as soon as it is kept.
	e := newEnvConfig(t, nil, func(cfg *httpapi.Config) { cfg.IdempotencyBytesMax = 64 * 100 })
	p := newPayer(e)
	key := client.NewKey()
	body := `{"from":"` + p.wallet.String() + `","to":"` + p.payee.ID.String() + `","amount":"12.34"}`
	first := p.pay(e.base, key, body)
	retry := p.pay(e.base, key, body)
	var a, b wire.Payment
	must(t, json.Unmarshal(first.body, &a))
	must(t, json.Unmarshal(retry.body, &b))
	if retry.status != http.StatusCreated || retry.header.Get("Idempotent-Replayed") != "" || !b.Duplicate || b.ID != a.ID || b.Amount != a.Amount {
		t.Errorf("retry after eviction: %d %s (replayed %q); want 201, a duplicate of %s", retry.status, retry.body, retry.header.Get("Idempotent-Replayed"), first.body)
	}
	want := [2]tongbao.Amount{1_000*yuan - 1234, 1234}
	if got := p.balances(); got != want {
		t.Errorf("balances %v; want %v (one payment)", got, want)
	}
	other := `{"from":"` + p.wallet.String() + `","to":"` + p.payee.ID.String() + `","amount":"12.35"}`
	if a := p.pay(e.base, key, other); a.status != http.StatusConflict {
		t.Errorf("retry after eviction with another amount: %d %s; want 409", a.status, a.body)
	}
	if entries, bytes := idempotencyMetrics(t, e.base); entries != 0 || bytes != 0 {
		t.Errorf("/metrics: %v entries, %v bytes kept; want none", entries, bytes)
	}
}

// TestIdempotencyMetrics checks that /metrics shows what the cache of
// answers holds, within its bound (with room for all of them here:
// eviction is TestIdempotencyBounded's).
func TestIdempotencyMetrics(t *testing.T) {
	const bound = 4 << 20
	e := newEnvConfig(t, nil, func(cfg *httpapi.Config) { cfg.IdempotencyBytesMax = bound })
	p := newPayer(e)
	for range 100 {
		a := p.pay(e.base, client.NewKey(), `{"from":"`+p.wallet.String()+`","to":"`+p.payee.ID.String()+`","amount":"0.01"}`)
		if a.status != http.StatusCreated {
			t.Fatalf("pay: %d %s", a.status, a.body)
		}
	}
	entries, bytes := idempotencyMetrics(t, e.base)
	if entries < 100 || bytes < 100*300 || bytes > bound {
		t.Errorf("/metrics: %v entries, %v bytes; want the 100 answers (and those before), of at least 300 bytes each, within %d bytes", entries, bytes, bound)
	}
}

// idempotencyMetrics reads the cache's gauges from /metrics.
func idempotencyMetrics(tb testing.TB, base string) (entries, bytes float64) {
	tb.Helper()
	a := send(tb, "GET", base+"/metrics", "")
	found := 0
	for _, line := range strings.Split(string(a.body), "\n") {
		for name, v := range map[string]*float64{"tongbao_idempotency_entries ": &entries, "tongbao_idempotency_bytes ": &bytes} {
			if rest, ok := strings.CutPrefix(line, name); ok {
				_, err := fmt.Sscan(rest, v)
				must(tb, err)
				found++
			}
		}
	}
	if found != 2 {
		tb.Fatalf("/metrics has not both tongbao_idempotency_entries and tongbao_idempotency_bytes:\n%s", a.body)
	}
	return entries, bytes
}

// TestConcurrentRetriesPayOnce sends one payment under one key sixteen
// times at once, written sixteen ways: all get the same payment, and it
// moves money once.
func TestConcurrentRetriesPayOnce(t *testing.T) {
	e := newEnv(t)
	p := newPayer(e)
	key := client.NewKey()
	answers := make([]answer, 16)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := `{"from":"` + p.wallet.String() + `",` + strings.Repeat(" ", i) + `"amount":"7.5","to":"` + p.payee.ID.String() + `"}`
			answers[i] = p.pay(e.base, key, body)
		}()
	}
	wg.Wait()
	var id tongbao.ID
	for i, a := range answers {
		var pay wire.Payment
		if err := json.Unmarshal(a.body, &pay); a.status != http.StatusCreated || err != nil {
			t.Fatalf("request %d: %d %s; want 201", i, a.status, a.body)
		}
		if i == 0 {
			id = pay.ID
		}
		if pay.ID != id || pay.Amount != 750 {
			t.Errorf("request %d: %s; want payment %s of 7.50", i, a.body, id)
		}
	}
	if got, want := p.balances(), [2]tongbao.Amount{1_000*yuan - 750, 750}; got != want {
		t.Errorf("balances %v; want %v (one payment)", got, want)
	}
}
