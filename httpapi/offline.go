package httpapi

import (
	"encoding/base64"
	"encoding/hex"
	"math"
	"net/http"
	"strconv"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/offline"
)

// offlineRoutes are the endpoints of dual-offline payments. A holder or a
// merchant certifies, loads and syncs the devices of its own wallet (a
// device syncs as its wallet's holder); an operator admin does all of it
// for its operator's devices and handles their fraud cases; the central
// bank reads every device and case. The operator keys and the revocation
// lists need no key: they are signed, and a device fetches them to check
// what it receives offline.
func (s *Server) offlineRoutes() []route {
	created := http.StatusCreated
	readers := []string{RoleCentralBank, RoleOperatorAdmin, RoleHolder, RoleMerchant}
	return []route{
		{method: "POST", pattern: "/v1/offline/devices", summary: "Certify a device key for a wallet (200 when renewing the certificate of a device already certified with that key); the answer carries the operator keys and revocation lists the device installs",
			roles: walletAll, request: "CertifyDevice", response: "OfflineDevice", status: created, handle: s.certifyDevice},
		{method: "GET", pattern: "/v1/offline/devices", summary: "List devices: the central bank every operator's, an operator admin its own",
			roles: cbOrOp, response: "OfflineDevicePage", query: []string{"cursor", "limit"}, handle: s.listDevices},
		{method: "GET", pattern: "/v1/offline/devices/{device}", summary: "Read a device: its state, caps, certificate and purse as the ledger sees it",
			roles: readers, response: "OfflineDevice", handle: s.getDevice},
		{method: "POST", pattern: "/v1/offline/devices/{device}/loads", summary: "Load a device's purse from its wallet; the answer carries the signed voucher the device accepts",
			roles: walletAll, money: true, request: "LoadOfflineDevice", response: "OfflineLoad", status: created, handle: s.loadDevice},
		{method: "GET", pattern: "/v1/offline/devices/{device}/vouchers", summary: "A device's done loads after a voucher number, by number: a device fetches again a voucher it missed",
			roles: readers, response: "OfflineVoucherList", query: []string{"after", "limit"}, handle: s.deviceVouchers},
		{method: "POST", pattern: "/v1/offline/devices/{device}/sync", summary: "Sync a device: settle the tokens it signed and received (each once, by its hash: an upload repeated settles nothing twice, with or without an Idempotency-Key), and answer its acknowledgement, the decided tokens, the operator keys and revocation lists",
			roles: walletAll, request: "OfflineTokens", response: "OfflineSync", handle: s.syncDevice},
		{method: "POST", pattern: "/v1/offline/devices/{device}/state", summary: "Set a device's state (suspended, active, revoked, decommissioned) with a reason: a holder or merchant suspends (reports lost) or decommissions its own, an operator admin makes any change for its operator's",
			roles: walletAll, request: "SetState", response: "OfflineDevice", handle: s.setDeviceState},
		{method: "POST", pattern: "/v1/offline/tokens", summary: "Upload tokens to settle, from any device (each once, by its hash)",
			roles: walletAll, request: "OfflineTokens", response: "OfflineUpload", handle: s.uploadTokens},
		{method: "GET", pattern: "/v1/offline/revocations", summary: "Every operator's latest signed revocation list; no key: the lists are signed",
			public: true, response: "OfflineRevocations", handle: s.offlineRevocations},
		{method: "GET", pattern: "/v1/offline/keys", summary: "Every operator's public signing keys, which devices pin; no key",
			public: true, response: "OfflineKeyList", handle: s.offlineKeys},
		{method: "GET", pattern: "/v1/operators/{operator}/offline-caps", summary: "The caps the operator certifies its offline devices with",
			roles: cbOrOp, response: "OfflineCaps", handle: s.offlineCaps},
		{method: "POST", pattern: "/v1/operators/{operator}/offline-caps", summary: "Set the caps the operator certifies its offline devices with: new certificates, and renewed ones at each device's next sync",
			roles: opOnly, request: "OfflineCaps", response: "OfflineCaps", handle: s.setOfflineCaps},
		{method: "POST", pattern: "/v1/operators/{operator}/offline-keys", summary: "Rotate the operator's offline signing key: what it signs from now on carries the new key; the old keys still verify",
			roles: opOnly, response: "OfflineKey", status: created, handle: s.rotateOfflineKey},
		{method: "GET", pattern: "/v1/offline/cases", summary: "List fraud cases: the central bank every operator's, an operator admin its own",
			roles: cbOrOp, response: "OfflineCasePage", query: []string{"cursor", "limit"}, handle: s.listOfflineCases},
		{method: "GET", pattern: "/v1/offline/cases/{case}", summary: "Read a fraud case: its findings, tokens and what the loss policy did",
			roles: cbOrOp, response: "OfflineCase", handle: s.getOfflineCase},
		{method: "POST", pattern: "/v1/offline/cases/{case}/close", summary: "Close a fraud case with a note once reviewed",
			roles: opOnly, request: "CloseOfflineCase", response: "OfflineCase", handle: s.closeOfflineCase},
	}
}

