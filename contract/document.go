package contract

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	tongbao "github.com/tongbao/tongbao"
)

// FormatVersion is the version of the contract document format.
const FormatVersion = 1

// Limits of a document.
const (
	DocumentMax     = 64 << 10 // bytes
	PartiesMax      = 16
	TriggersMax     = 32
	ActionsMax      = 16 // per trigger
	SharesMax       = 16
	ExprMax         = 2048 // bytes of one CEL expression
	NameMax         = 64
	ParamsMax       = 32
	OccurrencesMax  = 1200
	RetriesMax      = 10
	TextMax         = 200
	HoldTimeoutMax  = 366 * 24 * time.Hour
	EveryMin        = time.Minute
	ReferenceMax    = 128
	MessageMax      = 500
	remainderFirst  = "first"
	remainderLast   = "last"
	remainderLarger = "largest"
)

// Document is a contract as written: parties and their roles, funding,
// triggers, conditions, actions, limits and the paths for failure and
// termination. It is JSON (YAML accepted) and must match Schema.
type Document struct {
	Format int    `json:"tongbao_contract"`
	Name   string `json:"name"`
	// Reference tells apart contracts otherwise the same (an order
	// number): the id is the hash of the whole document.
	Reference string `json:"reference,omitempty"`
	Template  string `json:"template,omitempty"`
	Currency  string `json:"currency,omitempty"`
	// Params are named values the expressions read as params.<name>:
	// strings, integers, booleans or lists of strings.
	Params  map[string]any `json:"params,omitempty"`
	Parties []PartySpec    `json:"parties"`
	// Funding runs once, when the last consent arrives; its failure
	// (funds short) leaves the contract pending.
	Funding  []Action  `json:"funding,omitempty"`
	Triggers []Trigger `json:"triggers"`
	Limits   *Limits   `json:"limits,omitempty"`
	// Purpose restricts where money may go that the contract pays to a
	// wallet not among its parties (purpose-bound money): the scenario
	// rules of merchants, merchant categories and regions.
	Purpose *Purpose `json:"purpose,omitempty"`
	// RefundTo is the party a refund returns posted money to; the first
	// funder when empty.
	RefundTo string `json:"refund_to,omitempty"`
	// OnTerminate runs when the contract is terminated or completes; a
	// refund of everything still held when empty.
	OnTerminate []Action `json:"on_terminate,omitempty"`
	// ExpiresAt, when set, completes the contract at that moment (after
	// running OnTerminate).
	ExpiresAt string `json:"expires_at,omitempty"`
}

// PartySpec is a party of a contract: a wallet, or an external signer.
type PartySpec struct {
	Name string `json:"name"`
	// Wallet is the party's wallet id (a holder, a merchant, an
	// institution's wallet). A party whose wallet an action debits must
	// consent to the contract's hash.
	Wallet string `json:"wallet,omitempty"`
	// Signer is the id of a registered external party whose signed
	// events the contract accepts under this name.
	Signer string `json:"signer,omitempty"`
}

// Trigger is what makes a contract act: one of its On kinds, a when
// condition, requirements that refuse the call, and actions.
type Trigger struct {
	Name string `json:"name"`
	On   On     `json:"on"`
	// When is a CEL bool: false records the invocation as skipped.
	When string `json:"when,omitempty"`
	// Require are CEL bools: a false one refuses the call with its
	// problem, nothing recorded.
	Require   []Requirement `json:"require,omitempty"`
	Actions   []Action      `json:"actions"`
	OnFailure *Failure      `json:"on_failure,omitempty"`
}

// On names a trigger's kind; exactly one field is set.
type On struct {
	// Received fires when money is deposited into the contract.
	Received *struct{} `json:"received,omitempty"`
	// Event fires on an event of a type signed by a signer party.
	Event *EventOn `json:"event,omitempty"`
	// Request fires when the named wallet party asks through the API.
	Request *RequestOn `json:"request,omitempty"`
	// At fires once at a moment (RFC 3339, or CEL of type timestamp over
	// params); Every repeatedly; Calendar on days of the month.
	At       string      `json:"at,omitempty"`
	Every    *EveryOn    `json:"every,omitempty"`
	Calendar *CalendarOn `json:"calendar,omitempty"`
}

