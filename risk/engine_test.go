package risk

import (
	"errors"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

var t0 = time.Date(2026, 12, 2, 10, 30, 0, 0, time.UTC)

func wallet(n uint64, op uint64, kind string) Wallet {
	return Wallet{ID: tongbao.ID{0: byte(n >> 8), 1: byte(n), 15: 1}, Operator: tongbao.ID{0: byte(op), 15: 2}, Kind: kind, Category: 2, OpenedAt: t0.AddDate(0, -1, 0)}
}

func TestRulesCompile(t *testing.T) {
	for _, r := range Shipped {
		if err := Check(r); err != nil {
			t.Errorf("shipped rule %s: %v", r.ID, err)
		}
	}
	good := Rule{ID: "r", Version: 1, Expr: "payment.amount > 0", Decision: Block, Mode: Enforce}
	for _, tc := range []struct {
		name string
		edit func(*Rule)
		want error
	}{
		{"bad syntax", func(r *Rule) { r.Expr = "payment.amount >" }, ErrRuleInvalid},
		{"an unknown field", func(r *Rule) { r.Expr = "payment.amont > 0" }, ErrRuleInvalid},
		{"an unknown variable", func(r *Rule) { r.Expr = "wallet.kind == 'x'" }, ErrRuleInvalid},
		{"not a bool", func(r *Rule) { r.Expr = "payment.amount" }, ErrRuleInvalid},
		{"a bad id", func(r *Rule) { r.ID = "Rule-1" }, ErrRuleInvalid},
		{"no version", func(r *Rule) { r.Version = 0 }, ErrRuleInvalid},
		{"an unknown decision", func(r *Rule) { r.Decision = "maybe" }, ErrRuleInvalid},
		{"an unknown mode", func(r *Rule) { r.Mode = "" }, ErrRuleInvalid},
		{"too costly", func(r *Rule) {
			r.Expr = "limits.all(k, limits.all(j, limits[k] >= limits[j] || k != j))"
		}, ErrRuleCost},
	} {
		r := good
		tc.edit(&r)
		if err := Check(r); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v; want %v", tc.name, err, tc.want)
		}
	}
	if err := Check(good); err != nil {
		t.Fatalf("good rule: %v", err)
	}
}

func TestSetRulesAllOrNothing(t *testing.T) {
	e, err := NewEngine(DefaultLimits, Shipped)
	if err != nil {
		t.Fatal(err)
	}
	bad := append(append([]Rule{}, Shipped...), Rule{ID: "broken", Version: 1, Expr: "nope", Decision: Block, Mode: Enforce})
	if err := e.SetRules(bad); !errors.Is(err, ErrRuleInvalid) {
		t.Fatalf("a set with a broken rule: %v; want ErrRuleInvalid", err)
	}
	twice := append(append([]Rule{}, Shipped...), Shipped[0])
	if err := e.SetRules(twice); !errors.Is(err, ErrRuleInvalid) {
		t.Fatalf("a set repeating an id: %v; want ErrRuleInvalid", err)
	}
	if got := e.Rules(); len(got) != len(Shipped) {
		t.Fatalf("rules after refused sets: %d; want the %d it had", len(got), len(Shipped))
	}
}

// TestEngineConcurrent evaluates, observes and replaces rules at once;
// run with -race. Every payment observed is counted once.
func TestEngineConcurrent(t *testing.T) {
	e, err := NewEngine(DefaultLimits, Shipped)
	if err != nil {
		t.Fatal(err)
	}
	a, b := wallet(1, 1, "personal"), wallet(2, 1, "personal")
	done := make(chan error, 4)
	for g := range 3 {
		go func() {
			for i := range 200 {
				p := pay(a, b, 1_00, t0.Add(time.Duration(g*200+i)*time.Second))
				if _, err := e.Evaluate(p); err != nil {
					done <- err
					return
				}
				e.Observe(p)
			}
			done <- nil
		}()
	}
	go func() {
		for range 50 {
			if err := e.SetRules(Shipped); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got := e.Activity().Pair(a.ID, b.ID); got.Payments != 600 || got.Sum != 600_00 {
		t.Fatalf("pair after 600 payments: %+v", got)
	}
}
