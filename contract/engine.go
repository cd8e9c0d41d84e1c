package contract

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/twotier"
)

// Config configures a Service. Payments and Store are required.
type Config struct {
	Payments *twotier.Service
	Store    Store
	Clock    tongbao.Clock
	// Location is the calendar of daily limits and calendar triggers;
	// Asia/Shanghai when nil.
	Location *time.Location
}

// Service runs contracts on a twotier.Service.
type Service struct {
	payments *twotier.Service
	store    Store
	clock    tongbao.Clock
	loc      *time.Location

	// locks serialise the invocations of one contract in this process;
	// only the writer node invokes, so that is every invocation.
	locks [256]sync.Mutex

	// docs are the decoded documents by hash, within docsBudget bytes
	// of canonical JSON.
	docs *cache[*Document]

	// unfinished names the contracts with an invocation left pending (its
	// ledger call failed as a whole): it is finished before the next.
	unfinishedMu sync.Mutex
	unfinished   map[tongbao.ID]bool

	wakeOnce sync.Once
	wake     chan struct{}
}

const docsBudget = 16 << 20

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Payments == nil || cfg.Store == nil {
		return nil, errors.New("contract: payments and store are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = tongbao.SystemClock{}
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation(ledger.DefaultTimeZone)
		if err != nil {
			return nil, err
		}
		cfg.Location = loc
	}
	return &Service{payments: cfg.Payments, store: cfg.Store, clock: cfg.Clock, loc: cfg.Location,
		docs: newCache[*Document](docsBudget), unfinished: map[tongbao.ID]bool{}}, nil
}

// Now returns the service's clock's time.
func (s *Service) Now() time.Time { return s.clock.Now() }

