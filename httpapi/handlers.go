package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/twotier"
)

// Handlers: parse, authorise, call the domain, render. No rule about money
// lives here; the scope checks keep each role to its own part.

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation(ledger.DefaultTimeZone)
	if err != nil {
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}()

// ownOperator allows the central bank, and an operator admin for its own
// operator.
func (c *call) ownOperator(op tongbao.ID) error {
	switch c.p.Role {
	case RoleCentralBank:
		return nil
	case RoleOperatorAdmin:
		if c.p.Institution == op {
			return nil
		}
	}
	return errForbidden
}

// ownWallet loads a wallet the caller may act on: an operator admin's own
// operator's wallet, a holder's or a merchant's own wallet.
func (s *Server) ownWallet(c *call, id tongbao.ID) (twotier.Wallet, error) {
	switch c.p.Role {
	case RoleHolder, RoleMerchant:
		if c.p.Wallet != id {
			return twotier.Wallet{}, errForbidden
		}
	case RoleOperatorAdmin:
	default:
		return twotier.Wallet{}, errForbidden
	}
	w, err := c.svc.Wallet(c.ctx, id)
	if err != nil {
		return twotier.Wallet{}, err
	}
	if c.p.Role == RoleOperatorAdmin && w.Operator != c.p.Institution {
		return twotier.Wallet{}, errForbidden
	}
	return w, nil
}

func (c *call) walletPath() (tongbao.ID, error) { return c.pathID("wallet") }

func (c *call) operatorPath() (tongbao.ID, error) {
	id, err := c.pathID("operator")
	if err != nil {
		return id, err
	}
	return id, c.ownOperator(id)
}

// limit reads ?limit, PageDefault when absent.
func (c *call) limit() (int, error) {
	v := c.r.URL.Query().Get("limit")
	if v == "" {
		return PageDefault, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > PageMax {
		return 0, tongbao.Errorf(tongbao.EINVALID, "limit must be 1 to %d", PageMax)
	}
	return n, nil
}

// Cursors are opaque to clients: base64url of what the list resumes from.
func encodeCursor(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (c *call) cursor() ([]byte, error) {
	v := c.r.URL.Query().Get("cursor")
	if v == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, tongbao.Errorf(tongbao.EINVALID, "cursor is not one this API returned")
	}
	return b, nil
}

func (c *call) uintCursor() (uint64, error) {
	b, err := c.cursor()
	if err != nil || b == nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, tongbao.Errorf(tongbao.EINVALID, "cursor is not one this API returned")
	}
	return binary.BigEndian.Uint64(b), nil
}

func uintCursor(n uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return encodeCursor(b[:])
}

func keyOut(p Principal, secret string) wire.Key {
	k := wire.Key{ID: p.KeyID, Secret: secret, Role: p.Role, Name: p.Name, CreatedAt: p.CreatedAt}
	if !p.Institution.IsZero() {
		id := p.Institution
		k.Institution = &id
	}
	if !p.Wallet.IsZero() {
		id := p.Wallet
		k.Wallet = &id
	}
	if !p.RevokedAt.IsZero() {
		t := p.RevokedAt
		k.RevokedAt, k.RevokeReason = &t, p.RevokeReason
	}
	return k
}

// keyInScope says whether the caller may see and revoke key p: the
// central bank any, an operator admin its operator's (its admins' and its
// wallets'), a holder or merchant its own.
func (c *call) keyInScope(p Principal) bool {
	switch c.p.Role {
	case RoleCentralBank:
		return true
	case RoleOperatorAdmin:
		return p.Role != RoleCentralBank && p.Institution == c.p.Institution
	}
	return p.KeyID == c.p.KeyID
}

func (s *Server) listKeys(c *call) (any, error) {
	out := wire.KeyList{Items: []wire.Key{}}
	for _, p := range s.keys.List(c.keyInScope) {
		out.Items = append(out.Items, keyOut(p, ""))
	}
	return out, nil
}

