package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	tongbao "github.com/tongbao/tongbao"
)

// TestDemoTwice runs the demo (seed only, on a free port) on a new data
// folder and again on the same one: the second run must find the first
// one's wallets and keys, add payments, and both must pass the supply
// check and reconcile without a difference.
func TestDemoTwice(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	first, _, err := run(t, "demo", "--data", data, "--addr", "127.0.0.1:0", "--seed-only")
	if err != nil {
		t.Fatalf("first run: %v\n%s", err, first)
	}
	for _, want := range []string{
		"First start",
		"issued     5,000,000.00 CNY",
		"opened 210 wallets (categories 1-4: 30/60/60/60) and 20 merchant wallets",
		"payments between wallets",
		"closed settlement window 1",
		"the demo shop collected by payment request, static code and payment code",
		"its statement today: 3 payments 106.50, 1 refunds 10.00, net 96.50",
		"the demo holder pushed a transit sub-wallet",
		"the metro charged 3 rides of 3.00 by tap to pay; the sub-wallet holds 191.00 and paid 9.00 today",
		"scenario charge ",
		"the supply check holds",
		"0 differences",
		"Authorization: Bearer tb_centralbank_",
		"go run ./cmd/tongbao demo --data " + data,
	} {
		if !strings.Contains(first, want) {
			t.Errorf("first run: output lacks %q:\n%s", want, first)
		}
	}
	if fi, err := os.Stat(filepath.Join(data, demoKeysFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("demo keys file: %v, %v; want mode 0600", fi, err)
	}
	second, _, err := run(t, "demo", "--data", data, "--addr", "127.0.0.1:0", "--seed-only")
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, second)
	}
	for _, want := range []string{
		"Found the economy of an earlier run: 460 wallets at 2 operators",
		"its statement today: 6 payments 213.00, 2 refunds 20.00, net 193.00",
		"the metro charged 3 rides of 3.00 by tap to pay; the sub-wallet holds 182.00 and paid 18.00 today",
		"payments between wallets",
		"the supply check holds",
		"issued 8,000,000.00",
	} {
		if !strings.Contains(second, want) {
			t.Errorf("second run: output lacks %q:\n%s", want, second)
		}
	}
	if strings.Contains(second, "First start") {
		t.Errorf("second run seeded again:\n%s", second)
	}
}

func TestFormatMoney(t *testing.T) {
	for _, tc := range []struct {
		in   tongbao.Amount
		want string
	}{
		{0, "0.00"},
		{5, "0.05"},
		{123_45, "123.45"},
		{1_234_56, "1,234.56"},
		{-8_000_000_00, "-8,000,000.00"},
		{100_000_00, "100,000.00"},
		{tongbao.AmountMax, "92,233,720,368,547,758.07"},
		{-tongbao.AmountMax - 1, "-92,233,720,368,547,758.08"},
	} {
		if got := formatMoney(tc.in); got != tc.want {
			t.Errorf("formatMoney(%d) = %q; want %q", int64(tc.in), got, tc.want)
		}
	}
}
