package twotier

import (
	"context"
	"errors"
	"slices"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// Scenario sub-wallets on the ledger. The rules of a scenario (which
// merchants, expiry, whether the holder may sweep) are the scenario
// package's; this file holds what must be the engine's so that no
// concurrency gets around it, and what keeps a sub-wallet's money inside
// the two-tier books:
//
//	sub-wallet      credit-normal, floor zero, balance cap = the scenario's
//	payment meter   no flags; single and daily (and yearly) caps = the scenario's
//	charge meter    no flags; single cap; debits disabled once revoked
//	scenario sink   one per operator, no flags: the other side of every meter leg
//
// A sub-wallet is a wallet of its operator like any other, so the supply
// check counts it among the operator's liabilities. Its payment caps sit
// on a meter account rather than on the sub-wallet's own account: a
// payment is a linked chain, meter → sink and sub-wallet → merchant, so
// the engine counts payments against the caps atomically, while a sweep
// back to the parent (sub-wallet → parent, no meter leg) never uses them
// up and money is never held in a sub-wallet by its payment caps. The
// meters hold no money: their legs only count.

// Account codes of the scenario accounts.
const (
	CodeScenarioSink   uint16 = 113
	CodeScenarioWallet uint16 = 122
	CodeScenarioMeter  uint16 = 123
)

// Transfer codes of the scenario operations.
const (
	TransferScenarioFund    uint16 = 10
	TransferScenarioSweep   uint16 = 11
	TransferScenarioPayment uint16 = 12
	TransferScenarioCharge  uint16 = 13
	TransferScenarioMeter   uint16 = 14
)

// Errors of scenario sub-wallets.
var (
	// ErrScenarioWallet refuses a sub-wallet in a generic operation (Pay,
	// PayBatch, TopUp, Withdraw, a category change): its money moves only
	// through the scenario operations.
	ErrScenarioWallet    = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "sub-wallet-scenario-only", "a scenario sub-wallet pays and is paid only through its scenario")
	ErrNotScenarioWallet = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "wallet is not a scenario sub-wallet")
	ErrParentInvalid     = tongbao.Sentinel(tongbao.EINVALID, "sub-wallet-parent-invalid", "a sub-wallet is pushed from a personal wallet")
	ErrParentNotActive   = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "parent-wallet-not-active", "a sub-wallet is pushed from a wallet that is active and not frozen")
	ErrParentCapTaken    = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "sub-wallet-caps-exceed-category", "the sub-wallets' balance caps would take the whole balance cap of their wallet's category")
	ErrPayeeNotMerchant  = tongbao.Sentinel(tongbao.EINVALID, "not-a-merchant-wallet", "a sub-wallet pays only merchant wallets")
	ErrChargeNotGranted  = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "charge-not-permitted", "the merchant may not charge this sub-wallet")
	ErrChargeRevoked     = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "charge-revoked", "the holder revoked the merchant's permission to charge")
	// ErrSubWalletsOpen refuses closing a wallet whose sub-wallets are
	// not all closed: their money comes back through it.
	ErrSubWalletsOpen = tongbao.Sentinel(tongbao.ECONFLICT, "sub-wallets-open", "the wallet has sub-wallets that are not closed; sweep and close them first")
)

// errDerivedIDTaken refuses to use an account the engine derives the id
// of (a sink, a meter) when an account of another kind has that id: one
// opened with an id a client chose. Taking it over would move its money.
var errDerivedIDTaken = tongbao.Errorf(tongbao.ECONFLICT, "an account of another kind has the id this account is derived to have")

func scenarioMeter(sub tongbao.ID) tongbao.ID         { return deriveID("scenario-meter", sub) }
func scenarioSink(op tongbao.ID) tongbao.ID           { return deriveID("scenario-sink", op) }
func chargeMeter(sub, merchant tongbao.ID) tongbao.ID { return deriveID("charge-meter", sub, merchant) }