func (s *Server) revokeKey(c *call) (any, error) {
	var in wire.RevokeKey
	if len(c.body) > 0 {
		if err := c.decode(&in); err != nil {
			return nil, err
		}
	}
	p, err := s.keys.Revoke(c.r.PathValue("key"), in.Reason, c.keyInScope)
	if err != nil {
		return nil, err
	}
	return keyOut(p, ""), nil
}

func (s *Server) me(c *call) (any, error) { return keyOut(c.p, ""), nil }

func (s *Server) createKey(c *call) (any, error) {
	var in wire.CreateKey
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	p := Principal{Role: in.Role, Name: in.Name}
	switch in.Role {
	case RoleCentralBank:
		if c.p.Role != RoleCentralBank {
			return nil, errForbidden
		}
		p.Institution = c.p.Institution
	case RoleOperatorAdmin:
		if in.Operator == nil {
			return nil, tongbao.Errorf(tongbao.EINVALID, "an operator admin key names its operator")
		}
		if err := c.ownOperator(*in.Operator); err != nil {
			return nil, err
		}
		in, err := c.svc.Institution(c.ctx, *in.Operator)
		if err != nil {
			return nil, err
		}
		if in.Kind != twotier.KindOperator {
			return nil, twotier.ErrNotOperator
		}
		p.Institution = in.ID
	case RoleHolder, RoleMerchant:
		if c.p.Role != RoleOperatorAdmin {
			return nil, errForbidden
		}
		if in.Wallet == nil {
			return nil, tongbao.Errorf(tongbao.EINVALID, "a %s key names its wallet", in.Role)
		}
		w, err := s.ownWallet(c, *in.Wallet)
		if err != nil {
			return nil, err
		}
		if in.Role == RoleMerchant && w.Kind != twotier.WalletMerchant {
			return nil, tongbao.Errorf(tongbao.EINVALID, "a merchant key is for a merchant wallet")
		}
		p.Institution, p.Wallet = w.Operator, w.ID
	default:
		return nil, tongbao.Errorf(tongbao.EINVALID, "role %q is unknown", in.Role)
	}
	secret, p, err := s.keys.Create(p)
	if err != nil {
		return nil, err
	}
	return keyOut(p, secret), nil
}

func institutionOut(in twotier.Institution) wire.Institution {
	out := wire.Institution{ID: in.ID, Kind: string(in.Kind), Name: in.Name, CreatedAt: in.CreatedAt}
	if in.Kind == twotier.KindOperator {
		cap := wire.Amount(in.NetDebitCap)
		out.NetDebitCap = &cap
	}
	return out
}

func (s *Server) listOperators(c *call) (any, error) {
	limit, err := c.limit()
	if err != nil {
		return nil, err
	}
	from, err := c.uintCursor()
	if err != nil {
		return nil, err
	}
	ops, err := c.svc.Operators(c.ctx)
	if err != nil {
		return nil, err
	}
	page := wire.InstitutionPage{Items: []wire.Institution{}}
	for i := int(min(from, uint64(len(ops)))); i < len(ops); i++ {
		if c.ownOperator(ops[i].ID) != nil {
			continue
		}
		if len(page.Items) == limit {
			page.NextCursor = uintCursor(uint64(i))
			break
		}
		page.Items = append(page.Items, institutionOut(ops[i]))
	}
	return page, nil
}

func (s *Server) createOperator(c *call) (any, error) {
	var in wire.CreateOperator
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	id := c.chosenID(in.ID)
	if id.IsZero() {
		id = tongbao.NewID()
	}
	if err := c.svc.AddOperator(c.ctx, id, in.Name, tongbao.Amount(in.NetDebitCap)); err != nil {
		return nil, err
	}
	op, err := c.svc.Institution(c.ctx, id)
	if err != nil {
		return nil, err
	}
	return institutionOut(op), nil
}

func (s *Server) getOperator(c *call) (any, error) {
	id, err := c.operatorPath()
	if err != nil {
		return nil, err
	}
	in, err := c.svc.Institution(c.ctx, id)
	if err != nil {
		return nil, err
	}
	return institutionOut(in), nil
}