// offlineService returns the offline service, or an unavailable error on
// a server that does not serve offline payments.
func (c *call) offlineService() (*offline.Service, error) {
	if c.offline == nil {
		return nil, tongbao.Errorf(tongbao.EUNAVAILABLE, "offline payments are not served here")
	}
	return c.offline, nil
}

// devicePath loads the device in the path if the caller may act on it:
// the central bank any (the routes it may call only read), an operator
// admin its operator's, a holder or a merchant its wallet's. Another's
// device is answered as forbidden, as a wallet is.
func (c *call) devicePath() (*offline.Service, offline.Device, error) {
	off, err := c.offlineService()
	if err != nil {
		return nil, offline.Device{}, err
	}
	id, err := c.pathID("device")
	if err != nil {
		return nil, offline.Device{}, err
	}
	d, err := off.Device(c.ctx, id)
	if err != nil {
		return nil, offline.Device{}, err
	}
	switch c.p.Role {
	case RoleCentralBank:
		return off, d, nil
	case RoleOperatorAdmin:
		if d.Operator == c.p.Institution {
			return off, d, nil
		}
	case RoleHolder, RoleMerchant:
		if d.Wallet == c.p.Wallet {
			return off, d, nil
		}
	}
	return nil, offline.Device{}, errForbidden
}

// afterID reads the cursor of a list by id.
func (c *call) afterID() (tongbao.ID, error) {
	var after tongbao.ID
	cur, err := c.cursor()
	if err != nil || cur == nil {
		return after, err
	}
	if len(cur) != len(after) {
		return after, tongbao.Errorf(tongbao.EINVALID, "cursor is not one this API returned")
	}
	copy(after[:], cur)
	return after, nil
}

// listOperator is the operator whose records a list shows: an operator
// admin's own, every operator's (zero) for the central bank.
func (c *call) listOperator() tongbao.ID {
	if c.p.Role == RoleOperatorAdmin {
		return c.p.Institution
	}
	return tongbao.ID{}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64s(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b64(b)
	}
	return out
}

// tokensIn decodes the uploaded tokens.
func tokensIn(in []string) ([][]byte, error) {
	raws := make([][]byte, len(in))
	for i, s := range in {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			return nil, tongbao.Errorf(tongbao.EINVALID, "tokens[%d] is not base64url without padding", i)
		}
		raws[i] = b
	}
	return raws, nil
}

