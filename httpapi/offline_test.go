package httpapi_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/offline"
)

// offlineStart is where the offline tests' manual clock begins: the
// devices tell the time by it too, so certificates are valid on both
// sides.
var offlineStart = time.Date(2027, 5, 1, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))

// simDevice is a simulated device (offline.Element in a folder of its
// own) and the client of the key that speaks for its wallet.
type simDevice struct {
	tb    testing.TB
	ctx   context.Context
	dir   string
	clock tongbao.Clock
	el    *offline.Element
	cl    *client.Client
}

// newSimDevice makes a device and certifies it for wallet through cl.
func newSimDevice(tb testing.TB, ctx context.Context, clock tongbao.Clock, cl *client.Client, wallet tongbao.ID) *simDevice {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "device")
	el, err := offline.InitDevice(dir, clock)
	must(tb, err)
	d := &simDevice{tb: tb, ctx: ctx, dir: dir, clock: clock, el: el, cl: cl}
	got, err := cl.CertifyDevice(ctx, el.ID(), wallet, el.PublicKey())
	must(tb, err)
	if got.ID != el.ID() || got.Wallet != wallet || got.State != "active" || !bytes.Equal(got.PublicKey, el.PublicKey()) || len(got.OperatorKeys) == 0 {
		tb.Fatalf("certified %+v; want device %s of wallet %s, active, with its key and the operator keys", got, el.ID(), wallet)
	}
	must(tb, el.Install(got.Certificate, operatorKeys(got.OperatorKeys), got.RevocationLists))
	return d
}

func (d *simDevice) id() tongbao.ID { return d.el.ID() }

// operatorKeys converts the client's keys to what a device pins.
func operatorKeys(ks []client.OperatorKey) []offline.OperatorKey {
	out := make([]offline.OperatorKey, len(ks))
	for i, k := range ks {
		out[i] = offline.OperatorKey{Operator: k.Operator, ID: k.ID, Public: k.Public, CreatedAt: k.CreatedAt}
	}
	return out
}

func hashes(hs []client.Hash) []offline.Hash {
	out := make([]offline.Hash, len(hs))
	for i, h := range hs {
		out[i] = offline.Hash(h)
	}
	return out
}

// load loads the device's purse online and accepts the voucher.
func (d *simDevice) load(amount tongbao.Amount) client.OfflineLoad {
	d.tb.Helper()
	l, err := d.cl.LoadDevice(d.ctx, client.NewKey(), d.id(), amount)
	must(d.tb, err)
	if l.Status != "done" || tongbao.Amount(l.Amount) != amount || l.Device != d.id() {
		d.tb.Fatalf("load %+v; want done, %v to %s", l, amount, d.id())
	}
	_, err = d.el.AcceptVoucher(l.Voucher)
	must(d.tb, err)
	return l
}

// pay signs a token to payee offline, which receives it, and returns it.
func (d *simDevice) pay(payee *simDevice, amount tongbao.Amount) []byte {
	d.tb.Helper()
	tok, err := d.el.Pay(payee.id(), amount)
	must(d.tb, err)
	_, err = payee.el.Receive(tok)
	must(d.tb, err)
	return tok
}

// sync uploads what the device signed and received, and takes the
// answer.
func (d *simDevice) sync() client.OfflineSync {
	d.tb.Helper()
	signed, received := d.el.Pending()
	res, err := d.cl.SyncDevice(d.ctx, d.id(), append(signed, received...))
	must(d.tb, err)
	must(d.tb, d.el.Synced(res.Ack, hashes(res.Decided), operatorKeys(res.OperatorKeys), res.RevocationLists))
	return res
}

// clone copies the device's folder, as whoever copies a simulated secure
// element's files can, and opens the copy: a second device with the same
// key, counter and purse.
func (d *simDevice) clone() *simDevice {
	d.tb.Helper()
	dir := filepath.Join(d.tb.TempDir(), "clone")
	must(d.tb, os.CopyFS(dir, os.DirFS(d.dir)))
	el, err := offline.OpenDevice(dir, d.clock)
	must(d.tb, err)
	c := *d
	c.dir, c.el = dir, el
	return &c
}