// operation decodes the body of a reserves, issue or redeem request.
func (s *Server) operation(c *call) (twotier.Operation, error) {
	id, err := c.operatorPath()
	if err != nil {
		return twotier.Operation{}, err
	}
	var in wire.Money
	if err := c.decode(&in); err != nil {
		return twotier.Operation{}, err
	}
	return twotier.Operation{ID: c.id(0), Operator: id, Amount: tongbao.Amount(in.Amount), Currency: in.Currency}, nil
}

func receiptOut(id tongbao.ID, r twotier.Receipt) wire.Receipt {
	return wire.Receipt{ID: id, Timestamp: r.Timestamp, Duplicate: r.Duplicate}
}

func (s *Server) moveOperator(c *call, f func(ctx context.Context, op twotier.Operation) (twotier.Receipt, error)) (any, error) {
	op, err := s.operation(c)
	if err != nil {
		return nil, err
	}
	r, err := f(c.ctx, op)
	if err != nil {
		return nil, err
	}
	return receiptOut(op.ID, r), nil
}

func (s *Server) depositReserves(c *call) (any, error) {
	return s.moveOperator(c, c.svc.DepositReserves)
}
func (s *Server) withdrawReserves(c *call) (any, error) {
	return s.moveOperator(c, c.svc.WithdrawReserves)
}
func (s *Server) issue(c *call) (any, error)  { return s.moveOperator(c, c.svc.Issue) }
func (s *Server) redeem(c *call) (any, error) { return s.moveOperator(c, c.svc.Redeem) }

func limitsOut(l ledger.Limits) wire.Limits {
	return wire.Limits{BalanceMax: wire.Amount(l.BalanceMax), DebitMax: wire.Amount(l.DebitMax), DailyDebitMax: wire.Amount(l.DailyDebitMax), YearlyDebitMax: wire.Amount(l.YearlyDebitMax)}
}

func limitsIn(l *wire.Limits) *ledger.Limits {
	if l == nil {
		return nil
	}
	return &ledger.Limits{BalanceMax: tongbao.Amount(l.BalanceMax), DebitMax: tongbao.Amount(l.DebitMax), DailyDebitMax: tongbao.Amount(l.DailyDebitMax), YearlyDebitMax: tongbao.Amount(l.YearlyDebitMax)}
}

func capVersionOut(v twotier.CapVersion) wire.CapVersion {
	out := wire.CapVersion{Version: v.Version, EffectiveFrom: v.EffectiveFrom, Caps: map[string]wire.Limits{}, SetBy: v.SetBy, SetAt: v.SetAt}
	for c, l := range v.Caps {
		out.Caps[strconv.Itoa(int(c))] = limitsOut(l)
	}
	return out
}

func (s *Server) getCaps(c *call) (any, error) {
	op, err := c.operatorPath()
	if err != nil {
		return nil, err
	}
	if _, err := c.svc.Institution(c.ctx, op); err != nil {
		return nil, err
	}
	vs, err := c.svc.CapSchedule(c.ctx, op)
	if err != nil {
		return nil, err
	}
	out := wire.CapSchedule{Items: []wire.CapVersion{}}
	for _, v := range vs {
		out.Items = append(out.Items, capVersionOut(v))
	}
	return out, nil
}

func (s *Server) setCaps(c *call) (any, error) {
	op, err := c.operatorPath()
	if err != nil {
		return nil, err
	}
	var in wire.SetCaps
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	caps := make(map[twotier.Category]ledger.Limits, len(in.Caps))
	for k, l := range in.Caps {
		n, err := strconv.Atoi(k)
		if err != nil {
			return nil, tongbao.Errorf(tongbao.EINVALID, "caps are keyed by category 2, 3 or 4, not %q", k)
		}
		caps[twotier.Category(n)] = *limitsIn(&l)
	}
	v, err := c.svc.SetCaps(c.ctx, op, in.EffectiveFrom, caps, "key "+c.p.KeyID)
	if err != nil {
		return nil, err
	}
	if _, err := c.svc.ApplyDueCaps(c.ctx); err != nil {
		return nil, err
	}
	return capVersionOut(v), nil
}

