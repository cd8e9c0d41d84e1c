package twotier

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// OperatorSupply is one operator's side of the supply check.
type OperatorSupply struct {
	Operator tongbao.ID
	// Backing is what the central bank holds for the operator's currency.
	Backing tongbao.Amount
	// The operator's liabilities in digital currency: its vault, its
	// holders' wallets, and the net of its clearing accounts in windows
	// not yet settled (positive when it owes other operators).
	Vault    tongbao.Amount
	Wallets  tongbao.Amount
	Clearing tongbao.Amount
	// OfflineFloat is the currency loaded onto offline devices and not
	// yet settled or unloaded: the operator's offline float wallet.
	OfflineFloat tongbao.Amount
	// Liabilities is Vault + Wallets + Clearing + OfflineFloat.
	Liabilities tongbao.Amount
	OK          bool // Backing == Liabilities
}

// SupplyReport is the supply check, computed from the books.
type SupplyReport struct {
	At time.Time
	// Issued is the currency in circulation: issued − redeemed, that is
	// minus the net of the central bank's issued account.
	Issued tongbao.Amount
	// Backing is the sum of the operators' backing.
	Backing   tongbao.Amount
	Operators []OperatorSupply
	// OK says Issued == Backing and every operator is OK.
	OK bool
}

// SupplyReport checks, from the ledger's balances, that issued − redeemed
// equals the sum of the operators' backing, and that each operator's
// backing equals its liabilities. It first waits until everything the
// ledger accepted is durable, then reads every balance it sums as of one
// commit, so the report is exact while money moves.
func (s *Service) SupplyReport(ctx context.Context) (SupplyReport, error) {
	cb, err := s.centralBank()
	if err != nil {
		return SupplyReport{}, err
	}
	if err := s.ledger.ExpireDue(ctx); err != nil {
		return SupplyReport{}, err
	}
	r := SupplyReport{At: s.clock.Now()}
	ops, err := s.operators(ctx)
	if err != nil {
		return SupplyReport{}, err
	}
	windows, err := s.store.Windows(ctx, 0)
	if err != nil {
		return SupplyReport{}, err
	}
	var open []uint64
	for _, w := range windows {
		if w.Status != WindowSettled {
			open = append(open, w.Number)
		}
	}

	// Name every account the report sums, then read them all at once.
	ids := []tongbao.ID{issuedAccount(cb)}
	type parts struct {
		backing, vault, wallets, float, clearing []int
		windows                                  []uint64 // of the clearing accounts
	}
	perOp := make([]parts, len(ops))
	add := func(list *[]int, id tongbao.ID) {
		*list = append(*list, len(ids))
		ids = append(ids, id)
	}
	for i, op := range ops {
		add(&perOp[i].backing, backingAccount(cb, op.ID))
		add(&perOp[i].vault, vaultAccount(op.ID))
		for after := (tongbao.ID{}); ; {
			ws, err := s.store.Wallets(ctx, op.ID, after, WalletsPageMax)
			if err != nil {
				return SupplyReport{}, err
			}
			for _, w := range ws {
				if w.Kind == WalletOffline {
					add(&perOp[i].float, w.ID)
					continue
				}
				add(&perOp[i].wallets, w.ID)
			}
			if len(ws) < WalletsPageMax {
				break
			}
			after = ws[len(ws)-1].ID
		}
		for _, n := range open {
			id := clearingAccount(op.ID, n)
			if _, err := s.ledger.Account(ctx, id); errors.Is(err, ledger.ErrAccountNotFound) {
				continue // the window opened after this operator's last payment
			} else if err != nil {
				return SupplyReport{}, err
			}
			add(&perOp[i].clearing, id)
			perOp[i].windows = append(perOp[i].windows, n)
		}
	}
	accounts, err := s.ledger.Accounts(ctx, ids)
	if err != nil {
		return SupplyReport{}, err
	}
	sum := func(list []int) tongbao.Amount {
		var total tongbao.Amount
		for _, k := range list {
			total += accounts[k].Net()
		}
		return total
	}

	r.Issued = -accounts[0].Net()
	r.OK = true
	for i, op := range ops {
		o := OperatorSupply{Operator: op.ID, Backing: sum(perOp[i].backing), Vault: sum(perOp[i].vault), Wallets: sum(perOp[i].wallets), OfflineFloat: sum(perOp[i].float)}
		for j, k := range perOp[i].clearing {
			net, err := s.openPosition(ctx, op.ID, perOp[i].windows[j], accounts[k])
			if err != nil {
				return SupplyReport{}, err
			}
			o.Clearing += net
		}
		o.Liabilities = o.Vault + o.Wallets + o.Clearing + o.OfflineFloat
		o.OK = o.Backing == o.Liabilities
		r.OK = r.OK && o.OK
		r.Backing += o.Backing
		r.Operators = append(r.Operators, o)
	}
	r.OK = r.OK && r.Issued == r.Backing
	return r, nil
}