func deviceOut(d offline.Device) wire.OfflineDevice {
	return wire.OfflineDevice{ID: d.ID, Wallet: d.Wallet, Operator: d.Operator, PublicKey: b64(d.Key), State: string(d.State), Reason: d.Reason,
		Caps:        capsOut(d.Caps),
		Certificate: b64(d.Certificate), CertExpires: d.CertExpires.UTC(),
		Purse: wire.Amount(d.Purse()), Loaded: wire.Amount(d.Loaded), Unloaded: wire.Amount(d.Unloaded), Spent: wire.Amount(d.Spent),
		Returned: wire.Amount(d.Returned), Advanced: wire.Amount(d.Advanced), Vouchers: d.Vouchers, Acked: d.Acked,
		ReturnAt: timeOut(d.ReturnAt), CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
}

func loadOut(l offline.Load) wire.OfflineLoad {
	out := wire.OfflineLoad{ID: l.ID, Device: l.Device, Amount: wire.Amount(l.Amount), Status: string(l.Status), Seq: l.Seq, Problem: l.Problem,
		CreatedAt: l.CreatedAt.UTC(), UpdatedAt: l.UpdatedAt.UTC()}
	if l.Voucher != nil {
		out.Voucher = b64(l.Voucher)
	}
	return out
}

func keysOut(ks []offline.OperatorKey) []wire.OfflineKey {
	out := make([]wire.OfflineKey, len(ks))
	for i, k := range ks {
		out[i] = offlineKeyOut(k)
	}
	return out
}

func offlineKeyOut(k offline.OperatorKey) wire.OfflineKey {
	return wire.OfflineKey{Operator: k.Operator, KeyID: hex.EncodeToString(k.ID), PublicKey: b64(k.Public), CreatedAt: k.CreatedAt.UTC()}
}

func hashesOut(hs []offline.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.String()
	}
	return out
}

// resultsOut renders each token's outcome; its problem is named by the
// problem type its error would be answered with on its own.
func resultsOut(rs []offline.TokenResult) []wire.OfflineTokenResult {
	out := make([]wire.OfflineTokenResult, len(rs))
	for i, r := range rs {
		w := wire.OfflineTokenResult{Hash: r.Hash.String(), Result: r.Result, Payer: idOut(r.Payer), Payee: idOut(r.Payee), Counter: r.Counter,
			Status: string(r.Status), Source: string(r.Source), Case: idOut(r.Case)}
		if r.Amount != 0 {
			a := wire.Amount(r.Amount)
			w.Amount = &a
		}
		if r.Problem != nil {
			t, _ := problemOf(r.Problem)
			w.Problem, w.Detail = t.Name, Problem(r.Problem).Detail
		}
		out[i] = w
	}
	return out
}

func caseOut(k offline.Case) wire.OfflineCase {
	out := wire.OfflineCase{ID: k.ID, Device: k.Device, Operator: k.Operator, Wallet: k.Wallet, Findings: k.Findings, Tokens: hashesOut(k.Tokens),
		Advanced: wire.Amount(k.Advanced), Recovered: wire.Amount(k.Recovered), Refused: wire.Amount(k.Refused), Loss: wire.Amount(k.Loss()),
		Status: string(k.Status), Note: k.Note, OpenedAt: k.OpenedAt.UTC(), UpdatedAt: k.UpdatedAt.UTC()}
	if out.Findings == nil {
		out.Findings = []string{}
	}
	return out
}

func (s *Server) certifyDevice(c *call) (any, error) {
	off, err := c.offlineService()
	if err != nil {
		return nil, err
	}
	var in wire.CertifyDevice
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	// A holder or a merchant certifies devices for its own wallet, an
	// operator admin for its operator's wallets.
	if _, err := s.ownWallet(c, in.Wallet); err != nil {
		return nil, err
	}
	key, err := ParsePublicKey(in.PublicKey)
	if err != nil {
		return nil, err
	}
	d, err := off.Certify(c.ctx, offline.CertifyRequest{Device: in.Device, Wallet: in.Wallet, Key: key})
	if err != nil {
		return nil, err
	}
	if d.Version > 1 {
		c.status = http.StatusOK // a renewal: the device was certified before
	}
	lists, err := off.RevocationLists(c.ctx)
	if err != nil {
		return nil, err
	}
	out := deviceOut(d)
	out.OperatorKeys, out.RevocationLists = keysOut(off.PublicKeys()), b64s(lists)
	return out, nil
}

func (s *Server) listDevices(c *call) (any, error) {
	off, err := c.offlineService()
	if err != nil {
		return nil, err
	}
	items, next, err := idPage(c, offline.ListMax, func(after tongbao.ID, limit int) ([]offline.Device, error) {
		return off.Devices(c.ctx, c.listOperator(), after, limit)
	}, func(d offline.Device) tongbao.ID { return d.ID }, deviceOut)
	return wire.OfflineDevicePage{Items: items, NextCursor: next}, err
}