func walletOut(w twotier.Wallet) wire.Wallet {
	out := wire.Wallet{ID: w.ID, Operator: w.Operator, Kind: string(w.Kind), Category: int(w.Category), HolderMasked: w.HolderMasked, AliasMasked: w.AliasMasked,
		MerchantCategory: w.MerchantCategory, Region: w.Region, State: string(w.State), StateReason: w.StateReason, FreezeReason: w.FreezeReason,
		CapVersion: w.CapVersion, OpenedAt: w.OpenedAt, UpdatedAt: w.UpdatedAt}
	if !w.FrozenUntil.IsZero() {
		t := w.FrozenUntil
		out.FrozenUntil = &t
	}
	if w.HolderLimits != nil {
		l := limitsOut(*w.HolderLimits)
		out.HolderLimits = &l
	}
	return out
}

func (s *Server) openWallet(c *call) (any, error) {
	op, err := c.operatorPath()
	if err != nil {
		return nil, err
	}
	var in wire.OpenWallet
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	spec := twotier.WalletSpec{Operator: op, Category: twotier.Category(in.Category), HolderName: in.HolderName, Phone: in.Phone,
		Merchant: in.Merchant, MerchantCategory: in.MerchantCategory, Region: in.Region, HolderLimits: limitsIn(in.HolderLimits)}
	spec.ID = c.chosenID(in.ID)
	w, err := c.svc.OpenWallet(c.ctx, spec)
	if err != nil {
		return nil, err
	}
	return walletOut(w), nil
}

func (s *Server) listWallets(c *call) (any, error) {
	op, err := c.operatorPath()
	if err != nil {
		return nil, err
	}
	limit, err := c.limit()
	if err != nil {
		return nil, err
	}
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
	ws, err := c.svc.Wallets(c.ctx, op, after, limit)
	if err != nil {
		return nil, err
	}
	page := wire.WalletPage{Items: make([]wire.Wallet, 0, len(ws))}
	for _, w := range ws {
		page.Items = append(page.Items, walletOut(w))
	}
	if len(ws) == limit {
		last := ws[len(ws)-1].ID
		page.NextCursor = encodeCursor(last[:])
	}
	return page, nil
}

func (s *Server) getWallet(c *call) (any, error) {
	id, err := c.walletPath()
	if err != nil {
		return nil, err
	}
	w, err := s.ownWallet(c, id)
	if err != nil {
		return nil, err
	}
	b, err := c.svc.WalletBalance(c.ctx, id)
	if err != nil {
		return nil, err
	}
	out := walletOut(w)
	bal, avail := wire.Amount(b.Net()), wire.Amount(b.Available())
	out.Balance, out.Available = &bal, &avail
	return out, nil
}

// transferKinds names the domain's transfer codes.
var transferKinds = map[uint16]string{
	twotier.TransferTopUp: "top_up", twotier.TransferWithdraw: "withdrawal",
	twotier.TransferPayment: "payment", twotier.TransferCrossPayment: "cross_operator_payment",
	twotier.TransferScenarioFund: "sub_wallet_funding", twotier.TransferScenarioSweep: "sub_wallet_sweep",
	twotier.TransferScenarioPayment: "sub_wallet_payment", twotier.TransferScenarioCharge: "sub_wallet_charge",
}

// merchantSees are the transfers a merchant key sees coming in: payments.
var merchantSees = map[uint16]bool{
	twotier.TransferPayment: true, twotier.TransferCrossPayment: true,
	twotier.TransferScenarioPayment: true, twotier.TransferScenarioCharge: true,
}

