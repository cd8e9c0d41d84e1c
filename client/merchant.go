package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// CollectionCode reads a merchant wallet's static collection code, with
// the name and city the payer's wallet shows.
func (c *Client) CollectionCode(ctx context.Context, wallet tongbao.ID, name, city string) (wire.CollectionCode, error) {
	q := url.Values{"merchant_name": {name}, "merchant_city": {city}}
	return get[wire.CollectionCode](c, ctx, "/v1/wallets/"+wallet.String()+"/collection-code?"+q.Encode())
}

// CreatePaymentRequest makes a payment request (a dynamic collection
// code) for the merchant's wallet; a retry with the same key makes no
// second one.
func (c *Client) CreatePaymentRequest(ctx context.Context, key string, in wire.CreatePaymentRequest) (wire.PaymentRequest, error) {
	return post[wire.PaymentRequest](c, ctx, "/v1/payment-requests", key, in)
}

// PaymentRequest reads a payment request.
func (c *Client) PaymentRequest(ctx context.Context, id tongbao.ID) (wire.PaymentRequest, error) {
	return get[wire.PaymentRequest](c, ctx, "/v1/payment-requests/"+id.String())
}

// CancelPaymentRequest cancels an open payment request.
func (c *Client) CancelPaymentRequest(ctx context.Context, id tongbao.ID) (wire.PaymentRequest, error) {
	return post[wire.PaymentRequest](c, ctx, "/v1/payment-requests/"+id.String()+"/cancel", "", nil)
}

// PayPaymentRequest pays a payment request from the holder's wallet.
func (c *Client) PayPaymentRequest(ctx context.Context, key string, id, from tongbao.ID) (wire.PaymentRequest, error) {
	return post[wire.PaymentRequest](c, ctx, "/v1/payment-requests/"+id.String()+"/pay", key, wire.PayRequest{From: from})
}

// PayCollectionCode pays a scanned collection code from the holder's
// wallet: amount is what the payer entered for a static code, zero for a
// dynamic one.
func (c *Client) PayCollectionCode(ctx context.Context, key string, from tongbao.ID, payload string, amount tongbao.Amount) (wire.PaymentRequest, error) {
	in := wire.PayCollectionCode{From: from, Payload: payload}
	if amount != 0 {
		a := wire.Amount(amount)
		in.Amount = &a
	}
	return post[wire.PaymentRequest](c, ctx, "/v1/collection-codes/pay", key, in)
}

// IssuePaymentCode asks for a one-time payment code for the holder's
// wallet; a zero cap takes the server's default.
func (c *Client) IssuePaymentCode(ctx context.Context, wallet tongbao.ID, cap tongbao.Amount) (wire.PaymentCode, error) {
	var in wire.IssuePaymentCode
	if cap != 0 {
		a := wire.Amount(cap)
		in.Cap = &a
	}
	return post[wire.PaymentCode](c, ctx, "/v1/wallets/"+wallet.String()+"/payment-codes", "", in)
}

// Charge charges a payment code the holder shows.
func (c *Client) Charge(ctx context.Context, key string, in wire.Charge) (wire.PaymentRequest, error) {
	return post[wire.PaymentRequest](c, ctx, "/v1/payment-codes/charge", key, in)
}

// Refund refunds all or part of a paid payment request.
func (c *Client) Refund(ctx context.Context, key string, request tongbao.ID, amount tongbao.Amount, reason string) (wire.Refund, error) {
	return post[wire.Refund](c, ctx, "/v1/payment-requests/"+request.String()+"/refunds", key, wire.CreateRefund{Amount: wire.Amount(amount), Reason: reason})
}

// Refunds lists a payment request's refunds.
func (c *Client) Refunds(ctx context.Context, request tongbao.ID) (wire.RefundList, error) {
	return get[wire.RefundList](c, ctx, "/v1/payment-requests/"+request.String()+"/refunds")
}

// Statement reads a merchant wallet's statement of a day (YYYY-MM-DD,
// Asia/Shanghai; empty for today).
func (c *Client) Statement(ctx context.Context, wallet tongbao.ID, day string) (wire.Statement, error) {
	return get[wire.Statement](c, ctx, "/v1/wallets/"+wallet.String()+"/statement"+dayQuery(day, ""))
}

// StatementCSV reads the same statement as CSV.
func (c *Client) StatementCSV(ctx context.Context, wallet tongbao.ID, day string) ([]byte, error) {
	b, _, err := c.GetRaw(ctx, "/v1/wallets/"+wallet.String()+"/statement"+dayQuery(day, "csv"))
	return b, err
}

// PaymentRequestPNG renders a payment request's collection code as a PNG
// of size pixels a side (zero: the server's default).
func (c *Client) PaymentRequestPNG(ctx context.Context, id tongbao.ID, size int) ([]byte, error) {
	path := "/v1/payment-requests/" + id.String() + "/qr"
	if size > 0 {
		path += fmt.Sprintf("?size=%d", size)
	}
	b, _, err := c.GetRaw(ctx, path)
	return b, err
}

func dayQuery(day, format string) string {
	v := url.Values{}
	if day != "" {
		v.Set("day", day)
	}
	if format != "" {
		v.Set("format", format)
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// GetRaw reads an answer that is not JSON (an image, a CSV file) and its
// content type; a problem answer is returned as *wire.Problem.
func (c *Client) GetRaw(ctx context.Context, path string) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, "", err
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	data, err := readAnswer(resp)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode >= 300 {
		return nil, "", problemOf(resp, data)
	}
	return data, resp.Header.Get("Content-Type"), nil
}
