// Package contracttest is the conformance suite of contract.Store: the
// contract every implementation keeps, spelled out as tests and run on
// every database the store supports (storetest.Databases).
//
// The contract, beyond what contract.Store's doc comments say:
//   - every method is durable when it returns;
//   - every field comes back as stored: times to the nanosecond (as
//     tongbao.FromUnixNanos makes them), documents and inputs byte for
//     byte, empty lists and maps as nil, state numbers that are integers
//     as int64 and maps of state as map[string]any;
//   - a refused call changes nothing, and FinishInvocation refused (a
//     version conflict, an invocation not stored or finished already)
//     stores neither the outcome, nor the runtime, nor a timer;
//   - of concurrent calls, in one process or two, each is refused or
//     stored on its own: a conflict of one does not fail the others;
//   - CreateInvocation numbers a contract's invocations 1, 2, … in the
//     order they are stored, and refuses one of a contract not stored
//     with ErrContractNotFound;
//   - a timer fired is never due again, even added again.
package contracttest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/contract"
	"github.com/tongbao/tongbao/internal/storetest"
)

// Store is a contract.Store that can be closed.
type Store interface {
	contract.Store
	Close() error
}

// Run runs the suite on every database, each test on a database of its
// own, with stores open opens on target (see storetest.Database.Target),
// creating the tables if needed; opened twice on one target, the second
// store sees what the first wrote.
func Run[S Store](t *testing.T, open func(ctx context.Context, target string) (S, error)) {
	storetest.RunDomain(t, "contract.db", func(ctx context.Context, target string) (Store, error) { return open(ctx, target) }, []storetest.DomainTest[Store]{
		{Name: "Parties", Fn: testParties},
		{Name: "ContractRoundTrip", Fn: testContractRoundTrip},
		{Name: "Contracts", Fn: testContracts},
		{Name: "UpdateContract", Fn: testUpdateContract},
		{Name: "CreateInvocation", Fn: testCreateInvocation},
		{Name: "InvocationsPaged", Fn: testInvocationsPaged},
		{Name: "PendingInvocations", Fn: testPendingInvocations},
		{Name: "FinishInvocation", Fn: testFinishInvocation},
		{Name: "FinishRefusedStoresNothing", Fn: testFinishRefused},
		{Name: "FinishEndedRemovesTimers", Fn: testFinishEnded},
		{Name: "DueTimers", Fn: testDueTimers},
		{Name: "FireTimer", Fn: testFireTimer},
		{Name: "ConcurrentFinishOneWins", Fn: testConcurrentFinish},
		{Name: "ConcurrentBatchIsolation", Fn: testConcurrentBatch},
		{Name: "ConcurrentCreateNumbers", Fn: testConcurrentCreate},
		{Name: "Reopen", Fn: testReopen},
	})
}

type env = storetest.Env[Store]

var (
	must    = storetest.Must
	wantErr = storetest.WantErr
	at      = storetest.At
)

func id(n uint64) tongbao.ID { return tongbao.IDFromUint64(n) }

var (
	opA = id(0xA0)
	opB = id(0xB0)
)

// runtime returns a runtime with every field set and distinct.
func runtime(n int) contract.Runtime {
	return contract.Runtime{
		Consents: map[string]contract.Consent{"buyer": {At: at(n + 1), By: "holder:1"}, "shop": {At: at(n + 2), By: "merchant-admin"}},
		State: map[string]any{
			"lessons": int64(n), "big": int64(1) << 60, "note": "交付", "done": true,
			"per_party": map[string]any{"a": int64(3), "b": "x"},
		},
		Holds: []contract.HoldRecord{
			{ID: id(0x500 + uint64(n)), Party: "buyer", Amount: 1200, Status: contract.HoldOpen, ExpiresAt: at(n + 50)},
			{ID: id(0x600 + uint64(n)), Party: "buyer", Amount: 300, Status: contract.HoldPosted},
		},
		TakenIn: tongbao.Amount(1500 + n), PaidOut: 300, Refunded: 7,
		Usage:       contract.Usage{Day: "2026-01-02", DayAmount: 300, Total: 310},
		Invocations: int64(n), ActivatedAt: at(n + 3), EndedAt: at(n + 4), EndReason: "done", Failure: "funds short",
	}
}

// deployed returns a pending contract with every field set.
func deployed(n uint64, op tongbao.ID) contract.Contract {
	return contract.Contract{
		ID: id(0x1000 + n), Hash: fmt.Sprintf("%064x", n), Operator: op, Wallet: id(0x2000 + n),
		Document: json.RawMessage(fmt.Sprintf(`{"name": "escrow %d", "parties": [ {"name":"buyer"} ]}`, n)),
		Status:   contract.StatusPending, Runtime: contract.Runtime{Consents: map[string]contract.Consent{"buyer": {At: at(1), By: "holder:1"}}},
		Version: 1, DeployedBy: "operator-admin", DeployedAt: at(1), UpdatedAt: at(1),
	}
}