func (s *Server) walletTransfers(c *call) (any, error) {
	id, err := c.walletPath()
	if err != nil {
		return nil, err
	}
	if _, err := s.ownWallet(c, id); err != nil {
		return nil, err
	}
	limit, err := c.limit()
	if err != nil {
		return nil, err
	}
	cur, err := c.uintCursor()
	if err != nil {
		return nil, err
	}
	ts, next, err := c.svc.WalletTransfers(c.ctx, id, int64(cur), limit)
	if err != nil {
		return nil, err
	}
	page := wire.TransferPage{Items: make([]wire.Transfer, 0, len(ts))}
	for _, t := range ts {
		dir := "out"
		if t.CreditAccountID == id {
			dir = "in"
		}
		kind := transferKinds[t.Code]
		if c.p.Role == RoleMerchant && (dir != "in" || !merchantSees[t.Code]) {
			continue // a merchant key sees the wallet's incoming payments only
		}
		page.Items = append(page.Items, wire.Transfer{ID: t.ID, Kind: kind, Direction: dir, Debit: t.DebitAccountID, Credit: t.CreditAccountID,
			Amount: wire.Amount(t.Amount), Timestamp: t.Timestamp, At: time.Unix(0, t.Timestamp).UTC()})
	}
	if next != 0 {
		page.NextCursor = uintCursor(uint64(next))
	}
	return page, nil
}

func (s *Server) walletMoney(c *call, f func(ctx context.Context, op twotier.WalletOperation) (twotier.Receipt, error)) (any, error) {
	id, err := c.walletPath()
	if err != nil {
		return nil, err
	}
	if _, err := s.ownWallet(c, id); err != nil {
		return nil, err
	}
	var in wire.Money
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	op := twotier.WalletOperation{ID: c.id(0), Wallet: id, Amount: tongbao.Amount(in.Amount), Currency: in.Currency}
	r, err := f(c.ctx, op)
	if err != nil {
		return nil, err
	}
	return receiptOut(op.ID, r), nil
}

func (s *Server) topUp(c *call) (any, error)    { return s.walletMoney(c, c.svc.TopUp) }
func (s *Server) withdraw(c *call) (any, error) { return s.walletMoney(c, c.svc.Withdraw) }

func (s *Server) setState(c *call) (any, error) {
	id, err := c.walletPath()
	if err != nil {
		return nil, err
	}
	if _, err := s.ownWallet(c, id); err != nil {
		return nil, err
	}
	var in wire.SetState
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	w, err := c.svc.SetState(c.ctx, id, twotier.WalletState(in.State), in.Reason)
	if err != nil {
		return nil, err
	}
	return walletOut(w), nil
}

func (s *Server) freeze(c *call) (any, error) {
	id, err := c.walletPath()
	if err != nil {
		return nil, err
	}
	if _, err := s.ownWallet(c, id); err != nil {
		return nil, err
	}
	var in wire.Freeze
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	var until time.Time
	if in.Until != nil {
		until = *in.Until
	}
	w, err := c.svc.Freeze(c.ctx, id, until, in.Reason)
	if err != nil {
		return nil, err
	}
	return walletOut(w), nil
}

func (s *Server) changeCategory(c *call) (any, error) {
	id, err := c.walletPath()
	if err != nil {
		return nil, err
	}
	cur, err := s.ownWallet(c, id)
	if err != nil {
		return nil, err
	}
	var in wire.ChangeCategory
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	to := twotier.Category(in.Category)
	change := c.svc.Upgrade
	if to > cur.Category {
		change = c.svc.Downgrade
	}
	w, err := change(c.ctx, id, to, limitsIn(in.HolderLimits))
	if err != nil {
		return nil, err
	}
	return walletOut(w), nil
}

func (s *Server) resolve(c *call) (any, error) {
	alias := c.r.URL.Query().Get("alias")
	if alias == "" {
		return nil, tongbao.Errorf(tongbao.EINVALID, "alias is required")
	}
	w, err := c.svc.Resolve(c.ctx, alias)
	if err != nil {
		return nil, err
	}
	return wire.ResolvedWallet{ID: w.ID, Kind: string(w.Kind), HolderMasked: w.HolderMasked, Operator: w.Operator}, nil
}

