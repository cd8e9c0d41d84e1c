package httpapi_test

import (
	"sync"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// capsEnv is a server on a manual clock with one operator, a payer of the
// given category funded with fund, and a category 1 payee.
type capsEnv struct {
	*env
	clock *tongbao.ManualClock
	admin *client.Client
	op    tongbao.ID
	sink  wire.Wallet
}

func newCapsEnv(t *testing.T, start time.Time) *capsEnv {
	t.Helper()
	clock := tongbao.NewManualClock(start)
	e := newEnvClock(t, clock)
	op, admin := e.operator("Operator A", 50_000*yuan, 1_000_000*yuan)
	sink, _ := e.wallet(admin, op, wire.OpenWallet{Category: 1, HolderName: "Sink", HolderLimits: &wire.Limits{BalanceMax: wire.Amount(1_000_000 * yuan), DebitMax: wire.Amount(100_000 * yuan)}})
	return &capsEnv{env: e, clock: clock, admin: admin, op: op, sink: sink}
}

// payer opens a wallet with spec, tops it up with fund and returns it with
// its holder client.
func (c *capsEnv) payer(spec wire.OpenWallet, fund tongbao.Amount) (wire.Wallet, *client.Client) {
	c.tb.Helper()
	w, h := c.wallet(c.admin, c.op, spec)
	_, err := c.admin.TopUp(c.ctx, client.NewKey(), w.ID, fund)
	must(c.tb, err)
	return w, h
}

// pay pays amount from w to the sink over HTTP.
func (c *capsEnv) pay(h *client.Client, w wire.Wallet, amount tongbao.Amount) error {
	_, err := h.Pay(c.ctx, client.NewKey(), wire.Pay{From: w.ID, To: c.sink.ID.String(), Amount: wire.Amount(amount)})
	return err
}

// wantBalances fails unless the payer and the sink hold what is given.
func (c *capsEnv) wantBalances(step string, w wire.Wallet, payer, sink tongbao.Amount) {
	c.tb.Helper()
	if got := c.balance(c.admin, w.ID); got != payer {
		c.tb.Fatalf("after %s: payer balance %v; want %v", step, got, payer)
	}
	if got := c.balance(c.admin, c.sink.ID); got != sink {
		c.tb.Fatalf("after %s: payee balance %v; want %v", step, got, sink)
	}
	c.supplyOK(step)
}

// TestCapsOverHTTPAcrossMidnight drives a category 4 (phone only) wallet
// into its single-payment cap (2,000) and its daily cap (5,000) just
// before midnight in Asia/Shanghai, and pays again just after it, over
// HTTP with the server's clock moved by the test.
func TestCapsOverHTTPAcrossMidnight(t *testing.T) {
	sh := shanghaiTZ(t)
	c := newCapsEnv(t, time.Date(2026, 3, 14, 23, 58, 0, 0, sh))
	w, h := c.payer(wire.OpenWallet{Category: 4, Phone: "13800000004"}, 10_000*yuan)
	c.wantBalances("the top-up", w, 10_000*yuan, 0)

	wantProblem(t, "a payment one fen past the single cap", c.pay(h, w, 2_000*yuan+1), "single-payment-cap-exceeded")
	c.wantBalances("a refused single payment", w, 10_000*yuan, 0)

	for _, amount := range []tongbao.Amount{2_000 * yuan, 2_000 * yuan, 1_000 * yuan} {
		must(t, c.pay(h, w, amount))
	}
	c.wantBalances("the daily cap's worth", w, 5_000*yuan, 5_000*yuan)
	wantProblem(t, "one fen past the daily cap", c.pay(h, w, 1), "daily-cap-exceeded")

	// A nanosecond before midnight in Shanghai (15:59:59.999999999 UTC)
	// is still the same day.
	c.clock.Set(time.Date(2026, 3, 14, 23, 59, 59, 999_999_999, sh))
	wantProblem(t, "the daily cap a nanosecond before midnight", c.pay(h, w, 1), "daily-cap-exceeded")
	c.wantBalances("refused payments before midnight", w, 5_000*yuan, 5_000*yuan)

	// Midnight in Shanghai: a new day; the single cap still holds.
	c.clock.Set(time.Date(2026, 3, 15, 0, 0, 0, 0, sh))
	wantProblem(t, "past the single cap after midnight", c.pay(h, w, 2_000*yuan+1), "single-payment-cap-exceeded")
	must(t, c.pay(h, w, 2_000*yuan))
	c.wantBalances("a payment after midnight", w, 3_000*yuan, 7_000*yuan)
}

// TestYearlyCapOverHTTPAcrossNewYear sets a yearly cap through the API,
// reaches it on 31 December and pays again on 1 January, Shanghai time.
func TestYearlyCapOverHTTPAcrossNewYear(t *testing.T) {
	sh := shanghaiTZ(t)
	start := time.Date(2026, 12, 30, 10, 0, 0, 0, sh)
	c := newCapsEnv(t, start)

	// Category 3 gets a yearly cap of 12,000 from now on; the rest of the
	// schedule stays as it is.
	sched, err := c.admin.Caps(c.ctx, c.op)
	must(t, err)
	if len(sched.Items) == 0 {
		t.Fatal("no cap schedule")
	}
	caps := sched.Items[len(sched.Items)-1].Caps
	c3 := caps["3"]
	c3.YearlyDebitMax = wire.Amount(12_000 * yuan)
	caps["3"] = c3
	v, err := c.admin.SetCaps(c.ctx, c.op, wire.SetCaps{EffectiveFrom: start, Caps: caps})
	must(t, err)
	if v.Caps["3"].YearlyDebitMax != wire.Amount(12_000*yuan) {
		t.Fatalf("cap version %+v", v)
	}
	w, h := c.payer(wire.OpenWallet{Category: 3, HolderName: "王五", Phone: "13800000003"}, 20_000*yuan)
	if w.CapVersion != v.Version {
		t.Fatalf("wallet on cap version %d; want %d", w.CapVersion, v.Version)
	}

	// 30 December: the daily cap (10,000).
	must(t, c.pay(h, w, 5_000*yuan))
	must(t, c.pay(h, w, 5_000*yuan))
	wantProblem(t, "the daily cap on 30 December", c.pay(h, w, 1), "daily-cap-exceeded")
	c.wantBalances("30 December", w, 10_000*yuan, 10_000*yuan)

	// 31 December: a new day, but only 2,000 is left of the year.
	c.clock.Set(time.Date(2026, 12, 31, 0, 0, 0, 0, sh))
	must(t, c.pay(h, w, 2_000*yuan))
	wantProblem(t, "the yearly cap on 31 December", c.pay(h, w, 1), "yearly-cap-exceeded")
	// 23:59:59.999999999 on 31 December in Shanghai is 15:59 UTC; the
	// year has not turned.
	c.clock.Set(time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, sh))
	wantProblem(t, "the yearly cap at the last instant of the year", c.pay(h, w, 1), "yearly-cap-exceeded")
	c.wantBalances("31 December", w, 8_000*yuan, 12_000*yuan)

	// Midnight on 1 January in Shanghai (16:00 on 31 December UTC).
	c.clock.Set(time.Date(2027, 1, 1, 0, 0, 0, 0, sh))
	must(t, c.pay(h, w, 5_000*yuan))
	c.wantBalances("1 January", w, 3_000*yuan, 17_000*yuan)
}

