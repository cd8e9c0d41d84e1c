package client

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// The offline methods answer with the protocol's signed objects decoded
// to their bytes, ready for a device (package offline's Element) to take,
// and hashes as Hash. The client does not import package offline, which
// would bring the ledger into every program that calls the API; Hash
// converts to offline.Hash, and an OperatorKey's fields are
// offline.OperatorKey's public ones. Encoded as JSON (as the CLI prints
// them), they name their fields as the API does; bytes are in standard
// base64, hashes in hex.

// Hash is the SHA-256 of a signed object: a token's identity.
type Hash [32]byte

// String returns the hash in hex, as the API writes it.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// MarshalText writes the hash in hex, as the API does.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText reads a hash in hex.
func (h *Hash) UnmarshalText(b []byte) error {
	got, err := hashIn(string(b))
	*h = got
	return err
}

// OperatorKey is the public half of an operator's offline signing key.
type OperatorKey struct {
	Operator  tongbao.ID `json:"operator"`
	ID        []byte     `json:"key_id"`
	Public    []byte     `json:"public_key"`
	CreatedAt time.Time  `json:"created_at"`
}

// OfflineDevice is a device as the ledger knows it, with its certificate
// decoded. OperatorKeys and RevocationLists are set in the answer to a
// certification: what the device installs with its certificate.
type OfflineDevice struct {
	ID          tongbao.ID  `json:"id"`
	Wallet      tongbao.ID  `json:"wallet"`
	Operator    tongbao.ID  `json:"operator"`
	PublicKey   []byte      `json:"public_key"`
	State       string      `json:"state"`
	Reason      string      `json:"reason,omitempty"`
	Caps        OfflineCaps `json:"caps"`
	Certificate []byte      `json:"certificate"`
	CertExpires time.Time   `json:"cert_expires"`
	// The purse as the ledger sees it: Purse = Loaded − Unloaded − Spent
	// − Returned.
	Purse    wire.Amount `json:"purse"`
	Loaded   wire.Amount `json:"loaded"`
	Unloaded wire.Amount `json:"unloaded"`
	Spent    wire.Amount `json:"spent"`
	Returned wire.Amount `json:"returned"`
	Advanced wire.Amount `json:"advanced"`
	Vouchers uint64      `json:"vouchers"`
	Acked    uint64      `json:"acked"`
	// ReturnAt is zero unless the device is decommissioned.
	ReturnAt        time.Time     `json:"return_at,omitzero"`
	CreatedAt       time.Time     `json:"created_at"`
	UpdatedAt       time.Time     `json:"updated_at"`
	OperatorKeys    []OperatorKey `json:"operator_keys,omitempty"`
	RevocationLists [][]byte      `json:"revocation_lists,omitempty"`
}

// OfflineCaps are the limits a device is certified with: the most one
// payment carries, the most its purse holds, and how many payments it may
// sign before it must sync.
type OfflineCaps struct {
	PerPayment wire.Amount `json:"per_payment"`
	Balance    wire.Amount `json:"balance"`
	Payments   int         `json:"payments"`
}