// openPosition returns the net of an operator's clearing account in a
// window that is not settled in the store. A window whose settlement chain
// posted before a crash let the store record it counts as settled.
func (s *Service) openPosition(ctx context.Context, op tongbao.ID, window uint64, a ledger.AccountRecord) (tongbao.Amount, error) {
	if a.Net() == 0 {
		return 0, nil
	}
	if _, err := s.ledger.LookupTransfer(ctx, settlementID(window, op)); err == nil {
		return 0, nil
	} else if !errors.Is(err, ledger.ErrTransferNotFound) {
		return 0, err
	}
	return a.Net(), nil
}

// Kinds of reconciliation difference.
const (
	// DiffMissingAtCentralBank: the operator recorded a posted payment that
	// the central bank's clearing accounts do not show.
	DiffMissingAtCentralBank = "missing_at_central_bank"
	// DiffUnrecorded: the clearing accounts show a payment leg the
	// operator has no posted record of.
	DiffUnrecorded = "unrecorded_at_operator"
	// DiffAmount: both sides have the payment, with different amounts or
	// windows.
	DiffAmount = "amount_mismatch"
	// DiffPending: the operator's record never learned the outcome (an
	// answer lost in a crash); Theirs says whether the ledger posted it.
	DiffPending = "pending_record"
	// DiffPosition: a window's settled position differs from the sum of
	// the operator's own records in it.
	DiffPosition = "position_mismatch"
)

// Difference is one disagreement between an operator's records and the
// central bank's view. Nothing is corrected: the report lists it.
type Difference struct {
	Kind       string
	PaymentID  tongbao.ID
	TransferID tongbao.ID
	Window     uint64
	Ours       tongbao.Amount
	Theirs     tongbao.Amount
	Detail     string
}

// Reconciliation is an operator's daily reconciliation report.
type Reconciliation struct {
	Operator tongbao.ID
	// Day is the calendar day (in the service's time zone) reconciled:
	// [From, To).
	Day       string
	From, To  time.Time
	Records   int // cross-operator payment legs of the operator in the day
	Transfers int // clearing-account legs the central bank shows in the day
	// Settled lists the windows settled in the day whose positions were
	// compared.
	Settled     []uint64
	Differences []Difference
}

// Day returns noon of the calendar day v (YYYY-MM-DD) in the service's
// time zone, the zone of its reconciliation days and its caps; the
// current time when v is empty.
func (s *Service) Day(v string) (time.Time, error) {
	if v == "" {
		return s.clock.Now(), nil
	}
	d, err := time.ParseInLocation(time.DateOnly, v, s.loc)
	if err != nil {
		return time.Time{}, tongbao.Errorf(tongbao.EINVALID, "day must be a date as YYYY-MM-DD")
	}
	return d.Add(12 * time.Hour), nil
}