// ChargeMeterID returns the id of the account that meters a merchant's
// charges of a sub-wallet.
func ChargeMeterID(sub, merchant tongbao.ID) tongbao.ID { return chargeMeter(sub, merchant) }
func meterLegID(payment tongbao.ID) tongbao.ID          { return deriveID("scenario-meter-leg", payment) }
func chargeLegID(payment tongbao.ID) tongbao.ID         { return deriveID("charge-meter-leg", payment) }
func scenarioLimits(l ledger.Limits) (wallet, meter ledger.Limits) {
	return ledger.Limits{BalanceMax: l.BalanceMax}, ledger.Limits{DebitMax: l.DebitMax, DailyDebitMax: l.DailyDebitMax, YearlyDebitMax: l.YearlyDebitMax}
}

// ScenarioWalletSpec is what OpenScenarioWallet needs.
type ScenarioWalletSpec struct {
	// ID is the sub-wallet's id, chosen by the caller so a retry opens
	// the same sub-wallet; required.
	ID tongbao.ID
	// Parent is the holder's personal wallet the sub-wallet is pushed
	// from; the sub-wallet is at the parent's operator.
	Parent tongbao.ID
	// Limits are the scenario's caps: BalanceMax on the sub-wallet,
	// DebitMax (per payment), DailyDebitMax and YearlyDebitMax on its
	// payments (zero: no cap).
	Limits ledger.Limits
}

// OpenScenarioWallet opens a sub-wallet of a personal wallet: a wallet of
// kind WalletScenario at the parent's operator, in the parent's category
// (for display: its caps are spec.Limits, never the category's, and cap
// schedules do not touch it), and its payment meter. The same spec again
// returns the sub-wallet already opened; another spec (parent or limits)
// under its id, ErrWalletExists.
func (s *Service) OpenScenarioWallet(ctx context.Context, spec ScenarioWalletSpec) (Wallet, error) {
	if spec.ID.IsZero() {
		return Wallet{}, ErrIDRequired
	}
	if err := checkLimits(spec.Limits); err != nil {
		return Wallet{}, err
	}
	if spec.Limits.BalanceMax <= 0 {
		return Wallet{}, tongbao.Errorf(tongbao.EINVALID, "a sub-wallet needs a balance cap")
	}
	s.adminMu.Lock() // the parent's limits are set from its sub-wallets
	defer s.adminMu.Unlock()
	parent, err := s.store.Wallet(ctx, spec.Parent)
	if err != nil {
		return Wallet{}, wrap("parent wallet", err)
	}
	if parent.Kind != WalletPersonal {
		return Wallet{}, ErrParentInvalid
	}
	if parent.State == StateClosed {
		return Wallet{}, ErrWalletClosed
	}
	if _, err := s.store.Wallet(ctx, spec.ID); errors.Is(err, ErrWalletNotFound) && (parent.State != StateActive || parent.Frozen(s.clock.Now())) {
		// A new sub-wallet only for a parent that may pay; a retry of
		// one pushed before is answered below whatever the parent's
		// state now.
		return Wallet{}, ErrParentNotActive
	}
	wallet, meter := scenarioLimits(spec.Limits)
	if old, err := s.store.Wallet(ctx, spec.ID); err == nil {
		if old.Kind != WalletScenario || old.Parent != spec.Parent {
			return Wallet{}, ErrWalletExists
		}
		as, err := s.ledger.Accounts(ctx, []tongbao.ID{old.ID, scenarioMeter(old.ID)})
		if err != nil {
			return Wallet{}, err
		}
		if as[0].Limits != wallet || as[1].Limits != meter {
			return Wallet{}, ErrWalletExists
		}
		return old, nil
	} else if !errors.Is(err, ErrWalletNotFound) {
		return Wallet{}, err
	}
	now := s.clock.Now()
	w := Wallet{ID: spec.ID, Operator: parent.Operator, Kind: WalletScenario, Category: parent.Category, HolderMasked: parent.HolderMasked,
		State: StateActive, Parent: parent.ID, OpenedAt: now, UpdatedAt: now}
	// The accounts first, as OpenWallet does: nothing pays into an
	// account the store does not know, and a retry completes the opening.
	errs, err := s.ledger.CreateAccounts(ctx, []ledger.Account{
		s.account(scenarioSink(w.Operator), CodeScenarioSink, 0, ledger.Limits{}),
		s.account(scenarioMeter(w.ID), CodeScenarioMeter, 0, meter),
		s.account(w.ID, CodeScenarioWallet, ledger.FlagDebitsMustNotExceedCredits, wallet),
	})
	if err != nil {
		return Wallet{}, err
	}
	for i, e := range errs {
		switch {
		case e == nil:
		case i == 0 && errors.Is(e, ledger.ErrAccountExists):
			// The sink is made the same way every time: under its id
			// with other content is an account that is no sink.
			return Wallet{}, errDerivedIDTaken
		case errors.Is(e, ledger.ErrAccountExists):
			return Wallet{}, ErrWalletExists
		default:
			return Wallet{}, e
		}
	}
	// The parent's balance cap shrinks by the sub-wallet's before the
	// sub-wallet can hold anything (it has no record yet, so nothing
	// funds it); a retry recomputes the same limits.
	if err := s.reserveForSubWallets(ctx, parent, []tongbao.ID{w.ID}, true); err != nil {
		return Wallet{}, err
	}
	if err := s.store.CreateWallet(ctx, w); err != nil {
		return Wallet{}, err
	}
	return w, nil
}

