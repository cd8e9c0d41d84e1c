package risk

import (
	"testing"
	"time"

	"pgregory.net/rapid"

	tongbao "github.com/tongbao/tongbao"
)

// TestActivityProperty observes random payments at random, non-decreasing
// times and checks every view against a model that keeps every payment
// and recounts the windows from scratch with the same buckets.
func TestActivityProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		low, high := tongbao.Amount(900), tongbao.Amount(1000)
		a := NewActivity(low, high)
		wallets := make([]tongbao.ID, 6)
		for i := range wallets {
			wallets[i] = tongbao.ID{0: byte(i + 1)}
		}
		ops := []tongbao.ID{{15: 1}, {15: 2}}
		opOf := func(w tongbao.ID) tongbao.ID { return ops[int(w[0])%2] }
		var log []Movement
		now := t0
		steps := rapid.IntRange(1, 120).Draw(t, "steps")
		for range steps {
			// Steps from seconds to more than a day, so buckets and
			// windows roll over.
			now = now.Add(time.Duration(rapid.SampledFrom([]int64{0, 1, 59, 61, 599, 3599, 3601, 7200, 86399, 90000}).Draw(t, "step")) * time.Second)
			from := rapid.SampledFrom(wallets).Draw(t, "from")
			to := rapid.SampledFrom(wallets).Draw(t, "to")
			m := Movement{From: from, To: to, FromOperator: opOf(from), CrossOperator: opOf(from) != opOf(to),
				Amount: tongbao.Amount(rapid.SampledFrom([]int64{1, 899, 900, 999, 1000, 5000}).Draw(t, "amount")), At: now}
			a.Observe(m)
			log = append(log, m)
			at := now.Add(time.Duration(rapid.SampledFrom([]int64{0, 30, 3600, 86400}).Draw(t, "look")) * time.Second)
			for _, w := range wallets {
				got, gotLast := a.Wallet(w, at)
				want, wantLast := modelWallet(log, w, at, low, high)
				if got != want || !gotLast.Equal(wantLast) {
					t.Fatalf("wallet %x at %v:\n got %+v, last %v\nwant %+v, last %v", w[:1], at, got, gotLast, want, wantLast)
				}
				for _, v := range wallets {
					if got, want := a.Pair(w, v), modelPair(log, w, v); got != want {
						t.Fatalf("pair %x→%x: got %+v, want %+v", w[:1], v[:1], got, want)
					}
				}
			}
			for _, op := range ops {
				if got, want := a.Operator(op, at), modelOperator(log, op, at); got != want {
					t.Fatalf("operator %x at %v: got %+v, want %+v", op[15:], at, got, want)
				}
			}
		}
	})
}

func inWindow(at, now time.Time, size int64) bool {
	b, n := at.Unix()/size, now.Unix()/size
	span := int64(60)
	if size == 3600 {
		span = 24
	}
	return b > n-span && b <= n
}

func modelWallet(log []Movement, w tongbao.ID, now time.Time, low, high tongbao.Amount) (WalletView, time.Time) {
	var out WalletView
	var lastAt time.Time
	payees, payers := map[tongbao.ID]bool{}, map[tongbao.ID]bool{}
	for _, m := range log {
		if m.From == w {
			if inWindow(m.At, now, 60) {
				out.Out1h.Count, out.Out1h.Sum = out.Out1h.Count+1, out.Out1h.Sum+int64(m.Amount)
			}
			if inWindow(m.At, now, 3600) {
				out.Out24h.Count, out.Out24h.Sum = out.Out24h.Count+1, out.Out24h.Sum+int64(m.Amount)
				if m.Amount >= low && m.Amount < high {
					out.NearThreshold24h++
				}
			}
		}
		if m.To == w {
			if inWindow(m.At, now, 60) {
				out.In1h.Count, out.In1h.Sum = out.In1h.Count+1, out.In1h.Sum+int64(m.Amount)
			}
			if inWindow(m.At, now, 3600) {
				out.In24h.Count, out.In24h.Sum = out.In24h.Count+1, out.In24h.Sum+int64(m.Amount)
			}
		}
		if m.From == w || m.To == w {
			lastAt = m.At
		}
	}
	// A counterparty counts by its last payment with w.
	last := map[[2]tongbao.ID]time.Time{}
	for _, m := range log {
		if m.From == w {
			last[[2]tongbao.ID{{0: 'e'}, m.To}] = m.At
		}
		if m.To == w {
			last[[2]tongbao.ID{{0: 'r'}, m.From}] = m.At
		}
	}
	for k, at := range last {
		if !inWindow(at, now, 3600) {
			continue
		}
		if k[0][0] == 'e' {
			payees[k[1]] = true
		} else {
			payers[k[1]] = true
		}
	}
	out.Payees24h, out.Payers24h = int64(len(payees)), int64(len(payers))
	return out, lastAt
}

func modelPair(log []Movement, from, to tongbao.ID) Pair {
	var p Pair
	for _, m := range log {
		if m.From == from && m.To == to {
			p.Payments, p.Sum, p.Last = p.Payments+1, p.Sum+int64(m.Amount), m.At
		}
	}
	return p
}

func modelOperator(log []Movement, op tongbao.ID, now time.Time) OperatorActivity {
	var cur, before int64
	h := now.Unix() / 3600
	for _, m := range log {
		if !m.CrossOperator || m.FromOperator != op {
			continue
		}
		switch mh := m.At.Unix() / 3600; {
		case mh == h:
			cur += int64(m.Amount)
		case mh > h-24 && mh < h:
			before += int64(m.Amount)
		}
	}
	return OperatorActivity{CrossOut1h: cur, CrossOutHourlyAvg: before / 23}
}

// TestActivityLatePayment: a payment observed late counts in its own
// bucket while that is within the window, and not at all after.
func TestActivityLatePayment(t *testing.T) {
	a := NewActivity(900, 1000)
	w, v := tongbao.ID{0: 1}, tongbao.ID{0: 2}
	a.Observe(Movement{From: w, To: v, Amount: 5, At: t0})
	a.Observe(Movement{From: w, To: v, Amount: 7, At: t0.Add(-30 * time.Minute)})
	a.Observe(Movement{From: w, To: v, Amount: 11, At: t0.Add(-2 * time.Hour)})
	a.Observe(Movement{From: w, To: v, Amount: 13, At: t0.Add(-25 * time.Hour)})
	got, last := a.Wallet(w, t0)
	if got.Out1h != (Flow{2, 12}) || got.Out24h != (Flow{3, 23}) {
		t.Fatalf("after late payments: hour %+v, day %+v; want {2 12} and {3 23}", got.Out1h, got.Out24h)
	}
	if !last.Equal(t0) {
		t.Fatalf("last payment %v; want the newest, %v", last, t0)
	}
}
