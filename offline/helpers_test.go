package offline_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/domaintest"
	"github.com/tongbao/tongbao/offline"
	"github.com/tongbao/tongbao/offline/offlinesql"
	"github.com/tongbao/tongbao/twotier"
)

var start = time.Date(2027, 3, 1, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))

type env struct {
	*domaintest.Env
	t     testing.TB
	store *offlinesql.Store
	svc   *offline.Service
}

func newEnv(tb testing.TB) *env {
	tb.Helper()
	e := &env{Env: domaintest.Open(tb, start), t: tb}
	e.reopen()
	return e
}

// reopen opens the store and service again, as a restart would.
func (e *env) reopen() {
	e.t.Helper()
	if e.store != nil {
		e.store.Close()
	}
	st, err := offlinesql.Open(e.Ctx, e.Target("offline.db"))
	domaintest.Must(e.t, err)
	e.t.Cleanup(func() { st.Close() })
	e.store = st
	e.svc, err = offline.New(e.Ctx, offline.Config{Payments: e.Payments, Store: st, Clock: e.Clock})
	domaintest.Must(e.t, err)
}

// wallet opens a category 2 wallet at op with funds.
func (e *env) wallet(op tongbao.ID, funds tongbao.Amount) tongbao.ID {
	e.t.Helper()
	w, err := e.Payments.OpenWallet(e.Ctx, twotier.WalletSpec{Operator: op, Category: twotier.Category2, HolderName: "张三"})
	domaintest.Must(e.t, err)
	if funds > 0 {
		_, err = e.Payments.TopUp(e.Ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: w.ID, Amount: funds})
		domaintest.Must(e.t, err)
	}
	return w.ID
}

func (e *env) balance(id tongbao.ID) tongbao.Amount {
	e.t.Helper()
	b, err := e.Payments.WalletBalance(e.Ctx, id)
	domaintest.Must(e.t, err)
	return b.Available()
}

// phone is one simulated device and the wallet it belongs to.
type phone struct {
	dir    string
	el     *offline.Element
	wallet tongbao.ID
}

// device makes a device for a new wallet at op with funds, certified.
func (e *env) device(op tongbao.ID, funds tongbao.Amount) *phone {
	e.t.Helper()
	p := &phone{dir: filepath.Join(e.t.TempDir(), "device"), wallet: e.wallet(op, funds)}
	var err error
	p.el, err = offline.InitDevice(p.dir, e.Clock)
	domaintest.Must(e.t, err)
	e.certify(p)
	return p
}

// certify certifies p's key for its wallet and installs the answer.
func (e *env) certify(p *phone) {
	e.t.Helper()
	d, err := e.svc.Certify(e.Ctx, offline.CertifyRequest{Device: p.el.ID(), Wallet: p.wallet, Key: p.el.PublicKey()})
	domaintest.Must(e.t, err)
	lists, err := e.svc.RevocationLists(e.Ctx)
	domaintest.Must(e.t, err)
	domaintest.Must(e.t, p.el.Install(d.Certificate, e.svc.PublicKeys(), lists))
}

// load loads p's purse and has the device accept the voucher.
func (e *env) load(p *phone, amount tongbao.Amount) {
	e.t.Helper()
	l, err := e.svc.Load(e.Ctx, tongbao.NewID(), p.el.ID(), amount)
	domaintest.Must(e.t, err)
	_, err = p.el.AcceptVoucher(l.Voucher)
	domaintest.Must(e.t, err)
}

// sync uploads what p holds and installs the answer.
func (e *env) sync(p *phone) offline.SyncResult {
	e.t.Helper()
	signed, received := p.el.Pending()
	res, err := e.svc.Sync(e.Ctx, p.el.ID(), append(signed, received...))
	domaintest.Must(e.t, err)
	lists, err := e.svc.RevocationLists(e.Ctx)
	domaintest.Must(e.t, err)
	domaintest.Must(e.t, p.el.Synced(res.Ack, res.Decided, e.svc.PublicKeys(), lists))
	return res
}

// pay has from pay to offline, to receiving: both with no network.
func (e *env) pay(from, to *phone, amount tongbao.Amount) []byte {
	e.t.Helper()
	raw, err := from.el.Pay(to.el.ID(), amount)
	domaintest.Must(e.t, err)
	_, err = to.el.Receive(raw)
	domaintest.Must(e.t, err)
	return raw
}

func (e *env) deviceRecord(p *phone) offline.Device {
	e.t.Helper()
	d, err := e.svc.Device(e.Ctx, p.el.ID())
	domaintest.Must(e.t, err)
	return d
}

// float is what an operator's offline float holds.
func (e *env) float(op tongbao.ID) tongbao.Amount {
	return e.balance(twotier.OfflineFloatID(op))
}

// copyDir copies a device's folder: a clone of its secure element.
func copyDir(tb testing.TB, from, to string) {
	tb.Helper()
	domaintest.Must(tb, os.MkdirAll(to, 0o700))
	ents, err := os.ReadDir(from)
	domaintest.Must(tb, err)
	for _, ent := range ents {
		b, err := os.ReadFile(filepath.Join(from, ent.Name()))
		domaintest.Must(tb, err)
		domaintest.Must(tb, os.WriteFile(filepath.Join(to, ent.Name()), b, 0o600))
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func wantErr(tb testing.TB, what string, err, want error) {
	tb.Helper()
	if !errors.Is(err, want) {
		tb.Fatalf("%s: got %v; want %v", what, err, want)
	}
}

// result returns the one result of a sync for the token raw.
func result(tb testing.TB, res offline.SyncResult, raw []byte) offline.TokenResult {
	tb.Helper()
	h := offline.HashOf(raw)
	for _, r := range res.Results {
		if r.Hash == h {
			return r
		}
	}
	tb.Fatalf("no result for token %v in %+v", h, res.Results)
	return offline.TokenResult{}
}

func yuan(s string) tongbao.Amount {
	a, err := tongbao.ParseAmount(s)
	if err != nil {
		panic(err)
	}
	return a
}
