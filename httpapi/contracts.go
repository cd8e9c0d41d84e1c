package httpapi

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/contract"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/twotier"
)

// Content types of the contract routes.
const (
	// ContentTypeSchema is the JSON Schema of a contract document.
	ContentTypeSchema = "application/schema+json"
	// ContentTypeJOSE is a compact JWS (RFC 7515): a signed event.
	ContentTypeJOSE = "application/jose"
)

// contractRoutes are the endpoints of programmable payments. An operator
// admin registers external parties and runs its operator's contracts; a
// holder or a merchant deploys, accepts, funds and calls the contracts
// its wallet is a party of; the central bank reads every contract. A
// signed event needs no key: its signature, by a registered party,
// authenticates it.
func (s *Server) contractRoutes() []route {
	created := http.StatusCreated
	readers := []string{RoleCentralBank, RoleOperatorAdmin, RoleHolder, RoleMerchant}
	return []route{
		{method: "POST", pattern: "/v1/contract-parties", summary: "Register an external party (a carrier, a school) and its Ed25519 public key at the caller's operator",
			roles: opOnly, request: "RegisterContractParty", response: "ContractParty", status: created, handle: s.registerContractParty},
		{method: "GET", pattern: "/v1/contract-parties/{party}", summary: "Read a registered party",
			roles: cbOrOp, response: "ContractParty", handle: s.getContractParty},
		{method: "GET", pattern: "/v1/contracts/schema", summary: "The JSON Schema of a contract document",
			roles: everyone, ctype: ContentTypeSchema, handle: s.contractSchema},
		{method: "GET", pattern: "/v1/contracts/templates", summary: "The contract templates that ship, with their parameters",
			roles: everyone, response: "ContractTemplateList", handle: s.contractTemplates},
		{method: "POST", pattern: "/v1/contracts", summary: "Deploy a contract from a document or a template (200 when that document was deployed already)",
			roles: walletAll, request: "DeployContract", response: "Contract", status: created, handle: s.deployContract},
		{method: "GET", pattern: "/v1/contracts", summary: "List contracts: the central bank every operator's, an operator admin its own",
			roles: cbOrOp, response: "ContractPage", query: []string{"cursor", "limit"}, handle: s.listContracts},
		{method: "GET", pattern: "/v1/contracts/{contract}", summary: "Read a contract: its document, hash, status, consents, state, holds, money and timers",
			roles: readers, response: "Contract", handle: s.getContract},
		{method: "POST", pattern: "/v1/contracts/{contract}/accept", summary: "Accept (consent to) a contract's hash for a party: its wallet's holder or merchant, or for an institution's wallet its operator admin",
			roles: walletAll, request: "AcceptContract", response: "Contract", handle: s.acceptContract},
		{method: "POST", pattern: "/v1/contracts/{contract}/deposits", summary: "Move money from a party's wallet into the contract",
			roles: walletAll, money: true, request: "ContractDeposit", response: "ContractInvocation", handle: s.depositContract},
		{method: "POST", pattern: "/v1/contracts/{contract}/requests", summary: "Invoke a request trigger of the contract for the caller's party",
			roles: walletAll, money: true, request: "ContractRequest", response: "ContractInvocation", handle: s.requestContract},
		{method: "POST", pattern: "/v1/contracts/{contract}/dry-run", summary: "Play hypothetical events and times on a contract: the conditions' values and the money that would move, moving nothing",
			roles: readers, request: "DryRunContract", response: "ContractDryRun", handle: s.dryRunContract},
		{method: "GET", pattern: "/v1/contracts/{contract}/invocations", summary: "A contract's invocations, oldest first",
			roles: readers, response: "ContractInvocationPage", query: []string{"cursor", "limit"}, handle: s.contractInvocations},
		{method: "POST", pattern: "/v1/contracts/{contract}/pause", summary: "Pause a contract: it takes no triggers, its timers wait",
			roles: opOnly, response: "Contract", handle: s.pauseContract},
		{method: "POST", pattern: "/v1/contracts/{contract}/resume", summary: "Resume a paused contract",
			roles: opOnly, response: "Contract", handle: s.resumeContract},
		{method: "POST", pattern: "/v1/contracts/{contract}/terminate", summary: "Terminate a contract: its holds released or refunded by its rule",
			roles: opOnly, request: "TerminateContract", bodyOptional: true, response: "ContractInvocation", handle: s.terminateContract},
		{method: "POST", pattern: "/v1/contract-events", summary: "Post an event signed by a registered party (a compact JWS, EdDSA); no key: the signature authenticates it",
			public: true, bodyTypes: []string{ContentTypeJOSE, "text/plain"}, response: "ContractInvocation", handle: s.postContractEvent},
	}
}