// payee resolves a payment's "to": a wallet id is used as it is (the
// domain finds it), a phone number is looked up.
func (s *Server) payee(c *call, to string) (tongbao.ID, error) {
	if id, err := tongbao.ParseID(to); err == nil {
		return id, nil
	}
	if to == "" {
		return tongbao.ID{}, tongbao.Errorf(tongbao.EINVALID, "the payee (to) is required")
	}
	w, err := c.svc.Resolve(c.ctx, to)
	if err != nil {
		return tongbao.ID{}, err
	}
	return w.ID, nil
}

func paymentOut(id tongbao.ID, from, to tongbao.ID, amount tongbao.Amount, r twotier.PaymentResult) *wire.Payment {
	return &wire.Payment{ID: id, From: from, To: to, Amount: wire.Amount(amount), Timestamp: r.Timestamp, CrossOperator: r.CrossOperator, Window: r.Window, Duplicate: r.Duplicate}
}

func (s *Server) pay(c *call) (any, error) {
	var in wire.Pay
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.From != c.p.Wallet {
		return nil, errForbidden
	}
	to, err := s.payee(c, in.To)
	if err != nil {
		return nil, err
	}
	p := twotier.Payment{ID: c.id(0), From: in.From, To: to, Amount: tongbao.Amount(in.Amount), Currency: in.Currency}
	r, err := c.svc.Pay(c.ctx, p)
	if err != nil {
		return nil, err
	}
	return paymentOut(p.ID, p.From, p.To, p.Amount, r), nil
}

func (s *Server) payBatch(c *call) (any, error) {
	var in wire.PayBatch
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if len(in.Payments) == 0 || len(in.Payments) > wire.PayBatchMax {
		return nil, tongbao.Errorf(tongbao.EINVALID, "a batch holds 1 to %d payments", wire.PayBatchMax)
	}
	out := wire.PayBatchResults{Results: make([]wire.PayBatchResult, len(in.Payments))}
	ps := make([]twotier.Payment, 0, len(in.Payments))
	index := make([]int, 0, len(in.Payments))
	fail := func(i int, err error) {
		p := Problem(err)
		out.Results[i].Problem = p
	}
	for i, x := range in.Payments {
		if c.p.Role == RoleHolder && x.From != c.p.Wallet {
			fail(i, errForbidden)
			continue
		}
		if c.p.Role == RoleOperatorAdmin {
			op, err := c.svc.WalletOperator(c.ctx, x.From)
			if err == nil && op != c.p.Institution {
				err = errForbidden
			}
			if err != nil {
				fail(i, err)
				continue
			}
		}
		to, err := s.payee(c, x.To)
		if err != nil {
			fail(i, err)
			continue
		}
		ps = append(ps, twotier.Payment{ID: c.id(i), From: x.From, To: to, Amount: tongbao.Amount(x.Amount), Currency: x.Currency})
		index = append(index, i)
	}
	rs, err := c.svc.PayBatch(c.ctx, ps)
	if err != nil {
		return nil, err
	}
	for j, r := range rs {
		i := index[j]
		if r.Err != nil {
			fail(i, r.Err)
			continue
		}
		p := ps[j]
		out.Results[i].Payment = paymentOut(p.ID, p.From, p.To, p.Amount, r.Result)
	}
	return out, nil
}

func windowOut(w twotier.Window) wire.Window {
	out := wire.Window{Number: w.Number, Status: string(w.Status), OpenedAt: w.OpenedAt}
	if !w.ClosedAt.IsZero() {
		t := w.ClosedAt
		out.ClosedAt = &t
	}
	if !w.SettledAt.IsZero() {
		t := w.SettledAt
		out.SettledAt = &t
	}
	if len(w.Positions) > 0 {
		out.Positions = positionsOut(w.Positions)
	}
	return out
}