// EventOn is a signed event trigger.
type EventOn struct {
	Type   string `json:"type"`
	Signer string `json:"signer"`
}

// RequestOn is a trigger a wallet party (or, with By "any", any wallet)
// calls.
type RequestOn struct {
	Name string `json:"name"`
	By   string `json:"by"`
}

// EveryOn fires every Interval from Start (RFC 3339 or CEL; the
// activation when empty), Count times (at most OccurrencesMax).
type EveryOn struct {
	Interval string `json:"interval"`
	Start    string `json:"start,omitempty"`
	Count    int    `json:"count"`
}

// CalendarOn fires on a day of each month at a time of day in
// Asia/Shanghai, Count times, from the first such moment after Start (or
// the activation).
type CalendarOn struct {
	Day   int    `json:"day"`
	Time  string `json:"time"` // HH:MM
	Start string `json:"start,omitempty"`
	Count int    `json:"count"`
}

// Requirement is a CEL bool that must hold, or the call is refused with
// Error (a problem name of the contract domain).
type Requirement struct {
	Expr  string `json:"expr"`
	Error string `json:"error"`
}

// Failure is what happens when a trigger's chain fails in the ledger
// (funds short, a cap): retries, then Actions (the final failure path).
type Failure struct {
	Retry   *Retry   `json:"retry,omitempty"`
	Actions []Action `json:"actions,omitempty"`
}

// Retry retries a failed trigger Times, Every apart.
type Retry struct {
	Times int    `json:"times"`
	Every string `json:"every"`
}

// Limits bound the money a contract moves: each move, each calendar day
// (Asia/Shanghai) and in all; decimal amounts, empty for none.
type Limits struct {
	PerAction string `json:"per_action,omitempty"`
	PerDay    string `json:"per_day,omitempty"`
	Total     string `json:"total,omitempty"`
}

// Purpose is where purpose-bound money may be spent.
type Purpose struct {
	Merchants  []string `json:"merchants,omitempty"`
	Categories []string `json:"categories,omitempty"`
	Regions    []string `json:"regions,omitempty"`
}

// Action is one step; exactly one field is set.
type Action struct {
	Hold     *HoldAction     `json:"hold,omitempty"`
	Release  *ReleaseAction  `json:"release,omitempty"`
	Refund   *RefundAction   `json:"refund,omitempty"`
	Transfer *TransferAction `json:"transfer,omitempty"`
	Split    *SplitAction    `json:"split,omitempty"`
	Notify   *NotifyAction   `json:"notify,omitempty"`
	Set      *SetAction      `json:"set,omitempty"`
	Complete *struct{}       `json:"complete,omitempty"`
}

// An amount in an action is a decimal number of yuan ("120.00"), or a
// CEL expression of type int giving fen ("amount(params.price)").

// HoldAction holds Amount of From's wallet for the contract (a ledger
// hold); it lapses after Timeout (a Go duration; never when empty).
type HoldAction struct {
	From    string `json:"from"`
	Amount  string `json:"amount"`
	Timeout string `json:"timeout,omitempty"`
}

// ReleaseAction posts every open hold into the contract's wallet and pays
// Amount (everything it has when empty) to To.
type ReleaseAction struct {
	To     string `json:"to"`
	Amount string `json:"amount,omitempty"`
}

// RefundAction voids every open hold and returns Amount of the contract's
// posted money (all when empty) to To (RefundTo when empty).
type RefundAction struct {
	To     string `json:"to,omitempty"`
	Amount string `json:"amount,omitempty"`
}

// TransferAction moves Amount from a wallet party (or "contract") to a
// party, or to the wallet id ToExpr evaluates to.
type TransferAction struct {
	From   string `json:"from"`
	To     string `json:"to,omitempty"`
	ToExpr string `json:"to_expr,omitempty"`
	Amount string `json:"amount"`
}

// SplitAction moves Amount from a wallet party (or "contract") to several
// parties by integer shares; the fen left after rounding down go to the
// first, last or largest share (Remainder), so none is lost or created.
type SplitAction struct {
	From      string  `json:"from"`
	Amount    string  `json:"amount"`
	Shares    []Share `json:"shares"`
	Remainder string  `json:"remainder"`
}

// Share is one part of a split.
type Share struct {
	To     string `json:"to"`
	Weight int64  `json:"weight"`
}