// contractService returns the contract service, or an unavailable error
// on a server that does not serve contracts.
func (c *call) contractService() (*contract.Service, error) {
	if c.contracts == nil {
		return nil, tongbao.Errorf(tongbao.EUNAVAILABLE, "contracts are not served here")
	}
	return c.contracts, nil
}

// contractPath loads the contract in the path and its document, if the
// caller may see it: the central bank any, an operator admin its
// operator's, a holder or a merchant one its wallet is a party of.
// Another's contract is answered as forbidden, as a wallet is.
func (c *call) contractPath() (*contract.Service, contract.Contract, *contract.Document, error) {
	cs, err := c.contractService()
	if err != nil {
		return nil, contract.Contract{}, nil, err
	}
	id, err := c.pathID("contract")
	if err != nil {
		return nil, contract.Contract{}, nil, err
	}
	k, err := cs.Contract(c.ctx, id)
	if err != nil {
		return nil, contract.Contract{}, nil, err
	}
	d, err := cs.Document(k)
	if err != nil {
		return nil, contract.Contract{}, nil, err
	}
	switch c.p.Role {
	case RoleCentralBank:
		return cs, k, d, nil
	case RoleOperatorAdmin:
		if k.Operator == c.p.Institution {
			return cs, k, d, nil
		}
	case RoleHolder, RoleMerchant:
		own := c.p.Wallet.String()
		if slices.ContainsFunc(d.Parties, func(p contract.PartySpec) bool { return p.Wallet == own }) {
			return cs, k, d, nil
		}
	}
	return nil, contract.Contract{}, nil, errForbidden
}

// speaksFor checks that the caller speaks for a wallet party of a
// contract: its holder or merchant, or, for a merchant wallet (an
// institution's), the operator admin of the contract's operator. It
// returns the party's wallet.
func (c *call) speaksFor(cs *contract.Service, k contract.Contract, party string) (tongbao.ID, error) {
	w, err := cs.PartyWallet(k, party)
	if err != nil {
		return tongbao.ID{}, err
	}
	switch c.p.Role {
	case RoleHolder, RoleMerchant:
		if w == c.p.Wallet {
			return w, nil
		}
	case RoleOperatorAdmin:
		if k.Operator != c.p.Institution {
			break
		}
		wallet, err := c.svc.Wallet(c.ctx, w)
		if err != nil {
			return tongbao.ID{}, err
		}
		if wallet.Kind == twotier.WalletMerchant {
			return w, nil
		}
	}
	return tongbao.ID{}, errForbidden
}

// ownContract loads the contract in the path for its operator's admin.
func (c *call) ownContract() (*contract.Service, contract.Contract, error) {
	cs, k, _, err := c.contractPath()
	if err != nil {
		return nil, contract.Contract{}, err
	}
	if c.p.Role != RoleOperatorAdmin {
		return nil, contract.Contract{}, errForbidden
	}
	return cs, k, nil
}

// ParsePublicKey reads an Ed25519 public key written as base64url
// (padded or not) or hex.
func ParsePublicKey(s string) ([]byte, error) {
	var b []byte
	var err error = errForbidden // any error: a length no encoding has
	switch len(s) {
	case 64:
		b, err = hex.DecodeString(s)
	case 43:
		b, err = base64.RawURLEncoding.DecodeString(s)
	case 44:
		b, err = base64.URLEncoding.DecodeString(s)
	}
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, tongbao.Errorf(tongbao.EINVALID, "public_key must be the 32 bytes of an Ed25519 key in base64url or hex")
	}
	return b, nil
}

