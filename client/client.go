// Package client is the Go client of tongbao's HTTP API. The end-to-end
// tests drive the server through it, so it covers every endpoint.
//
// Every method that moves money takes an idempotency key: pass the same
// key again to retry safely (the server answers the first result); NewKey
// makes a fresh one. Errors from the server are *wire.Problem values:
// branch on their Type with errors.As or with IsProblem.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// ProblemBase prefixes every problem type URI the server answers.
const ProblemBase = "https://tongbao.dev/problems/"

// ResponseMax is the largest answer the client reads, in bytes.
const ResponseMax = 64 << 20

// Client speaks to one tongbao server with one key.
type Client struct {
	base string
	key  string
	http *http.Client
}

// New returns a client of the server at base (such as
// "http://127.0.0.1:8080") that authenticates with key (may be empty for
// the public endpoints). A nil hc uses a client whose transport keeps
// enough idle connections for many concurrent callers.
func New(base, key string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}}
	}
	return &Client{base: strings.TrimRight(base, "/"), key: key, http: hc}
}

// WithKey returns a client of the same server with another key.
func (c *Client) WithKey(key string) *Client {
	cp := *c
	cp.key = key
	return &cp
}

// NewKey returns a fresh idempotency key: a time-ordered UUIDv7, from
// which the server derives transfer ids that keep the ledger's id index
// append-mostly (any unique key is correct; this one is cheaper to store).
func NewKey() string { return tongbao.NewID().String() }

// IsProblem reports whether err is a problem of the named type (the last
// segment of its URI, such as "insufficient-funds").
func IsProblem(err error, name string) bool {
	var p *wire.Problem
	return errors.As(err, &p) && p.Type == ProblemBase+name
}

// ProblemName returns the last segment of err's problem type, or "" when
// err is not a problem.
func ProblemName(err error) string {
	var p *wire.Problem
	if errors.As(err, &p) {
		return strings.TrimPrefix(p.Type, ProblemBase)
	}
	return ""
}

