package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIDevice pays offline between two simulated devices through the
// CLI: made, certified and loaded online, a payment signed and received
// with no server (once as QR text, once as an NFC record), a tampered
// token refused, then both sides synced: the payee's wallet is credited
// once.
func TestCLIDevice(t *testing.T) {
	cb, _, cli := cliServer(t)
	op := cli(cb, "operator", "add", "Operator A", "50000")["id"].(string)
	cli(cb, "operator", "deposit-reserves", op, "1000000")
	cli(cb, "operator", "issue", op, "1000000")
	admin := cli(cb, "key", "create", "operator_admin", op)["secret"].(string)
	payer := cli(admin, "wallet", "open", op, "--category", "2", "--holder", "李四", "--phone", "13800000002")["id"].(string)
	shop := cli(admin, "wallet", "open", op, "--category", "2", "--holder", "Noodle Shop", "--merchant", "--mcc", "5812", "--region", "310000")["id"].(string)
	cli(admin, "wallet", "top-up", payer, "1000")
	holder := cli(admin, "key", "create", "holder", payer)["secret"].(string)
	merchant := cli(admin, "key", "create", "merchant", shop)["secret"].(string)

	if got := cli(admin, "device", "caps", op, "--per-payment", "300.00", "--balance", "800.00", "--payments", "8"); got["per_payment"] != "300.00" || got["payments"] != 8.0 {
		t.Fatalf("set caps: %v", got)
	}
	if got := cli(cb, "device", "caps", op)["balance"]; got != "800.00" {
		t.Fatalf("caps: %v", got)
	}

	dir := t.TempDir()
	phone, till := filepath.Join(dir, "phone"), filepath.Join(dir, "till")
	local := func(args ...string) map[string]any {
		t.Helper()
		out, _, err := run(t, args...)
		if err != nil {
			t.Fatalf("tongbao %s: %v", strings.Join(args, " "), err)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("tongbao %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return v
	}
	local("device", "init", "--device-dir", phone)
	tillID := local("device", "init", "--device-dir", till)["device"].(string)
	if _, _, err := run(t, "device", "init", "--device-dir", phone); err == nil {
		t.Fatal("init over a device: no error; want it kept")
	}
	cli(holder, "device", "certify", "--device-dir", phone, "--wallet", payer)
	cli(merchant, "device", "certify", "--device-dir", till, "--wallet", shop)
	if got := cli(holder, "device", "load", "--device-dir", phone, "--amount", "200.00")["balance"]; got != "200.00" {
		t.Fatalf("purse after load: %v; want 200.00", got)
	}

	png, nfc := filepath.Join(dir, "pay.png"), filepath.Join(dir, "pay.ndef")
	tok := local("device", "pay", "--device-dir", phone, "--to", tillID, "--amount", "12.50", "--qr", png, "--nfc", nfc)
	text := tok["token"].(string)
	if !strings.HasPrefix(text, "TB1:") || tok["amount"] != "12.50" {
		t.Fatalf("token: %v", tok)
	}
	if b, err := os.ReadFile(png); err != nil || !strings.HasPrefix(string(b), "\x89PNG") {
		t.Fatalf("QR image: %v", err)
	}
	tampered := text[:len(text)-3] + "AAA"
	if _, _, err := run(t, "device", "receive", "--device-dir", till, tampered); err == nil {
		t.Fatal("a tampered token was received")
	}
	if got := local("device", "receive", "--device-dir", till, text)["amount"]; got != "12.50" {
		t.Fatalf("received: %v", got)
	}
	if _, _, err := run(t, "device", "receive", "--device-dir", till, "--nfc", nfc); err == nil || !strings.Contains(err.Error(), "received already") {
		t.Fatalf("the same token over NFC: %v; want it refused as received already", err)
	}
	second := local("device", "pay", "--device-dir", phone, "--to", tillID, "--amount", "7.50", "--nfc", nfc)
	if got := local("device", "receive", "--device-dir", till, "--nfc", nfc)["hash"]; got != second["hash"] {
		t.Fatalf("received over NFC: %v; want %v", got, second["hash"])
	}
	if st := local("device", "status", "--device-dir", till); st["inbox"] != 2.0 || st["inbox_amount"] != "20.00" {
		t.Fatalf("till status: %v", st)
	}

	sync := cli(merchant, "device", "sync", "--device-dir", till)
	for _, r := range sync["results"].([]any) {
		if r.(map[string]any)["result"] != "settled" {
			t.Fatalf("till sync: %v", sync)
		}
	}
	sync = cli(holder, "device", "sync", "--device-dir", phone)
	for _, r := range sync["results"].([]any) {
		if r.(map[string]any)["result"] != "duplicate" {
			t.Fatalf("phone sync: %v", sync)
		}
	}
	if d := sync["device"].(map[string]any); d["synced"] != 2.0 || d["payments_left"] != 8.0 || d["balance"] != "180.00" {
		t.Fatalf("phone after sync: %v", d)
	}
	if got := cli(admin, "wallet", "show", shop)["balance"]; got != "20.00" {
		t.Fatalf("shop balance %v; want 20.00", got)
	}
	if got := cli(admin, "device", "show", local("device", "status", "--device-dir", phone)["device"].(string))["purse"]; got != "180.00" {
		t.Fatalf("the ledger's purse of the phone: %v; want 180.00", got)
	}
}