// create stores a contract, active unless st says otherwise, and returns
// it as stored.
func create(t *testing.T, e *env, n uint64, op tongbao.ID, st contract.Status) contract.Contract {
	t.Helper()
	c := deployed(n, op)
	c.Status = st
	got, created, err := e.Store.CreateContract(e.Ctx, c)
	must(t, err)
	if !created {
		t.Fatalf("contract %d: not created", n)
	}
	return got
}

// invocation returns a pending invocation of c on base with every field
// set.
func invocation(c contract.Contract, key string, base int64, n int) contract.Invocation {
	return contract.Invocation{
		ID: tongbao.DeriveID("test-invocation", c.ID, key), Contract: c.ID, Key: key, Trigger: "delivered",
		Input: json.RawMessage(`{"event": "delivered",  "n": ` + fmt.Sprint(n) + `}`), InputHash: fmt.Sprintf("%064x", n),
		Conditions: []contract.ConditionValue{
			{Name: "signed", Expr: "event.signer == 'logistics'", Value: true},
			{Name: "amount", Expr: "state.lessons * 100", Value: int64(n * 100)},
			{Name: "late", Expr: "now > deadline", Value: false, Error: "deadline-passed"},
		},
		Moves: []contract.PlannedMove{
			{Action: 0, Kind: "post", Transfer: id(0x700 + uint64(n)), Amount: 1200, Pending: id(0x500)},
			{Action: 1, Kind: "transfer", Transfer: id(0x800 + uint64(n)), From: c.Wallet, To: id(0x99), Amount: 30, Timeout: 60},
		},
		Notices:     []string{"paid the shop"},
		Outcome:     contract.OutcomePending,
		BaseVersion: base, Next: runtime(n), NextStatus: contract.StatusActive,
		Timers: []contract.Timer{{Contract: c.ID, Key: fmt.Sprintf("deadline@%d", n), Trigger: "deadline", DueAt: at(100 + n), N: 1}},
		At:     at(10 + n),
	}
}

func testParties(t *testing.T, e *env) {
	_, err := e.Store.Party(e.Ctx, id(1))
	wantErr(t, "missing party", err, contract.ErrPartyNotFound)
	p := contract.Party{ID: id(1), Operator: opA, Name: "顺丰 logistics", PublicKey: []byte("0123456789abcdef0123456789abcdef"), CreatedAt: at(1)}
	must(t, e.Store.CreateParty(e.Ctx, p))
	got, err := e.Store.Party(e.Ctx, p.ID)
	must(t, err)
	storetest.WantEqual(t, "party", got, p)
	dup := p
	dup.Name, dup.Operator = "other", opB
	wantErr(t, "party id taken", e.Store.CreateParty(e.Ctx, dup), contract.ErrPartyExists)
	got, err = e.Store.Party(e.Ctx, p.ID)
	must(t, err)
	storetest.WantEqual(t, "party after a refused create", got, p)
}

func testContractRoundTrip(t *testing.T, e *env) {
	_, err := e.Store.Contract(e.Ctx, id(1))
	wantErr(t, "missing contract", err, contract.ErrContractNotFound)
	c := deployed(1, opA)
	c.Runtime = runtime(1)
	c.Version = 7 // a new contract is at version 1, whatever it says
	got, created, err := e.Store.CreateContract(e.Ctx, c)
	must(t, err)
	if !created {
		t.Fatal("new contract: not created")
	}
	want := c
	want.Version = 1
	storetest.WantEqual(t, "created contract", got, want)
	read, err := e.Store.Contract(e.Ctx, c.ID)
	must(t, err)
	storetest.WantEqual(t, "contract read", read, want)
	if string(read.Document) != string(c.Document) {
		t.Fatalf("document: got %s; want it byte for byte %s", read.Document, c.Document)
	}

	bare := contract.Contract{ID: id(2), Hash: "h", Operator: opA, Status: contract.StatusPending, DeployedAt: at(2)}
	got, created, err = e.Store.CreateContract(e.Ctx, bare)
	must(t, err)
	bare.Version = 1
	if !created {
		t.Fatal("bare contract: not created")
	}
	storetest.WantEqual(t, "bare contract", got, bare)
	read, err = e.Store.Contract(e.Ctx, bare.ID)
	must(t, err)
	storetest.WantEqual(t, "bare contract read", read, bare)

	// The same id again: the stored contract, unchanged.
	again := c
	again.Status, again.Runtime, again.DeployedBy = contract.StatusActive, runtime(9), "someone else"
	got, created, err = e.Store.CreateContract(e.Ctx, again)
	must(t, err)
	if created {
		t.Fatal("contract id taken: created again")
	}
	storetest.WantEqual(t, "contract answered for a taken id", got, want)
	read, err = e.Store.Contract(e.Ctx, c.ID)
	must(t, err)
	storetest.WantEqual(t, "contract after a second create", read, want)

	bad := deployed(3, opA)
	bad.Status = "running"
	if _, _, err := e.Store.CreateContract(e.Ctx, bad); tongbao.ErrorCode(err) != tongbao.EINVALID {
		t.Fatalf("unknown status: got %v; want %s", err, tongbao.EINVALID)
	}
	_, err = e.Store.Contract(e.Ctx, bad.ID)
	wantErr(t, "contract of a refused create", err, contract.ErrContractNotFound)
}

