package tongbao_test

import (
	"errors"
	"math"
	"testing"

	tongbao "github.com/tongbao/tongbao"
)

func TestParseAmount(t *testing.T) {
	tests := []struct {
		in   string
		want tongbao.Amount
		ok   bool
	}{
		{"0", 0, true}, {"12", 1200, true}, {"12.3", 1230, true}, {"12.34", 1234, true},
		{"-0.05", -5, true}, {"0.5", 50, true}, {"10.00", 1000, true}, {"92233720368547758.07", tongbao.AmountMax, true},
		// A sign other than minus, or a leading zero, reads as a typo or
		// another notation: refused (a past bug took "+1.00" and "01.00").
		{"+1.00", 0, false}, {"+0", 0, false}, {"01.00", 0, false}, {"00.50", 0, false}, {"00012.30", 0, false}, {"-01", 0, false}, {"--1", 0, false},
		{"92233720368547758.08", 0, false}, {"12.345", 0, false}, {"1e3", 0, false}, {"", 0, false},
		{" 1", 0, false}, {"1.", 0, false}, {".5", 0, false}, {"1,000", 0, false}, {"-", 0, false},
	}
	for _, tt := range tests {
		got, err := tongbao.ParseAmount(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseAmount(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestAmountString(t *testing.T) {
	for a, want := range map[tongbao.Amount]string{0: "0.00", 5: "0.05", -5: "-0.05", 123456: "1234.56", math.MinInt64: "-92233720368547758.08"} {
		if got := a.String(); got != want {
			t.Errorf("Amount(%d).String() = %q; want %q", int64(a), got, want)
		}
	}
}

func TestAddAmountsOverflow(t *testing.T) {
	if _, err := tongbao.AddAmounts(tongbao.AmountMax, 1); !errors.Is(err, tongbao.ErrOverflow) {
		t.Fatalf("got %v; want ErrOverflow", err)
	}
	if _, err := tongbao.AddAmounts(math.MinInt64, -1); !errors.Is(err, tongbao.ErrOverflow) {
		t.Fatalf("got %v; want ErrOverflow", err)
	}
	if s, err := tongbao.AddAmounts(2, 3); err != nil || s != 5 {
		t.Fatalf("2+3 = %v, %v", s, err)
	}
}

func TestNewIDIsOrdered(t *testing.T) {
	prev := tongbao.NewID()
	for i := 0; i < 10000; i++ {
		id := tongbao.NewID()
		if string(id[:]) <= string(prev[:]) {
			t.Fatalf("id %v not after %v", id, prev)
		}
		prev = id
	}
}
