package merchant

import (
	"bytes"
	"context"
	"encoding/csv"
	"strconv"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/twotier"
)

// StatementLinesMax is the most movements one daily statement lists; a
// merchant past it needs a finer statement than a day.
const StatementLinesMax = 100_000

// statementPage is how many transfers a statement reads at a time.
const statementPage = 1000

// The kinds of a statement line.
const (
	LinePayment     = "payment"      // a payment request, static or dynamic code, or charged payment code
	LineRefund      = "refund"       // a refund of one of those
	LineTopUp       = "top_up"       // from the merchant's bank deposit
	LineWithdrawal  = "withdrawal"   // to the merchant's bank deposit
	LineTransferIn  = "transfer_in"  // any other payment into the wallet
	LineTransferOut = "transfer_out" // any other payment out of it
	// LineSubWallet is a payment from a scenario sub-wallet: by its
	// holder, or charged by the merchant (tap to pay).
	LineSubWallet = "sub_wallet_payment"
)

// StatementLine is one movement of a merchant wallet.
type StatementLine struct {
	Timestamp int64 // the ledger transfer's
	At        time.Time
	Kind      string
	// Amount is signed: positive into the wallet, negative out of it.
	Amount     tongbao.Amount
	TransferID tongbao.ID // zero for a transfer the ledger made itself
	// Request and OrderID name the payment request of a payment or a
	// refund, Refund the refund; Counterparty is the payer of a payment
	// and the wallet a refund went to.
	Request      tongbao.ID
	OrderID      string
	Refund       tongbao.ID
	Counterparty tongbao.ID
}

// Statement is a merchant wallet's movements over one day in Asia/Shanghai.
// It balances: Opening + Net + Other = Closing, where Net = Payments −
// Refunds is the collection's part and Other everything else (top-ups,
// withdrawals, payments not made through a code); the lines sum to
// Closing − Opening.
type Statement struct {
	Merchant         tongbao.ID
	Day              string // YYYY-MM-DD
	From, To         time.Time
	Opening, Closing tongbao.Amount
	Payments         tongbao.Amount
	PaymentCount     int
	Refunds          tongbao.Amount
	RefundCount      int
	Net              tongbao.Amount
	Other            tongbao.Amount
	Lines            []StatementLine // oldest first
}

var shanghai = mustLoadLocation("Asia/Shanghai")

func mustLoadLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// ParseDay reads a day (YYYY-MM-DD) in Asia/Shanghai.
func ParseDay(day string) (time.Time, error) {
	t, err := time.ParseInLocation(time.DateOnly, day, shanghai)
	if err != nil {
		return time.Time{}, tongbao.Errorf(tongbao.EINVALID, "day must be a date as YYYY-MM-DD")
	}
	return t, nil
}

// Today returns the current day in Asia/Shanghai, as YYYY-MM-DD.
func (s *Service) Today() string { return s.clock.Now().In(shanghai).Format(time.DateOnly) }