// forbidden is errForbidden with a message that says why.
func forbidden(why string) error {
	return &tongbao.Error{Code: tongbao.EFORBIDDEN, Err: errForbidden, Message: why}
}

func partyOut(p contract.Party) wire.ContractParty {
	return wire.ContractParty{ID: p.ID, Operator: p.Operator, Name: p.Name, PublicKey: base64.RawURLEncoding.EncodeToString(p.PublicKey), CreatedAt: p.CreatedAt.UTC()}
}

func (s *Server) registerContractParty(c *call) (any, error) {
	cs, err := c.contractService()
	if err != nil {
		return nil, err
	}
	var in wire.RegisterContractParty
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	key, err := ParsePublicKey(in.PublicKey)
	if err != nil {
		return nil, err
	}
	p, err := cs.RegisterParty(c.ctx, contract.RegisterSpec{ID: c.chosenID(in.ID), Operator: c.p.Institution, Name: in.Name, PublicKey: key})
	if err != nil {
		return nil, err
	}
	return partyOut(p), nil
}

func (s *Server) getContractParty(c *call) (any, error) {
	cs, err := c.contractService()
	if err != nil {
		return nil, err
	}
	id, err := c.pathID("party")
	if err != nil {
		return nil, err
	}
	p, err := cs.Party(c.ctx, id)
	if err != nil {
		return nil, err
	}
	if err := c.ownOperator(p.Operator); err != nil {
		return nil, err
	}
	return partyOut(p), nil
}

func (s *Server) contractSchema(c *call) (any, error) {
	return rawBody{ctype: ContentTypeSchema, body: contract.Schema()}, nil
}

func (s *Server) contractTemplates(c *call) (any, error) {
	ts := contract.Templates()
	out := wire.ContractTemplateList{Items: make([]wire.ContractTemplate, 0, len(ts))}
	for _, t := range ts {
		w := wire.ContractTemplate{Name: t.Name, Description: t.Description, Params: make([]wire.ContractTemplateParam, 0, len(t.Params))}
		for _, p := range t.Params {
			w.Params = append(w.Params, wire.ContractTemplateParam{Name: p.Name, Kind: p.Kind, Description: p.Description, Default: p.Default})
		}
		out.Items = append(out.Items, w)
	}
	return out, nil
}

func (s *Server) deployContract(c *call) (any, error) {
	cs, err := c.contractService()
	if err != nil {
		return nil, err
	}
	var in wire.DeployContract
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if (in.Document == "") == (in.Template == "") {
		return nil, tongbao.Errorf(tongbao.EINVALID, "give a document or a template, one of them")
	}
	if in.Document != "" && (in.Parties != nil || in.Params != nil || in.Reference != "") {
		return nil, tongbao.Errorf(tongbao.EINVALID, "parties, params and reference go with a template, not a document")
	}
	spec := contract.DeploySpec{Document: []byte(in.Document), By: c.p.KeyID}
	if in.Template != "" {
		if spec.Document, err = contract.FromTemplate(in.Template, in.Parties, in.Params, in.Reference); err != nil {
			return nil, err
		}
	}
	switch c.p.Role {
	case RoleOperatorAdmin:
		spec.Operator = c.p.Institution
	default:
		// A holder or a merchant deploys at its wallet's operator, and
		// only a contract its wallet is a party of.
		w, err := c.svc.Wallet(c.ctx, c.p.Wallet)
		if err != nil {
			return nil, err
		}
		spec.Operator = w.Operator
		d, _, _, err := contract.Decode(spec.Document)
		if err != nil {
			return nil, err
		}
		own := c.p.Wallet.String()
		if !slices.ContainsFunc(d.Parties, func(p contract.PartySpec) bool { return p.Wallet == own }) {
			return nil, forbidden("a holder or merchant deploys only a contract its wallet is a party of")
		}
	}
	k, created, err := cs.Deploy(c.ctx, spec)
	if err != nil {
		return nil, err
	}
	if !created {
		c.status = http.StatusOK
	}
	return contractOut(cs, k, nil)
}