// reserveForSubWallets sets a personal wallet's ledger limits to its
// category's caps (its own, in category 1) with the balance cap less the
// balance caps of its sub-wallets not closed and of those in extra (one
// being opened). A wallet and its sub-wallets then hold together no more
// than its category allows: money enters a sub-wallet only from its
// parent, so the parent, capped lower, cannot be loaded again to make up
// for it. With strict, a cap the sub-wallets would take whole is refused
// (ErrParentCapTaken); without (a cap schedule lowered under them), the
// parent keeps one fen of room. s.adminMu must be held.
//
// The parent may hold more than its new cap: it then receives nothing
// until it holds less, and what it moves into the sub-wallets comes out
// of it, so the sum stays within the category's cap.
func (s *Service) reserveForSubWallets(ctx context.Context, parent Wallet, extra []tongbao.ID, strict bool) error {
	limits, err := s.parentLimits(ctx, parent, extra, strict)
	if err != nil {
		return err
	}
	errs, err := s.ledger.UpdateAccounts(ctx, []ledger.AccountUpdate{{ID: parent.ID, Limits: &limits}})
	if err != nil {
		return err
	}
	if errs[0] != nil {
		return wrap("parent wallet", errs[0])
	}
	return nil
}

// parentLimits returns the limits reserveForSubWallets sets.
func (s *Service) parentLimits(ctx context.Context, parent Wallet, extra []tongbao.ID, strict bool) (ledger.Limits, error) {
	limits, _, err := s.categoryLimits(ctx, parent.Operator, parent.Category, parent.HolderLimits, s.clock.Now())
	if err != nil {
		return ledger.Limits{}, err
	}
	return s.lessSubWallets(ctx, parent, limits, extra, strict)
}

// lessSubWallets returns limits with the balance cap less the balance
// caps of parent's sub-wallets not closed and of extra.
func (s *Service) lessSubWallets(ctx context.Context, parent Wallet, limits ledger.Limits, extra []tongbao.ID, strict bool) (ledger.Limits, error) {
	if parent.Kind != WalletPersonal || limits.BalanceMax == 0 {
		return limits, nil
	}
	subs, err := s.store.SubWallets(ctx, parent.ID)
	if err != nil {
		return ledger.Limits{}, err
	}
	ids := slices.Clone(extra)
	for _, sub := range subs {
		if sub.State != StateClosed && !slices.Contains(ids, sub.ID) {
			ids = append(ids, sub.ID)
		}
	}
	if len(ids) == 0 {
		return limits, nil
	}
	as, err := s.ledger.Accounts(ctx, ids)
	if err != nil {
		return ledger.Limits{}, err
	}
	var taken tongbao.Amount
	for _, a := range as {
		taken += a.Limits.BalanceMax
	}
	switch left := limits.BalanceMax - taken; {
	case left > 0:
		limits.BalanceMax = left
	case strict:
		return ledger.Limits{}, ErrParentCapTaken
	default:
		limits.BalanceMax = 1 // zero would mean no cap
	}
	return limits, nil
}

