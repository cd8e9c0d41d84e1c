package wire

import (
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// CollectionCode is a merchant wallet's static collection code: the QR
// payload a counter sticker carries (docs/qr.md).
type CollectionCode struct {
	Wallet  tongbao.ID `json:"wallet"`
	Payload string     `json:"payload"`
}

// CreatePaymentRequest makes a dynamic collection code for one order of
// the calling merchant's wallet. The expiry is ExpiresAt, or ExpiresIn
// seconds from now (15 minutes when neither is given).
type CreatePaymentRequest struct {
	ID           *tongbao.ID `json:"id,omitempty"`
	OrderID      string      `json:"order_id"`
	Amount       Amount      `json:"amount"`
	ExpiresAt    *time.Time  `json:"expires_at,omitempty"`
	ExpiresIn    int         `json:"expires_in_seconds,omitempty"`
	MerchantName string      `json:"merchant_name"`
	MerchantCity string      `json:"merchant_city"`
	LocalName    string      `json:"local_name,omitempty"`
	LocalCity    string      `json:"local_city,omitempty"`
}

// PaymentRequest is a payment request and its collection code.
type PaymentRequest struct {
	ID        tongbao.ID `json:"id"`
	Merchant  tongbao.ID `json:"merchant"`
	Operator  tongbao.ID `json:"operator"`
	OrderID   string     `json:"order_id"`
	Amount    Amount     `json:"amount"`
	ExpiresAt time.Time  `json:"expires_at"`
	Payload   string     `json:"payload"`
	// Status is open, paying, paid, expired or cancelled.
	Status    string     `json:"status"`
	Payer     tongbao.ID `json:"payer,omitzero"`
	PaidAt    *time.Time `json:"paid_at,omitempty"`
	Timestamp int64      `json:"timestamp,omitempty"` // of the merchant's leg, once paid
	CreatedAt time.Time  `json:"created_at"`
}

// PayRequest pays a payment request from the caller's wallet.
type PayRequest struct {
	From tongbao.ID `json:"from"`
}

// PayCollectionCode pays a scanned collection code from the caller's
// wallet: a static code with the amount the payer entered, a dynamic one
// with its own amount (Amount may then be left out).
type PayCollectionCode struct {
	From    tongbao.ID `json:"from"`
	Payload string     `json:"payload"`
	Amount  *Amount    `json:"amount,omitempty"`
}

// IssuePaymentCode asks for a one-time payment code; Cap defaults to the
// server's (1,000.00).
type IssuePaymentCode struct {
	Cap *Amount `json:"cap,omitempty"`
}

// PaymentCode is a one-time consumer-presented code, shown once: the
// digits go into a barcode and a QR code alike.
type PaymentCode struct {
	Code      string     `json:"code"`
	Wallet    tongbao.ID `json:"wallet"`
	Cap       Amount     `json:"cap"`
	ExpiresAt time.Time  `json:"expires_at"`
}

// Charge charges a scanned payment code from the calling merchant's
// wallet; OrderID is the merchant's reference (one is made when empty).
type Charge struct {
	Code    string `json:"code"`
	Amount  Amount `json:"amount"`
	OrderID string `json:"order_id,omitempty"`
}

// CreateRefund refunds all or part of a paid payment request.
type CreateRefund struct {
	Amount Amount `json:"amount"`
	Reason string `json:"reason"`
}

// Refund is a refund of a payment request.
type Refund struct {
	ID       tongbao.ID `json:"id"`
	Request  tongbao.ID `json:"request"`
	Merchant tongbao.ID `json:"merchant"`
	Payer    tongbao.ID `json:"payer"`
	Amount   Amount     `json:"amount"`
	Reason   string     `json:"reason"`
	// Status is pending, posted or failed.
	Status     string    `json:"status"`
	FailReason string    `json:"fail_reason,omitempty"`
	Timestamp  int64     `json:"timestamp,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// RefundList lists a payment request's refunds, oldest first.
type RefundList struct {
	Items []Refund `json:"items"`
	// Refunded is the sum of the posted ones, Refundable what is left.
	Refunded   Amount `json:"refunded"`
	Refundable Amount `json:"refundable"`
}

// StatementLine is one movement of a merchant wallet in a statement.
type StatementLine struct {
	At           time.Time  `json:"at"`
	Timestamp    int64      `json:"timestamp"`
	Kind         string     `json:"kind"`
	Amount       Amount     `json:"amount"` // signed: negative out of the wallet
	TransferID   tongbao.ID `json:"transfer,omitzero"`
	Request      tongbao.ID `json:"request,omitzero"`
	OrderID      string     `json:"order_id,omitempty"`
	Refund       tongbao.ID `json:"refund,omitzero"`
	Counterparty tongbao.ID `json:"counterparty,omitzero"`
}

// Statement is a merchant wallet's day (Asia/Shanghai): opening + net +
// other = closing.
type Statement struct {
	Wallet       tongbao.ID      `json:"wallet"`
	Day          string          `json:"day"`
	From         time.Time       `json:"from"`
	To           time.Time       `json:"to"`
	Opening      Amount          `json:"opening"`
	Payments     Amount          `json:"payments"`
	PaymentCount int             `json:"payment_count"`
	Refunds      Amount          `json:"refunds"`
	RefundCount  int             `json:"refund_count"`
	Net          Amount          `json:"net"`
	Other        Amount          `json:"other"`
	Closing      Amount          `json:"closing"`
	Lines        []StatementLine `json:"lines"`
}
