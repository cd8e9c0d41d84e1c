package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLIAgainstServer drives a real server through the CLI: authorise an
// operator, issue, open and load wallets, pay, settle, check the supply.
func TestCLIAgainstServer(t *testing.T) {
	cb, _, cli := cliServer(t)
	op := cli(cb, "operator", "add", "Operator A", "50000")["id"].(string)
	cli(cb, "operator", "deposit-reserves", op, "1000000")
	cli(cb, "operator", "issue", op, "1000000", "--idempotency-key", "issue-1")
	if again := cli(cb, "operator", "issue", op, "1000000", "--idempotency-key", "issue-1"); again["duplicate"] == true {
		t.Logf("replayed: %v", again)
	}
	admin := cli(cb, "key", "create", "operator_admin", op)["secret"].(string)
	w1 := cli(admin, "wallet", "open", op, "--category", "2", "--holder", "李四", "--phone", "13800000002")["id"].(string)
	w2 := cli(admin, "wallet", "open", op, "--category", "4", "--phone", "13800000004")["id"].(string)
	cli(admin, "wallet", "top-up", w1, "1000")
	holder := cli(admin, "key", "create", "holder", w1)["secret"].(string)
	cli(holder, "pay", w1, "13800000004", "12.34")
	if got := cli(admin, "wallet", "show", w2)["balance"]; got != "12.34" {
		t.Fatalf("payee balance %v; want 12.34", got)
	}
	cli(cb, "settle")
	if s := cli(cb, "check", "supply"); s["ok"] != true || s["issued"] != "1000000.00" {
		t.Fatalf("supply %v", s)
	}
	if _, _, err := run(t, "pay", w1, w2, "1", "--key", "nonsense"); err == nil || !strings.Contains(err.Error(), "valid API key") {
		t.Fatalf("bad key: %v; want an unauthorized problem", err)
	}
}

// TestCLIMerchant collects through the CLI: a static code paid with an
// amount, a payment request with its QR image, a payment code charged, a
// refund and the day's statement as CSV.
func TestCLIMerchant(t *testing.T) {
	cb, raw, cli := cliServer(t)
	op := cli(cb, "operator", "add", "Operator A", "50000")["id"].(string)
	cli(cb, "operator", "deposit-reserves", op, "1000000")
	cli(cb, "operator", "issue", op, "1000000")
	admin := cli(cb, "key", "create", "operator_admin", op)["secret"].(string)
	payer := cli(admin, "wallet", "open", op, "--category", "2", "--holder", "李四", "--phone", "13800000002")["id"].(string)
	shop := cli(admin, "wallet", "open", op, "--category", "2", "--holder", "Noodle Shop", "--merchant", "--mcc", "5812", "--region", "310000")["id"].(string)
	cli(admin, "wallet", "top-up", payer, "1000")
	holder := cli(admin, "key", "create", "holder", payer)["secret"].(string)
	merchantKey := cli(admin, "key", "create", "merchant", shop)["secret"].(string)

	payload := cli(merchantKey, "merchant", "code", shop, "--name", "Noodle Shop")["payload"].(string)
	cli(holder, "pay-code", payer, payload, "12.50")
	png := filepath.Join(t.TempDir(), "order.png")
	req := cli(merchantKey, "merchant", "request", "T-1", "30", "--png", png)
	if b, err := os.ReadFile(png); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Fatalf("request image: %v", err)
	}
	cli(holder, "pay-code", payer, req["payload"].(string))
	code := cli(holder, "payment-code", payer, "--cap", "100")["code"].(string)
	cli(merchantKey, "merchant", "charge", code, "7.00", "--order", "TILL-1")
	cli(merchantKey, "merchant", "refund", req["id"].(string), "10", "cold noodles")
	// --field prints one field bare, as the demo's next steps use it in a
	// shell: $(tongbao merchant request … --field payload).
	bare := strings.TrimSpace(raw(merchantKey, "merchant", "request", "T-2", "5.00", "--field", "payload"))
	cli(holder, "pay-code", payer, bare)
	bare = strings.TrimSpace(raw(holder, "payment-code", payer, "--field", "code"))
	cli(merchantKey, "merchant", "charge", bare, "1.00")
	if _, _, err := run(t, "wallet", "show", shop, "--field", "no_such_field", "--key", admin); err == nil || !strings.Contains(err.Error(), `no field "no_such_field"`) {
		t.Errorf("--field of a missing field: %v; want an error naming it", err)
	}
	if got := cli(admin, "wallet", "show", shop)["balance"]; got != "45.50" {
		t.Fatalf("shop balance %v; want 45.50", got)
	}
	csv := raw(merchantKey, "merchant", "statement", shop, "--csv")
	for _, want := range []string{"T-1", "TILL-1", "T-2", "total:net,45.50", "total:closing,45.50"} {
		if !strings.Contains(csv, want) {
			t.Fatalf("statement lacks %q:\n%s", want, csv)
		}
	}
}