// Do sends one request: in (if not nil) as the JSON body, the
// idempotency key (if not empty) as a header, and decodes a success into
// out (if not nil). A problem answer is returned as *wire.Problem.
func (c *Client) Do(ctx context.Context, method, path, idempotencyKey string, in, out any) error {
	var body io.Reader
	if in != nil {
		var b []byte
		switch v := in.(type) {
		case []byte:
			b = v
		default:
			var err error
			if b, err = wire.Encode(in); err != nil {
				return err
			}
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	// The header is made whole, in canonical form, rather than Set one by
	// one: a client of a busy server makes many.
	req.Header = make(http.Header, 3)
	if in != nil {
		req.Header["Content-Type"] = []string{"application/json"}
	}
	if c.key != "" {
		req.Header["Authorization"] = []string{"Bearer " + c.key}
	}
	if idempotencyKey != "" {
		req.Header["Idempotency-Key"] = []string{idempotencyKey}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := readAnswer(resp)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return problemOf(resp, data)
	}
	if out == nil {
		return nil
	}
	if err := wire.DecodeAnswer(data, out); err != nil {
		return fmt.Errorf("client: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// problemOf reads a failed answer as a problem; an answer that is not
// one (a proxy's page) becomes a problem of type about:blank.
func problemOf(resp *http.Response, data []byte) *wire.Problem {
	p := &wire.Problem{}
	if err := json.Unmarshal(data, p); err != nil || p.Type == "" {
		return &wire.Problem{Type: "about:blank", Title: resp.Status, Status: resp.StatusCode, Detail: strings.TrimSpace(string(data))}
	}
	return p
}

// readAnswer reads a response's body, up to ResponseMax bytes, into a
// buffer of the size announced when there is one. It reads to the end of
// the body, which lets the transport reuse the connection.
func readAnswer(resp *http.Response) ([]byte, error) {
	body := io.LimitReader(resp.Body, ResponseMax)
	if resp.ContentLength <= 0 || resp.ContentLength >= ResponseMax {
		return io.ReadAll(body)
	}
	// One byte of room past the announced end, to see the end.
	b := make([]byte, resp.ContentLength+1)
	n, err := io.ReadFull(body, b)
	if err == io.ErrUnexpectedEOF && int64(n) == resp.ContentLength {
		return b[:n], nil
	}
	if err == nil {
		err = errors.New("client: answer longer than its Content-Length")
	}
	return nil, err
}

func get[T any](c *Client, ctx context.Context, path string) (T, error) {
	var out T
	err := c.Do(ctx, http.MethodGet, path, "", nil, &out)
	return out, err
}

func post[T any](c *Client, ctx context.Context, path, key string, in any) (T, error) {
	var out T
	err := c.Do(ctx, http.MethodPost, path, key, in, &out)
	return out, err
}

// Page selects a page of a list: Cursor from the previous page's
// NextCursor, Limit up to the server's maximum (zero: its default).
type Page struct {
	Cursor string
	Limit  int
}

func (p Page) query() string {
	v := url.Values{}
	if p.Cursor != "" {
		v.Set("cursor", p.Cursor)
	}
	if p.Limit > 0 {
		v.Set("limit", strconv.Itoa(p.Limit))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// Health reads /healthz.
func (c *Client) Health(ctx context.Context) (wire.Health, error) {
	return get[wire.Health](c, ctx, "/healthz")
}

// Ready reads /readyz.
func (c *Client) Ready(ctx context.Context) (wire.Health, error) {
	return get[wire.Health](c, ctx, "/readyz")
}

// Me returns what the client's key speaks for.
func (c *Client) Me(ctx context.Context) (wire.Key, error) { return get[wire.Key](c, ctx, "/v1/me") }

// CreateKey creates an API key or holder token; its Secret is in the answer only.
func (c *Client) CreateKey(ctx context.Context, in wire.CreateKey) (wire.Key, error) {
	return post[wire.Key](c, ctx, "/v1/keys", "", in)
}

// Operators lists operators.
func (c *Client) Operators(ctx context.Context, p Page) (wire.InstitutionPage, error) {
	return get[wire.InstitutionPage](c, ctx, "/v1/operators"+p.query())
}

// CreateOperator authorises an operator; key (may be empty) makes the id
// derived from it, so a retry finds the same operator.
func (c *Client) CreateOperator(ctx context.Context, key string, in wire.CreateOperator) (wire.Institution, error) {
	return post[wire.Institution](c, ctx, "/v1/operators", key, in)
}

// Operator reads an operator.
func (c *Client) Operator(ctx context.Context, id tongbao.ID) (wire.Institution, error) {
	return get[wire.Institution](c, ctx, "/v1/operators/"+id.String())
}

func money(amount tongbao.Amount) wire.Money { return wire.Money{Amount: wire.Amount(amount)} }

// DepositReserves credits an operator's reserve account.
func (c *Client) DepositReserves(ctx context.Context, key string, op tongbao.ID, amount tongbao.Amount) (wire.Receipt, error) {
	return post[wire.Receipt](c, ctx, "/v1/operators/"+op.String()+"/reserves/deposit", key, money(amount))
}

// WithdrawReserves moves unissued reserves back to the interbank system.
func (c *Client) WithdrawReserves(ctx context.Context, key string, op tongbao.ID, amount tongbao.Amount) (wire.Receipt, error) {
	return post[wire.Receipt](c, ctx, "/v1/operators/"+op.String()+"/reserves/withdraw", key, money(amount))
}

// Issue issues currency to an operator's vault against its reserves.
func (c *Client) Issue(ctx context.Context, key string, op tongbao.ID, amount tongbao.Amount) (wire.Receipt, error) {
	return post[wire.Receipt](c, ctx, "/v1/operators/"+op.String()+"/issue", key, money(amount))
}

// Redeem redeems currency from an operator's vault for reserves.
func (c *Client) Redeem(ctx context.Context, key string, op tongbao.ID, amount tongbao.Amount) (wire.Receipt, error) {
	return post[wire.Receipt](c, ctx, "/v1/operators/"+op.String()+"/redeem", key, money(amount))
}

// Caps reads an operator's cap schedule.
func (c *Client) Caps(ctx context.Context, op tongbao.ID) (wire.CapSchedule, error) {
	return get[wire.CapSchedule](c, ctx, "/v1/operators/"+op.String()+"/caps")
}

// SetCaps adds a version to an operator's cap schedule.
func (c *Client) SetCaps(ctx context.Context, op tongbao.ID, in wire.SetCaps) (wire.CapVersion, error) {
	return post[wire.CapVersion](c, ctx, "/v1/operators/"+op.String()+"/caps", "", in)
}

// OpenWallet opens a wallet; key (may be empty) derives its id, so a
// retry opens the same wallet.
func (c *Client) OpenWallet(ctx context.Context, key string, op tongbao.ID, in wire.OpenWallet) (wire.Wallet, error) {
	return post[wire.Wallet](c, ctx, "/v1/operators/"+op.String()+"/wallets", key, in)
}

// Wallets lists an operator's wallets.
func (c *Client) Wallets(ctx context.Context, op tongbao.ID, p Page) (wire.WalletPage, error) {
	return get[wire.WalletPage](c, ctx, "/v1/operators/"+op.String()+"/wallets"+p.query())
}

// Reconcile reads an operator's reconciliation of a day (YYYY-MM-DD;
// empty for today).
func (c *Client) Reconcile(ctx context.Context, op tongbao.ID, day string) (wire.Reconciliation, error) {
	q := ""
	if day != "" {
		q = "?day=" + url.QueryEscape(day)
	}
	return get[wire.Reconciliation](c, ctx, "/v1/operators/"+op.String()+"/reconciliation"+q)
}

// Wallet reads a wallet with its balance.
func (c *Client) Wallet(ctx context.Context, id tongbao.ID) (wire.Wallet, error) {
	return get[wire.Wallet](c, ctx, "/v1/wallets/"+id.String())
}

// Transfers reads a page of a wallet's history, newest first.
func (c *Client) Transfers(ctx context.Context, id tongbao.ID, p Page) (wire.TransferPage, error) {
	return get[wire.TransferPage](c, ctx, "/v1/wallets/"+id.String()+"/transfers"+p.query())
}

// TopUp loads a wallet from the holder's bank deposit.
func (c *Client) TopUp(ctx context.Context, key string, id tongbao.ID, amount tongbao.Amount) (wire.Receipt, error) {
	return post[wire.Receipt](c, ctx, "/v1/wallets/"+id.String()+"/top-up", key, money(amount))
}

// Withdraw moves money from a wallet to the holder's bank deposit.
func (c *Client) Withdraw(ctx context.Context, key string, id tongbao.ID, amount tongbao.Amount) (wire.Receipt, error) {
	return post[wire.Receipt](c, ctx, "/v1/wallets/"+id.String()+"/withdraw", key, money(amount))
}

// SetState sets a wallet's state with a reason.
func (c *Client) SetState(ctx context.Context, id tongbao.ID, state, reason string) (wire.Wallet, error) {
	return post[wire.Wallet](c, ctx, "/v1/wallets/"+id.String()+"/state", "", wire.SetState{State: state, Reason: reason})
}

// Freeze freezes a wallet until a moment; a zero until lifts the freeze.
func (c *Client) Freeze(ctx context.Context, id tongbao.ID, until time.Time, reason string) (wire.Wallet, error) {
	in := wire.Freeze{Reason: reason}
	if !until.IsZero() {
		in.Until = &until
	}
	return post[wire.Wallet](c, ctx, "/v1/wallets/"+id.String()+"/freeze", "", in)
}

// ChangeCategory upgrades or downgrades a wallet.
func (c *Client) ChangeCategory(ctx context.Context, id tongbao.ID, in wire.ChangeCategory) (wire.Wallet, error) {
	return post[wire.Wallet](c, ctx, "/v1/wallets/"+id.String()+"/category", "", in)
}

// Resolve finds the wallet a phone number or wallet id names.
func (c *Client) Resolve(ctx context.Context, alias string) (wire.ResolvedWallet, error) {
	return get[wire.ResolvedWallet](c, ctx, "/v1/resolve?alias="+url.QueryEscape(alias))
}

// Pay pays from the holder's wallet to a wallet id or phone number.
func (c *Client) Pay(ctx context.Context, key string, in wire.Pay) (wire.Payment, error) {
	return post[wire.Payment](c, ctx, "/v1/payments", key, in)
}

// PayBatch makes many payments in one request; each has its own result.
func (c *Client) PayBatch(ctx context.Context, key string, in wire.PayBatch) (wire.PayBatchResults, error) {
	return post[wire.PayBatchResults](c, ctx, "/v1/payments/batch", key, in)
}

// Windows lists settlement windows.
func (c *Client) Windows(ctx context.Context, p Page) (wire.WindowPage, error) {
	return get[wire.WindowPage](c, ctx, "/v1/settlement-windows"+p.query())
}

// CloseWindow closes the current settlement window and settles it. A
// non-zero window must be the current one (so a retry cannot close the
// next).
func (c *Client) CloseWindow(ctx context.Context, key string, window uint64) (wire.Settlement, error) {
	return post[wire.Settlement](c, ctx, "/v1/settlement-windows/close", key, map[string]any{"window": window})
}

// Supply reads the supply check.
func (c *Client) Supply(ctx context.Context) (wire.Supply, error) {
	return get[wire.Supply](c, ctx, "/v1/supply")
}

// Keys lists a page of the keys in the caller's part, oldest first,
// never their secrets.
func (c *Client) Keys(ctx context.Context, p Page) (wire.KeyList, error) {
	return get[wire.KeyList](c, ctx, "/v1/keys"+p.query())
}

// RevokeKey revokes a key by its id.
func (c *Client) RevokeKey(ctx context.Context, id, reason string) (wire.Key, error) {
	return post[wire.Key](c, ctx, "/v1/keys/"+url.PathEscape(id)+"/revoke", "", wire.RevokeKey{Reason: reason})
}

// Key returns the API key the client authenticates with.
func (c *Client) Key() string { return c.key }
