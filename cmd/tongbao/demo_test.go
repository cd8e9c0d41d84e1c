package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/sqlite"
)

// TestDemoTwice runs the demo on a new data folder and again on the same
// one: the second run must find the first one's accounts, add payments,
// and both must report conserved money. The store is then read directly,
// so the check does not rest on the demo's own arithmetic.
func TestDemoTwice(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")

	first, _, err := run(t, "demo", "--data", data)
	if err != nil {
		t.Fatalf("first run: %v\n%s", err, first)
	}
	for _, want := range []string{
		"First start",
		"issued          5,000,000.00 CNY to operator 1",
		"topped up",
		"payments between wallets",
		"then posted for 66.00",
		"then voided",
		"Balances (CNY)",
		"wallet 1001 (category 2, operator 1)",
		"-8,000,000.00",
		"money is conserved",
		"go run ./cmd/tongbao demo --data " + data,
	} {
		if !strings.Contains(first, want) {
			t.Errorf("first run: output lacks %q:\n%s", want, first)
		}
	}

	second, _, err := run(t, "demo", "--data", data)
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, second)
	}
	for _, want := range []string{
		"Found the economy of an earlier run: 300 wallets at 2 operators",
		"from wallet 1001 to wallet 1002",
		"payments between wallets",
		"Balances (CNY)",
		"money is conserved",
	} {
		if !strings.Contains(second, want) {
			t.Errorf("second run: output lacks %q:\n%s", want, second)
		}
	}
	if strings.Contains(second, "First start") {
		t.Errorf("second run seeded again:\n%s", second)
	}

	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(data, demoDatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var (
		accounts int
		sum      tongbao.Amount
		issuer   ledger.AccountRecord
	)
	err = store.LoadAccounts(ctx, func(a ledger.AccountRecord) error {
		accounts++
		sum += a.Net()
		if a.ID == issuerID() {
			issuer = a
		}
		if a.DebitsPending != 0 || a.CreditsPending != 0 {
			t.Errorf("account %s has pending amounts after both holds were resolved: %+v", a.ID, a.Balance)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := 1 + len(demoOperators) + demoWallets; accounts != want {
		t.Errorf("got %d accounts; want %d", accounts, want)
	}
	if sum != 0 {
		t.Errorf("balances sum to %s; want 0.00", sum)
	}
	if want := tongbao.Amount(-8_000_000_00); issuer.Net() != want {
		t.Errorf("issuer balance %s; want %s (issued once, not twice)", issuer.Net(), want)
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
