package contract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// call is one trigger occurrence to invoke.
type call struct {
	key     string
	trigger string
	// t is the document's trigger (nil for activation, termination,
	// expiry and failure paths).
	t        *Trigger
	activate bool
	// end ends the contract with this status after on_terminate.
	end    Status
	reason string
	// actions, when set, are run instead of a trigger's (a failure path).
	actions []Action
	event   map[string]any
	// deposit is set for a deposit into the contract.
	deposit *deposit
	// timer is the timer firing, if any: marked fired with the
	// invocation, and its next occurrence added.
	timer *Timer
	// replayEvent refuses an existing key with ErrReplayed; otherwise the
	// same input returns the invocation recorded.
	replayEvent bool
	// recordRefusal records a refusal by the contract's rules as a failed
	// invocation (a timer must not come back forever).
	recordRefusal bool
	// input and inputHash are the event encoded, once (see inputHash).
	input     json.RawMessage
	inputHash string
}

type deposit struct {
	party  string
	wallet tongbao.ID
	amount tongbao.Amount
}

// PartyWallet returns the wallet of a wallet party of a contract.
func (s *Service) PartyWallet(c Contract, party string) (tongbao.ID, error) {
	d, err := s.Document(c)
	if err != nil {
		return tongbao.ID{}, err
	}
	p, ok := d.Party(party)
	if !ok || p.Wallet == "" {
		return tongbao.ID{}, ErrNotParty
	}
	return tongbao.ParseID(p.Wallet)
}

// PostEvent verifies a signed event (ParseEvent) against its signer's
// registered key and invokes the contract's trigger for its type. It
// returns ErrEvent, ErrUnregistered (unknown signer, or not a signer of
// the contract), ErrSignature, ErrNoTrigger, ErrReplayed for an event id
// of the signer already accepted, and the errors of Invoke.
func (s *Service) PostEvent(ctx context.Context, jws []byte) (Invocation, error) {
	kid, verify, err := ParseEvent(jws)
	if err != nil {
		return Invocation{}, err
	}
	party, err := s.store.Party(ctx, kid)
	if errors.Is(err, ErrPartyNotFound) {
		return Invocation{}, docError(ErrUnregistered, "signer %s is not registered", kid)
	} else if err != nil {
		return Invocation{}, err
	}
	ev, err := verify(party.PublicKey)
	if err != nil {
		return Invocation{}, err
	}
	return s.invoke(ctx, ev.Contract, func(c Contract, d *Document) (call, error) {
		var name string
		for _, p := range d.Parties {
			if p.Signer == kid.String() {
				name = p.Name
			}
		}
		if name == "" {
			return call{}, docError(ErrUnregistered, "signer %s is not a party of contract %s", kid, c.ID)
		}
		var t *Trigger
		for i := range d.Triggers {
			if on := d.Triggers[i].On.Event; on != nil && on.Type == ev.Type && on.Signer == name {
				t = &d.Triggers[i]
			}
		}
		if t == nil {
			return call{}, docError(ErrNoTrigger, "contract %s takes no %s event from %s", c.ID, ev.Type, name)
		}
		data := ev.Data
		if data == nil {
			data = map[string]any{}
		}
		event := map[string]any{"id": ev.ID, "type": ev.Type, "signer": name, "data": data, "issued_at": time.Unix(ev.IssuedAt, 0).UTC()}
		return call{key: "event:" + kid.String() + ":" + ev.ID, t: t, trigger: t.Name, event: event, replayEvent: true}, nil
	})
}

// Request invokes the request trigger name on behalf of party (the caller
// has checked it speaks for the party's wallet). key is the caller's
// idempotency key: the same request again returns the invocation
// recorded, another under the same key tongbao.ErrIDConflict.
//
// A request whose trigger is by AnyWallet is made for wallet (party is
// then empty); the expressions see it as event.wallet.
func (s *Service) Request(ctx context.Context, id tongbao.ID, name, party string, wallet tongbao.ID, key string, data map[string]any) (Invocation, error) {
	return s.invoke(ctx, id, func(c Contract, d *Document) (call, error) {
		var t *Trigger
		for i := range d.Triggers {
			if on := d.Triggers[i].On.Request; on != nil && on.Name == name {
				t = &d.Triggers[i]
			}
		}
		if t == nil {
			return call{}, docError(ErrNoTrigger, "contract %s has no request %q", id, name)
		}
		party, wallet := party, wallet
		switch by := t.On.Request.By; {
		case by == AnyWallet:
			if wallet.IsZero() {
				return call{}, ErrNotParty
			}
			w, err := s.payments.Wallet(ctx, wallet)
			if err != nil {
				return call{}, err
			}
			if w.Operator != c.Operator {
				return call{}, docError(ErrNotParty, "wallet %s is at another operator", wallet)
			}
			party = wallet.String()
		case by != party:
			return call{}, docError(ErrNotParty, "request %s is %s's to make", name, by)
		default:
			p, _ := d.Party(party)
			var err error
			if wallet, err = tongbao.ParseID(p.Wallet); err != nil {
				return call{}, err
			}
		}
		data := JSONValues(data)
		if data == nil {
			data = map[string]any{}
		}
		event := map[string]any{"name": name, "by": party, "wallet": wallet.String(), "data": data}
		return call{key: "request:" + party + ":" + key, t: t, trigger: t.Name, event: event}, nil
	})
}

