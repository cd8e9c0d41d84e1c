package contract_test

import (
	"testing"
	"time"

	"github.com/tongbao/tongbao/contract"
	"github.com/tongbao/tongbao/internal/domaintest"
)

func TestDryRunMovesNothing(t *testing.T) {
	e := newEnv(t)
	buyer, supplier := e.wallet(yuan("800.00")), e.wallet(0)
	due := start.Add(10 * 24 * time.Hour)
	c := e.deploy("payable", map[string]any{"buyer": buyer.String(), "supplier": supplier.String(), "invoice": "1000.00", "due": due.Format(time.RFC3339)})
	invs, err := e.svc.DryRun(e.Ctx, c.ID, []contract.DryStep{
		{Trigger: "activate"},
		{Trigger: "early_payment", At: start.Add(time.Hour)},
		{Trigger: "due_date", At: due},
	})
	domaintest.Must(t, err)
	if len(invs) != 3 {
		t.Fatalf("%d invocations; want 3", len(invs))
	}
	// 980.00 early is more than the buyer's 800.00: refused by funds.
	if invs[0].Outcome != contract.OutcomeSucceeded || invs[1].Outcome != contract.OutcomeFailed {
		t.Fatalf("outcomes %s, %s (%s); want succeeded, failed", invs[0].Outcome, invs[1].Outcome, invs[1].Error)
	}
	if len(invs[1].Moves) != 1 || invs[1].Moves[0].Amount != yuan("980.00") || invs[1].Moves[0].To != supplier {
		t.Fatalf("moves %+v; want 980.00 to the supplier", invs[1].Moves)
	}
	if got := e.balances(buyer, supplier); got[0] != yuan("800.00") || got[1] != 0 {
		t.Fatalf("a dry run moved money: %v", got)
	}
	if got := e.contract(c.ID); got.Status != contract.StatusPending || got.Version != c.Version {
		t.Fatalf("a dry run changed the contract: %s v%d", got.Status, got.Version)
	}
	if cv := invs[1].Conditions; len(cv) != 1 || cv[0].Value != true {
		t.Fatalf("conditions %+v; want the deadline requirement, true", cv)
	}
	// After the due date the early payment is refused by its requirement.
	invs, err = e.svc.DryRun(e.Ctx, c.ID, []contract.DryStep{{Trigger: "activate"}, {Trigger: "early_payment", At: due.Add(time.Minute)}})
	domaintest.Must(t, err)
	if invs[1].Outcome != contract.OutcomeFailed || invs[1].Error == "" || invs[1].Error[:len("contract-deadline-passed")] != "contract-deadline-passed" {
		t.Fatalf("late early payment: %s %q; want failed with contract-deadline-passed", invs[1].Outcome, invs[1].Error)
	}
}