func (s *Server) getDevice(c *call) (any, error) {
	_, d, err := c.devicePath()
	if err != nil {
		return nil, err
	}
	return deviceOut(d), nil
}

func (s *Server) loadDevice(c *call) (any, error) {
	off, d, err := c.devicePath()
	if err != nil {
		return nil, err
	}
	var in wire.LoadOfflineDevice
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	// The load's id, also the ledger transfer's, comes from the caller
	// and the Idempotency-Key, so a retry after a restart loads once.
	l, err := off.Load(c.ctx, c.id(0), d.ID, tongbao.Amount(in.Amount))
	if err != nil {
		return nil, err
	}
	return loadOut(l), nil
}

func (s *Server) deviceVouchers(c *call) (any, error) {
	off, d, err := c.devicePath()
	if err != nil {
		return nil, err
	}
	limit, err := c.limit()
	if err != nil {
		return nil, err
	}
	var after uint64
	if v := c.r.URL.Query().Get("after"); v != "" {
		if after, err = strconv.ParseUint(v, 10, 64); err != nil {
			return nil, tongbao.Errorf(tongbao.EINVALID, "after must be a voucher number")
		}
	}
	ls, err := off.Vouchers(c.ctx, d.ID, after, min(limit, offline.ListMax))
	if err != nil {
		return nil, err
	}
	out := wire.OfflineVoucherList{Items: make([]wire.OfflineLoad, 0, len(ls))}
	for _, l := range ls {
		out.Items = append(out.Items, loadOut(l))
	}
	return out, nil
}

func (s *Server) syncDevice(c *call) (any, error) {
	off, d, err := c.devicePath()
	if err != nil {
		return nil, err
	}
	var in wire.OfflineTokens
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	raws, err := tokensIn(in.Tokens)
	if err != nil {
		return nil, err
	}
	res, err := off.Sync(c.ctx, d.ID, raws)
	if err != nil {
		return nil, err
	}
	lists, err := off.RevocationLists(c.ctx)
	if err != nil {
		return nil, err
	}
	return wire.OfflineSync{Results: resultsOut(res.Results), Ack: b64(res.Ack), Decided: hashesOut(res.Decided),
		OperatorKeys: keysOut(off.PublicKeys()), RevocationLists: b64s(lists)}, nil
}

func (s *Server) uploadTokens(c *call) (any, error) {
	off, err := c.offlineService()
	if err != nil {
		return nil, err
	}
	var in wire.OfflineTokens
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	raws, err := tokensIn(in.Tokens)
	if err != nil {
		return nil, err
	}
	res, err := off.Sync(c.ctx, tongbao.ID{}, raws)
	if err != nil {
		return nil, err
	}
	return wire.OfflineUpload{Results: resultsOut(res.Results)}, nil
}

func (s *Server) setDeviceState(c *call) (any, error) {
	off, d, err := c.devicePath()
	if err != nil {
		return nil, err
	}
	var in wire.SetState
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	to := offline.DeviceState(in.State)
	if (c.p.Role == RoleHolder || c.p.Role == RoleMerchant) && to != offline.DeviceSuspended && to != offline.DeviceDecommissioned {
		return nil, forbidden("a holder or merchant suspends (reports lost) or decommissions its own device; any other change is its operator's")
	}
	d, err = off.SetState(c.ctx, d.ID, to, in.Reason)
	if err != nil {
		return nil, err
	}
	return deviceOut(d), nil
}

func (s *Server) offlineRevocations(c *call) (any, error) {
	off, err := c.offlineService()
	if err != nil {
		return nil, err
	}
	lists, err := off.RevocationLists(c.ctx)
	if err != nil {
		return nil, err
	}
	return wire.OfflineRevocations{Lists: b64s(lists)}, nil
}

func (s *Server) offlineKeys(c *call) (any, error) {
	off, err := c.offlineService()
	if err != nil {
		return nil, err
	}
	return wire.OfflineKeyList{Keys: keysOut(off.PublicKeys())}, nil
}