// scenarioWallet returns a sub-wallet's record, or ErrNotScenarioWallet.
func (s *Service) scenarioWallet(ctx context.Context, id tongbao.ID) (Wallet, error) {
	w, err := s.store.Wallet(ctx, id)
	if err != nil {
		return Wallet{}, err
	}
	if w.Kind != WalletScenario {
		return Wallet{}, ErrNotScenarioWallet
	}
	return w, nil
}

func (s *Service) scenarioOperation(ctx context.Context, op WalletOperation) (Wallet, error) {
	if op.ID.IsZero() {
		return Wallet{}, ErrIDRequired
	}
	if err := s.checkMoney(op.Amount, op.Currency); err != nil {
		return Wallet{}, err
	}
	return s.scenarioWallet(ctx, op.Wallet)
}

// FundScenario moves money from a sub-wallet's parent into it
// (op.Wallet is the sub-wallet). The engine checks the parent's funds and
// caps (funding a sub-wallet counts as the parent's payment, so a parent's
// daily cap cannot be got around through its sub-wallets) and the
// sub-wallet's balance cap (ledger.ErrBalanceLimit).
func (s *Service) FundScenario(ctx context.Context, op WalletOperation) (Receipt, error) {
	w, err := s.scenarioOperation(ctx, op)
	if err != nil {
		return Receipt{}, err
	}
	rs, _, err := s.submit(ctx, []ledger.Transfer{{ID: op.ID, DebitAccountID: w.Parent, CreditAccountID: w.ID, Amount: op.Amount, Code: TransferScenarioFund}})
	if err != nil {
		return Receipt{}, wrap("fund sub-wallet", err)
	}
	return receipt(rs), nil
}

// SweepScenario moves money from a sub-wallet back to its parent. It
// uses none of the sub-wallet's payment caps; the parent's balance cap
// may refuse it (ledger.ErrBalanceLimit). Whether the holder may sweep
// now is the scenario's rule, checked by the caller.
func (s *Service) SweepScenario(ctx context.Context, op WalletOperation) (Receipt, error) {
	w, err := s.scenarioOperation(ctx, op)
	if err != nil {
		return Receipt{}, err
	}
	rs, _, err := s.submit(ctx, []ledger.Transfer{{ID: op.ID, DebitAccountID: w.ID, CreditAccountID: w.Parent, Amount: op.Amount, Code: TransferScenarioSweep}})
	if err != nil {
		return Receipt{}, wrap("sweep sub-wallet", err)
	}
	return receipt(rs), nil
}

// ScenarioPayment is a payment from a sub-wallet to a merchant wallet.
type ScenarioPayment struct {
	// ID is the idempotency id, as Payment's.
	ID       tongbao.ID
	From, To tongbao.ID
	Amount   tongbao.Amount
	Currency tongbao.Currency
	// Charge says the merchant initiated it under the permission the
	// holder granted it (GrantCharge): the charge meter is then debited
	// too, so a revoked permission refuses it in the engine.
	Charge bool
}

// recordID is the id of a cross-operator scenario payment's record: a
// charge's is derived from its id, so that a holder's payment and a
// merchant's charge (whose ids the callers choose apart) never share one.
func (p ScenarioPayment) recordID() tongbao.ID {
	if p.Charge {
		return deriveID("scenario-charge", p.ID)
	}
	return p.ID
}

// meterLegs returns the meter legs of a scenario payment: the
// sub-wallet's payment meter, and for a charge the charge meter, each to
// the operator's sink, under ids derived from the payment (and, across
// operators, from the settlement window its legs are booked in).
func meterLegs(p ScenarioPayment, operator tongbao.ID, window uint64, across bool) []ledger.Transfer {
	meterID, chargeID := meterLegID(p.ID), chargeLegID(p.ID)
	if across {
		meterID, chargeID = deriveID("scenario-meter-leg-across", p.ID, window), deriveID("charge-meter-leg-across", p.ID, window)
	}
	sink := scenarioSink(operator)
	ts := []ledger.Transfer{{ID: meterID, DebitAccountID: scenarioMeter(p.From), CreditAccountID: sink, Amount: p.Amount, Code: TransferScenarioMeter}}
	if p.Charge {
		ts = append(ts, ledger.Transfer{ID: chargeID, DebitAccountID: chargeMeter(p.From, p.To), CreditAccountID: sink, Amount: p.Amount, Code: TransferScenarioMeter})
	}
	return ts
}