func contractIDs(cs []contract.Contract) []tongbao.ID {
	out := []tongbao.ID{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func testContracts(t *testing.T, e *env) {
	var ofA, all []tongbao.ID
	for _, n := range []uint64{5, 1, 4, 2, 3} {
		op := opA
		if n == 4 {
			op = opB
		}
		c := create(t, e, n, op, contract.StatusActive)
		if op == opA {
			ofA = append(ofA, c.ID)
		}
		all = append(all, c.ID)
	}
	sortIDs(ofA)
	sortIDs(all)
	got, err := e.Store.Contracts(e.Ctx, opA, tongbao.ID{}, 0)
	must(t, err)
	storetest.WantEqual(t, "contracts of A", contractIDs(got), ofA)
	got, err = e.Store.Contracts(e.Ctx, tongbao.ID{}, tongbao.ID{}, 0)
	must(t, err)
	storetest.WantEqual(t, "contracts of every operator", contractIDs(got), all)
	var paged []tongbao.ID
	var after tongbao.ID
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page, err := e.Store.Contracts(e.Ctx, opA, after, 2)
		must(t, err)
		if len(page) > 2 {
			t.Fatalf("page of %d; want at most 2", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, contractIDs(page)...)
		after = page[len(page)-1].ID
	}
	storetest.WantEqual(t, "contracts of A, paged by 2", paged, ofA)
	none, err := e.Store.Contracts(e.Ctx, id(0xC0), tongbao.ID{}, 10)
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("contracts of an operator with none: %d", len(none))
	}
}

func sortIDs(ids []tongbao.ID) {
	slices.SortFunc(ids, func(a, b tongbao.ID) int { return slices.Compare(a[:], b[:]) })
}

func timerKeys(ts []contract.Timer) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, t.Key)
	}
	return out
}

func timers(t *testing.T, e *env, c tongbao.ID) []string {
	t.Helper()
	ts, err := e.Store.Timers(e.Ctx, c)
	must(t, err)
	return timerKeys(ts)
}

func testUpdateContract(t *testing.T, e *env) {
	c := create(t, e, 1, opA, contract.StatusPending)
	up := c
	up.Status, up.Runtime, up.UpdatedAt = contract.StatusActive, runtime(2), at(5)
	// The fields UpdateContract does not replace: changed here, kept there.
	sent := up
	sent.Hash, sent.Operator, sent.Wallet, sent.Document, sent.DeployedBy, sent.DeployedAt = "other", opB, id(9), json.RawMessage(`{}`), "x", at(90)
	first := contract.Timer{Contract: c.ID, Key: "pay@1", Trigger: "pay", DueAt: at(20), N: 1}
	retry := contract.Timer{Contract: c.ID, Key: "retry:1:timer:pay@0", Trigger: "pay", DueAt: at(21), N: 1, Of: "timer:pay@0"}
	v, err := e.Store.UpdateContract(e.Ctx, sent, []contract.Timer{retry, first}, false)
	must(t, err)
	if v != 2 {
		t.Fatalf("version after an update: got %d; want 2", v)
	}
	want := up
	want.Version = 2
	got, err := e.Store.Contract(e.Ctx, c.ID)
	must(t, err)
	storetest.WantEqual(t, "updated contract", got, want)
	ts, err := e.Store.Timers(e.Ctx, c.ID)
	must(t, err)
	storetest.WantEqual(t, "timers added by an update", ts, []contract.Timer{first, retry})

	// Stale: refused, nothing changed, no timer added or removed.
	stale := up
	stale.Status, stale.Runtime = contract.StatusPaused, runtime(3)
	_, err = e.Store.UpdateContract(e.Ctx, stale, []contract.Timer{{Contract: c.ID, Key: "late@1", Trigger: "late", DueAt: at(1)}}, true)
	wantErr(t, "update on version 1 of a contract at 2", err, contract.ErrVersionConflict)
	got, err = e.Store.Contract(e.Ctx, c.ID)
	must(t, err)
	storetest.WantEqual(t, "contract after a refused update", got, want)
	storetest.WantEqual(t, "timers after a refused update", timers(t, e, c.ID), []string{"pay@1", "retry:1:timer:pay@0"})

	missing := deployed(9, opA)
	_, err = e.Store.UpdateContract(e.Ctx, missing, []contract.Timer{{Contract: missing.ID, Key: "a@1", Trigger: "a", DueAt: at(1)}}, false)
	wantErr(t, "update of a missing contract", err, contract.ErrContractNotFound)
	storetest.WantEqual(t, "timers of a missing contract", timers(t, e, missing.ID), []string{})

	bad := want
	bad.Status = ""
	if _, err := e.Store.UpdateContract(e.Ctx, bad, nil, true); tongbao.ErrorCode(err) != tongbao.EINVALID {
		t.Fatalf("update to no status: got %v; want %s", err, tongbao.EINVALID)
	}

	// Ended, with cancelTimers: the timers not fired go, the one fired
	// stays fired, and one added in the same update is kept.
	must(t, e.Store.FireTimer(e.Ctx, first, nil))
	end := want
	end.Status, end.UpdatedAt = contract.StatusTerminated, at(6)
	after := contract.Timer{Contract: c.ID, Key: "sweep@1", Trigger: "sweep", DueAt: at(30), N: 1}
	v, err = e.Store.UpdateContract(e.Ctx, end, []contract.Timer{first, after}, true)
	must(t, err)
	if v != 3 {
		t.Fatalf("version after a second update: got %d; want 3", v)
	}
	storetest.WantEqual(t, "timers of a contract ended with cancelTimers", timers(t, e, c.ID), []string{"sweep@1"})
}