func (s *Server) offlineCaps(c *call) (any, error) {
	off, err := c.offlineService()
	if err != nil {
		return nil, err
	}
	op, err := c.operatorPath()
	if err != nil {
		return nil, err
	}
	return capsOut(off.CapsOf(op)), nil
}

func (s *Server) setOfflineCaps(c *call) (any, error) {
	off, err := c.offlineService()
	if err != nil {
		return nil, err
	}
	op, err := c.operatorPath()
	if err != nil {
		return nil, err
	}
	var in wire.OfflineCaps
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.Payments < 0 || in.Payments > math.MaxUint32 {
		return nil, offline.ErrCapsInvalid
	}
	caps, err := off.SetCaps(c.ctx, op, offline.Caps{PerPayment: tongbao.Amount(in.PerPayment), Balance: tongbao.Amount(in.Balance), Payments: uint32(in.Payments)})
	if err != nil {
		return nil, err
	}
	return capsOut(caps), nil
}

func capsOut(c offline.Caps) wire.OfflineCaps {
	return wire.OfflineCaps{PerPayment: wire.Amount(c.PerPayment), Balance: wire.Amount(c.Balance), Payments: int(c.Payments)}
}

func (s *Server) rotateOfflineKey(c *call) (any, error) {
	off, err := c.offlineService()
	if err != nil {
		return nil, err
	}
	op, err := c.operatorPath()
	if err != nil {
		return nil, err
	}
	k, err := off.RotateKey(c.ctx, op)
	if err != nil {
		return nil, err
	}
	return offlineKeyOut(k), nil
}

// casePath loads the fraud case in the path for the central bank, or
// for the operator admin of its operator.
func (c *call) casePath() (*offline.Service, offline.Case, error) {
	off, err := c.offlineService()
	if err != nil {
		return nil, offline.Case{}, err
	}
	id, err := c.pathID("case")
	if err != nil {
		return nil, offline.Case{}, err
	}
	k, err := off.Case(c.ctx, id)
	if err != nil {
		return nil, offline.Case{}, err
	}
	if err := c.ownOperator(k.Operator); err != nil {
		return nil, offline.Case{}, err
	}
	return off, k, nil
}

func (s *Server) listOfflineCases(c *call) (any, error) {
	off, err := c.offlineService()
	if err != nil {
		return nil, err
	}
	items, next, err := idPage(c, offline.ListMax, func(after tongbao.ID, limit int) ([]offline.Case, error) {
		return off.Cases(c.ctx, c.listOperator(), after, limit)
	}, func(k offline.Case) tongbao.ID { return k.ID }, caseOut)
	return wire.OfflineCasePage{Items: items, NextCursor: next}, err
}

func (s *Server) getOfflineCase(c *call) (any, error) {
	_, k, err := c.casePath()
	if err != nil {
		return nil, err
	}
	return caseOut(k), nil
}

func (s *Server) closeOfflineCase(c *call) (any, error) {
	off, k, err := c.casePath()
	if err != nil {
		return nil, err
	}
	var in wire.CloseOfflineCase
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	k, err = off.CloseCase(c.ctx, k.ID, in.Note)
	if err != nil {
		return nil, err
	}
	return caseOut(k), nil
}

// idPage reads one page of records kept in the order of their ids: up to
// the caller's limit (at most max) after the cursor's id, converted by
// out, with the cursor of the next page when the page is full.
func idPage[T, W any](c *call, max int, list func(after tongbao.ID, limit int) ([]T, error), id func(T) tongbao.ID, out func(T) W) ([]W, string, error) {
	limit, err := c.limit()
	if err != nil {
		return nil, "", err
	}
	limit = min(limit, max)
	after, err := c.afterID()
	if err != nil {
		return nil, "", err
	}
	rs, err := list(after, limit)
	if err != nil {
		return nil, "", err
	}
	items := make([]W, 0, len(rs))
	for _, r := range rs {
		items = append(items, out(r))
	}
	var next string
	if len(rs) == limit && limit > 0 {
		last := id(rs[len(rs)-1])
		next = encodeCursor(last[:])
	}
	return items, next, nil
}