func (s *Service) lock(id tongbao.ID) func() {
	h := fnv.New32a()
	h.Write(id[:])
	m := &s.locks[h.Sum32()%uint32(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// RegisterSpec is what RegisterParty needs.
type RegisterSpec struct {
	ID        tongbao.ID
	Operator  tongbao.ID
	Name      string
	PublicKey []byte
}

// RegisterParty registers an external party's Ed25519 public key. The
// same spec again returns the party; another under its id,
// ErrPartyExists.
func (s *Service) RegisterParty(ctx context.Context, spec RegisterSpec) (Party, error) {
	if spec.ID.IsZero() {
		spec.ID = tongbao.NewID()
	}
	if len(spec.PublicKey) != ed25519.PublicKeySize {
		return Party{}, tongbao.Errorf(tongbao.EINVALID, "a party's public key is %d bytes of Ed25519", ed25519.PublicKeySize)
	}
	if spec.Name == "" || len(spec.Name) > TextMax {
		return Party{}, tongbao.Errorf(tongbao.EINVALID, "a party needs a name of at most %d bytes", TextMax)
	}
	p := Party{ID: spec.ID, Operator: spec.Operator, Name: spec.Name, PublicKey: spec.PublicKey, CreatedAt: s.clock.Now()}
	err := s.store.CreateParty(ctx, p)
	if errors.Is(err, ErrPartyExists) {
		old, gerr := s.store.Party(ctx, spec.ID)
		if gerr == nil && string(old.PublicKey) == string(p.PublicKey) && old.Name == p.Name && old.Operator == p.Operator {
			return old, nil
		}
	}
	if err != nil {
		return Party{}, err
	}
	return p, nil
}

// Party returns a registered party, or ErrPartyNotFound.
func (s *Service) Party(ctx context.Context, id tongbao.ID) (Party, error) {
	return s.store.Party(ctx, id)
}

// DeploySpec is what Deploy needs: a document, or a template with its
// parties and params.
type DeploySpec struct {
	Operator tongbao.ID
	// Document is a document in JSON or YAML.
	Document []byte
	// Template names a template (Templates); Parties maps its party names
	// to wallet or signer ids, Params sets its params, Reference tells
	// contracts of one template apart.
	Template  string
	Parties   map[string]string
	Params    map[string]any
	Reference string
	// By names who deployed it (a key id).
	By string
}

// ContractID returns the id of the contract whose document has hash.
func ContractID(hash string) tongbao.ID { return tongbao.DeriveID("tongbao/contract", hash) }

func contractWallet(id tongbao.ID) tongbao.ID { return tongbao.DeriveID("tongbao/contract/wallet", id) }

// Deploy checks a document (its schema, its expressions' types and
// costs, its parties: wallets at the operator, signers registered) and
// stores it as a pending contract with its own wallet. The same document
// again returns the contract already deployed and false.
func (s *Service) Deploy(ctx context.Context, spec DeploySpec) (Contract, bool, error) {
	data := spec.Document
	if spec.Template != "" {
		var err error
		if data, err = FromTemplate(spec.Template, spec.Parties, spec.Params, spec.Reference); err != nil {
			return Contract{}, false, err
		}
	}
	d, canon, hash, err := Decode(data)
	if err != nil {
		return Contract{}, false, err
	}
	if err := CheckExpressions(d); err != nil {
		return Contract{}, false, err
	}
	for _, p := range d.Parties {
		if p.Wallet != "" {
			id, _ := tongbao.ParseID(p.Wallet)
			w, err := s.payments.Wallet(ctx, id)
			if err != nil {
				return Contract{}, false, fmt.Errorf("party %s: %w", p.Name, err)
			}
			if w.Operator != spec.Operator {
				return Contract{}, false, docError(twotier.ErrMoveAcross, "party %s: wallet %s is at another operator", p.Name, id)
			}
			if w.Kind == twotier.WalletContract || w.Kind == twotier.WalletScenario {
				return Contract{}, false, docError(ErrSchema, "party %s: a %s wallet cannot be a party", p.Name, w.Kind)
			}
		} else {
			id, _ := tongbao.ParseID(p.Signer)
			if _, err := s.store.Party(ctx, id); errors.Is(err, ErrPartyNotFound) {
				return Contract{}, false, docError(ErrUnregistered, "party %s: signer %s is not registered", p.Name, id)
			} else if err != nil {
				return Contract{}, false, err
			}
		}
	}
	id := ContractID(hash)
	if old, err := s.store.Contract(ctx, id); err == nil {
		return old, false, nil
	} else if !errors.Is(err, ErrContractNotFound) {
		return Contract{}, false, err
	}
	// The wallet first: a contract record always has its wallet.
	w, err := s.payments.OpenContractWallet(ctx, contractWallet(id), spec.Operator)
	if err != nil {
		return Contract{}, false, err
	}
	now := s.clock.Now()
	c := Contract{ID: id, Hash: hash, Operator: spec.Operator, Wallet: w.ID, Document: canon, Status: StatusPending,
		Runtime: Runtime{Consents: map[string]Consent{}, State: map[string]any{}}, DeployedBy: spec.By, DeployedAt: now, UpdatedAt: now}
	stored, created, err := s.store.CreateContract(ctx, c)
	if err != nil {
		return Contract{}, false, err
	}
	return stored, created, nil
}

// CheckExpressions compiles every expression of a document against the
// CEL environment: ErrCondition for one that does not compile or has the
// wrong type, ErrConditionCost for one whose worst case costs more than
// CostLimit.
func CheckExpressions(d Document) error {
	var err error
	check := func(where, expr string, want expect) {
		if err != nil || expr == "" {
			return
		}
		if want == expectInt {
			if _, ok := literalAmount(expr); ok {
				return
			}
		}
		if want == expectTimestamp {
			if _, perr := time.Parse(time.RFC3339, expr); perr == nil {
				return
			}
		}
		_, err = compile(where, expr, want)
	}
	var actions func(where string, as []Action)
	actions = func(where string, as []Action) {
		for i, a := range as {
			at := fmt.Sprintf("%s action %d", where, i+1)
			switch {
			case a.Hold != nil:
				check(at, a.Hold.Amount, expectInt)
			case a.Release != nil:
				check(at, a.Release.Amount, expectInt)
			case a.Refund != nil:
				check(at, a.Refund.Amount, expectInt)
			case a.Transfer != nil:
				check(at, a.Transfer.Amount, expectInt)
				check(at, a.Transfer.ToExpr, expectString)
			case a.Split != nil:
				check(at, a.Split.Amount, expectInt)
			case a.Notify != nil:
				check(at, a.Notify.Message, expectString)
			case a.Set != nil:
				check(at, a.Set.Value, expectAny)
				check(at, a.Set.Key, expectString)
			}
		}
	}
	actions("funding", d.Funding)
	actions("on_terminate", d.OnTerminate)
	check("expires_at", d.ExpiresAt, expectTimestamp)
	for _, t := range d.Triggers {
		where := "trigger " + t.Name
		check(where+" when", t.When, expectBool)
		for i, r := range t.Require {
			check(fmt.Sprintf("%s require %d", where, i+1), r.Expr, expectBool)
		}
		check(where+" at", t.On.At, expectTimestamp)
		if t.On.Every != nil {
			check(where+" start", t.On.Every.Start, expectTimestamp)
		}
		if t.On.Calendar != nil {
			check(where+" start", t.On.Calendar.Start, expectTimestamp)
		}
		actions(where, t.Actions)
		if t.OnFailure != nil {
			actions(where+" on_failure", t.OnFailure.Actions)
		}
	}
	return err
}

// Contract returns a contract, or ErrContractNotFound.
func (s *Service) Contract(ctx context.Context, id tongbao.ID) (Contract, error) {
	return s.store.Contract(ctx, id)
}

// Contracts returns a page of an operator's contracts (every operator's
// for a zero operator).
func (s *Service) Contracts(ctx context.Context, operator, after tongbao.ID, limit int) ([]Contract, error) {
	return s.store.Contracts(ctx, operator, after, limit)
}

// Invocations returns a page of a contract's invocations, oldest first.
func (s *Service) Invocations(ctx context.Context, id tongbao.ID, after int64, limit int) ([]Invocation, error) {
	return s.store.Invocations(ctx, id, after, limit)
}

// Document returns a contract's document.
func (s *Service) Document(c Contract) (*Document, error) {
	if d, ok := s.docs.get(c.Hash); ok {
		return d, nil
	}
	var doc Document
	dec := json.NewDecoder(bytes.NewReader(c.Document))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("contract %s: stored document: %w", c.ID, err)
	}
	if err := doc.normalizeParams(); err != nil {
		return nil, err
	}
	s.docs.put(c.Hash, &doc, len(c.Document))
	return &doc, nil
}

// Accept records a party's consent to a contract's hash: the caller has
// checked that by speaks for the party's wallet. When the last party whose
// wallet the contract debits accepts, the contract's funding runs and it
// becomes active; if the funding fails (funds short), it stays pending
// with the reason, and accepting again retries it. It returns
// ErrHashMismatch for another hash, ErrEnded for an ended contract.
func (s *Service) Accept(ctx context.Context, id tongbao.ID, party, hash, by string) (Contract, error) {
	unlock := s.lock(id)
	defer unlock()
	c, err := s.fresh(ctx, id)
	if err != nil {
		return Contract{}, err
	}
	if hash != c.Hash {
		return Contract{}, ErrHashMismatch
	}
	if c.Status.Ended() {
		return Contract{}, ErrEnded
	}
	d, err := s.Document(c)
	if err != nil {
		return Contract{}, err
	}
	if p, ok := d.Party(party); !ok || p.Wallet == "" {
		return Contract{}, ErrNotParty
	}
	if _, ok := c.Runtime.Consents[party]; !ok {
		c.Runtime = cloneRuntime(c.Runtime)
		c.Runtime.Consents[party] = Consent{At: s.clock.Now(), By: by}
		if c.Version, err = s.store.UpdateContract(ctx, c, nil, false); err != nil {
			return Contract{}, err
		}
	}
	if c.Status != StatusPending {
		return c, nil
	}
	for _, name := range d.DebitedParties() {
		if _, ok := c.Runtime.Consents[name]; !ok {
			return c, nil
		}
	}
	inv, err := s.invokeLocked(ctx, c, call{key: fmt.Sprintf("activate:%d", c.Runtime.Invocations), trigger: "activate", activate: true})
	if err != nil {
		return Contract{}, err
	}
	c, err = s.store.Contract(ctx, id)
	if err != nil {
		return Contract{}, err
	}
	if inv.Outcome == OutcomeFailed {
		return c, docError(ErrFundsShort, "the contract's funding failed: %s", inv.Error)
	}
	return c, nil
}

// Pause stops a contract taking triggers; its timers wait.
func (s *Service) Pause(ctx context.Context, id tongbao.ID) (Contract, error) {
	return s.setStatus(ctx, id, StatusActive, StatusPaused)
}

// Resume lets a paused contract take triggers again; timers that came
// due meanwhile fire at once.
func (s *Service) Resume(ctx context.Context, id tongbao.ID) (Contract, error) {
	return s.setStatus(ctx, id, StatusPaused, StatusActive)
}

func (s *Service) setStatus(ctx context.Context, id tongbao.ID, from, to Status) (Contract, error) {
	unlock := s.lock(id)
	defer unlock()
	c, err := s.fresh(ctx, id)
	if err != nil {
		return Contract{}, err
	}
	switch {
	case c.Status == to:
		return c, nil
	case c.Status.Ended():
		return Contract{}, ErrEnded
	case c.Status != from:
		return Contract{}, tongbao.Errorf(tongbao.ECONFLICT, "the contract is %s, not %s", c.Status, from)
	}
	c.Status = to
	if c.Version, err = s.store.UpdateContract(ctx, c, nil, false); err != nil {
		return Contract{}, err
	}
	return c, nil
}

// Terminate ends a contract: its on_terminate actions (by default, holds
// voided and the money it has returned to the refund party) run as its
// last invocation, and its timers are dropped.
func (s *Service) Terminate(ctx context.Context, id tongbao.ID, reason string) (Invocation, error) {
	if len(reason) > TextMax {
		return Invocation{}, tongbao.Errorf(tongbao.EINVALID, "a reason of at most %d bytes", TextMax)
	}
	unlock := s.lock(id)
	defer unlock()
	c, err := s.fresh(ctx, id)
	if err != nil {
		return Invocation{}, err
	}
	if c.Status.Ended() {
		return Invocation{}, ErrEnded
	}
	return s.invokeLocked(ctx, c, call{key: "terminate", trigger: "terminate", end: StatusTerminated, reason: reason, event: map[string]any{"reason": reason}})
}

// fresh returns a contract after finishing an invocation left pending on
// it. The contract's lock must be held.
func (s *Service) fresh(ctx context.Context, id tongbao.ID) (Contract, error) {
	s.unfinishedMu.Lock()
	pending := s.unfinished[id]
	s.unfinishedMu.Unlock()
	if pending {
		if err := s.recover(ctx, id); err != nil {
			return Contract{}, err
		}
	}
	return s.store.Contract(ctx, id)
}

func inputHash(v any) (json.RawMessage, string) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("contract: input does not encode: %v", err))
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

func invocationID(contract tongbao.ID, key string) tongbao.ID {
	return tongbao.DeriveID("tongbao/contract/invocation", contract, key)
}