func testCreateInvocation(t *testing.T, e *env) {
	c := create(t, e, 1, opA, contract.StatusActive)
	_, err := e.Store.Invocation(e.Ctx, c.ID, "event:a:1")
	wantErr(t, "missing invocation", err, contract.ErrInvocationNotFound)
	inv := invocation(c, "event:a:1", 1, 1)
	inv.Sequence, inv.Outcome = 42, contract.OutcomeSucceeded // the store numbers it, pending
	got, created, err := e.Store.CreateInvocation(e.Ctx, inv)
	must(t, err)
	if !created {
		t.Fatal("new invocation: not created")
	}
	want := inv
	want.Sequence, want.Outcome = 1, contract.OutcomePending
	storetest.WantEqual(t, "created invocation", got, want)
	read, err := e.Store.Invocation(e.Ctx, c.ID, inv.Key)
	must(t, err)
	storetest.WantEqual(t, "invocation read", read, want)
	if string(read.Input) != string(inv.Input) {
		t.Fatalf("input: got %s; want it byte for byte %s", read.Input, inv.Input)
	}

	// The same key, other content: the stored one, unchanged.
	again := invocation(c, "event:a:1", 1, 2)
	got, created, err = e.Store.CreateInvocation(e.Ctx, again)
	must(t, err)
	if created {
		t.Fatal("invocation key taken: created again")
	}
	storetest.WantEqual(t, "invocation answered for a taken key", got, want)

	bare := contract.Invocation{ID: id(77), Contract: c.ID, Key: "timer:pay@5", Trigger: "pay", At: at(3)}
	got, created, err = e.Store.CreateInvocation(e.Ctx, bare)
	must(t, err)
	bare.Sequence, bare.Outcome = 2, contract.OutcomePending
	if !created {
		t.Fatal("bare invocation: not created")
	}
	storetest.WantEqual(t, "bare invocation", got, bare)
	read, err = e.Store.Invocation(e.Ctx, c.ID, bare.Key)
	must(t, err)
	storetest.WantEqual(t, "bare invocation read", read, bare)

	// The same key on another contract is another invocation.
	other := create(t, e, 2, opA, contract.StatusActive)
	got, created, err = e.Store.CreateInvocation(e.Ctx, invocation(other, "event:a:1", 1, 3))
	must(t, err)
	if !created || got.Sequence != 1 {
		t.Fatalf("first invocation of another contract: created %v, sequence %d; want true, 1", created, got.Sequence)
	}

	_, _, err = e.Store.CreateInvocation(e.Ctx, invocation(deployed(9, opA), "event:a:1", 1, 4))
	wantErr(t, "invocation of a missing contract", err, contract.ErrContractNotFound)
	_, err = e.Store.Invocation(e.Ctx, deployed(9, opA).ID, "event:a:1")
	wantErr(t, "invocation of a refused create", err, contract.ErrInvocationNotFound)
}

func keys(invs []contract.Invocation) []string {
	out := []string{}
	for _, inv := range invs {
		out = append(out, inv.Key)
	}
	return out
}

