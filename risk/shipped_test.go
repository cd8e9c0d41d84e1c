package risk

import (
	"slices"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// fired reports whether rule is among the verdict's hits.
func fired(v Verdict, rule string) bool {
	return slices.ContainsFunc(v.Hits, func(h Hit) bool { return h.Rule == rule })
}

func newEngine(t *testing.T) *Engine {
	t.Helper()
	e, err := NewEngine(DefaultLimits, Shipped)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func evaluate(t *testing.T, e *Engine, p Payment) Verdict {
	t.Helper()
	v, err := e.Evaluate(p)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// wantRule checks that rule fires on fire and not on under, and that a
// payment it fires on goes to review.
func wantRule(t *testing.T, e *Engine, rule string, fire, under Payment) {
	t.Helper()
	v := evaluate(t, e, fire)
	if !fired(v, rule) || v.Decision != Review {
		t.Errorf("%s: %s; want it fired and the payment to review", rule, v.Describe())
	}
	if v := evaluate(t, e, under); fired(v, rule) {
		t.Errorf("%s fired on the payment just under it: %s", rule, v.Describe())
	}
}

func pay(from, to Wallet, amount tongbao.Amount, at time.Time) Payment {
	return Payment{From: from, To: to, Amount: amount, At: at, Channel: "pay"}
}

func TestVelocityCount(t *testing.T) {
	e := newEngine(t)
	a, b := wallet(1, 1, "personal"), wallet(2, 1, "personal")
	for i := range 29 {
		e.Observe(pay(a, b, 1_00, t0.Add(time.Duration(i)*time.Minute)))
	}
	at := t0.Add(30 * time.Minute)
	if v := evaluate(t, e, pay(a, b, 1_00, at)); v.Decision != Allow || len(v.Hits) != 0 {
		t.Errorf("the 30th payment within the hour: %s; want allowed", v.Describe())
	}
	e.Observe(pay(a, b, 1_00, at))
	wantRule(t, e, "velocity_count_1h", pay(a, b, 1_00, at), pay(a, b, 1_00, t0.Add(61*time.Minute)))
}

func TestVelocitySum(t *testing.T) {
	e := newEngine(t)
	a, b := wallet(1, 1, "personal"), wallet(2, 1, "personal")
	for i := range 3 {
		e.Observe(pay(a, b, 50_000_00, t0.Add(time.Duration(i)*time.Hour)))
	}
	at := t0.Add(5 * time.Hour)
	wantRule(t, e, "velocity_sum_24h", pay(a, b, 50_000_01, at), pay(a, b, 50_000_00, at))
	// A day later the window has moved on.
	if v := evaluate(t, e, pay(a, b, 50_000_01, t0.Add(25*time.Hour))); fired(v, "velocity_sum_24h") {
		t.Errorf("a day later: %s", v.Describe())
	}
}

func TestStructuring(t *testing.T) {
	e := newEngine(t)
	a, b := wallet(1, 1, "personal"), wallet(2, 1, "personal")
	e.Observe(pay(a, b, 46_000_00, t0))
	at := t0.Add(2 * time.Hour)
	// The second just below the threshold is not yet structuring.
	if v := evaluate(t, e, pay(a, b, 49_999_99, at)); fired(v, "structuring") {
		t.Errorf("the second payment just below: %s", v.Describe())
	}
	e.Observe(pay(a, b, 48_000_00, at))
	wantRule(t, e, "structuring", pay(a, b, 45_000_00, at), pay(a, b, 44_999_99, at))
	if v := evaluate(t, e, pay(a, b, 50_000_00, at)); fired(v, "structuring") {
		t.Errorf("a payment at the threshold (reported, not structured): %s", v.Describe())
	}
}

func TestFirstLargeToNewPayee(t *testing.T) {
	e := newEngine(t)
	a, b, c := wallet(1, 1, "personal"), wallet(2, 1, "personal"), wallet(3, 1, "personal")
	wantRule(t, e, "first_large_to_new_payee", pay(a, b, 10_000_00, t0), pay(a, b, 9_999_99, t0))
	e.Observe(pay(a, c, 1_00, t0))
	if v := evaluate(t, e, pay(a, c, 10_000_00, t0.Add(time.Minute))); fired(v, "first_large_to_new_payee") {
		t.Errorf("a large payment to a payee paid before: %s", v.Describe())
	}
}

func TestDormantWallet(t *testing.T) {
	e := newEngine(t)
	a, b := wallet(1, 1, "personal"), wallet(2, 1, "personal")
	e.Observe(pay(a, b, 1_00, t0))
	awake := t0.AddDate(0, 0, 180)
	wantRule(t, e, "dormant_wallet", pay(a, b, 5_000_00, awake), pay(a, b, 4_999_99, awake))
	if v := evaluate(t, e, pay(a, b, 5_000_00, awake.Add(-time.Minute))); fired(v, "dormant_wallet") {
		t.Errorf("idle a minute short of 180 days: %s", v.Describe())
	}
	// A wallet that never paid is idle since it opened.
	old := wallet(9, 1, "personal")
	old.OpenedAt = t0.AddDate(-1, 0, 0)
	if v := evaluate(t, e, pay(old, b, 5_000_00, t0)); !fired(v, "dormant_wallet") {
		t.Errorf("a wallet opened a year ago and never used: %s", v.Describe())
	}
}

func TestFanOut(t *testing.T) {
	e := newEngine(t)
	a := wallet(1, 1, "personal")
	for i := range 28 {
		e.Observe(pay(a, wallet(uint64(100+i), 1, "personal"), 1_00, t0.Add(time.Duration(i)*time.Minute)))
	}
	at := t0.Add(3 * time.Hour)
	if v := evaluate(t, e, pay(a, wallet(200, 1, "personal"), 1_00, at)); fired(v, "fan_out") {
		t.Errorf("the 29th payee of the day: %s", v.Describe())
	}
	e.Observe(pay(a, wallet(200, 1, "personal"), 1_00, at))
	// The 30th new payee fires; paying one of the 29 again does not.
	wantRule(t, e, "fan_out", pay(a, wallet(201, 1, "personal"), 1_00, at), pay(a, wallet(100, 1, "personal"), 1_00, at))
}

func TestFanIn(t *testing.T) {
	e := newEngine(t)
	person, shop := wallet(1, 1, "personal"), wallet(2, 1, "merchant")
	for i := range 49 {
		payer := wallet(uint64(100+i), 1, "personal")
		e.Observe(pay(payer, person, 1_00, t0.Add(time.Duration(i)*time.Minute)))
		e.Observe(pay(payer, shop, 1_00, t0.Add(time.Duration(i)*time.Minute)))
	}
	at := t0.Add(2 * time.Hour)
	newPayer := wallet(300, 1, "personal")
	wantRule(t, e, "fan_in", pay(newPayer, person, 1_00, at), pay(newPayer, shop, 1_00, at))
	e2 := newEngine(t)
	for i := range 48 {
		e2.Observe(pay(wallet(uint64(100+i), 1, "personal"), person, 1_00, t0.Add(time.Duration(i)*time.Minute)))
	}
	if v := evaluate(t, e2, pay(newPayer, person, 1_00, at)); fired(v, "fan_in") {
		t.Errorf("the 49th payer of the day: %s", v.Describe())
	}
}

func TestOperatorOutflowSpike(t *testing.T) {
	e := newEngine(t)
	payer, payee := wallet(1, 1, "personal"), wallet(2, 2, "personal")
	now := t0.Truncate(time.Hour).Add(30 * time.Minute)
	for h := 1; h <= 23; h++ {
		e.Observe(pay(wallet(uint64(100+h), 1, "institution"), payee, 1_000_000_00, now.Add(-time.Duration(h)*time.Hour)))
	}
	e.Observe(pay(wallet(99, 1, "institution"), payee, 4_000_000_00, now.Add(-10*time.Minute)))
	// 5,000,000.01 this hour against an average of 1,000,000.00.
	wantRule(t, e, "operator_outflow_spike", pay(payer, payee, 1_000_000_01, now), pay(payer, payee, 1_000_000_00, now))
	within := wallet(3, 1, "personal")
	if v := evaluate(t, e, pay(payer, within, 1_000_000_01, now)); fired(v, "operator_outflow_spike") {
		t.Errorf("a payment within the operator: %s", v.Describe())
	}
}

func TestShadowRuleChangesNothing(t *testing.T) {
	shadow := Rule{ID: "everything_shadow", Version: 2, Expr: "payment.amount > 0", Decision: Block, Mode: Shadow}
	e, err := NewEngine(DefaultLimits, append(append([]Rule{}, Shipped...), shadow))
	if err != nil {
		t.Fatal(err)
	}
	v := evaluate(t, e, pay(wallet(1, 1, "personal"), wallet(2, 1, "personal"), 1_00, t0))
	if v.Decision != Allow || len(v.Hits) != 1 || v.Hits[0] != (Hit{Rule: "everything_shadow", Version: 2, Decision: Block, Mode: Shadow}) {
		t.Fatalf("verdict %+v; want allowed, with the shadow rule's hit reported", v)
	}
	block := shadow
	block.Mode = Enforce
	if err := e.SetRules([]Rule{block}); err != nil {
		t.Fatal(err)
	}
	if v := evaluate(t, e, pay(wallet(1, 1, "personal"), wallet(2, 1, "personal"), 1_00, t0)); v.Decision != Block {
		t.Fatalf("verdict %+v; want blocked once the rule enforces", v)
	}
}
