package httpapi

import (
	"net/http"
	"strconv"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/merchant"
)

// PNGSizeDefault is the side of a rendered code without ?size.
const PNGSizeDefault = 512

// merchantRoutes are the endpoints of merchant collection: collection
// codes, payment requests, payment codes, refunds and statements.
func (s *Server) merchantRoutes() []route {
	created := http.StatusCreated
	merchantOnly := []string{RoleMerchant}
	holderOnly := []string{RoleHolder}
	merchantOrOp := []string{RoleMerchant, RoleOperatorAdmin}
	return []route{
		{method: "GET", pattern: "/v1/wallets/{wallet}/collection-code", summary: "A merchant wallet's static collection code, as JSON or (format=png) a QR image",
			roles: merchantOrOp, response: "CollectionCode", alt: "image/png", query: []string{"merchant_name", "merchant_city", "local_name", "local_city", "format", "size"}, handle: s.collectionCode},
		{method: "GET", pattern: "/v1/wallets/{wallet}/statement", summary: "A merchant wallet's daily statement (Asia/Shanghai), as JSON or (format=csv) CSV",
			roles: merchantOrOp, response: "Statement", alt: "text/csv", query: []string{"day", "format"}, handle: s.statement},
		{method: "POST", pattern: "/v1/wallets/{wallet}/payment-codes", summary: "Issue a one-time payment code for the holder's wallet (valid a minute)",
			roles: holderOnly, request: "IssuePaymentCode", bodyOptional: true, response: "PaymentCode", status: created, handle: s.issuePaymentCode},
		{method: "POST", pattern: "/v1/payment-codes/charge", summary: "Charge a payment code the holder shows, once",
			roles: merchantOnly, money: true, request: "Charge", response: "PaymentRequest", status: created, handle: s.charge},
		{method: "POST", pattern: "/v1/collection-codes/pay", summary: "Pay a scanned collection code (static with an amount, or dynamic)",
			roles: holderOnly, money: true, request: "PayCollectionCode", response: "PaymentRequest", handle: s.payCollectionCode},
		{method: "POST", pattern: "/v1/payment-requests", summary: "Create a payment request (a dynamic collection code) for an order",
			roles: merchantOnly, request: "CreatePaymentRequest", response: "PaymentRequest", status: created, handle: s.createPaymentRequest},
		{method: "GET", pattern: "/v1/payment-requests/{request}", summary: "Read a payment request",
			roles: []string{RoleMerchant, RoleOperatorAdmin, RoleHolder}, response: "PaymentRequest", handle: s.getPaymentRequest},
		{method: "GET", pattern: "/v1/payment-requests/{request}/qr", summary: "A payment request's collection code as a QR image (PNG)",
			roles: merchantOrOp, response: "CollectionCode", alt: "image/png", query: []string{"format", "size"}, handle: s.paymentRequestQR},
		{method: "POST", pattern: "/v1/payment-requests/{request}/cancel", summary: "Cancel an open payment request",
			roles: merchantOnly, response: "PaymentRequest", handle: s.cancelPaymentRequest},
		{method: "POST", pattern: "/v1/payment-requests/{request}/pay", summary: "Pay a payment request from the holder's wallet",
			roles: holderOnly, money: true, request: "PayRequest", response: "PaymentRequest", handle: s.payPaymentRequest},
		{method: "POST", pattern: "/v1/payment-requests/{request}/refunds", summary: "Refund all or part of a paid payment request",
			roles: merchantOnly, money: true, request: "CreateRefund", response: "Refund", status: created, handle: s.refund},
		{method: "GET", pattern: "/v1/payment-requests/{request}/refunds", summary: "A payment request's refunds",
			roles: merchantOrOp, response: "RefundList", handle: s.listRefunds},
	}
}

// merchants returns the merchant service, or an unavailable error on a
// server that does not serve merchant collection.
func (c *call) merchants() (*merchant.Service, error) {
	if c.merchant == nil {
		return nil, tongbao.Errorf(tongbao.EUNAVAILABLE, "merchant collection is not served here")
	}
	return c.merchant, nil
}