func testInvocationsPaged(t *testing.T, e *env) {
	c := create(t, e, 1, opA, contract.StatusActive)
	other := create(t, e, 2, opA, contract.StatusActive)
	var want []string
	for i := range 7 {
		// Keys and times out of the order of creation: the list is by
		// sequence.
		key := fmt.Sprintf("event:z:%d", 7-i)
		inv := invocation(c, key, 1, i)
		inv.At = at(20 - i)
		_, _, err := e.Store.CreateInvocation(e.Ctx, inv)
		must(t, err)
		want = append(want, key)
		_, _, err = e.Store.CreateInvocation(e.Ctx, invocation(other, key, 1, i))
		must(t, err)
	}
	all, err := e.Store.Invocations(e.Ctx, c.ID, 0, 0)
	must(t, err)
	storetest.WantEqual(t, "invocations", keys(all), want)
	for i, inv := range all {
		if inv.Sequence != int64(i+1) {
			t.Fatalf("invocation %d: sequence %d; want %d", i, inv.Sequence, i+1)
		}
	}
	var paged []string
	var after int64
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page, err := e.Store.Invocations(e.Ctx, c.ID, after, 3)
		must(t, err)
		if len(page) > 3 {
			t.Fatalf("page of %d; want at most 3", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, keys(page)...)
		after = page[len(page)-1].Sequence
	}
	storetest.WantEqual(t, "invocations, paged by 3", paged, want)
	none, err := e.Store.Invocations(e.Ctx, id(5), 0, 10)
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("invocations of a missing contract: %d", len(none))
	}
}

func testPendingInvocations(t *testing.T, e *env) {
	c := create(t, e, 1, opA, contract.StatusActive)
	other := create(t, e, 2, opA, contract.StatusActive)
	mk := func(on contract.Contract, key string, when int) contract.Invocation {
		inv := invocation(on, key, 1, when)
		inv.At = at(when)
		got, _, err := e.Store.CreateInvocation(e.Ctx, inv)
		must(t, err)
		return got
	}
	mk(c, "k3", 3)
	done := mk(c, "k1", 1)
	mk(other, "k2", 2)
	mk(c, "k5", 5)
	done.Outcome, done.Finished = contract.OutcomeSkipped, at(6)
	must(t, e.Store.FinishInvocation(e.Ctx, done))
	got, err := e.Store.PendingInvocations(e.Ctx, 0)
	must(t, err)
	storetest.WantEqual(t, "pending invocations, oldest first", keys(got), []string{"k2", "k3", "k5"})
	got, err = e.Store.PendingInvocations(e.Ctx, 2)
	must(t, err)
	storetest.WantEqual(t, "pending invocations, at most 2", keys(got), []string{"k2", "k3"})
}

func testFinishInvocation(t *testing.T, e *env) {
	c := create(t, e, 1, opA, contract.StatusActive)
	due := contract.Timer{Contract: c.ID, Key: "pay@1", Trigger: "pay", DueAt: at(5), N: 1}
	_, err := e.Store.UpdateContract(e.Ctx, c, []contract.Timer{due}, false)
	must(t, err)
	c.Version = 2
	inv, _, err := e.Store.CreateInvocation(e.Ctx, invocation(c, "timer:pay@1", 2, 1))
	must(t, err)
	inv.Outcome, inv.Finished, inv.Fired, inv.Error = contract.OutcomeSucceeded, at(12), due.Key, ""
	inv.Next, inv.NextStatus = runtime(4), contract.StatusPaused
	next := contract.Timer{Contract: c.ID, Key: "pay@2", Trigger: "pay", DueAt: at(6), N: 2}
	inv.Timers = []contract.Timer{next}
	must(t, e.Store.FinishInvocation(e.Ctx, inv))

	got, err := e.Store.Invocation(e.Ctx, c.ID, inv.Key)
	must(t, err)
	storetest.WantEqual(t, "finished invocation", got, inv)
	want := c
	want.Status, want.Runtime, want.Version, want.UpdatedAt = contract.StatusPaused, runtime(4), 3, at(12)
	stored, err := e.Store.Contract(e.Ctx, c.ID)
	must(t, err)
	storetest.WantEqual(t, "contract after a finish", stored, want)
	storetest.WantEqual(t, "timers after a finish: the fired one gone, the new one added", timers(t, e, c.ID), []string{"pay@2"})

	// Finished twice: refused, as the contract moved on.
	again := inv
	again.BaseVersion, again.Next = 3, runtime(5)
	wantErr(t, "second finish", e.Store.FinishInvocation(e.Ctx, again), contract.ErrVersionConflict)
	stored, err = e.Store.Contract(e.Ctx, c.ID)
	must(t, err)
	storetest.WantEqual(t, "contract after a second finish", stored, want)

	// The fired timer added again stays fired.
	_, err = e.Store.UpdateContract(e.Ctx, want, []contract.Timer{due}, false)
	must(t, err)
	storetest.WantEqual(t, "timers after a fired one is added again", timers(t, e, c.ID), []string{"pay@2"})

	missing := invocation(c, "event:none", 4, 1)
	missing.Outcome = contract.OutcomeSucceeded
	wantErr(t, "finish of an invocation not stored", e.Store.FinishInvocation(e.Ctx, missing), contract.ErrInvocationNotFound)
	stored, err = e.Store.Contract(e.Ctx, c.ID)
	must(t, err)
	if stored.Version != 4 {
		t.Fatalf("version after a refused finish: got %d; want 4", stored.Version)
	}

	pending := invocation(c, "event:pending", 4, 1)
	_, _, err = e.Store.CreateInvocation(e.Ctx, pending)
	must(t, err)
	for _, bad := range []func(*contract.Invocation){
		func(i *contract.Invocation) { i.Outcome = contract.OutcomePending },
		func(i *contract.Invocation) { i.Outcome = contract.OutcomeFailed; i.NextStatus = "gone" },
	} {
		b := pending
		bad(&b)
		if err := e.Store.FinishInvocation(e.Ctx, b); tongbao.ErrorCode(err) != tongbao.EINVALID {
			t.Fatalf("finish with outcome %q, status %q: got %v; want %s", b.Outcome, b.NextStatus, err, tongbao.EINVALID)
		}
	}
	read, err := e.Store.Invocation(e.Ctx, c.ID, pending.Key)
	must(t, err)
	if read.Outcome != contract.OutcomePending {
		t.Fatalf("invocation after refused finishes: outcome %q; want pending", read.Outcome)
	}
}

