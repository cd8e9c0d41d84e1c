package httpapi

import (
	"bytes"
	"math/rand/v2"
	"testing"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// TestPackAnswer checks that a packed answer, unpacked and encoded again,
// is the answer first sent, byte for byte.
func TestPackAnswer(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	payment := func() *wire.Payment {
		var p wire.Payment
		for _, id := range []*tongbao.ID{&p.ID, &p.From, &p.To} {
			for i := range id {
				id[i] = byte(r.Uint32())
			}
		}
		p.Amount = wire.Amount(r.Int64() >> r.IntN(64))
		p.Timestamp = r.Int64() - r.Int64()
		p.Window = r.Uint64() >> r.IntN(65)
		p.CrossOperator, p.Duplicate = r.IntN(2) == 0, r.IntN(2) == 0
		return &p
	}
	for range 200 {
		var results wire.PayBatchResults
		results.Results = []wire.PayBatchResult{}
		for range r.IntN(20) {
			var res wire.PayBatchResult
			if r.IntN(3) > 0 {
				res.Payment = payment()
			}
			if r.IntN(3) == 0 {
				res.Problem = &wire.Problem{Type: ProblemInsufficientFunds.URI(), Title: "<&> \u2028", Status: 422, Detail: "x\"y", Instance: "/v1/payments/batch"}
			}
			results.Results = append(results.Results, res)
		}
		p := payment()
		for _, v := range []any{p, *p, results, &results} {
			want, err := wire.Encode(v)
			must(t, err)
			packed, ok := packAnswer(v)
			if !ok {
				t.Fatalf("%T did not pack", v)
			}
			back, err := unpackAnswer(packed)
			must(t, err)
			got, err := wire.Encode(back)
			must(t, err)
			if !bytes.Equal(got, want) {
				t.Fatalf("replayed %s; first answer %s", got, want)
			}
		}
	}
	for _, v := range []any{wire.PayBatchResults{}, wire.Receipt{}, (*wire.Payment)(nil)} {
		if _, ok := packAnswer(v); ok {
			t.Errorf("%#v packed", v)
		}
	}
	if _, err := unpackAnswer([]byte{packResults, 5, 0}); err == nil {
		t.Error("a corrupt answer unpacked")
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
