package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	tongbao "github.com/tongbao/tongbao"
)

// bench contracts evaluates the templates' conditions, makes durable
// contract-triggered payments, prints one JSON object with both figures,
// checks that the money moved is the payments counted and that the supply
// holds, and removes its data folder.
func TestBenchContractsJSON(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := run(t, "bench", "contracts", "--json", "--dir", dir, "--duration", "1s", "--contracts", "4", "--clients", "4")
	if err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, errOut)
	}
	var res benchContractsResult
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout is not the result: %v\n%s", err, out)
	}
	if dec.More() {
		t.Errorf("stdout holds more than one JSON object:\n%s", out)
	}
	c, p := res.Conditions, res.Payments
	if c.Expressions != len(benchConditionSet()) || c.Evaluations <= 0 || c.EvaluationsPerSec <= 0 || c.P99Us < c.P50Us || c.P50Us <= 0 {
		t.Errorf("conditions %+v; want every expression evaluated, a rate and latencies", c)
	}
	if p.Contracts != 4 || p.Clients != 4 || p.Payments <= 0 || p.Failed != 0 || p.PaymentsPerSec <= 0 || p.P50Ms <= 0 || p.P99Ms < p.P50Ms || !p.SupplyOK {
		t.Errorf("payments %+v; want payments, none failed, a rate, latencies and the supply check passed", p)
	}
	if left, err := os.ReadDir(dir); err != nil || len(left) != 0 {
		t.Errorf("the data folder was not removed: %v %v", left, err)
	}
}

// The check after the run fails when the payees hold other than the
// payments counted: the figure would count payments that moved nothing.
func TestBenchContractsChecksMoney(t *testing.T) {
	ctx := context.Background()
	o := &benchContractsOptions{contracts: 2, clients: 1, duration: 1}
	n, err := openBenchContracts(ctx, t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.close() })
	contracts, err := n.deployAll(ctx, o.contracts)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.checkMoved(ctx, contracts, 0); err != nil {
		t.Fatalf("no payments, none counted: %v", err)
	}
	if err := n.checkMoved(ctx, contracts, 1); err == nil {
		t.Fatalf("no payments, one counted: got no error")
	}
	if _, err := n.svc.Request(ctx, contracts[1].id, "pay", "payer", tongbao.ID{}, "k", nil); err != nil {
		t.Fatal(err)
	}
	if err := n.checkMoved(ctx, contracts, 1); err != nil {
		t.Fatalf("one payment, one counted: %v", err)
	}
}

func TestBenchContractsRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--contracts", "0"}, {"--clients", "0"}, {"--goroutines", "-1"}, {"--duration", "0s"}} {
		dir := t.TempDir()
		_, _, err := run(t, append([]string{"bench", "contracts", "--dir", dir}, args...)...)
		if err == nil {
			t.Errorf("bench contracts %v: got no error", args)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("bench contracts %v made a data folder", args)
		}
	}
}