func testFinishRefused(t *testing.T, e *env) {
	c := create(t, e, 1, opA, contract.StatusActive)
	due := contract.Timer{Contract: c.ID, Key: "pay@1", Trigger: "pay", DueAt: at(5), N: 1}
	_, err := e.Store.UpdateContract(e.Ctx, c, []contract.Timer{due}, false)
	must(t, err)
	c.Version = 2
	created, _, err := e.Store.CreateInvocation(e.Ctx, invocation(c, "timer:pay@1", 1, 1))
	must(t, err)
	inv := created
	inv.Outcome, inv.Fired, inv.NextStatus = contract.OutcomeSucceeded, due.Key, contract.StatusCompleted
	inv.Timers = []contract.Timer{{Contract: c.ID, Key: "pay@2", Trigger: "pay", DueAt: at(6), N: 2}}
	wantErr(t, "finish on version 1 of a contract at 2", e.Store.FinishInvocation(e.Ctx, inv), contract.ErrVersionConflict)

	got, err := e.Store.Invocation(e.Ctx, c.ID, inv.Key)
	must(t, err)
	storetest.WantEqual(t, "invocation after a refused finish", got, created)
	stored, err := e.Store.Contract(e.Ctx, c.ID)
	must(t, err)
	storetest.WantEqual(t, "contract after a refused finish", stored, c)
	storetest.WantEqual(t, "timers after a refused finish: none added, fired or removed", timers(t, e, c.ID), []string{"pay@1"})

	missing := inv
	missing.Contract = id(0x999)
	wantErr(t, "finish on a missing contract", e.Store.FinishInvocation(e.Ctx, missing), contract.ErrInvocationNotFound)
}

func testFinishEnded(t *testing.T, e *env) {
	for _, end := range []contract.Status{contract.StatusCompleted, contract.StatusTerminated} {
		t.Run(string(end), func(t *testing.T) {
			n := uint64(1)
			if end == contract.StatusTerminated {
				n = 2
			}
			c := create(t, e, n, opA, contract.StatusActive)
			mk := func(key string, due int) contract.Timer {
				return contract.Timer{Contract: c.ID, Key: key, Trigger: "t", DueAt: at(due), N: 1}
			}
			_, err := e.Store.UpdateContract(e.Ctx, c, []contract.Timer{mk("a@1", 1), mk("b@2", 2), mk("c@3", 3)}, false)
			must(t, err)
			must(t, e.Store.FireTimer(e.Ctx, mk("a@1", 1), nil))
			inv, _, err := e.Store.CreateInvocation(e.Ctx, invocation(c, "timer:b@2", 2, 1))
			must(t, err)
			inv.Outcome, inv.Fired, inv.NextStatus = contract.OutcomeSucceeded, "b@2", end
			inv.Timers = []contract.Timer{mk("d@4", 4)}
			must(t, e.Store.FinishInvocation(e.Ctx, inv))
			storetest.WantEqual(t, "timers of an ended contract", timers(t, e, c.ID), []string{})
			// Timers fired stay fired, added again; and an ended
			// contract's timers are never due.
			_, err = e.Store.UpdateContract(e.Ctx, contract.Contract{ID: c.ID, Version: 3, Status: end}, []contract.Timer{mk("a@1", 1), mk("b@2", 2)}, false)
			must(t, err)
			storetest.WantEqual(t, "fired timers added again", timers(t, e, c.ID), []string{})
			due, err := e.Store.DueTimers(e.Ctx, at(10), 0)
			must(t, err)
			storetest.WantEqual(t, "due timers of an ended contract", timerKeys(due), []string{})
		})
	}
}