// OfflineDevicePage is a page of devices.
type OfflineDevicePage struct {
	Items      []OfflineDevice `json:"items"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// OfflineLoad is a load of a device's purse; Voucher is the signed voucher
// of a done load, Problem why a failed one failed.
type OfflineLoad struct {
	ID        tongbao.ID  `json:"id"`
	Device    tongbao.ID  `json:"device"`
	Amount    wire.Amount `json:"amount"`
	Status    string      `json:"status"`
	Seq       uint64      `json:"seq,omitempty"`
	Voucher   []byte      `json:"voucher,omitempty"`
	Problem   string      `json:"problem,omitempty"`
	CreatedAt time.Time   `json:"created_at"`
	UpdatedAt time.Time   `json:"updated_at"`
}

// OfflineTokenResult is the outcome of one uploaded token; Problem is the
// problem type of a token refused or rejected, Detail its message.
type OfflineTokenResult struct {
	Hash    Hash        `json:"hash"`
	Result  string      `json:"result"`
	Problem string      `json:"problem,omitempty"`
	Detail  string      `json:"detail,omitempty"`
	Payer   tongbao.ID  `json:"payer,omitzero"`
	Payee   tongbao.ID  `json:"payee,omitzero"`
	Counter uint64      `json:"counter"`
	Amount  wire.Amount `json:"amount"`
	Status  string      `json:"status,omitempty"`
	Source  string      `json:"source,omitempty"`
	Case    tongbao.ID  `json:"case,omitzero"`
}

// OfflineSync is the answer to a device's sync: what the device takes
// (offline.Element.Synced takes Ack, Decided, OperatorKeys and
// RevocationLists).
type OfflineSync struct {
	Results         []OfflineTokenResult `json:"results"`
	Ack             []byte               `json:"ack"`
	Decided         []Hash               `json:"decided"`
	OperatorKeys    []OperatorKey        `json:"operator_keys,omitempty"`
	RevocationLists [][]byte             `json:"revocation_lists,omitempty"`
}

// OfflineCase is a fraud case, its tokens' hashes decoded.
type OfflineCase struct {
	ID        tongbao.ID  `json:"id"`
	Device    tongbao.ID  `json:"device"`
	Operator  tongbao.ID  `json:"operator"`
	Wallet    tongbao.ID  `json:"wallet"`
	Findings  []string    `json:"findings"`
	Tokens    []Hash      `json:"tokens"`
	Advanced  wire.Amount `json:"advanced"`
	Recovered wire.Amount `json:"recovered"`
	Refused   wire.Amount `json:"refused"`
	Loss      wire.Amount `json:"loss"`
	Status    string      `json:"status"`
	Note      string      `json:"note,omitempty"`
	OpenedAt  time.Time   `json:"opened_at"`
	UpdatedAt time.Time   `json:"updated_at"`
}

// OfflineCasePage is a page of fraud cases.
type OfflineCasePage struct {
	Items      []OfflineCase `json:"items"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// CertifyDevice certifies a device's Ed25519 public key for a wallet, or
// renews the certificate of a device already certified with it. The
// answer carries what the device installs (offline.Element.Install takes
// Certificate, OperatorKeys and RevocationLists).
func (c *Client) CertifyDevice(ctx context.Context, device, wallet tongbao.ID, publicKey []byte) (OfflineDevice, error) {
	in := wire.CertifyDevice{Device: device, Wallet: wallet, PublicKey: base64.RawURLEncoding.EncodeToString(publicKey)}
	out, err := post[wire.OfflineDevice](c, ctx, "/v1/offline/devices", "", in)
	if err != nil {
		return OfflineDevice{}, err
	}
	return deviceIn(out)
}

// OfflineDevice reads a device.
func (c *Client) OfflineDevice(ctx context.Context, id tongbao.ID) (OfflineDevice, error) {
	out, err := get[wire.OfflineDevice](c, ctx, "/v1/offline/devices/"+id.String())
	if err != nil {
		return OfflineDevice{}, err
	}
	return deviceIn(out)
}

// OfflineDevices lists devices: the central bank's every operator's, an
// operator admin's its own.
func (c *Client) OfflineDevices(ctx context.Context, p Page) (OfflineDevicePage, error) {
	out, err := get[wire.OfflineDevicePage](c, ctx, "/v1/offline/devices"+p.query())
	if err != nil {
		return OfflineDevicePage{}, err
	}
	page := OfflineDevicePage{Items: make([]OfflineDevice, len(out.Items)), NextCursor: out.NextCursor}
	for i, d := range out.Items {
		if page.Items[i], err = deviceIn(d); err != nil {
			return OfflineDevicePage{}, err
		}
	}
	return page, nil
}

// LoadDevice moves amount from a device's wallet to its purse; the
// answer's Voucher is what the device accepts. Pass the same key again to
// retry: the load happens once.
func (c *Client) LoadDevice(ctx context.Context, key string, device tongbao.ID, amount tongbao.Amount) (OfflineLoad, error) {
	out, err := post[wire.OfflineLoad](c, ctx, "/v1/offline/devices/"+device.String()+"/loads", key, wire.LoadOfflineDevice{Amount: wire.Amount(amount)})
	if err != nil {
		return OfflineLoad{}, err
	}
	return loadIn(out)
}

// DeviceVouchers returns a device's done loads after voucher number
// after, by number, up to limit (zero: the server's default).
func (c *Client) DeviceVouchers(ctx context.Context, device tongbao.ID, after uint64, limit int) ([]OfflineLoad, error) {
	v := url.Values{}
	v.Set("after", strconv.FormatUint(after, 10))
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	out, err := get[wire.OfflineVoucherList](c, ctx, "/v1/offline/devices/"+device.String()+"/vouchers?"+v.Encode())
	if err != nil {
		return nil, err
	}
	ls := make([]OfflineLoad, len(out.Items))
	for i, l := range out.Items {
		if ls[i], err = loadIn(l); err != nil {
			return nil, err
		}
	}
	return ls, nil
}

// SyncDevice uploads what a device signed and received (offline.Element.
// Pending) and returns what it takes back. Each token settles once by its
// hash, so a sync repeated after a lost answer is safe.
func (c *Client) SyncDevice(ctx context.Context, device tongbao.ID, tokens [][]byte) (OfflineSync, error) {
	out, err := post[wire.OfflineSync](c, ctx, "/v1/offline/devices/"+device.String()+"/sync", "", tokensOut(tokens))
	if err != nil {
		return OfflineSync{}, err
	}
	s := OfflineSync{Decided: make([]Hash, len(out.Decided))}
	if s.Results, err = resultsIn(out.Results); err != nil {
		return OfflineSync{}, err
	}
	if s.Ack, err = unb64("ack", out.Ack); err != nil {
		return OfflineSync{}, err
	}
	for i, h := range out.Decided {
		if s.Decided[i], err = hashIn(h); err != nil {
			return OfflineSync{}, err
		}
	}
	if s.OperatorKeys, err = keysIn(out.OperatorKeys); err != nil {
		return OfflineSync{}, err
	}
	if s.RevocationLists, err = listsIn(out.RevocationLists); err != nil {
		return OfflineSync{}, err
	}
	return s, nil
}

// UploadTokens uploads tokens from any device to settle (each once, by
// its hash) and returns each one's outcome in order.
func (c *Client) UploadTokens(ctx context.Context, tokens [][]byte) ([]OfflineTokenResult, error) {
	out, err := post[wire.OfflineUpload](c, ctx, "/v1/offline/tokens", "", tokensOut(tokens))
	if err != nil {
		return nil, err
	}
	return resultsIn(out.Results)
}

// SetDeviceState moves a device to state (suspended, active, revoked,
// decommissioned) with a reason.
func (c *Client) SetDeviceState(ctx context.Context, device tongbao.ID, state, reason string) (OfflineDevice, error) {
	out, err := post[wire.OfflineDevice](c, ctx, "/v1/offline/devices/"+device.String()+"/state", "", wire.SetState{State: state, Reason: reason})
	if err != nil {
		return OfflineDevice{}, err
	}
	return deviceIn(out)
}

// RevocationLists returns every operator's latest signed revocation list.
// It needs no key.
func (c *Client) RevocationLists(ctx context.Context) ([][]byte, error) {
	out, err := get[wire.OfflineRevocations](c, ctx, "/v1/offline/revocations")
	if err != nil {
		return nil, err
	}
	return listsIn(out.Lists)
}

// OperatorKeys returns every operator's public signing keys, which
// devices pin. It needs no key.
func (c *Client) OperatorKeys(ctx context.Context) ([]OperatorKey, error) {
	out, err := get[wire.OfflineKeyList](c, ctx, "/v1/offline/keys")
	if err != nil {
		return nil, err
	}
	return keysIn(out.Keys)
}

// OfflineCapsOf returns the caps an operator certifies its devices with.
func (c *Client) OfflineCapsOf(ctx context.Context, op tongbao.ID) (wire.OfflineCaps, error) {
	return get[wire.OfflineCaps](c, ctx, "/v1/operators/"+op.String()+"/offline-caps")
}

// SetOfflineCaps sets the caps an operator certifies its devices with.
func (c *Client) SetOfflineCaps(ctx context.Context, op tongbao.ID, caps wire.OfflineCaps) (wire.OfflineCaps, error) {
	return post[wire.OfflineCaps](c, ctx, "/v1/operators/"+op.String()+"/offline-caps", "", caps)
}

// RotateOfflineKey makes a new offline signing key for an operator and
// returns its public half.
func (c *Client) RotateOfflineKey(ctx context.Context, op tongbao.ID) (OperatorKey, error) {
	out, err := post[wire.OfflineKey](c, ctx, "/v1/operators/"+op.String()+"/offline-keys", "", nil)
	if err != nil {
		return OperatorKey{}, err
	}
	return keyIn(out)
}

// OfflineCases lists fraud cases: the central bank's every operator's, an
// operator admin's its own.
func (c *Client) OfflineCases(ctx context.Context, p Page) (OfflineCasePage, error) {
	out, err := get[wire.OfflineCasePage](c, ctx, "/v1/offline/cases"+p.query())
	if err != nil {
		return OfflineCasePage{}, err
	}
	page := OfflineCasePage{Items: make([]OfflineCase, len(out.Items)), NextCursor: out.NextCursor}
	for i, k := range out.Items {
		if page.Items[i], err = caseIn(k); err != nil {
			return OfflineCasePage{}, err
		}
	}
	return page, nil
}

// OfflineCase reads a fraud case.
func (c *Client) OfflineCase(ctx context.Context, id tongbao.ID) (OfflineCase, error) {
	out, err := get[wire.OfflineCase](c, ctx, "/v1/offline/cases/"+id.String())
	if err != nil {
		return OfflineCase{}, err
	}
	return caseIn(out)
}

// CloseOfflineCase closes a fraud case with a note.
func (c *Client) CloseOfflineCase(ctx context.Context, id tongbao.ID, note string) (OfflineCase, error) {
	out, err := post[wire.OfflineCase](c, ctx, "/v1/offline/cases/"+id.String()+"/close", "", wire.CloseOfflineCase{Note: note})
	if err != nil {
		return OfflineCase{}, err
	}
	return caseIn(out)
}

func tokensOut(tokens [][]byte) wire.OfflineTokens {
	in := wire.OfflineTokens{Tokens: make([]string, len(tokens))}
	for i, t := range tokens {
		in.Tokens[i] = base64.RawURLEncoding.EncodeToString(t)
	}
	return in
}

// unb64 decodes a signed object of the answer.
func unb64(what, s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("client: the answer's %s is not base64url: %w", what, err)
	}
	return b, nil
}