// ownMerchantWallet loads the merchant wallet named in the path, which the
// caller must own (a merchant) or keep (an operator admin).
func (s *Server) ownMerchantWallet(c *call) (*merchant.Service, tongbao.ID, error) {
	m, err := c.merchants()
	if err != nil {
		return nil, tongbao.ID{}, err
	}
	id, err := c.walletPath()
	if err != nil {
		return nil, id, err
	}
	if _, err := s.ownWallet(c, id); err != nil {
		return nil, id, err
	}
	return m, id, nil
}

// ownRequest loads the payment request in the path: a merchant reads its
// own, an operator admin those of its wallets, a holder any (it has
// scanned the code, which says as much).
func (c *call) ownRequest() (*merchant.Service, merchant.Request, error) {
	m, err := c.merchants()
	if err != nil {
		return nil, merchant.Request{}, err
	}
	id, err := c.pathID("request")
	if err != nil {
		return nil, merchant.Request{}, err
	}
	r, err := m.Request(c.ctx, id)
	if err != nil {
		return nil, merchant.Request{}, err
	}
	switch {
	case c.p.Role == RoleMerchant && r.Merchant == c.p.Wallet,
		c.p.Role == RoleOperatorAdmin && r.Operator == c.p.Institution,
		c.p.Role == RoleHolder:
		return m, r, nil
	}
	return nil, merchant.Request{}, errForbidden
}

func requestOut(r merchant.Request) wire.PaymentRequest {
	out := wire.PaymentRequest{ID: r.ID, Merchant: r.Merchant, Operator: r.Operator, OrderID: r.OrderID, Amount: wire.Amount(r.Amount),
		ExpiresAt: r.ExpiresAt.UTC(), Payload: r.Payload, Status: string(r.Status), Payer: r.Payer, Timestamp: r.PaymentTimestamp, CreatedAt: r.CreatedAt.UTC()}
	if !r.PaidAt.IsZero() {
		t := r.PaidAt.UTC()
		out.PaidAt = &t
	}
	return out
}

func refundOut(f merchant.Refund) wire.Refund {
	return wire.Refund{ID: f.ID, Request: f.Request, Merchant: f.Merchant, Payer: f.Payer, Amount: wire.Amount(f.Amount), Reason: f.Reason,
		Status: string(f.Status), FailReason: f.FailReason, Timestamp: f.Timestamp, CreatedAt: f.CreatedAt.UTC()}
}

// format reads ?format: "json" (the default) or the route's other one.
func (c *call) format(other string) (bool, error) {
	switch v := c.r.URL.Query().Get("format"); v {
	case "", "json":
		return false, nil
	case other:
		return true, nil
	default:
		return false, tongbao.Errorf(tongbao.EINVALID, "format must be json or %s", other)
	}
}

// png renders a payload as the route's image answer, sized by ?size.
func (c *call) png(payload string) (any, error) {
	size := PNGSizeDefault
	if v := c.r.URL.Query().Get("size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, tongbao.Errorf(tongbao.EINVALID, "size must be a number of pixels")
		}
		size = n
	}
	b, err := merchant.PNG(payload, size)
	if err != nil {
		return nil, err
	}
	return rawBody{ctype: "image/png", body: b}, nil
}

func (s *Server) collectionCode(c *call) (any, error) {
	m, id, err := s.ownMerchantWallet(c)
	if err != nil {
		return nil, err
	}
	image, err := c.format("png")
	if err != nil {
		return nil, err
	}
	q := c.r.URL.Query()
	payload, err := m.StaticCode(c.ctx, id, merchant.Names{MerchantName: q.Get("merchant_name"), MerchantCity: q.Get("merchant_city"),
		LocalName: q.Get("local_name"), LocalCity: q.Get("local_city")})
	if err != nil {
		return nil, err
	}
	if image {
		return c.png(payload)
	}
	return wire.CollectionCode{Wallet: id, Payload: payload}, nil
}