// meterError is the refusal of the i-th meter leg of a scenario payment.
func meterError(i int, err error) error {
	switch {
	case i == 0:
		return wrap("sub-wallet", err)
	case errors.Is(err, ledger.ErrDebitAccountNotFound):
		return ErrChargeNotGranted
	case errors.Is(err, ledger.ErrDebitsDisabled):
		return ErrChargeRevoked
	}
	return wrap("charge permission", err)
}

// PayScenario pays a merchant wallet from a sub-wallet, in one linked
// chain: meter → sink (the sub-wallet's payment caps: ledger.ErrDebitLimit,
// ErrDailyLimit, ErrYearlyLimit), for a charge charge meter → sink
// (ErrChargeNotGranted, ErrChargeRevoked, ledger.ErrDebitLimit), then the
// payment itself: sub-wallet → merchant at the same operator, or across
// operators the two legs and the record of Pay, with its net debit cap
// and its booking again in a new window. Which merchants the scenario
// allows, and its expiry, are the caller's to check; only merchant
// wallets may ever be paid (ErrPayeeNotMerchant).
func (s *Service) PayScenario(ctx context.Context, p ScenarioPayment) (PaymentResult, error) {
	from, to, err := s.scenarioParties(ctx, p)
	if err != nil {
		return PaymentResult{}, err
	}
	if to.operator != from.operator {
		return s.payScenarioAcross(ctx, p, from, to)
	}
	code := TransferScenarioPayment
	if p.Charge {
		code = TransferScenarioCharge
	}
	// The meter legs first: the engine times the legs of a chain one
	// nanosecond apart, and the caps' day must be the payment's.
	ts := meterLegs(p, from.operator, 0, false)
	m := len(ts)
	ts = append(ts, ledger.Transfer{ID: p.ID, DebitAccountID: p.From, CreditAccountID: p.To, Amount: p.Amount, Code: code})
	rs, i, err := s.submit(ctx, chain(ts...))
	switch {
	case err == nil:
		return PaymentResult{Timestamp: rs[m].Timestamp, PayeeTimestamp: rs[m].Timestamp, Duplicate: rs[m].Duplicate}, nil
	case i >= 0 && i < m:
		return PaymentResult{}, meterError(i, err)
	}
	return PaymentResult{}, wrap("payment", err)
}

// scenarioParties checks a scenario payment and returns its sub-wallet's
// and merchant's routes.
func (s *Service) scenarioParties(ctx context.Context, p ScenarioPayment) (from, to walletRoute, err error) {
	if p.ID.IsZero() {
		return from, to, ErrIDRequired
	}
	if err := s.checkMoney(p.Amount, p.Currency); err != nil {
		return from, to, err
	}
	if from, err = s.route(ctx, p.From); err != nil {
		return from, to, wrap("payer wallet", err)
	}
	if from.kind != WalletScenario {
		return from, to, ErrNotScenarioWallet
	}
	if to, err = s.route(ctx, p.To); err != nil {
		return from, to, wrap("payee wallet", err)
	}
	if to.kind != WalletMerchant {
		return from, to, ErrPayeeNotMerchant
	}
	return from, to, nil
}