func testDueTimers(t *testing.T, e *env) {
	active := create(t, e, 1, opA, contract.StatusActive)
	other := create(t, e, 2, opB, contract.StatusActive)
	paused := create(t, e, 3, opA, contract.StatusPaused)
	pending := create(t, e, 4, opA, contract.StatusPending)
	add := func(c contract.Contract, ts ...contract.Timer) {
		_, err := e.Store.UpdateContract(e.Ctx, c, ts, false)
		must(t, err)
	}
	mk := func(c contract.Contract, key string, due int) contract.Timer {
		return contract.Timer{Contract: c.ID, Key: key, Trigger: "t", DueAt: at(due), N: 2, Of: "of:" + key}
	}
	add(active, mk(active, "late@5", 5), mk(active, "early@1", 1), mk(active, "future@9", 9), mk(active, "fired@2", 2))
	add(other, mk(other, "mid@3", 3))
	add(paused, mk(paused, "p@1", 1))
	add(pending, mk(pending, "q@1", 1))
	must(t, e.Store.FireTimer(e.Ctx, mk(active, "fired@2", 2), nil))

	due, err := e.Store.DueTimers(e.Ctx, at(5), 0)
	must(t, err)
	storetest.WantEqual(t, "due timers", due, []contract.Timer{mk(active, "early@1", 1), mk(other, "mid@3", 3), mk(active, "late@5", 5)})
	due, err = e.Store.DueTimers(e.Ctx, at(5).Add(-time.Nanosecond), 2)
	must(t, err)
	storetest.WantEqual(t, "due timers a nanosecond before, at most 2", timerKeys(due), []string{"early@1", "mid@3"})

	// A paused contract's timers wait for it to resume.
	c, err := e.Store.Contract(e.Ctx, paused.ID)
	must(t, err)
	c.Status = contract.StatusActive
	_, err = e.Store.UpdateContract(e.Ctx, c, nil, false)
	must(t, err)
	due, err = e.Store.DueTimers(e.Ctx, at(1), 0)
	must(t, err)
	storetest.WantEqual(t, "due timers after a resume", timerKeys(due), []string{"early@1", "p@1"})
}

func testFireTimer(t *testing.T, e *env) {
	c := create(t, e, 1, opA, contract.StatusActive)
	first := contract.Timer{Contract: c.ID, Key: "pay@1", Trigger: "pay", DueAt: at(1), N: 1}
	_, err := e.Store.UpdateContract(e.Ctx, c, []contract.Timer{first}, false)
	must(t, err)
	next := contract.Timer{Contract: c.ID, Key: "pay@2", Trigger: "pay", DueAt: at(2), N: 2}
	must(t, e.Store.FireTimer(e.Ctx, first, &next))
	ts, err := e.Store.Timers(e.Ctx, c.ID)
	must(t, err)
	storetest.WantEqual(t, "timers after a fire", ts, []contract.Timer{next})
	// Fired again: left as it is.
	must(t, e.Store.FireTimer(e.Ctx, first, nil))
	storetest.WantEqual(t, "timers after a second fire", timers(t, e, c.ID), []string{"pay@2"})
	must(t, e.Store.FireTimer(e.Ctx, next, nil))
	due, err := e.Store.DueTimers(e.Ctx, at(3), 0)
	must(t, err)
	storetest.WantEqual(t, "due timers after both fired", timerKeys(due), []string{})
}

// testConcurrentFinish: two processes finish two invocations planned on
// the same version: exactly one wins, and the loser stores nothing.
func testConcurrentFinish(t *testing.T, e *env) {
	c := create(t, e, 1, opA, contract.StatusActive)
	store := e.TwoStores()
	invs := make([]contract.Invocation, 2)
	for i := range invs {
		inv, _, err := e.Store.CreateInvocation(e.Ctx, invocation(c, fmt.Sprintf("event:s:%d", i), 1, i))
		must(t, err)
		inv.Outcome, inv.Next = contract.OutcomeSucceeded, runtime(10+i)
		inv.Timers = []contract.Timer{{Contract: c.ID, Key: fmt.Sprintf("t%d@1", i), Trigger: "t", DueAt: at(i)}}
		invs[i] = inv
	}
	errs := storetest.Concurrently(2, func(i int) error { return store(i).FinishInvocation(e.Ctx, invs[i]) })
	won := storetest.Succeeded(t, errs, contract.ErrVersionConflict)
	if len(won) != 1 {
		t.Fatalf("finishes on one version: %d won (%v); want exactly 1", len(won), errs)
	}
	w, l := won[0], 1-won[0]
	got, err := e.Store.Contract(e.Ctx, c.ID)
	must(t, err)
	if got.Version != 2 {
		t.Fatalf("version: got %d; want 2", got.Version)
	}
	storetest.WantEqual(t, "runtime of the winner", got.Runtime, runtime(10+w))
	lost, err := e.Store.Invocation(e.Ctx, c.ID, invs[l].Key)
	must(t, err)
	if lost.Outcome != contract.OutcomePending {
		t.Fatalf("the loser's invocation: outcome %q; want pending", lost.Outcome)
	}
	storetest.WantEqual(t, "timers: the winner's alone", timers(t, e, c.ID), []string{invs[w].Timers[0].Key})
}

