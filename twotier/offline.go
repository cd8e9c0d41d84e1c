package twotier

import (
	"context"
	"errors"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// Offline float on the ledger. Currency loaded onto offline devices
// (package offline) leaves the holder's wallet for its operator's offline
// float: a wallet of kind WalletOffline, one per operator, that no holder
// owns. It is still the operator's liability, so the supply check counts
// it (OperatorSupply.OfflineFloat). A token a device signed offline is
// settled from the float of the payer's operator to the payee's wallet,
// at any operator, as a payment is; an unload goes from the float back to
// the holder's wallet. Pay and PayBatch refuse the float as payer and as
// payee: its money moves only through the calls below, which the offline
// package makes once a device's signed statement allows them.

// Codes of the offline float and its transfers.
const (
	CodeOfflineFloat   uint16 = 125
	TransferOffline    uint16 = 16
	TransferOfflineAdv uint16 = 17
)

// WalletOffline is an operator's offline float.
const WalletOffline WalletKind = "offline_float"

// Errors of offline moves.
var (
	ErrOfflineFloat  = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-float-device-only", "the offline float pays and is paid only through a device's signed statement")
	errFloatNotFloat = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "wallet id already used by a wallet that is not an offline float")
)

// OfflineFloatID is the id of an operator's offline float wallet.
func OfflineFloatID(operator tongbao.ID) tongbao.ID { return deriveID("offline-float", operator) }

// OpenOfflineFloat opens an operator's offline float: no caps, floor zero.
// The same call again returns the wallet already opened.
func (s *Service) OpenOfflineFloat(ctx context.Context, operator tongbao.ID) (Wallet, error) {
	id := OfflineFloatID(operator)
	if old, err := s.store.Wallet(ctx, id); err == nil {
		if old.Kind != WalletOffline || old.Operator != operator {
			return Wallet{}, errFloatNotFloat
		}
		return old, nil
	} else if !errors.Is(err, ErrWalletNotFound) {
		return Wallet{}, err
	}
	if _, err := s.operator(ctx, operator); err != nil {
		return Wallet{}, err
	}
	now := s.clock.Now()
	w := Wallet{ID: id, Operator: operator, Kind: WalletOffline, Category: Category1, HolderLimits: &ledger.Limits{}, State: StateActive, OpenedAt: now, UpdatedAt: now}
	errs, err := s.ledger.CreateAccounts(ctx, []ledger.Account{s.account(id, CodeOfflineFloat, ledger.FlagDebitsMustNotExceedCredits, ledger.Limits{})})
	if err != nil {
		return Wallet{}, err
	}
	if errs[0] != nil && !errors.Is(errs[0], ledger.ErrAccountExists) {
		return Wallet{}, errs[0]
	}
	if err := s.store.CreateWallet(ctx, w); err != nil {
		return Wallet{}, err
	}
	return w, nil
}

// holderWallet returns the route of a personal or merchant wallet: the
// only kinds that load a device or are paid by one.
func (s *Service) holderWallet(ctx context.Context, id tongbao.ID) (Wallet, error) {
	w, err := s.paymentWallet(ctx, id)
	if err != nil {
		return Wallet{}, err
	}
	if w.Kind == WalletOffline {
		return Wallet{}, ErrOfflineFloat
	}
	return w, nil
}

// OfflineLoad moves amount from a holder's wallet to its operator's
// offline float under the idempotency id id: the ledger side of loading a
// device. The wallet's caps, floor and state apply as to a payment.
func (s *Service) OfflineLoad(ctx context.Context, id, wallet tongbao.ID, amount tongbao.Amount) (Receipt, error) {
	if id.IsZero() {
		return Receipt{}, ErrIDRequired
	}
	if err := s.checkMoney(amount, ""); err != nil {
		return Receipt{}, err
	}
	w, err := s.holderWallet(ctx, wallet)
	if err != nil {
		return Receipt{}, wrap("wallet", err)
	}
	rs, _, err := s.submit(ctx, []ledger.Transfer{{ID: id, DebitAccountID: w.ID, CreditAccountID: OfflineFloatID(w.Operator), Amount: amount, Code: TransferOffline}})
	if err != nil {
		return Receipt{}, wrap("offline load", err)
	}
	return receipt(rs), nil
}

// OfflineAdvance moves amount from an operator's vault into its offline
// float: the operator advancing the money of tokens a device signed past
// what it loaded, which the loss policy honours (package offline).
func (s *Service) OfflineAdvance(ctx context.Context, id, operator tongbao.ID, amount tongbao.Amount) (Receipt, error) {
	if id.IsZero() {
		return Receipt{}, ErrIDRequired
	}
	if err := s.checkMoney(amount, ""); err != nil {
		return Receipt{}, err
	}
	rs, _, err := s.submit(ctx, []ledger.Transfer{{ID: id, DebitAccountID: vaultAccount(operator), CreditAccountID: OfflineFloatID(operator), Amount: amount, Code: TransferOfflineAdv}})
	if err != nil {
		return Receipt{}, wrap("offline advance", err)
	}
	return receipt(rs), nil
}

// OfflineRecover moves amount from a holder's wallet to its operator's
// vault: the operator taking back what it advanced for a device that
// double-spent. The wallet's floor refuses more than it holds.
func (s *Service) OfflineRecover(ctx context.Context, id, wallet tongbao.ID, amount tongbao.Amount) (Receipt, error) {
	if id.IsZero() {
		return Receipt{}, ErrIDRequired
	}
	if err := s.checkMoney(amount, ""); err != nil {
		return Receipt{}, err
	}
	w, err := s.holderWallet(ctx, wallet)
	if err != nil {
		return Receipt{}, wrap("wallet", err)
	}
	rs, _, err := s.submit(ctx, []ledger.Transfer{{ID: id, DebitAccountID: w.ID, CreditAccountID: vaultAccount(w.Operator), Amount: amount, Code: TransferOfflineAdv}})
	if err != nil {
		return Receipt{}, wrap("offline recovery", err)
	}
	return receipt(rs), nil
}

// OfflinePayBatch pays from offline floats, each payment on its own as
// PayBatch does: From is the float of the payer device's operator, To a
// holder's wallet at any operator (a cross-operator payment clears
// through the settlement window like any other). It is how tokens and
// unloads settle.
func (s *Service) OfflinePayBatch(ctx context.Context, ps []Payment) ([]PaymentOutcome, error) {
	return s.payBatch(ctx, ps, s.floatWallet, s.holderWallet)
}

// floatWallet returns the route of an offline float, refusing any other
// wallet.
func (s *Service) floatWallet(ctx context.Context, id tongbao.ID) (Wallet, error) {
	r, err := s.route(ctx, id)
	if err != nil {
		return Wallet{}, err
	}
	if r.kind != WalletOffline {
		return Wallet{}, ErrOfflineFloat
	}
	return Wallet{ID: id, Operator: r.operator, Kind: r.kind}, nil
}