func hashIn(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("client: %q is not a hash", s)
	}
	copy(h[:], b)
	return h, nil
}

func listsIn(in []string) ([][]byte, error) {
	out := make([][]byte, len(in))
	for i, s := range in {
		var err error
		if out[i], err = unb64("revocation list", s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func keyIn(k wire.OfflineKey) (OperatorKey, error) {
	id, err := hex.DecodeString(k.KeyID)
	if err != nil {
		return OperatorKey{}, fmt.Errorf("client: key id %q is not hex", k.KeyID)
	}
	pub, err := unb64("public key", k.PublicKey)
	if err != nil {
		return OperatorKey{}, err
	}
	return OperatorKey{Operator: k.Operator, ID: id, Public: pub, CreatedAt: k.CreatedAt}, nil
}

func keysIn(in []wire.OfflineKey) ([]OperatorKey, error) {
	out := make([]OperatorKey, len(in))
	for i, k := range in {
		var err error
		if out[i], err = keyIn(k); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func deviceIn(d wire.OfflineDevice) (OfflineDevice, error) {
	out := OfflineDevice{ID: d.ID, Wallet: d.Wallet, Operator: d.Operator, State: d.State, Reason: d.Reason, CertExpires: d.CertExpires,
		Purse: wire.Amount(d.Purse), Loaded: wire.Amount(d.Loaded), Unloaded: wire.Amount(d.Unloaded), Spent: wire.Amount(d.Spent),
		Returned: wire.Amount(d.Returned), Advanced: wire.Amount(d.Advanced), Vouchers: d.Vouchers, Acked: d.Acked, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
		Caps: OfflineCaps{PerPayment: wire.Amount(d.Caps.PerPayment), Balance: wire.Amount(d.Caps.Balance), Payments: d.Caps.Payments}}
	if d.ReturnAt != nil {
		out.ReturnAt = *d.ReturnAt
	}
	var err error
	if out.PublicKey, err = unb64("public key", d.PublicKey); err != nil {
		return OfflineDevice{}, err
	}
	if out.Certificate, err = unb64("certificate", d.Certificate); err != nil {
		return OfflineDevice{}, err
	}
	if out.OperatorKeys, err = keysIn(d.OperatorKeys); err != nil {
		return OfflineDevice{}, err
	}
	if out.RevocationLists, err = listsIn(d.RevocationLists); err != nil {
		return OfflineDevice{}, err
	}
	return out, nil
}

func loadIn(l wire.OfflineLoad) (OfflineLoad, error) {
	voucher, err := unb64("voucher", l.Voucher)
	if err != nil {
		return OfflineLoad{}, err
	}
	return OfflineLoad{ID: l.ID, Device: l.Device, Amount: wire.Amount(l.Amount), Status: l.Status, Seq: l.Seq, Voucher: voucher, Problem: l.Problem,
		CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt}, nil
}

func resultsIn(in []wire.OfflineTokenResult) ([]OfflineTokenResult, error) {
	out := make([]OfflineTokenResult, len(in))
	for i, r := range in {
		h, err := hashIn(r.Hash)
		if err != nil {
			return nil, err
		}
		o := OfflineTokenResult{Hash: h, Result: r.Result, Problem: r.Problem, Detail: r.Detail, Counter: r.Counter, Status: r.Status, Source: r.Source}
		if r.Payer != nil {
			o.Payer = *r.Payer
		}
		if r.Payee != nil {
			o.Payee = *r.Payee
		}
		if r.Amount != nil {
			o.Amount = wire.Amount(*r.Amount)
		}
		if r.Case != nil {
			o.Case = *r.Case
		}
		out[i] = o
	}
	return out, nil
}

func caseIn(k wire.OfflineCase) (OfflineCase, error) {
	out := OfflineCase{ID: k.ID, Device: k.Device, Operator: k.Operator, Wallet: k.Wallet, Findings: k.Findings, Tokens: make([]Hash, len(k.Tokens)),
		Advanced: wire.Amount(k.Advanced), Recovered: wire.Amount(k.Recovered), Refused: wire.Amount(k.Refused), Loss: wire.Amount(k.Loss),
		Status: k.Status, Note: k.Note, OpenedAt: k.OpenedAt, UpdatedAt: k.UpdatedAt}
	for i, h := range k.Tokens {
		var err error
		if out.Tokens[i], err = hashIn(h); err != nil {
			return OfflineCase{}, err
		}
	}
	return out, nil
}