// TestCLIScenario runs a transit sub-wallet through the CLI: a template,
// a pushed and funded sub-wallet paying the metro, tap to pay granted and
// revoked, and the sweep refused before the expiry.
func TestCLIScenario(t *testing.T) {
	cb, _, cli := cliServer(t)
	op := cli(cb, "operator", "add", "Operator A", "50000")["id"].(string)
	cli(cb, "operator", "deposit-reserves", op, "1000000")
	cli(cb, "operator", "issue", op, "1000000")
	admin := cli(cb, "key", "create", "operator_admin", op)["secret"].(string)
	parent := cli(admin, "wallet", "open", op, "--category", "2", "--holder", "李四", "--phone", "13800000002")["id"].(string)
	metro := cli(admin, "wallet", "open", op, "--category", "2", "--holder", "Metro", "--merchant", "--mcc", "4111", "--region", "310000")["id"].(string)
	shop := cli(admin, "wallet", "open", op, "--category", "2", "--holder", "Noodle Shop", "--merchant", "--mcc", "5812", "--region", "310000")["id"].(string)
	cli(admin, "wallet", "top-up", parent, "1000")
	holder := cli(admin, "key", "create", "holder", parent)["secret"].(string)
	metroKey := cli(admin, "key", "create", "merchant", metro)["secret"].(string)

	tpl := cli(admin, "scenario", "template", op, "Shanghai Metro", "--balance-max", "500", "--payment-max", "50", "--daily-max", "120", "--category", "4111",
		"--expires", time.Now().Add(30*24*time.Hour).UTC().Format(time.RFC3339))["id"].(string)
	sub := cli(holder, "scenario", "push", parent, tpl)["id"].(string)
	cli(holder, "scenario", "fund", sub, "100")
	cli(holder, "scenario", "pay", sub, metro, "4")
	if _, _, err := run(t, "scenario", "pay", sub, shop, "1", "--key", holder); err == nil || !strings.Contains(err.Error(), "does not allow") {
		t.Fatalf("paying the shop: %v; want a refusal", err)
	}
	cli(holder, "scenario", "grant", sub, metro)
	cli(metroKey, "scenario", "charge", sub, "3", "--idempotency-key", "gate-1")
	if again := cli(metroKey, "scenario", "charge", sub, "3", "--idempotency-key", "gate-1"); again["amount"] != "3.00" {
		t.Fatalf("the charge again: %v", again)
	}
	cli(holder, "scenario", "revoke", sub)
	if _, _, err := run(t, "scenario", "charge", sub, "3", "--key", metroKey); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("a charge after revocation: %v; want a refusal", err)
	}
	if _, _, err := run(t, "scenario", "sweep", sub, "1", "--key", holder); err == nil || !strings.Contains(err.Error(), "only after it expires") {
		t.Fatalf("a sweep before the expiry: %v; want a refusal", err)
	}
	if s := cli(holder, "scenario", "show", sub); s["balance"] != "93.00" || s["paid_today"] != "7.00" {
		t.Fatalf("sub-wallet %v", s)
	}
	if l := cli(holder, "scenario", "list", parent); len(l["items"].([]any)) != 1 {
		t.Fatalf("sub-wallets %v", l)
	}
	if l := cli(admin, "scenario", "templates", op); len(l["items"].([]any)) != 1 {
		t.Fatalf("templates %v", l)
	}
	if s := cli(cb, "check", "supply"); s["ok"] != true {
		t.Fatalf("supply %v", s)
	}
}

// cliServer starts a node on a fresh data folder, points the CLI at it,
// and returns the central bank's key and two ways to run the CLI with a
// key: raw gives its output, cli its output decoded as a JSON object.
func cliServer(t *testing.T) (cb string, raw func(key string, args ...string) string, cli func(key string, args ...string) map[string]any) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := openNode(ctx, t.TempDir(), log, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.close)
	addr, stop, err := n.listen("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	t.Setenv("TONGBAO_ADDR", "http://"+addr)
	raw = func(key string, args ...string) string {
		t.Helper()
		out, _, err := run(t, append(args, "--key", key)...)
		if err != nil {
			t.Fatalf("tongbao %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	cli = func(key string, args ...string) map[string]any {
		t.Helper()
		out := raw(key, args...)
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("tongbao %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return v
	}
	return n.cbKey, raw, cli
}