// NotifyAction records a message (a CEL string, or text in quotes) for
// the webhooks to come.
type NotifyAction struct {
	Message string `json:"message"`
}

// SetAction sets state.<Name> (or, with Key, state.<Name>[key]) to the
// value of the CEL expression Value.
type SetAction struct {
	Name  string `json:"name"`
	Key   string `json:"key,omitempty"`
	Value string `json:"value"`
}

// AnyWallet in a request's by lets any wallet at the contract's operator
// make it (a voucher's beneficiaries); the expressions see the wallet as
// event.wallet.
const AnyWallet = "any"

// ContractParty is the pseudo-party of the contract's own wallet in a
// transfer or split.
const ContractParty = "contract"

var (
	nameRE   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	amountRE = regexp.MustCompile(`^[0-9]{1,13}(\.[0-9]{1,2})?$`)
	clockRE  = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
)

// Decode reads a document in JSON or YAML, checks it against Schema, and
// returns it with its canonical JSON and hash. Errors are ErrDocument
// (malformed) or ErrSchema (well formed, but not a contract).
func Decode(data []byte) (Document, []byte, string, error) {
	if len(data) > DocumentMax {
		return Document{}, nil, "", docError(ErrDocument, "document is longer than %d bytes", DocumentMax)
	}
	js, err := toJSON(data)
	if err != nil {
		return Document{}, nil, "", err
	}
	var raw any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return Document{}, nil, "", docError(ErrDocument, "%v", err)
	}
	if err := validateSchema(raw); err != nil {
		return Document{}, nil, "", err
	}
	// The strict decoder below needs the members' own JSON again.
	var d Document
	dec = json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		return Document{}, nil, "", docError(ErrSchema, "%v", err)
	}
	if err := d.normalizeParams(); err != nil {
		return Document{}, nil, "", err
	}
	if err := d.check(); err != nil {
		return Document{}, nil, "", err
	}
	canon, sum, err := d.Canonical()
	if err != nil {
		return Document{}, nil, "", err
	}
	return d, canon, sum, nil
}

// toJSON returns data as JSON: JSON as it is (checked for valid UTF-8 and
// duplicate members by the decoder later), YAML converted.
func toJSON(data []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, docError(ErrDocument, "document is empty")
	}
	if trimmed[0] == '{' {
		if err := checkDuplicates(trimmed); err != nil {
			return nil, err
		}
		return trimmed, nil
	}
	// YAML 1.2 (yaml/v3): "on", "no" and times stay strings, a key twice
	// is an error.
	// Anchors and aliases are refused: a contract needs none, and they
	// let a small document expand into a huge one.
	var node yaml.Node
	if err := yaml.Unmarshal(data, &node); err != nil {
		return nil, docError(ErrDocument, "yaml: %s", strings.ReplaceAll(err.Error(), "\n", " "))
	}
	if err := plainYAML(&node, 0); err != nil {
		return nil, err
	}
	var v any
	if err := node.Decode(&v); err != nil {
		return nil, docError(ErrDocument, "yaml: %s", strings.ReplaceAll(err.Error(), "\n", " "))
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, docError(ErrDocument, "yaml: a document of string keys and plain values only")
	}
	return js, nil
}

// yamlDepthMax bounds the nesting of a YAML document.
const yamlDepthMax = 32

// plainYAML refuses anchors, aliases and nesting deeper than
// yamlDepthMax.
func plainYAML(n *yaml.Node, depth int) error {
	if depth > yamlDepthMax {
		return docError(ErrDocument, "yaml: nested deeper than %d", yamlDepthMax)
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return docError(ErrDocument, "yaml: anchors and aliases are not allowed (line %d)", n.Line)
	}
	for _, c := range n.Content {
		if err := plainYAML(c, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// checkDuplicates refuses a JSON object with a member twice: the hash
// must pin one meaning.
func checkDuplicates(js []byte) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return docError(ErrDocument, "%v", err)
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return docError(ErrDocument, "%v", err)
				}
				key, _ := k.(string)
				if seen[key] {
					return docError(ErrDocument, "member %q appears twice", key)
				}
				seen[key] = true
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
		case json.Delim('['):
			for dec.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
		}
		if err != nil {
			return docError(ErrDocument, "%v", err)
		}
		return nil
	}
	if err := walk(); err != nil {
		return err
	}
	if _, err := dec.Token(); err == nil {
		return docError(ErrDocument, "data after the document")
	}
	return nil
}