func (s *Server) listContracts(c *call) (any, error) {
	cs, err := c.contractService()
	if err != nil {
		return nil, err
	}
	limit, err := c.limit()
	if err != nil {
		return nil, err
	}
	limit = min(limit, contract.ListMax)
	cur, err := c.cursor()
	if err != nil {
		return nil, err
	}
	var after tongbao.ID
	if cur != nil {
		if len(cur) != len(after) {
			return nil, tongbao.Errorf(tongbao.EINVALID, "cursor is not one this API returned")
		}
		copy(after[:], cur)
	}
	var op tongbao.ID // the central bank's: every operator's
	if c.p.Role == RoleOperatorAdmin {
		op = c.p.Institution
	}
	ks, err := cs.Contracts(c.ctx, op, after, limit)
	if err != nil {
		return nil, err
	}
	page := wire.ContractPage{Items: make([]wire.Contract, 0, len(ks))}
	for _, k := range ks {
		out, err := contractOut(cs, k, nil)
		if err != nil {
			return nil, err
		}
		out.Document = nil // read one contract for its document
		page.Items = append(page.Items, out)
	}
	if len(ks) == limit {
		last := ks[len(ks)-1].ID
		page.NextCursor = encodeCursor(last[:])
	}
	return page, nil
}

func (s *Server) getContract(c *call) (any, error) {
	cs, k, _, err := c.contractPath()
	if err != nil {
		return nil, err
	}
	timers, err := cs.Timers(c.ctx, k.ID)
	if err != nil {
		return nil, err
	}
	return contractOut(cs, k, timers)
}

func (s *Server) acceptContract(c *call) (any, error) {
	cs, k, _, err := c.contractPath()
	if err != nil {
		return nil, err
	}
	var in wire.AcceptContract
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if _, err := c.speaksFor(cs, k, in.Party); err != nil {
		return nil, err
	}
	k, err = cs.Accept(c.ctx, k.ID, in.Party, in.Hash, c.p.KeyID)
	if err != nil {
		return nil, err
	}
	return contractOut(cs, k, nil)
}

func (s *Server) depositContract(c *call) (any, error) {
	cs, k, _, err := c.contractPath()
	if err != nil {
		return nil, err
	}
	var in wire.ContractDeposit
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if _, err := c.speaksFor(cs, k, in.Party); err != nil {
		return nil, err
	}
	inv, err := cs.Deposit(c.ctx, k.ID, in.Party, tongbao.Amount(in.Amount), c.key)
	if err != nil {
		return nil, err
	}
	return invocationOut(inv), nil
}

func (s *Server) requestContract(c *call) (any, error) {
	cs, err := c.contractService()
	if err != nil {
		return nil, err
	}
	id, err := c.pathID("contract")
	if err != nil {
		return nil, err
	}
	var in wire.ContractRequest
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	k, err := cs.Contract(c.ctx, id)
	if err != nil {
		return nil, err
	}
	d, err := cs.Document(k)
	if err != nil {
		return nil, err
	}
	var wallet tongbao.ID
	if byAny(d, in.Name) {
		// Any wallet at the contract's operator may make it (a
		// beneficiary spending a subsidy): the caller's own, and the
		// domain checks its operator.
		if in.Party != "" || c.p.Role == RoleOperatorAdmin {
			return nil, forbidden("request " + in.Name + " is made by a holder or merchant for its own wallet, with no party")
		}
		wallet = c.p.Wallet
	} else if wallet, err = c.speaksFor(cs, k, in.Party); err != nil {
		return nil, err
	}
	inv, err := cs.Request(c.ctx, k.ID, in.Name, in.Party, wallet, c.key, in.Data)
	if err != nil {
		return nil, err
	}
	return invocationOut(inv), nil
}