// payScenarioAcross pays a merchant at another operator from a
// sub-wallet: Pay's cross-operator booking (the record first, the legs in
// the current window, booked again once in a new window if the window
// closed under them) with the meter legs in front.
func (s *Service) payScenarioAcross(ctx context.Context, p ScenarioPayment, from, to walletRoute) (PaymentResult, error) {
	rec := PaymentRecord{
		ID: p.recordID(), PayerOperator: from.operator, PayeeOperator: to.operator, PayerWallet: p.From, PayeeWallet: p.To,
		Amount: p.Amount, Currency: s.currency, Window: s.CurrentWindow(), Status: PaymentPending, CreatedAt: s.clock.Now(),
	}
	stored, created, err := s.store.CreatePayment(ctx, rec)
	if err != nil {
		return PaymentResult{}, err
	}
	if rec, err = samePayment(rec, stored, created); err != nil {
		return PaymentResult{}, err
	}
	for attempt := 0; ; attempt++ {
		ts := meterLegs(p, from.operator, rec.Window, true)
		m := len(ts)
		ts = append(ts, crossLegs(rec.ID, rec)...)
		rs, i, err := s.submit(ctx, chain(ts...))
		if i < 0 && err != nil { // the request failed as a whole: the outcome is unknown
			return PaymentResult{}, err
		}
		if i >= 0 && i < m {
			perr := meterError(i, err)
			rec.Status, rec.Reason = PaymentFailed, tongbao.ErrorMessage(perr)
			if uerr := s.store.UpdatePayment(ctx, rec); uerr != nil {
				return PaymentResult{}, uerr
			}
			return PaymentResult{}, perr
		}
		if i >= 0 {
			i -= m
		}
		out, res, perr, again := s.acrossOutcome(rec, rs[m:], i, err, attempt)
		if uerr := s.store.UpdatePayment(ctx, out); uerr != nil {
			return PaymentResult{}, uerr
		}
		if !again {
			return res, perr
		}
		rec = out
	}
}

// ScenarioPaymentPosted reports whether a scenario payment went through
// under its id, and its result if it did: how the scenario package
// answers a payment asked again after a rule that has since changed (an
// expiry, a revocation) would refuse it. A payment across operators whose
// outcome was never learnt (its record pending) is booked again under its
// own ids to learn it: a revoked charge's meter still refuses legs that
// did not go through. The id used with other content is tongbao.ErrIDConflict; an
// error means the outcome is still unknown.
func (s *Service) ScenarioPaymentPosted(ctx context.Context, p ScenarioPayment) (PaymentResult, bool, error) {
	from, to, err := s.scenarioParties(ctx, p)
	if err != nil {
		return PaymentResult{}, false, err
	}
	if from.operator == to.operator {
		t, err := s.ledger.LookupTransfer(ctx, p.ID)
		if errors.Is(err, ledger.ErrTransferNotFound) {
			return PaymentResult{}, false, nil
		}
		if err != nil {
			return PaymentResult{}, false, err
		}
		code := TransferScenarioPayment
		if p.Charge {
			code = TransferScenarioCharge
		}
		if t.DebitAccountID != p.From || t.CreditAccountID != p.To || t.Amount != p.Amount || t.Code != code {
			return PaymentResult{}, false, tongbao.ErrIDConflict
		}
		return PaymentResult{Timestamp: t.Timestamp, PayeeTimestamp: t.Timestamp, Duplicate: true}, true, nil
	}
	rec, err := s.store.Payment(ctx, p.recordID())
	if errors.Is(err, ErrPaymentNotFound) {
		return PaymentResult{}, false, nil
	}
	if err != nil {
		return PaymentResult{}, false, err
	}
	if rec.PayerWallet != p.From || rec.PayeeWallet != p.To || rec.Amount != p.Amount {
		return PaymentResult{}, false, tongbao.ErrIDConflict
	}
	if rec.Status == PaymentPending {
		// Its outcome was never learnt (the answer lost): booking its
		// legs again under their ids makes it definite, a duplicate if
		// they went through. It was asked for before the rule changed.
		res, err := s.payScenarioAcross(ctx, p, from, to)
		switch code := tongbao.ErrorCode(err); {
		case err == nil:
			return res, true, nil
		case code == tongbao.EINTERNAL || code == tongbao.EUNAVAILABLE || ctx.Err() != nil:
			return PaymentResult{}, false, err
		}
		return PaymentResult{}, false, nil
	}
	if rec.Status != PaymentPosted {
		return PaymentResult{}, false, nil
	}
	return PaymentResult{Timestamp: rec.PayerTimestamp, PayeeTimestamp: rec.PayeeTimestamp, CrossOperator: true, Window: rec.Window, Duplicate: true}, true, nil
}