// Deposit moves amount from a party's wallet into the contract's and runs
// its received triggers, all in one chain. The party must have accepted
// the contract (ErrConsent).
func (s *Service) Deposit(ctx context.Context, id tongbao.ID, party string, amount tongbao.Amount, key string) (Invocation, error) {
	if amount <= 0 {
		return Invocation{}, tongbao.ErrAmountInvalid
	}
	return s.invoke(ctx, id, func(c Contract, d *Document) (call, error) {
		p, ok := d.Party(party)
		if !ok || p.Wallet == "" {
			return call{}, ErrNotParty
		}
		w, err := tongbao.ParseID(p.Wallet)
		if err != nil {
			return call{}, err
		}
		// A refund returns the contract's money to its refund party: only
		// that party may put money in, so nobody's deposit goes to another.
		if d.RefundTo != "" && party != d.RefundTo {
			return call{}, docError(ErrDepositRefused, "only %s deposits into this contract", d.RefundTo)
		}
		event := map[string]any{"amount": int64(amount), "from": party}
		return call{key: "deposit:" + party + ":" + key, trigger: "received", event: event, deposit: &deposit{party: party, wallet: w, amount: amount}}, nil
	})
}

// invoke runs a caller's call (an event, a request, a deposit). An
// invocation the ledger refused is recorded as failed, and answered with
// ErrFundsShort (again for a retry under the same key), so a caller that
// reads only the error learns nothing moved.
//
// build makes the call from the contract as it stands under its lock: one
// read of the contract serves the checks and the invocation.
func (s *Service) invoke(ctx context.Context, id tongbao.ID, build func(Contract, *Document) (call, error)) (Invocation, error) {
	unlock := s.lock(id)
	defer unlock()
	c, err := s.fresh(ctx, id)
	if err != nil {
		return Invocation{}, err
	}
	d, err := s.Document(c)
	if err != nil {
		return Invocation{}, err
	}
	cl, err := build(c, d)
	if err != nil {
		return Invocation{}, err
	}
	inv, err := s.invokeLocked(ctx, c, cl)
	if err == nil && inv.Outcome == OutcomeFailed {
		return inv, docError(ErrFundsShort, "nothing moved: %s", inv.Error)
	}
	return inv, err
}

// balances returns each wallet party's available balance.
func (s *Service) balances(ctx context.Context, d *Document) (map[string]int64, error) {
	out := make(map[string]int64, len(d.Parties))
	for _, p := range d.Parties {
		if p.Wallet == "" {
			continue
		}
		id, _ := tongbao.ParseID(p.Wallet)
		b, err := s.payments.WalletBalance(ctx, id)
		if err != nil {
			return nil, err
		}
		out[p.Name] = int64(b.Available())
	}
	return out, nil
}