// byAny reports whether a document's request name may be made by any
// wallet at the contract's operator.
func byAny(d *contract.Document, name string) bool {
	for _, t := range d.Triggers {
		if r := t.On.Request; r != nil && r.Name == name {
			return r.By == contract.AnyWallet
		}
	}
	return false
}

func (s *Server) contractInvocations(c *call) (any, error) {
	cs, k, _, err := c.contractPath()
	if err != nil {
		return nil, err
	}
	limit, err := c.limit()
	if err != nil {
		return nil, err
	}
	limit = min(limit, contract.ListMax)
	cur, err := c.cursor()
	if err != nil {
		return nil, err
	}
	var after int64
	if cur != nil {
		if len(cur) != 8 {
			return nil, tongbao.Errorf(tongbao.EINVALID, "cursor is not one this API returned")
		}
		after = int64(binary.BigEndian.Uint64(cur))
	}
	invs, err := cs.Invocations(c.ctx, k.ID, after, limit)
	if err != nil {
		return nil, err
	}
	page := wire.ContractInvocationPage{Items: make([]wire.ContractInvocation, 0, len(invs))}
	for _, inv := range invs {
		page.Items = append(page.Items, invocationOut(inv))
	}
	if len(invs) == limit {
		page.NextCursor = uintCursor(uint64(invs[len(invs)-1].Sequence))
	}
	return page, nil
}

func (s *Server) dryRunContract(c *call) (any, error) {
	cs, k, _, err := c.contractPath()
	if err != nil {
		return nil, err
	}
	var in wire.DryRunContract
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	steps := make([]contract.DryStep, 0, len(in.Steps))
	for _, st := range in.Steps {
		step := contract.DryStep{Trigger: st.Trigger, Party: st.Party, Amount: tongbao.Amount(st.Amount), Data: st.Data}
		if st.At != nil {
			step.At = *st.At
		}
		if st.Wallet != nil {
			step.Wallet = *st.Wallet
		}
		steps = append(steps, step)
	}
	invs, err := cs.DryRun(c.ctx, k.ID, steps)
	if err != nil {
		return nil, err
	}
	out := wire.ContractDryRun{Steps: make([]wire.ContractInvocation, 0, len(invs))}
	for _, inv := range invs {
		out.Steps = append(out.Steps, invocationOut(inv))
	}
	return out, nil
}

func (s *Server) setContractStatus(c *call, f func(*contract.Service) func(tongbao.ID) (contract.Contract, error)) (any, error) {
	cs, k, err := c.ownContract()
	if err != nil {
		return nil, err
	}
	k, err = f(cs)(k.ID)
	if err != nil {
		return nil, err
	}
	return contractOut(cs, k, nil)
}

func (s *Server) pauseContract(c *call) (any, error) {
	return s.setContractStatus(c, func(cs *contract.Service) func(tongbao.ID) (contract.Contract, error) {
		return func(id tongbao.ID) (contract.Contract, error) { return cs.Pause(c.ctx, id) }
	})
}

func (s *Server) resumeContract(c *call) (any, error) {
	return s.setContractStatus(c, func(cs *contract.Service) func(tongbao.ID) (contract.Contract, error) {
		return func(id tongbao.ID) (contract.Contract, error) { return cs.Resume(c.ctx, id) }
	})
}

func (s *Server) terminateContract(c *call) (any, error) {
	cs, k, err := c.ownContract()
	if err != nil {
		return nil, err
	}
	var in wire.TerminateContract
	if len(c.body) > 0 {
		if err := c.decode(&in); err != nil {
			return nil, err
		}
	}
	inv, err := cs.Terminate(c.ctx, k.ID, in.Reason)
	if err != nil {
		return nil, err
	}
	return invocationOut(inv), nil
}