func (s *Server) statement(c *call) (any, error) {
	m, id, err := s.ownMerchantWallet(c)
	if err != nil {
		return nil, err
	}
	csv, err := c.format("csv")
	if err != nil {
		return nil, err
	}
	day := c.r.URL.Query().Get("day")
	if day == "" {
		day = m.Today()
	}
	st, err := m.Statement(c.ctx, id, day)
	if err != nil {
		return nil, err
	}
	if csv {
		return rawBody{ctype: "text/csv; charset=utf-8", body: st.CSV()}, nil
	}
	out := wire.Statement{Wallet: st.Merchant, Day: st.Day, From: st.From, To: st.To, Opening: wire.Amount(st.Opening), Payments: wire.Amount(st.Payments),
		PaymentCount: st.PaymentCount, Refunds: wire.Amount(st.Refunds), RefundCount: st.RefundCount, Net: wire.Amount(st.Net), Other: wire.Amount(st.Other),
		Closing: wire.Amount(st.Closing), Lines: make([]wire.StatementLine, 0, len(st.Lines))}
	for _, l := range st.Lines {
		out.Lines = append(out.Lines, wire.StatementLine{At: l.At, Timestamp: l.Timestamp, Kind: l.Kind, Amount: wire.Amount(l.Amount), TransferID: l.TransferID,
			Request: l.Request, OrderID: l.OrderID, Refund: l.Refund, Counterparty: l.Counterparty})
	}
	return out, nil
}

func (s *Server) issuePaymentCode(c *call) (any, error) {
	m, err := c.merchants()
	if err != nil {
		return nil, err
	}
	id, err := c.walletPath()
	if err != nil {
		return nil, err
	}
	if _, err := s.ownWallet(c, id); err != nil {
		return nil, err
	}
	var in wire.IssuePaymentCode
	if len(c.body) > 0 {
		if err := c.decode(&in); err != nil {
			return nil, err
		}
	}
	var cap tongbao.Amount
	if in.Cap != nil {
		if cap = tongbao.Amount(*in.Cap); cap <= 0 {
			return nil, tongbao.Errorf(tongbao.EINVALID, "cap must be above zero")
		}
	}
	code, err := m.IssuePaymentCode(c.ctx, id, cap)
	if err != nil {
		return nil, err
	}
	return wire.PaymentCode{Code: code.Code, Wallet: code.Wallet, Cap: wire.Amount(code.Cap), ExpiresAt: code.ExpiresAt.UTC()}, nil
}

func (s *Server) charge(c *call) (any, error) {
	m, err := c.merchants()
	if err != nil {
		return nil, err
	}
	var in wire.Charge
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	r, err := m.Charge(c.ctx, merchant.ChargeSpec{ID: c.id(0), Merchant: c.p.Wallet, Code: in.Code, Amount: tongbao.Amount(in.Amount), OrderID: in.OrderID})
	if err != nil {
		return nil, err
	}
	return requestOut(r), nil
}

func (s *Server) payCollectionCode(c *call) (any, error) {
	m, err := c.merchants()
	if err != nil {
		return nil, err
	}
	var in wire.PayCollectionCode
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.From != c.p.Wallet {
		return nil, errForbidden
	}
	p := merchant.CodePayment{ID: c.id(0), Payload: in.Payload, Payer: in.From}
	if in.Amount != nil {
		if p.Amount = tongbao.Amount(*in.Amount); p.Amount <= 0 {
			return nil, tongbao.Errorf(tongbao.EINVALID, "amount must be above zero")
		}
	}
	r, err := m.PayCode(c.ctx, p)
	if err != nil {
		return nil, err
	}
	return requestOut(r), nil
}