// TestDailyCapOverHTTPUnderConcurrentPayments sends 64 payments at once
// from one category 4 wallet: exactly as many as fit in the daily cap
// (5,000) go through, every other one is refused as past the daily cap,
// and the balances move by the successful ones only.
func TestDailyCapOverHTTPUnderConcurrentPayments(t *testing.T) {
	sh := shanghaiTZ(t)
	c := newCapsEnv(t, time.Date(2026, 8, 8, 20, 0, 0, 0, sh))
	w, h := c.payer(wire.OpenWallet{Category: 4, Phone: "13800000004"}, 10_000*yuan)
	c.wantBalances("the top-up", w, 10_000*yuan, 0)

	// 300 does not divide 5,000: 16 payments fit (4,800), and the 200
	// left of the day is less than one more.
	const n, each = 64, 300 * yuan
	const fit = int(5_000 * yuan / each)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = c.pay(h, w, each)
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		if err == nil {
			ok++
			continue
		}
		if name := client.ProblemName(err); name != "daily-cap-exceeded" {
			t.Errorf("payment %d: %v (problem %q); want daily-cap-exceeded", i, err, name)
		}
	}
	if ok != fit {
		t.Fatalf("%d of %d concurrent payments went through; want %d", ok, n, fit)
	}
	paid := tongbao.Amount(ok) * each
	c.wantBalances("the concurrent payments", w, 10_000*yuan-paid, paid)
	wantProblem(t, "the rest of the day's cap", c.pay(h, w, 200*yuan+1), "daily-cap-exceeded")
	must(t, c.pay(h, w, 200*yuan))

	// The next day in Shanghai the cap starts again.
	c.clock.Set(time.Date(2026, 8, 9, 0, 0, 0, 0, sh))
	must(t, c.pay(h, w, each))
	c.wantBalances("a payment the next day", w, 10_000*yuan-paid-200*yuan-each, paid+200*yuan+each)
}
