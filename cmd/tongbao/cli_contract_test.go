package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLIContract runs an escrow through the CLI: a carrier's key pair
// made and registered, the template deployed with its parties and
// params, accepted, released by the carrier's signed event, and the same
// event refused when posted again.
func TestCLIContract(t *testing.T) {
	cb, raw, cli := cliServer(t)
	op := cli(cb, "operator", "add", "Operator A", "50000")["id"].(string)
	cli(cb, "operator", "deposit-reserves", op, "1000000")
	cli(cb, "operator", "issue", op, "1000000")
	admin := cli(cb, "key", "create", "operator_admin", op)["secret"].(string)
	buyer := cli(admin, "wallet", "open", op, "--category", "2", "--holder", "李四", "--phone", "13800000002")["id"].(string)
	shop := cli(admin, "wallet", "open", op, "--category", "2", "--holder", "Noodle Shop", "--merchant", "--mcc", "5812", "--region", "310000")["id"].(string)
	cli(admin, "wallet", "top-up", buyer, "1000")
	holder := cli(admin, "key", "create", "holder", buyer)["secret"].(string)

	keyFile := filepath.Join(t.TempDir(), "carrier.json")
	if _, _, err := run(t, "contract", "party", "keygen", keyFile); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want it readable by its owner only", st, err)
	}
	if _, _, err := run(t, "contract", "party", "keygen", keyFile); err == nil {
		t.Fatal("keygen over an existing key file: no error; want it kept")
	}
	carrier := cli(admin, "contract", "party", "register", "Carrier", "--key-file", keyFile)["id"].(string)
	var f partyKeyFile
	b, err := os.ReadFile(keyFile)
	if err != nil || json.Unmarshal(b, &f) != nil || f.ID == nil || f.ID.String() != carrier {
		t.Fatalf("key file after registering: %s (%v); want the id %s in it", b, err, carrier)
	}

	if !strings.Contains(raw(holder, "contract", "templates"), `"escrow"`) {
		t.Fatal("templates lack escrow")
	}
	if !json.Valid([]byte(raw(holder, "contract", "schema"))) {
		t.Fatal("schema is not JSON")
	}
	deadline := time.Now().Add(7 * 24 * time.Hour).UTC().Format(time.RFC3339)
	k := cli(holder, "contract", "deploy", "--template", "escrow", "--party", "buyer="+buyer, "--party", "seller="+shop, "--party", "carrier="+carrier,
		"--param", "price=120.00", "--param", "deadline="+deadline, "--reference", "order-1")
	id, hash := k["id"].(string), k["hash"].(string)
	if k["status"] != "pending" {
		t.Fatalf("deployed: %v", k)
	}
	dry := cli(holder, "contract", "dry-run", id, `[{"trigger":"activate"},{"trigger":"delivered"}]`)["steps"].([]any)
	if len(dry) != 2 || dry[1].(map[string]any)["outcome"] != "succeeded" {
		t.Fatalf("dry run: %v; want the delivery to succeed", dry)
	}
	if got := cli(holder, "contract", "accept", id, "buyer", hash)["status"]; got != "active" {
		t.Fatalf("accepted: %v; want active", got)
	}
	inv := cli(cb, "contract", "event", id, "delivered", "ev-1", "--key-file", keyFile)
	if inv["outcome"] != "succeeded" {
		t.Fatalf("delivered: %v", inv)
	}
	if _, _, err := run(t, "contract", "event", id, "delivered", "ev-1", "--key-file", keyFile); err == nil || !strings.Contains(err.Error(), "accepted before") {
		t.Fatalf("the same event again: %v; want it refused as replayed", err)
	}
	if got := cli(admin, "wallet", "show", shop)["balance"]; got != "120.00" {
		t.Fatalf("shop balance %v; want 120.00", got)
	}
	if got := cli(admin, "contract", "show", id)["status"]; got != "completed" {
		t.Fatalf("status %v; want completed", got)
	}
	list := cli(cb, "contract", "invocations", id)["items"].([]any)
	if len(list) != 2 {
		t.Fatalf("invocations %v; want activate and delivered", list)
	}
	if items := cli(admin, "contract", "list")["items"].([]any); len(items) != 1 {
		t.Fatalf("contracts %v; want one", items)
	}
}