// GrantCharge lets a merchant wallet charge the sub-wallet (PayScenario with Charge) up to max per charge (zero: no
// cap of its own, the sub-wallet's still apply): it opens, or enables
// again, the charge meter of the pair. Whether the scenario allows the
// merchant is the caller's to check.
func (s *Service) GrantCharge(ctx context.Context, sub, merchant tongbao.ID, max tongbao.Amount) error {
	if max < 0 {
		return tongbao.Errorf(tongbao.EINVALID, "charge cap must not be negative")
	}
	w, err := s.scenarioWallet(ctx, sub)
	if err != nil {
		return err
	}
	m, err := s.route(ctx, merchant)
	if err != nil {
		return wrap("merchant wallet", err)
	}
	if m.kind != WalletMerchant {
		return ErrPayeeNotMerchant
	}
	id := chargeMeter(sub, merchant)
	errs, err := s.ledger.CreateAccounts(ctx, []ledger.Account{
		s.account(scenarioSink(w.Operator), CodeScenarioSink, 0, ledger.Limits{}),
		s.account(id, CodeScenarioMeter, 0, ledger.Limits{DebitMax: max}),
	})
	if err != nil {
		return err
	}
	for i, e := range errs {
		switch {
		case e == nil:
		case i == 1 && errors.Is(e, ledger.ErrAccountExists):
			// An earlier grant's meter, with another cap or revoked, is
			// set below; an account of any other kind under its id
			// (a wallet opened with a chosen id) must not be.
			as, err := s.ledger.Accounts(ctx, []tongbao.ID{id})
			if err != nil {
				return err
			}
			if as[0].Code != CodeScenarioMeter {
				return errDerivedIDTaken
			}
		case errors.Is(e, ledger.ErrAccountExists):
			return errDerivedIDTaken
		default:
			return wrap("grant charge", e)
		}
	}
	// It may exist from an earlier grant, revoked: enable it with the cap.
	limits := ledger.Limits{DebitMax: max}
	errs, err = s.ledger.UpdateAccounts(ctx, []ledger.AccountUpdate{{ID: id, ClearFlags: ledger.FlagDebitsDisabled, Limits: &limits}})
	if err != nil {
		return err
	}
	if errs[0] != nil {
		return wrap("grant charge", errs[0])
	}
	return nil
}

// RevokeCharge withdraws a merchant's permission to charge a sub-wallet:
// it disables the charge meter's debits through the ledger's writer,
// which orders the change after every charge already accepted, so once it
// returns every charge is refused (ErrChargeRevoked). Revoking a
// permission never granted is ErrChargeNotGranted; revoking twice is no
// error.
func (s *Service) RevokeCharge(ctx context.Context, sub, merchant tongbao.ID) error {
	if _, err := s.scenarioWallet(ctx, sub); err != nil {
		return err
	}
	errs, err := s.ledger.UpdateAccounts(ctx, []ledger.AccountUpdate{{ID: chargeMeter(sub, merchant), SetFlags: ledger.FlagDebitsDisabled}})
	if err != nil {
		return err
	}
	if errors.Is(errs[0], ledger.ErrAccountNotFound) {
		return ErrChargeNotGranted
	}
	if errs[0] != nil {
		return wrap("revoke charge", errs[0])
	}
	return nil
}

// ScenarioUsage is what a sub-wallet has used of its payment caps.
type ScenarioUsage struct {
	// Limits are the caps: the sub-wallet's balance cap and its meter's.
	Limits ledger.Limits
	// PaidToday is what the sub-wallet paid in the ledger's calendar day
	// of now.
	PaidToday tongbao.Amount
}

// ScenarioUsage returns a sub-wallet's caps and what it paid today.
func (s *Service) ScenarioUsage(ctx context.Context, sub tongbao.ID) (ScenarioUsage, error) {
	if _, err := s.scenarioWallet(ctx, sub); err != nil {
		return ScenarioUsage{}, err
	}
	as, err := s.ledger.Accounts(ctx, []tongbao.ID{sub, scenarioMeter(sub)})
	if err != nil {
		return ScenarioUsage{}, err
	}
	u := ScenarioUsage{Limits: as[1].Limits}
	u.Limits.BalanceMax = as[0].Limits.BalanceMax
	y, m, d := s.clock.Now().In(s.loc).Date()
	if as[1].Day == int32(y*10000+int(m)*100+d) { // the ledger's day number
		u.PaidToday = as[1].DayDebits
	}
	return u, nil
}