// plan plans a call on contract c as of now: the pending invocation to
// record, or the refusal.
func (s *Service) plan(ctx context.Context, c Contract, d *Document, cl call, now time.Time, balance map[string]int64) (Invocation, error) {
	if cl.input == nil {
		cl.input, cl.inputHash = inputHash(cl.event)
	}
	input, ih := cl.input, cl.inputHash
	rt := cloneRuntime(c.Runtime)
	inv := Invocation{ID: invocationID(c.ID, cl.key), Contract: c.ID, Key: cl.key, Trigger: cl.trigger, Input: input, InputHash: ih,
		BaseVersion: c.Version, At: now, Sequence: rt.Invocations + 1, Outcome: OutcomePending}
	p := &planner{s: s, ctx: ctx, doc: d, c: &c, rt: &rt, inv: inv.ID, now: now}
	p.vars = &activation{params: d.Params, state: rt.State, event: cl.event, now: now, contract: contractVars(&rt), balance: balance}
	if p.vars.event == nil {
		p.vars.event = map[string]any{}
	}
	next := c.Status
	var timers []Timer
	if cl.timer != nil {
		inv.Fired = cl.timer.Key
		if t, ok := nextOccurrence(d, *cl.timer, s.loc); ok {
			timers = append(timers, t)
		}
	}
	skipped := false
	var err error
	switch {
	case cl.activate:
		err = p.run("funding", d.Funding)
		next, rt.ActivatedAt, rt.Failure = StatusActive, now, ""
		if err == nil {
			timers, err = firstTimers(c, d, p.vars, now, s.loc)
		}
	case cl.end != "":
		err = p.run("on_terminate", terminateActions(d))
		next, rt.EndedAt, rt.EndReason = cl.end, now, cl.reason
	case cl.actions != nil:
		err = p.run("on_failure", cl.actions)
	case cl.deposit != nil:
		err = p.deposit(d, cl.deposit)
	default:
		var ok bool
		ok, err = p.conditions(cl.t)
		if err == nil && ok {
			err = p.run("trigger "+cl.t.Name, cl.t.Actions)
		}
		skipped = err == nil && !ok
	}
	if err == nil && p.complete && !next.Ended() {
		p.action++
		if err = p.run("on_terminate", terminateActions(d)); err == nil {
			next, rt.EndedAt, rt.EndReason = StatusCompleted, now, "completed by trigger "+cl.trigger
		}
	}
	inv.Conditions, inv.Notices = p.conds, p.notices
	if err != nil {
		if !cl.recordRefusal || tongbao.ErrorCode(err) == tongbao.EINTERNAL || tongbao.ErrorCode(err) == tongbao.EUNAVAILABLE {
			return Invocation{}, err
		}
		// A refusal by the contract's rules, recorded: nothing moves,
		// the runtime stays but for the count.
		base := cloneRuntime(c.Runtime)
		base.Invocations++
		inv.Outcome, inv.Error, inv.Next, inv.NextStatus, inv.Timers = OutcomeFailed, describe(err), base, c.Status, timers
		return inv, nil
	}
	rt.Invocations++
	// Only the open holds stay in the runtime, which every invocation
	// rewrites: a posted or voided one is in its invocation's moves, and
	// keeping them would grow the runtime with every hold a repeating
	// trigger makes.
	rt.Holds = slices.DeleteFunc(rt.Holds, func(h HoldRecord) bool { return h.Status != HoldOpen })
	inv.Moves, inv.Next, inv.NextStatus, inv.Timers = p.moves, rt, next, timers
	if skipped {
		inv.Outcome = OutcomeSkipped
	}
	return inv, nil
}

// deposit plans a deposit and the received triggers.
func (p *planner) deposit(d *Document, dep *deposit) error {
	if err := p.debit(dep.party); err != nil {
		return err
	}
	p.action++
	p.move("transfer", dep.wallet, p.c.Wallet, dep.amount, tongbao.ID{}, 0)
	p.rt.Balance += dep.amount
	p.rt.TakenIn += dep.amount
	p.vars.contract = contractVars(p.rt)
	for i := range d.Triggers {
		t := &d.Triggers[i]
		if t.On.Received == nil {
			continue
		}
		ok, err := p.conditions(t)
		if err != nil {
			return err
		}
		if ok {
			if err := p.run("trigger "+t.Name, t.Actions); err != nil {
				return err
			}
		}
	}
	return nil
}

func terminateActions(d *Document) []Action {
	if len(d.OnTerminate) > 0 {
		return d.OnTerminate
	}
	return []Action{{Refund: &RefundAction{}}}
}

// describe is how an invocation records an error: its problem name and
// message.
func describe(err error) string {
	kind := tongbao.ErrorKind(err)
	if kind == "" {
		kind = strings.ToLower(tongbao.ErrorCode(err))
	}
	return kind + ": " + tongbao.ErrorMessage(err)
}