// testConcurrentBatch: many finishes at once, some on a stale version:
// each stale one alone is refused, the others are stored.
func testConcurrentBatch(t *testing.T, e *env) {
	const n = 24
	cs := make([]contract.Contract, n)
	invs := make([]contract.Invocation, n)
	for i := range n {
		cs[i] = create(t, e, uint64(i+1), opA, contract.StatusActive)
		inv, _, err := e.Store.CreateInvocation(e.Ctx, invocation(cs[i], "event:b:1", 1, i))
		must(t, err)
		inv.Outcome, inv.Next = contract.OutcomeSucceeded, runtime(i)
		inv.Timers = []contract.Timer{{Contract: cs[i].ID, Key: "next@1", Trigger: "next", DueAt: at(i)}}
		if i%3 == 0 {
			inv.BaseVersion = 7 // stale
		}
		invs[i] = inv
	}
	errs := storetest.Concurrently(n, func(i int) error { return e.Store.FinishInvocation(e.Ctx, invs[i]) })
	for i, err := range errs {
		stale := i%3 == 0
		if stale {
			wantErr(t, fmt.Sprintf("stale finish %d", i), err, contract.ErrVersionConflict)
		} else {
			must(t, err)
		}
		got, err := e.Store.Contract(e.Ctx, cs[i].ID)
		must(t, err)
		inv, err := e.Store.Invocation(e.Ctx, cs[i].ID, invs[i].Key)
		must(t, err)
		ts := timers(t, e, cs[i].ID)
		if stale {
			if got.Version != 1 || inv.Outcome != contract.OutcomePending || len(ts) != 0 {
				t.Fatalf("contract %d, refused: version %d, outcome %q, timers %v; want 1, pending, none", i, got.Version, inv.Outcome, ts)
			}
			continue
		}
		if got.Version != 2 || inv.Outcome != contract.OutcomeSucceeded || len(ts) != 1 {
			t.Fatalf("contract %d, finished: version %d, outcome %q, timers %v; want 2, succeeded, one", i, got.Version, inv.Outcome, ts)
		}
	}
}

// testConcurrentCreate: invocations of one contract created at once, by
// two processes, are numbered 1 … n without a gap or a repeat; the same
// key created twice at once is stored once.
func testConcurrentCreate(t *testing.T, e *env) {
	const n = 20
	c := create(t, e, 1, opA, contract.StatusActive)
	store := e.TwoStores()
	created := make([]bool, 2*n)
	errs := storetest.Concurrently(2*n, func(i int) error {
		var err error
		_, created[i], err = store(i).CreateInvocation(e.Ctx, invocation(c, fmt.Sprintf("event:c:%d", i/2), 1, i/2))
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	for k := range n {
		if created[2*k] == created[2*k+1] {
			t.Fatalf("key %d created twice at once: created %v and %v; want exactly one", k, created[2*k], created[2*k+1])
		}
	}
	all, err := e.Store.Invocations(e.Ctx, c.ID, 0, 0)
	must(t, err)
	if len(all) != n {
		t.Fatalf("invocations: %d; want %d", len(all), n)
	}
	for i, inv := range all {
		if inv.Sequence != int64(i+1) {
			t.Fatalf("invocation %d: sequence %d; want %d", i, inv.Sequence, i+1)
		}
	}
}

func testReopen(t *testing.T, e *env) {
	p := contract.Party{ID: id(1), Operator: opA, Name: "school", PublicKey: make([]byte, 32), CreatedAt: at(1)}
	must(t, e.Store.CreateParty(e.Ctx, p))
	c := create(t, e, 1, opA, contract.StatusActive)
	tm := contract.Timer{Contract: c.ID, Key: "a@1", Trigger: "a", DueAt: at(1), N: 1}
	_, err := e.Store.UpdateContract(e.Ctx, c, []contract.Timer{tm}, false)
	must(t, err)
	c.Version = 2
	inv, _, err := e.Store.CreateInvocation(e.Ctx, invocation(c, "event:r:1", 2, 1))
	must(t, err)
	must(t, e.Store.Close())
	s := e.Reopen()
	gp, err := s.Party(e.Ctx, p.ID)
	must(t, err)
	storetest.WantEqual(t, "party after reopen", gp, p)
	gc, err := s.Contract(e.Ctx, c.ID)
	must(t, err)
	storetest.WantEqual(t, "contract after reopen", gc, c)
	gi, err := s.Invocation(e.Ctx, c.ID, inv.Key)
	must(t, err)
	storetest.WantEqual(t, "invocation after reopen", gi, inv)
	ts, err := s.DueTimers(e.Ctx, at(1), 0)
	must(t, err)
	storetest.WantEqual(t, "due timers after reopen", ts, []contract.Timer{tm})
	inv.Outcome, inv.Fired = contract.OutcomeSucceeded, tm.Key
	must(t, s.FinishInvocation(e.Ctx, inv))
	ts, err = s.DueTimers(e.Ctx, at(1), 0)
	must(t, err)
	storetest.WantEqual(t, "due timers after a finish on the reopened store", timerKeys(ts), []string{})
}