// Canonical returns the document's canonical JSON (Go's encoding: struct
// order, sorted map keys, no insignificant space) and its hex SHA-256.
func (d Document) Canonical() ([]byte, string, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, "", docError(ErrDocument, "%v", err)
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:]), nil
}

// normalizeParams turns the decoder's numbers into int64 (only integers
// are allowed) and lists into []string.
func (d *Document) normalizeParams() error {
	for k, v := range d.Params {
		switch x := v.(type) {
		case json.Number:
			n, err := x.Int64()
			if err != nil {
				return docError(ErrSchema, "param %s: only integers are numbers here; write amounts as strings", k)
			}
			d.Params[k] = n
		case string, bool:
		case []any:
			list := make([]string, len(x))
			for i, e := range x {
				s, ok := e.(string)
				if !ok {
					return docError(ErrSchema, "param %s: a list holds strings only", k)
				}
				list[i] = s
			}
			d.Params[k] = list
		case []string:
		case int64:
		default:
			return docError(ErrSchema, "param %s: a string, an integer, a boolean or a list of strings", k)
		}
	}
	return nil
}

// check applies the rules the schema cannot state: names unique and
// known, one kind per trigger and action, amounts and durations that
// parse. CEL is compiled later, by Compile.
func (d Document) check() error {
	if d.Format != FormatVersion {
		return docError(ErrSchema, "tongbao_contract must be %d", FormatVersion)
	}
	if d.Currency != "" && d.Currency != "CNY" {
		return docError(ErrSchema, "currency must be CNY")
	}
	if len(d.Parties) > PartiesMax || len(d.Triggers) > TriggersMax || len(d.Params) > ParamsMax {
		return docError(ErrSchema, "at most %d parties, %d triggers and %d params", PartiesMax, TriggersMax, ParamsMax)
	}
	parties := map[string]PartySpec{}
	for _, p := range d.Parties {
		if !nameRE.MatchString(p.Name) || p.Name == ContractParty || p.Name == AnyWallet {
			return docError(ErrSchema, "party name %q: lowercase letters, digits and _, neither %q nor %q", p.Name, ContractParty, AnyWallet)
		}
		if _, dup := parties[p.Name]; dup {
			return docError(ErrSchema, "party %s appears twice", p.Name)
		}
		if (p.Wallet == "") == (p.Signer == "") {
			return docError(ErrSchema, "party %s needs a wallet or a signer, not both", p.Name)
		}
		for _, id := range []string{p.Wallet, p.Signer} {
			if id != "" {
				if _, err := tongbao.ParseID(id); err != nil {
					return docError(ErrSchema, "party %s: %v", p.Name, err)
				}
			}
		}
		parties[p.Name] = p
	}
	wallet := func(name, what string) error {
		if p, ok := parties[name]; !ok || p.Wallet == "" {
			return docError(ErrSchema, "%s: %q is not a wallet party", what, name)
		}
		return nil
	}
	for k := range d.Params {
		if !nameRE.MatchString(k) {
			return docError(ErrSchema, "param name %q: lowercase letters, digits and _", k)
		}
	}
	if d.RefundTo != "" {
		if err := wallet(d.RefundTo, "refund_to"); err != nil {
			return err
		}
	}
	if d.ExpiresAt != "" {
		if _, err := time.Parse(time.RFC3339, d.ExpiresAt); err != nil && !looksLikeCEL(d.ExpiresAt) {
			return docError(ErrSchema, "expires_at: %v", err)
		}
	}
	if d.Limits != nil {
		for _, v := range []string{d.Limits.PerAction, d.Limits.PerDay, d.Limits.Total} {
			if v != "" && !amountRE.MatchString(v) {
				return docError(ErrSchema, "limits: %q is not an amount", v)
			}
		}
	}
	if d.Purpose != nil {
		for _, m := range d.Purpose.Merchants {
			if _, err := tongbao.ParseID(m); err != nil {
				return docError(ErrSchema, "purpose merchants: %v", err)
			}
		}
	}
	checkActions := func(where string, as []Action) error {
		if len(as) > ActionsMax {
			return docError(ErrSchema, "%s: at most %d actions", where, ActionsMax)
		}
		for i, a := range as {
			if err := a.check(fmt.Sprintf("%s action %d", where, i+1), wallet, parties); err != nil {
				return err
			}
		}
		return nil
	}
	if err := checkActions("funding", d.Funding); err != nil {
		return err
	}
	if err := checkActions("on_terminate", d.OnTerminate); err != nil {
		return err
	}
	names := map[string]bool{}
	for _, t := range d.Triggers {
		if !nameRE.MatchString(t.Name) || names[t.Name] {
			return docError(ErrSchema, "trigger name %q: unique, lowercase letters, digits and _", t.Name)
		}
		names[t.Name] = true
		if err := t.On.check(t.Name, wallet, parties); err != nil {
			return err
		}
		for _, r := range t.Require {
			if !slices.Contains(RequirementErrors, r.Error) {
				return docError(ErrSchema, "trigger %s: requirement error %q is not one of %s", t.Name, r.Error, strings.Join(RequirementErrors, ", "))
			}
		}
		if err := checkActions("trigger "+t.Name, t.Actions); err != nil {
			return err
		}
		if f := t.OnFailure; f != nil {
			if f.Retry != nil {
				if f.Retry.Times < 1 || f.Retry.Times > RetriesMax {
					return docError(ErrSchema, "trigger %s: retry times must be 1 to %d", t.Name, RetriesMax)
				}
				if _, err := duration(f.Retry.Every, EveryMin); err != nil {
					return docError(ErrSchema, "trigger %s: retry every: %v", t.Name, err)
				}
			}
			if err := checkActions("trigger "+t.Name+" on_failure", f.Actions); err != nil {
				return err
			}
		}
	}
	return nil
}