// invokeLocked plans, records, moves and finishes one call. The
// contract's lock must be held and c be fresh.
func (s *Service) invokeLocked(ctx context.Context, c Contract, cl call) (Invocation, error) {
	d, err := s.Document(c)
	if err != nil {
		return Invocation{}, err
	}
	cl.input, cl.inputHash = inputHash(cl.event)
	ih := cl.inputHash
	if old, err := s.store.Invocation(ctx, c.ID, cl.key); err == nil {
		switch {
		case cl.replayEvent:
			return old, docError(ErrReplayed, "%s was accepted before (invocation %s)", strings.TrimPrefix(cl.key, "event:"), old.ID)
		case old.InputHash != ih:
			return old, tongbao.ErrIDConflict
		}
		return old, nil
	} else if !errors.Is(err, ErrInvocationNotFound) {
		return Invocation{}, err
	}
	if !cl.activate && cl.end == "" {
		switch c.Status {
		case StatusPending:
			return Invocation{}, ErrNotActive
		case StatusPaused:
			return Invocation{}, ErrPaused
		case StatusCompleted, StatusTerminated:
			return Invocation{}, ErrEnded
		}
	}
	balance, err := s.balances(ctx, d)
	if err != nil {
		return Invocation{}, err
	}
	inv, err := s.plan(ctx, c, d, cl, s.clock.Now(), balance)
	if err != nil {
		return Invocation{}, err
	}
	if inv.Outcome != OutcomePending || len(inv.Moves) == 0 {
		if inv.Outcome == OutcomePending {
			inv.Outcome = OutcomeSucceeded
		}
		inv.Finished = inv.At
		if _, _, err := s.store.CreateInvocation(ctx, inv); err != nil {
			return Invocation{}, err
		}
		if err := s.store.FinishInvocation(ctx, inv); err != nil {
			s.markUnfinished(c.ID, true)
			return Invocation{}, err
		}
		return inv, nil
	}
	stored, created, err := s.store.CreateInvocation(ctx, inv)
	if err != nil {
		return Invocation{}, err
	}
	if !created {
		inv = stored
	}
	return s.finish(ctx, c, d, inv)
}

func (s *Service) markUnfinished(id tongbao.ID, on bool) {
	s.unfinishedMu.Lock()
	defer s.unfinishedMu.Unlock()
	if on {
		s.unfinished[id] = true
	} else {
		delete(s.unfinished, id)
	}
}

// finish submits a recorded invocation's moves (again, after a crash: the
// ledger answers a chain it has as a duplicate, or with the same
// failure) and records the outcome with the contract's new runtime. c is
// the contract at inv.BaseVersion.
func (s *Service) finish(ctx context.Context, c Contract, d *Document, inv Invocation) (Invocation, error) {
	if _, err := s.payments.Move(ctx, c.Operator, toMoves(&c, inv.Key, inv.Moves)); err != nil {
		if !refusedByLedger(err) {
			s.markUnfinished(c.ID, true)
			return inv, err
		}
		inv = s.failed(c, d, inv, err)
	} else {
		inv.Outcome = OutcomeSucceeded
	}
	inv.Finished = s.clock.Now()
	if err := s.store.FinishInvocation(ctx, inv); err != nil {
		s.markUnfinished(c.ID, true)
		return inv, err
	}
	s.markUnfinished(c.ID, false)
	if inv.Outcome == OutcomeFailed {
		if err := s.failurePath(ctx, c.ID, d, inv); err != nil {
			return inv, err
		}
	}
	return inv, nil
}

// failed turns a planned invocation the ledger refused into its failed
// record: nothing moved, the runtime as it was (but for the count and, for
// an activation, the reason), the next occurrence still due, and a retry
// timer if the trigger's policy has attempts left.
func (s *Service) failed(c Contract, d *Document, inv Invocation, err error) Invocation {
	base := cloneRuntime(c.Runtime)
	base.Invocations++
	inv.Outcome, inv.Error, inv.NextStatus = OutcomeFailed, describe(err), c.Status
	if inv.Trigger == "activate" {
		base.Failure = inv.Error
		inv.Timers = nil
	}
	inv.Next = base
	t := findTrigger(d, inv.Trigger)
	if t == nil || t.OnFailure == nil || strings.HasPrefix(inv.Key, "failure:") {
		return inv
	}
	attempt, orig := retryOf(inv.Key)
	if r := t.OnFailure.Retry; r != nil && attempt < r.Times {
		every, _ := duration(r.Every, EveryMin)
		inv.Timers = append(inv.Timers, Timer{Contract: c.ID, Key: fmt.Sprintf("retry:%d:%s", attempt+1, orig), Trigger: inv.Trigger,
			DueAt: inv.At.Add(every), N: attempt + 1, Of: orig})
	} else if len(t.OnFailure.Actions) > 0 {
		// The failure path is a timer due at once, written with this
		// outcome: a crash before it runs cannot lose it.
		inv.Timers = append(inv.Timers, Timer{Contract: c.ID, Key: "failure:" + orig, Trigger: inv.Trigger, DueAt: inv.At, Of: orig})
	}
	return inv
}