func positionsOut(ps map[tongbao.ID]tongbao.Amount) map[string]wire.Amount {
	out := make(map[string]wire.Amount, len(ps))
	for op, a := range ps {
		out[op.String()] = wire.Amount(a)
	}
	return out
}

func (s *Server) listWindows(c *call) (any, error) {
	limit, err := c.limit()
	if err != nil {
		return nil, err
	}
	from, err := c.uintCursor()
	if err != nil {
		return nil, err
	}
	ws, err := c.svc.Windows(c.ctx, from)
	if err != nil {
		return nil, err
	}
	page := wire.WindowPage{Items: []wire.Window{}}
	for i, w := range ws {
		if i == limit {
			page.NextCursor = uintCursor(w.Number)
			break
		}
		out := windowOut(w)
		if c.p.Role == RoleOperatorAdmin { // an operator sees its own position only
			for op := range out.Positions {
				if op != c.p.Institution.String() {
					delete(out.Positions, op)
				}
			}
		}
		page.Items = append(page.Items, out)
	}
	return page, nil
}

// CloseWindow is the body of a request to close a settlement window:
// Window, when set, must be the current window, so a retry after a lost
// answer cannot close the next one too.
type CloseWindow struct {
	Window uint64 `json:"window,omitempty"`
}

func (s *Server) closeWindow(c *call) (any, error) {
	var in CloseWindow
	if len(c.body) > 0 {
		if err := c.decode(&in); err != nil {
			return nil, err
		}
	}
	if in.Window != 0 && in.Window != c.svc.CurrentWindow() {
		return nil, tongbao.Errorf(tongbao.ECONFLICT, "window %d is not the current window (%d)", in.Window, c.svc.CurrentWindow())
	}
	st, err := c.svc.Settle(c.ctx)
	if err != nil {
		return nil, err
	}
	return wire.Settlement{Window: st.Window, Positions: positionsOut(st.Positions)}, nil
}

func (s *Server) supply(c *call) (any, error) {
	r, err := c.svc.SupplyReport(c.ctx)
	if err != nil {
		return nil, err
	}
	out := wire.Supply{At: r.At, Issued: wire.Amount(r.Issued), Backing: wire.Amount(r.Backing), OK: r.OK, Operators: []wire.OperatorSupply{}}
	for _, o := range r.Operators {
		out.Operators = append(out.Operators, wire.OperatorSupply{Operator: o.Operator, Backing: wire.Amount(o.Backing), Vault: wire.Amount(o.Vault),
			Wallets: wire.Amount(o.Wallets), Clearing: wire.Amount(o.Clearing), OfflineFloat: wire.Amount(o.OfflineFloat), Liabilities: wire.Amount(o.Liabilities), OK: o.OK})
	}
	return out, nil
}

func (s *Server) reconcile(c *call) (any, error) {
	op, err := c.operatorPath()
	if err != nil {
		return nil, err
	}
	day := c.svc.Now()
	if v := c.r.URL.Query().Get("day"); v != "" {
		d, err := time.ParseInLocation(time.DateOnly, v, shanghai)
		if err != nil {
			return nil, tongbao.Errorf(tongbao.EINVALID, "day must be YYYY-MM-DD")
		}
		day = d.Add(12 * time.Hour)
	}
	r, err := c.svc.Reconcile(c.ctx, op, day)
	if err != nil {
		return nil, err
	}
	out := wire.Reconciliation{Operator: r.Operator, Day: r.Day, Records: r.Records, Transfers: r.Transfers, Settled: r.Settled, Differences: []wire.Difference{}}
	if out.Settled == nil {
		out.Settled = []uint64{}
	}
	for _, d := range r.Differences {
		out.Differences = append(out.Differences, wire.Difference{Kind: d.Kind, PaymentID: d.PaymentID, TransferID: d.TransferID, Window: d.Window,
			Ours: wire.Amount(d.Ours), Theirs: wire.Amount(d.Theirs), Detail: d.Detail})
	}
	return out, nil
}