// Reconcile compares, for the calendar day containing day, the operator's
// own records of its cross-operator payments with the central bank's view:
// the payment legs on the operator's clearing accounts, and the positions
// of the windows settled that day. Every difference is listed.
func (s *Service) Reconcile(ctx context.Context, operator tongbao.ID, day time.Time) (Reconciliation, error) {
	if _, err := s.operator(ctx, operator); err != nil {
		return Reconciliation{}, err
	}
	d := day.In(s.loc)
	from := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, s.loc)
	to := from.AddDate(0, 0, 1)
	rep := Reconciliation{Operator: operator, Day: from.Format(time.DateOnly), From: from, To: to}
	inDay := func(ts int64) bool { return ts >= from.UnixNano() && ts < to.UnixNano() }

	windows, err := s.store.Windows(ctx, 0)
	if err != nil {
		return Reconciliation{}, err
	}
	// The central bank's view: payment legs on the operator's clearing
	// accounts of the windows open during the day.
	theirs := make(map[tongbao.ID]ledger.Transfer)
	for _, w := range windows {
		if !w.OpenedAt.Before(to) || (!w.ClosedAt.IsZero() && w.ClosedAt.Before(from)) {
			continue
		}
		account := clearingAccount(operator, w.Number)
		for cursor := int64(0); ; {
			ts, next, err := s.ledger.AccountTransfers(ctx, account, cursor, ledger.AccountTransfersMax)
			if errors.Is(err, ledger.ErrAccountNotFound) {
				break
			}
			if err != nil {
				return Reconciliation{}, err
			}
			for _, t := range ts {
				if t.Code == TransferCrossPayment && inDay(t.Timestamp) {
					theirs[t.ID] = t
				}
			}
			if next == 0 || (len(ts) > 0 && ts[len(ts)-1].Timestamp < from.UnixNano()) {
				break
			}
			cursor = next
		}
	}
	rep.Transfers = len(theirs)

	// The operator's records; a leg belongs to the day of its ledger
	// timestamp, a record without one to the day it was made.
	recs, err := s.store.Payments(ctx, operator, from.AddDate(0, 0, -1), to.AddDate(0, 0, 1))
	if err != nil {
		return Reconciliation{}, err
	}
	for _, rec := range recs {
		payer := rec.PayerOperator == operator
		legID := deriveID("pay-in", rec.ID, rec.Window)
		legTS := rec.PayeeTimestamp
		if payer {
			legID, legTS = deriveID("pay-out", rec.ID, rec.Window), rec.PayerTimestamp
		}
		switch rec.Status {
		case PaymentPosted:
			if !inDay(legTS) {
				continue
			}
			rep.Records++
			t, ok := theirs[legID]
			if !ok {
				rep.Differences = append(rep.Differences, Difference{Kind: DiffMissingAtCentralBank, PaymentID: rec.ID, TransferID: legID, Window: rec.Window, Ours: rec.Amount,
					Detail: "the operator recorded the payment as posted; the clearing account has no such leg that day"})
				continue
			}
			delete(theirs, legID)
			if t.Amount != rec.Amount {
				rep.Differences = append(rep.Differences, Difference{Kind: DiffAmount, PaymentID: rec.ID, TransferID: legID, Window: rec.Window, Ours: rec.Amount, Theirs: t.Amount})
			}
		default:
			if !inDay(rec.CreatedAt.UnixNano()) {
				continue
			}
			t, err := s.ledger.LookupTransfer(ctx, legID)
			posted := err == nil
			if err != nil && !errors.Is(err, ledger.ErrTransferNotFound) {
				return Reconciliation{}, err
			}
			if rec.Status == PaymentPending || posted {
				diff := Difference{Kind: DiffPending, PaymentID: rec.ID, TransferID: legID, Window: rec.Window, Ours: rec.Amount}
				if rec.Status == PaymentFailed {
					diff.Kind = DiffUnrecorded
				}
				if posted {
					diff.Theirs = t.Amount
					diff.Detail = fmt.Sprintf("record is %s; the ledger posted it", rec.Status)
					delete(theirs, legID)
				} else {
					diff.Detail = "record is pending; the ledger has no such leg"
				}
				rep.Differences = append(rep.Differences, diff)
			}
		}
	}
	var left []ledger.Transfer
	for _, t := range theirs {
		left = append(left, t)
	}
	sort.Slice(left, func(i, j int) bool { return left[i].Timestamp < left[j].Timestamp })
	for _, t := range left {
		rep.Differences = append(rep.Differences, Difference{Kind: DiffUnrecorded, TransferID: t.ID, Theirs: t.Amount,
			Detail: "the clearing account shows a payment leg the operator has no posted record of"})
	}

	// Positions of the windows settled that day.
	for _, w := range windows {
		if w.Status != WindowSettled || w.SettledAt.Before(from) || !w.SettledAt.Before(to) {
			continue
		}
		rep.Settled = append(rep.Settled, w.Number)
		recs, err := s.store.Payments(ctx, operator, w.OpenedAt.AddDate(0, 0, -1), w.SettledAt.AddDate(0, 0, 1))
		if err != nil {
			return Reconciliation{}, err
		}
		var ours tongbao.Amount
		for _, rec := range recs {
			if rec.Window != w.Number || rec.Status != PaymentPosted {
				continue
			}
			if rec.PayerOperator == operator {
				ours += rec.Amount
			} else {
				ours -= rec.Amount
			}
		}
		if theirsNet := w.Positions[operator]; theirsNet != ours {
			rep.Differences = append(rep.Differences, Difference{Kind: DiffPosition, Window: w.Number, Ours: ours, Theirs: theirsNet,
				Detail: "the settled net position differs from the sum of the operator's records in the window"})
		}
	}
	return rep, nil
}