// failurePath runs at once the failure path a failed invocation left due
// (its timer, see failed), so a caller sees its effect; after a crash
// RunDue runs it.
func (s *Service) failurePath(ctx context.Context, id tongbao.ID, d *Document, inv Invocation) error {
	for _, t := range inv.Timers {
		if strings.HasPrefix(t.Key, "failure:") {
			c, err := s.store.Contract(ctx, id)
			if err != nil {
				return err
			}
			if c.Status != StatusActive {
				return nil // it waits for a resume, or an end marks it
			}
			cl, err := s.failureCall(ctx, c, d, t)
			if err != nil {
				return err
			}
			_, err = s.invokeLocked(ctx, c, cl)
			return err
		}
	}
	return nil
}

// failureCall is the call of a failure path's timer: the trigger's
// on_failure actions, on the input of the invocation that first failed.
func (s *Service) failureCall(ctx context.Context, c Contract, d *Document, t Timer) (call, error) {
	tr := findTrigger(d, t.Trigger)
	if tr == nil || tr.OnFailure == nil {
		return call{}, fmt.Errorf("contract %s: failure timer %s names no failure path", c.ID, t.Key)
	}
	orig, err := s.store.Invocation(ctx, c.ID, t.Of)
	if err != nil {
		return call{}, err
	}
	event, err := decodeInput(orig.Input)
	if err != nil {
		return call{}, err
	}
	return call{key: t.Key, trigger: t.Trigger, actions: tr.OnFailure.Actions, event: event, timer: &t, recordRefusal: true}, nil
}

// retryOf returns the attempt a key is (0 for the first) and the key of
// the first attempt.
func retryOf(key string) (int, string) {
	if !strings.HasPrefix(key, "retry:") {
		return 0, key
	}
	rest := strings.TrimPrefix(key, "retry:")
	n, orig, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, key
	}
	attempt, err := strconv.Atoi(n)
	if err != nil {
		return 0, key
	}
	return attempt, orig
}

func findTrigger(d *Document, name string) *Trigger {
	for i := range d.Triggers {
		if d.Triggers[i].Name == name {
			return &d.Triggers[i]
		}
	}
	return nil
}

// Recover finishes every invocation left pending (by a crash, or a ledger
// that was unavailable): run it when the node starts, before the
// scheduler, and it is what makes every trigger take effect exactly once.
func (s *Service) Recover(ctx context.Context) (int, error) {
	n := 0
	for {
		invs, err := s.store.PendingInvocations(ctx, ListMax)
		if err != nil {
			return n, err
		}
		if len(invs) == 0 {
			return n, nil
		}
		for _, inv := range invs {
			unlock := s.lock(inv.Contract)
			err := s.recoverLocked(ctx, inv)
			unlock()
			if err != nil {
				return n, err
			}
			n++
		}
	}
}

// recover finishes the pending invocations of one contract; its lock
// must be held.
func (s *Service) recover(ctx context.Context, id tongbao.ID) error {
	invs, err := s.store.PendingInvocations(ctx, ListMax)
	if err != nil {
		return err
	}
	for _, inv := range invs {
		if inv.Contract == id {
			if err := s.recoverLocked(ctx, inv); err != nil {
				return err
			}
		}
	}
	s.markUnfinished(id, false)
	return nil
}

func (s *Service) recoverLocked(ctx context.Context, inv Invocation) error {
	// Read again under the lock: another caller may have finished it
	// since the list was read.
	inv, err := s.store.Invocation(ctx, inv.Contract, inv.Key)
	if err != nil {
		return err
	}
	if inv.Outcome != OutcomePending {
		return nil
	}
	c, err := s.store.Contract(ctx, inv.Contract)
	if err != nil {
		return err
	}
	if c.Version != inv.BaseVersion {
		// Cannot happen: an invocation is finished before the next is
		// planned. Stop rather than apply a runtime planned on another.
		return fmt.Errorf("contract %s: pending invocation %s planned on version %d, contract at %d", c.ID, inv.Key, inv.BaseVersion, c.Version)
	}
	d, err := s.Document(c)
	if err != nil {
		return err
	}
	_, err = s.finish(ctx, c, d, inv)
	return err
}