func (s *Server) createPaymentRequest(c *call) (any, error) {
	m, err := c.merchants()
	if err != nil {
		return nil, err
	}
	var in wire.CreatePaymentRequest
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.ExpiresAt != nil && in.ExpiresIn != 0 {
		return nil, tongbao.Errorf(tongbao.EINVALID, "give expires_at or expires_in_seconds, not both")
	}
	if in.ExpiresIn < 0 || int64(in.ExpiresIn) > int64(merchant.RequestTTLMax/time.Second) {
		return nil, tongbao.Errorf(tongbao.EINVALID, "expires_in_seconds must be 1 to %d", int64(merchant.RequestTTLMax/time.Second))
	}
	var expires time.Time
	if in.ExpiresAt != nil {
		expires = *in.ExpiresAt
	}
	spec := merchant.RequestSpec{Merchant: c.p.Wallet, OrderID: in.OrderID, Amount: tongbao.Amount(in.Amount), ExpiresAt: expires, ExpiresIn: time.Duration(in.ExpiresIn) * time.Second,
		MerchantName: in.MerchantName, MerchantCity: in.MerchantCity, LocalName: in.LocalName, LocalCity: in.LocalCity}
	spec.ID = c.chosenID(in.ID)
	r, err := m.CreateRequest(c.ctx, spec)
	if err != nil {
		return nil, err
	}
	return requestOut(r), nil
}

func (s *Server) getPaymentRequest(c *call) (any, error) {
	_, r, err := c.ownRequest()
	if err != nil {
		return nil, err
	}
	out := requestOut(r)
	if c.p.Role == RoleHolder && r.Payer != c.p.Wallet {
		out.Payer = tongbao.ID{} // who paid is the merchant's and the payer's to know
	}
	return out, nil
}

func (s *Server) paymentRequestQR(c *call) (any, error) {
	_, r, err := c.ownRequest()
	if err != nil {
		return nil, err
	}
	if c.r.URL.Query().Get("format") == "" {
		return c.png(r.Payload)
	}
	image, err := c.format("png")
	if err != nil {
		return nil, err
	}
	if image {
		return c.png(r.Payload)
	}
	return wire.CollectionCode{Wallet: r.Merchant, Payload: r.Payload}, nil
}

func (s *Server) cancelPaymentRequest(c *call) (any, error) {
	m, r, err := c.ownRequest()
	if err != nil {
		return nil, err
	}
	r, err = m.CancelRequest(c.ctx, r.ID)
	if err != nil {
		return nil, err
	}
	return requestOut(r), nil
}

func (s *Server) payPaymentRequest(c *call) (any, error) {
	m, r, err := c.ownRequest()
	if err != nil {
		return nil, err
	}
	var in wire.PayRequest
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.From != c.p.Wallet {
		return nil, errForbidden
	}
	r, err = m.PayRequest(c.ctx, r.ID, in.From)
	if err != nil {
		return nil, err
	}
	return requestOut(r), nil
}

func (s *Server) refund(c *call) (any, error) {
	m, r, err := c.ownRequest()
	if err != nil {
		return nil, err
	}
	var in wire.CreateRefund
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	f, err := m.Refund(c.ctx, merchant.RefundSpec{ID: c.id(0), Request: r.ID, Amount: tongbao.Amount(in.Amount), Reason: in.Reason})
	if err != nil {
		return nil, err
	}
	return refundOut(f), nil
}

func (s *Server) listRefunds(c *call) (any, error) {
	m, r, err := c.ownRequest()
	if err != nil {
		return nil, err
	}
	fs, err := m.Refunds(c.ctx, r.ID)
	if err != nil {
		return nil, err
	}
	posted, _, err := m.Refunded(c.ctx, r.ID)
	if err != nil {
		return nil, err
	}
	refundable, err := m.Refundable(c.ctx, r)
	if err != nil {
		return nil, err
	}
	out := wire.RefundList{Items: make([]wire.Refund, 0, len(fs)), Refunded: wire.Amount(posted), Refundable: wire.Amount(refundable)}
	for _, f := range fs {
		out.Items = append(out.Items, refundOut(f))
	}
	return out, nil
}