// Statement returns a merchant wallet's statement for a day (YYYY-MM-DD,
// Asia/Shanghai). It is read from the wallet's history in the ledger, so
// it lists every movement whatever caused it, and labels those the
// merchant's requests and refunds made.
func (s *Service) Statement(ctx context.Context, wallet tongbao.ID, day string) (Statement, error) {
	start, err := ParseDay(day)
	if err != nil {
		return Statement{}, err
	}
	end := start.AddDate(0, 0, 1)
	w, err := s.payments.Wallet(ctx, wallet)
	if err != nil {
		return Statement{}, err
	}
	if w.Kind != twotier.WalletMerchant {
		return Statement{}, twotier.ErrNotMerchantWallet
	}
	from, to := start.UnixNano(), end.UnixNano()
	bal, head, err := s.payments.WalletHead(ctx, wallet)
	if err != nil {
		return Statement{}, err
	}
	// Walk back from the head: what came after the day is taken off the
	// balance to give the closing balance; the day's transfers are lines.
	closing := bal.Net()
	var ts []ledger.Transfer
	for cursor := head; cursor >= from && cursor != 0; {
		page, next, err := s.payments.WalletTransfers(ctx, wallet, cursor, statementPage)
		if err != nil {
			return Statement{}, err
		}
		done := next == 0
		for _, t := range page {
			if t.Timestamp < from {
				done = true
				break
			}
			if t.Timestamp >= to {
				closing -= signed(wallet, t)
				continue
			}
			if len(ts) == StatementLinesMax {
				return Statement{}, tongbao.Errorf(tongbao.EUNPROCESSABLE, "the day has more than %d movements", StatementLinesMax)
			}
			ts = append(ts, t)
		}
		if done {
			break
		}
		cursor = next
	}
	reqs, err := s.store.PaidRequests(ctx, wallet, from, to, StatementLinesMax)
	if err != nil {
		return Statement{}, err
	}
	byTS := make(map[int64]Request, len(reqs))
	for _, r := range reqs {
		byTS[r.PaymentTimestamp] = r
	}
	refunds, err := s.store.PostedRefunds(ctx, wallet, from, to, StatementLinesMax)
	if err != nil {
		return Statement{}, err
	}
	refundByTS := make(map[int64]Refund, len(refunds))
	for _, f := range refunds {
		refundByTS[f.Timestamp] = f
	}
	st := Statement{Merchant: wallet, Day: day, From: start, To: end, Closing: closing, Lines: make([]StatementLine, 0, len(ts))}
	for i := len(ts) - 1; i >= 0; i-- { // oldest first
		t := ts[i]
		l := StatementLine{Timestamp: t.Timestamp, At: time.Unix(0, t.Timestamp).In(shanghai), Amount: signed(wallet, t), TransferID: t.ID}
		r, isPayment := byTS[t.Timestamp]
		f, isRefund := refundByTS[t.Timestamp]
		switch {
		case isPayment && t.CreditAccountID == wallet:
			l.Kind, l.Request, l.OrderID, l.Counterparty = LinePayment, r.ID, r.OrderID, r.Payer
			st.Payments += l.Amount
			st.PaymentCount++
		case isRefund && t.DebitAccountID == wallet:
			l.Kind, l.Request, l.Refund, l.Counterparty = LineRefund, f.Request, f.ID, f.Payer
			if r, err := s.store.Request(ctx, f.Request); err == nil {
				l.OrderID = r.OrderID
			}
			st.Refunds -= l.Amount
			st.RefundCount++
		default:
			l.Kind = otherKind(wallet, t)
			st.Other += l.Amount
		}
		st.Lines = append(st.Lines, l)
	}
	st.Net = st.Payments - st.Refunds
	st.Opening = st.Closing - st.Net - st.Other
	return st, nil
}

// signed returns a transfer's effect on a wallet's posted balance.
func signed(wallet tongbao.ID, t ledger.Transfer) tongbao.Amount {
	if t.CreditAccountID == wallet {
		return t.Amount
	}
	return -t.Amount
}

func otherKind(wallet tongbao.ID, t ledger.Transfer) string {
	switch t.Code {
	case twotier.TransferTopUp:
		return LineTopUp
	case twotier.TransferWithdraw:
		return LineWithdrawal
	case twotier.TransferScenarioPayment, twotier.TransferScenarioCharge:
		return LineSubWallet
	}
	if t.CreditAccountID == wallet {
		return LineTransferIn
	}
	return LineTransferOut
}

// CSV renders the statement as CSV: a header, one row per line, and
// summary rows (opening, payments, refunds, net, other, closing) whose
// kind column names them, with their counts of lines. Amounts are in yuan with two decimals.
func (st Statement) CSV() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write([]string{"time", "kind", "amount", "order_id", "request", "refund", "counterparty", "transfer", "timestamp", "count"})
	id := func(x tongbao.ID) string {
		if x.IsZero() {
			return ""
		}
		return x.String()
	}
	for _, l := range st.Lines {
		w.Write([]string{l.At.Format(time.RFC3339Nano), l.Kind, l.Amount.String(), l.OrderID, id(l.Request), id(l.Refund), id(l.Counterparty),
			id(l.TransferID), strconv.FormatInt(l.Timestamp, 10), ""})
	}
	for _, row := range []struct {
		kind   string
		amount tongbao.Amount
		count  int
	}{
		{"opening", st.Opening, -1}, {"payments", st.Payments, st.PaymentCount}, {"refunds", -st.Refunds, st.RefundCount},
		{"net", st.Net, -1}, {"other", st.Other, len(st.Lines) - st.PaymentCount - st.RefundCount}, {"closing", st.Closing, -1},
	} {
		count := ""
		if row.count >= 0 {
			count = strconv.Itoa(row.count)
		}
		w.Write([]string{"", "total:" + row.kind, row.amount.String(), "", "", "", "", "", "", count})
	}
	w.Flush()
	return b.Bytes()
}
