package risk

import (
	"testing"
	"time"
)

// BenchmarkEvaluate is the shipped rules on one payment, with a day of a
// busy payer's activity behind it, then the payment observed.
func BenchmarkEvaluate(b *testing.B) {
	e, err := NewEngine(DefaultLimits, Shipped)
	if err != nil {
		b.Fatal(err)
	}
	payer := wallet(1, 1, "personal")
	for i := range 500 {
		e.Observe(pay(payer, wallet(uint64(100+i%40), uint64(1+i%2), "personal"), 1_00, t0.Add(time.Duration(i)*time.Minute)))
	}
	p := pay(payer, wallet(100, 2, "personal"), 12_00, t0.Add(600*time.Minute))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Evaluate(p); err != nil {
			b.Fatal(err)
		}
		e.Observe(p)
	}
}