// doubleSpend makes payer (loaded) and a clone of it each pay amount with
// the same counter, to payee and to other; syncs both payees and returns
// the fraud case the second sync opened.
func doubleSpend(tb testing.TB, payer, payee, other *simDevice, amount tongbao.Amount) tongbao.ID {
	tb.Helper()
	clone := payer.clone()
	payer.pay(payee, amount)
	clone.pay(other, amount)
	if res := payee.sync(); res.Results[0].Result != "settled" {
		tb.Fatalf("the first token: %+v; want settled", res.Results[0])
	}
	res := other.sync()
	r := res.Results[0]
	if r.Case.IsZero() || r.Payer != payer.id() {
		tb.Fatalf("the clone's token: %+v; want it in a fraud case of %s", r, payer.id())
	}
	return r.Case
}

// result finds the result of a token among a sync's.
func result(tb testing.TB, rs []client.OfflineTokenResult, tok []byte) client.OfflineTokenResult {
	tb.Helper()
	h := client.Hash(offline.HashOf(tok))
	for _, r := range rs {
		if r.Hash == h {
			return r
		}
	}
	tb.Fatalf("no result for token %s in %+v", h, rs)
	return client.OfflineTokenResult{}
}

// postStatus sends a JSON body with key and returns the answer's status.
func postStatus(tb testing.TB, base, key, path, body string) int {
	tb.Helper()
	req, err := http.NewRequest("POST", base+path, strings.NewReader(body))
	must(tb, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	must(tb, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestOfflinePaymentOverHTTP certifies two devices, loads one, pays
// offline and syncs both sides through the API: the payee is credited
// once, whoever uploads and however often; a forged token is refused
// with its own problem; a device revoked through the API is on the
// public revocation list, and a payee that fetched it refuses the
// device's tokens; a cloned device's double spend opens a fraud case the
// operator reads and closes; and no holder reaches another's device.
func TestOfflinePaymentOverHTTP(t *testing.T) {
	clock := tongbao.NewManualClock(offlineStart)
	e := newEnvClock(t, clock)
	ctx := e.ctx
	op, admin := e.operator("Operator A", 50_000*yuan, 1_000_000*yuan)
	alice, holder := e.wallet(admin, op, wire.OpenWallet{Category: 2, HolderName: "李四", Phone: "13800000002"})
	_, err := admin.TopUp(ctx, client.NewKey(), alice.ID, 1_000*yuan)
	must(t, err)
	shop, err := admin.OpenWallet(ctx, client.NewKey(), op, wire.OpenWallet{Category: 2, HolderName: "Shop", Merchant: true, MerchantCategory: "5812", Region: "310000"})
	must(t, err)
	mk, err := admin.CreateKey(ctx, wire.CreateKey{Role: wire.RoleMerchant, Wallet: &shop.ID})
	must(t, err)
	merchant := admin.WithKey(mk.Secret)
	_, bob := e.wallet(admin, op, wire.OpenWallet{Category: 2, HolderName: "王五", Phone: "13800000003"})
	public := e.cb.WithKey("")

	payer := newSimDevice(t, ctx, clock, holder, alice.ID)
	payee := newSimDevice(t, ctx, clock, merchant, shop.ID)

	// Certifying the same device and key again renews its certificate:
	// 200, not 201.
	renew := `{"device":"` + payer.id().String() + `","wallet":"` + alice.ID.String() + `","public_key":"` + hex.EncodeToString(payer.el.PublicKey()) + `"}`
	if got := postStatus(t, e.base, holder.Key(), "/v1/offline/devices", renew); got != http.StatusOK {
		t.Fatalf("renewing a certificate: %d; want 200", got)
	}

	// Load: the wallet pays the purse once, however often the load is sent.
	key := client.NewKey()
	l, err := holder.LoadDevice(ctx, key, payer.id(), 200*yuan)
	must(t, err)
	if l.Status != "done" || l.Seq != 1 || len(l.Voucher) == 0 {
		t.Fatalf("load %+v; want done, voucher 1", l)
	}
	again, err := holder.LoadDevice(ctx, key, payer.id(), 200*yuan)
	must(t, err)
	if again.ID != l.ID || again.Seq != 1 {
		t.Fatalf("load again under its key: %+v; want %+v", again, l)
	}
	if _, err := payer.el.AcceptVoucher(l.Voucher); err != nil {
		t.Fatal(err)
	}
	if got := e.balance(admin, alice.ID); got != 800*yuan {
		t.Fatalf("alice's balance after the load: %v; want 800.00", got)
	}
	vs, err := holder.DeviceVouchers(ctx, payer.id(), 0, 0)
	must(t, err)
	if len(vs) != 1 || !bytes.Equal(vs[0].Voucher, l.Voucher) {
		t.Fatalf("vouchers %+v; want the load's", vs)
	}
	_, err = holder.LoadDevice(ctx, client.NewKey(), payer.id(), 900*yuan)
	wantProblem(t, "a load past the purse's cap", err, "offline-purse-full")

	// Pay offline; the payee syncs first, then the payer: credited once.
	tok := payer.pay(payee, 12_50)
	res := payee.sync()
	if r := result(t, res.Results, tok); r.Result != "settled" || r.Payer != payer.id() || r.Payee != payee.id() || r.Amount != 12_50 || r.Counter != 1 {
		t.Fatalf("the payee's sync: %+v; want settled, 12.50 from %s", r, payer.id())
	}
	if len(res.Decided) != 1 || res.Decided[0] != client.Hash(offline.HashOf(tok)) {
		t.Fatalf("decided %v; want the token", res.Decided)
	}
	res = payer.sync()
	if r := result(t, res.Results, tok); r.Result != "duplicate" || r.Status != "settled" {
		t.Fatalf("the payer's sync: %+v; want a duplicate of a settled token", r)
	}
	if got := e.balance(admin, shop.ID); got != 12_50 {
		t.Fatalf("shop's balance: %v; want 12.50, credited once", got)
	}
	if st := payer.el.Status(); st.Outbox != 0 || st.Synced != 1 || st.Balance != 187_50 {
		t.Fatalf("the payer after its sync: %+v; want no outbox, synced 1, 187.50", st)
	}
	d, err := admin.OfflineDevice(ctx, payer.id())
	must(t, err)
	if d.Purse != 187_50 || d.Spent != 12_50 || d.Acked != 1 || d.Vouchers != 1 || d.Caps != (client.OfflineCaps{PerPayment: wire.Amount(500 * yuan), Balance: wire.Amount(1_000 * yuan), Payments: 10}) {
		t.Fatalf("the payer as the ledger sees it: %+v; want purse 187.50, spent 12.50, acked 1, voucher 1, the default caps", d)
	}

	// A forged token (its signature changed) is refused with its own
	// problem; nothing is paid.
	forged := bytes.Clone(tok)
	forged[len(forged)-1] ^= 1
	rs, err := merchant.UploadTokens(ctx, [][]byte{forged})
	must(t, err)
	if r := rs[0]; r.Result != "refused" || r.Problem != "offline-bad-signature" || r.Detail == "" {
		t.Fatalf("a forged token: %+v; want refused, offline-bad-signature", r)
	}
	rs, err = merchant.UploadTokens(ctx, [][]byte{[]byte("not a token")})
	must(t, err)
	if r := rs[0]; r.Result != "refused" || r.Problem != "offline-malformed" {
		t.Fatalf("garbage: %+v; want refused, offline-malformed", r)
	}

	// A bulk upload with a token twice, by the operator: paid once; the
	// same upload again is all duplicates.
	tok2 := payer.pay(payee, 5*yuan)
	rs, err = admin.UploadTokens(ctx, [][]byte{tok2, tok2})
	must(t, err)
	if rs[0].Result != "settled" || rs[1].Result != "duplicate" {
		t.Fatalf("a token twice in one upload: %+v; want settled then duplicate", rs)
	}
	rs, err = merchant.UploadTokens(ctx, [][]byte{tok2})
	must(t, err)
	if rs[0].Result != "duplicate" || rs[0].Status != "settled" {
		t.Fatalf("the token again: %+v; want a duplicate of a settled token", rs[0])
	}
	if got := e.balance(admin, shop.ID); got != 17_50 {
		t.Fatalf("shop's balance: %v; want 17.50", got)
	}
	payee.sync()
	payer.sync()

	// Authorisation: another holder reaches neither alice's device nor
	// her wallet; a holder may not revoke or resume even its own device.
	_, err = bob.OfflineDevice(ctx, payer.id())
	wantProblem(t, "another holder reads the device", err, "forbidden")
	_, err = bob.LoadDevice(ctx, client.NewKey(), payer.id(), yuan)
	wantProblem(t, "another holder loads the device", err, "forbidden")
	_, err = bob.SyncDevice(ctx, payer.id(), nil)
	wantProblem(t, "another holder syncs the device", err, "forbidden")
	_, err = bob.SetDeviceState(ctx, payer.id(), "suspended", "lost")
	wantProblem(t, "another holder suspends the device", err, "forbidden")
	_, err = bob.CertifyDevice(ctx, tongbao.NewID(), alice.ID, payer.el.PublicKey())
	wantProblem(t, "another holder certifies a device for alice's wallet", err, "forbidden")
	_, err = bob.DeviceVouchers(ctx, payer.id(), 0, 0)
	wantProblem(t, "another holder reads the vouchers", err, "forbidden")
	_, err = holder.SetDeviceState(ctx, payer.id(), "revoked", "mine")
	wantProblem(t, "a holder revokes its own device", err, "forbidden")
	_, err = holder.OfflineCases(ctx, client.Page{})
	wantProblem(t, "a holder lists fraud cases", err, "forbidden")
	_, err = holder.OfflineDevice(ctx, tongbao.NewID())
	wantProblem(t, "a device nobody certified", err, "offline-device-not-found")

	// The public routes need no key.
	keys, err := public.OperatorKeys(ctx)
	must(t, err)
	if len(keys) != 1 || keys[0].Operator != op || len(keys[0].Public) != 32 {
		t.Fatalf("public keys %+v; want operator %s's", keys, op)
	}
	lists, err := public.RevocationLists(ctx)
	must(t, err)
	if len(lists) != 0 {
		t.Fatalf("revocation lists before any revocation: %d; want none", len(lists))
	}

	// Revocation: the payer pays, then its operator revokes it. A payee
	// that fetched the public list refuses the payer's next token
	// offline, and the ledger refuses the token signed before.
	late := payer.pay(payee, 2*yuan)
	other := newSimDevice(t, ctx, clock, merchant, shop.ID)
	rd, err := admin.SetDeviceState(ctx, payer.id(), "revoked", "key compromised")
	must(t, err)
	if rd.State != "revoked" {
		t.Fatalf("revoked device: %s; want revoked", rd.State)
	}
	if lists, err = public.RevocationLists(ctx); err != nil || len(lists) != 1 {
		t.Fatalf("revocation lists: %d, %v; want one", len(lists), err)
	}
	keys, err = public.OperatorKeys(ctx)
	must(t, err)
	od, err := merchant.OfflineDevice(ctx, other.id())
	must(t, err)
	must(t, other.el.Install(od.Certificate, operatorKeys(keys), lists))
	next, err := payer.el.Pay(other.id(), yuan)
	must(t, err)
	if _, err := other.el.Receive(next); !errors.Is(err, offline.ErrRevoked) {
		t.Fatalf("a revoked payer's token at a payee with the list: %v; want %v", err, offline.ErrRevoked)
	}
	if r := result(t, payee.sync().Results, late); r.Result != "refused" || r.Problem != "offline-device-revoked" {
		t.Fatalf("a revoked device's token at the ledger: %+v; want refused, offline-device-revoked", r)
	}
	if got := e.balance(admin, shop.ID); got != 17_50 {
		t.Fatalf("shop's balance: %v; want 17.50, the revoked device's token not paid", got)
	}

	// A cloned device double-spends: the second token opens a fraud case
	// and freezes the device; the operator reads the case and closes it.
	spender := newSimDevice(t, ctx, clock, holder, alice.ID)
	spender.load(100 * yuan)
	id := doubleSpend(t, spender, payee, other, 30*yuan)
	k, err := admin.OfflineCase(ctx, id)
	must(t, err)
	if k.Device != spender.id() || k.Operator != op || k.Wallet != alice.ID || k.Status != "open" || !slices.Contains(k.Findings, "offline-double-spend@1") || len(k.Tokens) != 1 {
		t.Fatalf("case %+v; want an open case of %s finding offline-double-spend@1", k, spender.id())
	}
	page, err := e.cb.OfflineCases(ctx, client.Page{})
	must(t, err)
	if len(page.Items) != 1 || page.Items[0].ID != id {
		t.Fatalf("the central bank's cases: %+v; want %s", page.Items, id)
	}
	sd, err := holder.OfflineDevice(ctx, spender.id())
	must(t, err)
	if sd.State != "suspended" {
		t.Fatalf("the double-spending device: %s; want suspended", sd.State)
	}
	_, err = holder.LoadDevice(ctx, client.NewKey(), spender.id(), yuan)
	wantProblem(t, "loading a frozen device", err, "offline-device-state")
	k, err = admin.CloseOfflineCase(ctx, id, "clone; holder warned")
	must(t, err)
	if k.Status != "closed" || k.Note != "clone; holder warned" {
		t.Fatalf("closed case %+v", k)
	}
	if got := e.balance(admin, shop.ID); got != 77_50 {
		t.Fatalf("shop's balance: %v; want 77.50, both of the clone's payees paid", got)
	}
	ds, err := admin.OfflineDevices(ctx, client.Page{})
	must(t, err)
	if len(ds.Items) != 4 {
		t.Fatalf("the operator's devices: %d; want 4", len(ds.Items))
	}

	// A holder decommissions its own device: its purse returns to the
	// wallet once the arrival grace has passed.
	before := e.balance(admin, alice.ID)
	spare := newSimDevice(t, ctx, clock, holder, alice.ID)
	spare.load(10 * yuan)
	dd, err := holder.SetDeviceState(ctx, spare.id(), "decommissioned", "new phone")
	must(t, err)
	if dd.State != "decommissioned" || dd.ReturnAt.IsZero() {
		t.Fatalf("decommissioned %+v; want a return time", dd)
	}
	clock.Advance(offline.DefaultArrivalGrace + time.Second)
	if n, err := e.offline.ReturnDue(ctx); err != nil || n != 1 {
		t.Fatalf("ReturnDue: %d, %v; want 1", n, err)
	}
	if got := e.balance(admin, alice.ID); got != before {
		t.Fatalf("alice's balance after the return: %v; want %v", got, before)
	}
	e.supplyOK("offline payments")
}

// TestOfflineNotServed checks that a server without the offline service
// answers its routes as unavailable, public ones included.
func TestOfflineNotServed(t *testing.T) {
	e := newEnvConfig(t, nil, func(cfg *httpapi.Config) { cfg.Offline = nil })
	_, err := e.cb.WithKey("").OperatorKeys(e.ctx)
	wantProblem(t, "the public keys", err, "unavailable")
	_, err = e.cb.OfflineDevices(e.ctx, client.Page{})
	wantProblem(t, "the devices", err, "unavailable")
}

// TestOfflineCapsOverHTTP: an operator admin sets its offline caps; a
// holder's new device is certified with them; caps a device could not
// work with are refused and change nothing.
func TestOfflineCapsOverHTTP(t *testing.T) {
	clock := tongbao.NewManualClock(offlineStart)
	e := newEnvClock(t, clock)
	ctx := e.ctx
	op, admin := e.operator("Operator A", 50_000*yuan, 1_000_000*yuan)
	alice, holder := e.wallet(admin, op, wire.OpenWallet{Category: 2, HolderName: "李四", Phone: "13800000002"})
	got, err := admin.OfflineCapsOf(ctx, op)
	must(t, err)
	if got != (wire.OfflineCaps{PerPayment: wire.Amount(500 * yuan), Balance: wire.Amount(1_000 * yuan), Payments: 10}) {
		t.Fatalf("default caps: %+v", got)
	}
	caps := wire.OfflineCaps{PerPayment: wire.Amount(200 * yuan), Balance: wire.Amount(600 * yuan), Payments: 5}
	if got, err = admin.SetOfflineCaps(ctx, op, caps); err != nil || got != caps {
		t.Fatalf("set caps: %+v, %v", got, err)
	}
	for _, bad := range []wire.OfflineCaps{{PerPayment: wire.Amount(200 * yuan), Balance: wire.Amount(100 * yuan), Payments: 5}, {PerPayment: wire.Amount(0), Balance: wire.Amount(100 * yuan), Payments: 5}, {PerPayment: wire.Amount(yuan), Balance: wire.Amount(yuan), Payments: 0}, {PerPayment: wire.Amount(yuan), Balance: wire.Amount(yuan), Payments: -1}} {
		_, err := admin.SetOfflineCaps(ctx, op, bad)
		wantProblem(t, fmt.Sprintf("caps %+v", bad), err, "invalid-request")
	}
	_, err = holder.SetOfflineCaps(ctx, op, caps)
	wantProblem(t, "a holder setting caps", err, "forbidden")
	if got, err = e.cb.OfflineCapsOf(ctx, op); err != nil || got != caps {
		t.Fatalf("caps as the central bank reads them: %+v, %v", got, err)
	}
	d := newSimDevice(t, ctx, clock, holder, alice.ID)
	if st := d.el.Status(); st.Caps != (offline.Caps{PerPayment: 200 * yuan, Balance: 600 * yuan, Payments: 5}) {
		t.Fatalf("the device's certificate caps: %+v", st.Caps)
	}
}
