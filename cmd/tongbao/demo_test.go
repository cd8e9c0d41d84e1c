package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
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

// TestDemoFirstStartOfSeed21 guards against a first start that failed to
// fund the transit sub-wallet ("fund the sub-wallet: insufficient
// funds"): with seed 21 the random payments drained the demo holder.
func TestDemoFirstStartOfSeed21(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	out, _, err := run(t, "demo", "--data", data, "--addr", "127.0.0.1:0", "--seed-only", "--seed", "21")
	if err != nil {
		t.Fatalf("first start: %v\n%s", err, out)
	}
	if !strings.Contains(out, "the supply check holds") {
		t.Errorf("first start: no supply check:\n%s", out)
	}
}

// TestDemoAfterTheHoldersSpentEverything guards against a later start
// that failed ("pay the request's code: insufficient funds") because a
// demo holder had spent its money since: the demo tops its holders up.
func TestDemoAfterTheHoldersSpentEverything(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if out, _, err := run(t, "demo", "--data", data, "--addr", "127.0.0.1:0", "--seed-only", "--seed", "7"); err != nil {
		t.Fatalf("first start: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(data, demoKeysFile))
	if err != nil {
		t.Fatal(err)
	}
	var keys demoKeys
	if err := json.Unmarshal(b, &keys); err != nil {
		t.Fatal(err)
	}
	func() { // each holder pays all it holds to its shop
		ctx := context.Background()
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		n, err := openNode(ctx, data, log, true)
		if err != nil {
			t.Fatal(err)
		}
		defer n.close()
		addr, stop, err := n.listen("127.0.0.1:0", log)
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		for _, ok := range keys.Operators {
			holder := client.New("http://"+addr, ok.Holder, nil)
			w, err := holder.Wallet(ctx, ok.Wallet)
			if err != nil {
				t.Fatal(err)
			}
			// What it can spend: the escrow's hold stays.
			if _, err := holder.Pay(ctx, client.NewKey(), wire.Pay{From: ok.Wallet, To: ok.Shop.String(), Amount: *w.Available}); err != nil {
				t.Fatalf("spend the holder's %s: %v", tongbao.Amount(*w.Available), err)
			}
		}
	}()
	out, _, err := run(t, "demo", "--data", data, "--addr", "127.0.0.1:0", "--seed-only", "--seed", "8")
	if err != nil {
		t.Fatalf("second start: %v\n%s", err, out)
	}
	if got := strings.Count(out, "topped up the demo holder"); got != len(keys.Operators) {
		t.Errorf("second start topped up %d holders; want %d:\n%s", got, len(keys.Operators), out)
	}
}