func (o On) check(trigger string, wallet func(string, string) error, parties map[string]PartySpec) error {
	n := 0
	for _, set := range []bool{o.Received != nil, o.Event != nil, o.Request != nil, o.At != "", o.Every != nil, o.Calendar != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return docError(ErrSchema, "trigger %s: on names exactly one of received, event, request, at, every, calendar", trigger)
	}
	switch {
	case o.Event != nil:
		if p, ok := parties[o.Event.Signer]; !ok || p.Signer == "" {
			return docError(ErrSchema, "trigger %s: %q is not a signer party", trigger, o.Event.Signer)
		}
		if !nameRE.MatchString(o.Event.Type) {
			return docError(ErrSchema, "trigger %s: event type %q: lowercase letters, digits and _", trigger, o.Event.Type)
		}
	case o.Request != nil:
		if !nameRE.MatchString(o.Request.Name) {
			return docError(ErrSchema, "trigger %s: request name %q: lowercase letters, digits and _", trigger, o.Request.Name)
		}
		if o.Request.By == AnyWallet {
			return nil
		}
		return wallet(o.Request.By, "trigger "+trigger+" request by")
	case o.At != "":
		if _, err := time.Parse(time.RFC3339, o.At); err != nil && !looksLikeCEL(o.At) {
			return docError(ErrSchema, "trigger %s: at: %v", trigger, err)
		}
	case o.Every != nil:
		if _, err := duration(o.Every.Interval, EveryMin); err != nil {
			return docError(ErrSchema, "trigger %s: every: %v", trigger, err)
		}
		if o.Every.Count < 1 || o.Every.Count > OccurrencesMax {
			return docError(ErrSchema, "trigger %s: count must be 1 to %d", trigger, OccurrencesMax)
		}
	case o.Calendar != nil:
		c := o.Calendar
		if c.Day < 1 || c.Day > 28 || !clockRE.MatchString(c.Time) {
			return docError(ErrSchema, "trigger %s: calendar needs a day of 1 to 28 and a time HH:MM", trigger)
		}
		if c.Count < 1 || c.Count > OccurrencesMax {
			return docError(ErrSchema, "trigger %s: count must be 1 to %d", trigger, OccurrencesMax)
		}
	}
	return nil
}