func (s *Server) postContractEvent(c *call) (any, error) {
	cs, err := c.contractService()
	if err != nil {
		return nil, err
	}
	jws := []byte(strings.TrimSpace(string(c.body)))
	if len(jws) == 0 {
		return nil, &tongbao.Error{Code: tongbao.EINVALID, Err: contract.ErrEvent, Message: "the body is empty: send the compact JWS of the event"}
	}
	inv, err := cs.PostEvent(c.ctx, jws)
	if err != nil {
		return nil, err
	}
	return invocationOut(inv), nil
}

func contractOut(cs *contract.Service, k contract.Contract, timers []contract.Timer) (wire.Contract, error) {
	d, err := cs.Document(k)
	if err != nil {
		return wire.Contract{}, err
	}
	rt := k.Runtime
	out := wire.Contract{ID: k.ID, Hash: k.Hash, Operator: k.Operator, Wallet: k.Wallet, Name: d.Name, Template: d.Template, Status: string(k.Status),
		NeedsConsent: []string{}, Document: k.Document, Version: k.Version, DeployedBy: k.DeployedBy, DeployedAt: k.DeployedAt.UTC(), UpdatedAt: k.UpdatedAt.UTC(),
		Runtime: wire.ContractRuntime{Consents: map[string]wire.ContractConsent{}, State: rt.State, Holds: make([]wire.ContractHold, 0, len(rt.Holds)),
			TakenIn: wire.Amount(rt.TakenIn), PaidOut: wire.Amount(rt.PaidOut), Refunded: wire.Amount(rt.Refunded), Balance: wire.Amount(rt.Balance),
			Invocations: rt.Invocations, ActivatedAt: timeOut(rt.ActivatedAt), EndedAt: timeOut(rt.EndedAt), EndReason: rt.EndReason, Failure: rt.Failure}}
	if out.Runtime.State == nil {
		out.Runtime.State = map[string]any{}
	}
	for name, cn := range rt.Consents {
		out.Runtime.Consents[name] = wire.ContractConsent{At: cn.At.UTC(), By: cn.By}
	}
	for _, name := range d.DebitedParties() {
		if _, ok := rt.Consents[name]; !ok {
			out.NeedsConsent = append(out.NeedsConsent, name)
		}
	}
	for _, h := range rt.Holds {
		out.Runtime.Holds = append(out.Runtime.Holds, wire.ContractHold{ID: h.ID, Party: h.Party, Amount: wire.Amount(h.Amount), Status: h.Status, ExpiresAt: timeOut(h.ExpiresAt)})
	}
	for _, t := range timers {
		out.Timers = append(out.Timers, wire.ContractTimer{Key: t.Key, Trigger: t.Trigger, DueAt: t.DueAt.UTC(), N: t.N})
	}
	return out, nil
}

func idOut(id tongbao.ID) *tongbao.ID {
	if id.IsZero() {
		return nil
	}
	return &id
}

func invocationOut(inv contract.Invocation) wire.ContractInvocation {
	out := wire.ContractInvocation{ID: inv.ID, Contract: inv.Contract, Sequence: inv.Sequence, Key: inv.Key, Trigger: inv.Trigger, Input: inv.Input,
		Conditions: make([]wire.ContractCondition, 0, len(inv.Conditions)), Moves: make([]wire.ContractMove, 0, len(inv.Moves)), Notices: inv.Notices,
		Outcome: string(inv.Outcome), Error: inv.Error, At: inv.At.UTC(), FinishedAt: timeOut(inv.Finished)}
	if out.Notices == nil {
		out.Notices = []string{}
	}
	for _, cv := range inv.Conditions {
		v := cv.Value
		if t, ok := v.(time.Time); ok {
			v = t.UTC()
		}
		out.Conditions = append(out.Conditions, wire.ContractCondition{Name: cv.Name, Expr: cv.Expr, Value: v, Error: cv.Error})
	}
	for _, m := range inv.Moves {
		out.Moves = append(out.Moves, wire.ContractMove{Action: m.Action, Kind: m.Kind, Transfer: m.Transfer, From: idOut(m.From), To: idOut(m.To), Amount: wire.Amount(m.Amount), Pending: idOut(m.Pending)})
	}
	return out
}