func (a Action) check(where string, wallet func(string, string) error, parties map[string]PartySpec) error {
	n := 0
	for _, set := range []bool{a.Hold != nil, a.Release != nil, a.Refund != nil, a.Transfer != nil, a.Split != nil, a.Notify != nil, a.Set != nil, a.Complete != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return docError(ErrSchema, "%s: exactly one of hold, release, refund, transfer, split, notify, set, complete", where)
	}
	source := func(name string) error {
		if name == ContractParty {
			return nil
		}
		return wallet(name, where)
	}
	amount := func(v string, optional bool) error {
		if v == "" && !optional {
			return docError(ErrSchema, "%s: an amount is required", where)
		}
		return nil
	}
	switch {
	case a.Hold != nil:
		if err := wallet(a.Hold.From, where); err != nil {
			return err
		}
		if a.Hold.Timeout != "" {
			if _, err := duration(a.Hold.Timeout, time.Second); err != nil {
				return docError(ErrSchema, "%s: timeout: %v", where, err)
			}
		}
		return amount(a.Hold.Amount, false)
	case a.Release != nil:
		return wallet(a.Release.To, where)
	case a.Refund != nil:
		if a.Refund.To != "" {
			return wallet(a.Refund.To, where)
		}
	case a.Transfer != nil:
		t := a.Transfer
		if err := source(t.From); err != nil {
			return err
		}
		if (t.To == "") == (t.ToExpr == "") {
			return docError(ErrSchema, "%s: a transfer needs to or to_expr", where)
		}
		if t.To != "" && t.To != ContractParty {
			if err := wallet(t.To, where); err != nil {
				return err
			}
		}
		if t.From == ContractParty && t.To == ContractParty {
			return docError(ErrSchema, "%s: a transfer from the contract to itself", where)
		}
		return amount(t.Amount, false)
	case a.Split != nil:
		s := a.Split
		if err := source(s.From); err != nil {
			return err
		}
		if len(s.Shares) == 0 || len(s.Shares) > SharesMax {
			return docError(ErrSchema, "%s: a split has 1 to %d shares", where, SharesMax)
		}
		for _, sh := range s.Shares {
			if err := wallet(sh.To, where); err != nil {
				return err
			}
			if sh.Weight < 1 || sh.Weight > 1_000_000 {
				return docError(ErrSchema, "%s: a share's weight is 1 to 1000000", where)
			}
		}
		if s.Remainder != remainderFirst && s.Remainder != remainderLast && s.Remainder != remainderLarger {
			return docError(ErrSchema, "%s: remainder must be first, last or largest", where)
		}
		return amount(s.Amount, false)
	case a.Set != nil:
		if !nameRE.MatchString(a.Set.Name) {
			return docError(ErrSchema, "%s: state name %q: lowercase letters, digits and _", where, a.Set.Name)
		}
	}
	return nil
}

// duration parses a Go duration of at least min.
func duration(v string, min time.Duration) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	if d < min {
		return 0, fmt.Errorf("%s is shorter than %s", v, min)
	}
	return d, nil
}

// looksLikeCEL says a time field holds an expression, not a moment.
func looksLikeCEL(v string) bool { return strings.ContainsAny(v, "().") && !strings.HasPrefix(v, "2") }

// literalAmount parses a decimal amount of yuan, or reports it is not one.
func literalAmount(v string) (tongbao.Amount, bool) {
	if !amountRE.MatchString(v) {
		return 0, false
	}
	a, err := tongbao.ParseAmount(v)
	if err != nil {
		return 0, false
	}
	return a, true
}

// DebitedParties returns the wallet parties an action may take money
// from: the parties whose consent the contract needs.
func (d Document) DebitedParties() []string {
	var out []string
	add := func(name string) {
		if name != "" && name != ContractParty && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	walk := func(as []Action) {
		for _, a := range as {
			switch {
			case a.Hold != nil:
				add(a.Hold.From)
			case a.Transfer != nil:
				add(a.Transfer.From)
			case a.Split != nil:
				add(a.Split.From)
			}
		}
	}
	walk(d.Funding)
	walk(d.OnTerminate)
	for _, t := range d.Triggers {
		walk(t.Actions)
		if t.OnFailure != nil {
			walk(t.OnFailure.Actions)
		}
		if t.On.Received != nil {
			// A deposit is taken from whoever deposits; consent is
			// checked at the deposit.
			continue
		}
	}
	return out
}

// Party returns the party of a name.
func (d Document) Party(name string) (PartySpec, bool) {
	for _, p := range d.Parties {
		if p.Name == name {
			return p, true
		}
	}
	return PartySpec{}, false
}
