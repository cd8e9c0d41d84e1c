// Package scenariotest is the conformance suite of scenario.Store: the
// contract every implementation keeps, spelled out as tests and run on
// every database the store supports (storetest.Databases).
//
// The contract, beyond what scenario.Store's doc comments say:
//   - every method is durable when it returns;
//   - every field comes back as stored (times to the nanosecond, empty
//     lists as nil, the order of a list kept);
//   - UpdateSubWallet changes only the fields it names;
//   - a refused call changes nothing;
//   - lists are in the order their doc comment names, hold at most their
//     limit, and a page's last wallet id is the cursor of the next.
package scenariotest

import (
	"context"
	"fmt"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/storetest"
	"github.com/tongbao/tongbao/scenario"
)

// Store is a scenario.Store that can be closed.
type Store interface {
	scenario.Store
	Close() error
}

// Run runs the suite on every database, each test on a database of its
// own, with stores open opens on target (see storetest.Database.Target),
// creating the tables if needed; opened twice on one target, the second
// store sees what the first wrote.
func Run[S Store](t *testing.T, open func(ctx context.Context, target string) (S, error)) {
	storetest.RunDomain(t, "scenario.db", func(ctx context.Context, target string) (Store, error) { return open(ctx, target) }, []storetest.DomainTest[Store]{
		{Name: "Templates", Fn: testTemplates},
		{Name: "SubWalletRoundTrip", Fn: testSubWalletRoundTrip},
		{Name: "UpdateSubWallet", Fn: testUpdateSubWallet},
		{Name: "SubWalletsOfParent", Fn: testSubWalletsOfParent},
		{Name: "Expired", Fn: testExpired},
		{Name: "Reopen", Fn: testReopen},
	})
}

type env = storetest.Env[Store]

var (
	must    = storetest.Must
	wantErr = storetest.WantErr
	at      = storetest.At
)

func id(n uint64) tongbao.ID { return tongbao.IDFromUint64(n) }

var (
	opA    = id(0xA0)
	opB    = id(0xB0)
	parent = id(0x99)
)

// template returns a template with every field set and distinct.
func template(n uint64, op tongbao.ID, created time.Time) scenario.Template {
	return scenario.Template{
		ID: id(0x1000 + n), Operator: op, Name: fmt.Sprintf("canteen %d", n),
		BalanceMax: tongbao.Amount(1000 + n), PaymentMax: tongbao.Amount(200 + n), DailyMax: tongbao.Amount(500 + n),
		Merchants: []tongbao.ID{id(0x30), id(0x20)}, Categories: []string{"5814", "4111"}, Regions: []string{"Shanghai", "北京"},
		ExpiresAt: at(int(n) + 100), Withdrawable: true, CreatedAt: created,
	}
}

// subWallet returns a link with every field set and distinct.
func subWallet(n uint64, p tongbao.ID, created time.Time) scenario.SubWallet {
	return scenario.SubWallet{
		Wallet: id(0x2000 + n), Parent: p, Template: id(0x1000 + n), Operator: opA, ExpiresAt: at(int(n) + 100),
		ChargeMerchant: id(0x3000 + n), ChargeGrantedAt: at(int(n) + 1), ChargeRevokedAt: at(int(n) + 2), CreatedAt: created,
	}
}

func testTemplates(t *testing.T, e *env) {
	_, err := e.Store.Template(e.Ctx, id(1))
	wantErr(t, "missing template", err, scenario.ErrTemplateNotFound)
	full := template(1, opA, at(3))
	bare := scenario.Template{ID: id(0x1002), Operator: opA, Name: "bare", BalanceMax: 1, PaymentMax: 1, CreatedAt: at(1)}
	late := template(3, opA, at(3)) // same time as full: ordered by id
	for _, tpl := range []scenario.Template{late, full, bare, template(4, opB, at(0))} {
		must(t, e.Store.CreateTemplate(e.Ctx, tpl))
	}
	dup := bare
	dup.Name = "other"
	wantErr(t, "template id taken", e.Store.CreateTemplate(e.Ctx, dup), scenario.ErrTemplateExists)
	for _, want := range []scenario.Template{full, bare} {
		got, err := e.Store.Template(e.Ctx, want.ID)
		must(t, err)
		storetest.WantEqual(t, "template", got, want)
	}
	list, err := e.Store.Templates(e.Ctx, opA)
	must(t, err)
	storetest.WantEqual(t, "templates of A", list, []scenario.Template{bare, full, late})
	none, err := e.Store.Templates(e.Ctx, id(0xC0))
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("templates of an operator with none: %d", len(none))
	}
}

func testSubWalletRoundTrip(t *testing.T, e *env) {
	_, err := e.Store.SubWallet(e.Ctx, id(1))
	wantErr(t, "missing sub-wallet", err, scenario.ErrSubWalletNotFound)
	w := subWallet(1, parent, at(1))
	must(t, e.Store.CreateSubWallet(e.Ctx, w))
	bare := scenario.SubWallet{Wallet: id(0x2002), Parent: parent, Template: id(5), Operator: opA, CreatedAt: at(2)}
	must(t, e.Store.CreateSubWallet(e.Ctx, bare))
	for _, want := range []scenario.SubWallet{w, bare} {
		got, err := e.Store.SubWallet(e.Ctx, want.Wallet)
		must(t, err)
		storetest.WantEqual(t, "sub-wallet", got, want)
	}
	dup := w
	dup.Parent = id(5)
	wantErr(t, "sub-wallet taken", e.Store.CreateSubWallet(e.Ctx, dup), scenario.ErrSubWalletExists)
	got, err := e.Store.SubWallet(e.Ctx, w.Wallet)
	must(t, err)
	storetest.WantEqual(t, "sub-wallet after a refused create", got, w)
}

func testUpdateSubWallet(t *testing.T, e *env) {
	w := subWallet(1, parent, at(1))
	w.ChargeMerchant, w.ChargeGrantedAt, w.ChargeRevokedAt = tongbao.ID{}, time.Time{}, time.Time{}
	must(t, e.Store.CreateSubWallet(e.Ctx, w))
	up := w
	up.ChargeMerchant, up.ChargeGrantedAt, up.ChargeRevokedAt, up.EndedAt = id(0x55), at(10), at(11), at(12)
	// The fields UpdateSubWallet does not replace: changed here, kept there.
	sent := up
	sent.Parent, sent.Template, sent.Operator, sent.ExpiresAt, sent.CreatedAt = id(1), id(2), opB, at(90), at(91)
	must(t, e.Store.UpdateSubWallet(e.Ctx, sent))
	got, err := e.Store.SubWallet(e.Ctx, w.Wallet)
	must(t, err)
	storetest.WantEqual(t, "updated sub-wallet", got, up)
	wantErr(t, "update of a missing sub-wallet", e.Store.UpdateSubWallet(e.Ctx, subWallet(2, parent, at(2))), scenario.ErrSubWalletNotFound)
	_, err = e.Store.SubWallet(e.Ctx, subWallet(2, parent, at(2)).Wallet)
	wantErr(t, "sub-wallet of a refused update", err, scenario.ErrSubWalletNotFound)
}

func wallets(ws []scenario.SubWallet) []tongbao.ID {
	out := []tongbao.ID{}
	for _, w := range ws {
		out = append(out, w.Wallet)
	}
	return out
}

func testSubWalletsOfParent(t *testing.T, e *env) {
	// Created at times out of id order; one ended; one of another parent.
	for _, c := range []struct {
		n       uint64
		created int
	}{{1, 5}, {2, 3}, {3, 4}, {4, 3}} {
		must(t, e.Store.CreateSubWallet(e.Ctx, subWallet(c.n, parent, at(c.created))))
	}
	ended := subWallet(5, parent, at(1))
	ended.EndedAt = at(6)
	must(t, e.Store.CreateSubWallet(e.Ctx, ended))
	must(t, e.Store.CreateSubWallet(e.Ctx, subWallet(6, id(0x98), at(1))))
	got, err := e.Store.SubWallets(e.Ctx, parent)
	must(t, err)
	storetest.WantEqual(t, "sub-wallets in creation order", wallets(got), []tongbao.ID{
		subWallet(2, parent, at(3)).Wallet, subWallet(4, parent, at(3)).Wallet, subWallet(3, parent, at(4)).Wallet, subWallet(1, parent, at(5)).Wallet})

	// The most listed is SubWalletsMax.
	p := id(0x97)
	for n := range uint64(scenario.SubWalletsMax + 3) {
		must(t, e.Store.CreateSubWallet(e.Ctx, subWallet(100+n, p, at(int(n)))))
	}
	got, err = e.Store.SubWallets(e.Ctx, p)
	must(t, err)
	if len(got) != scenario.SubWalletsMax {
		t.Fatalf("sub-wallets of a parent with %d: got %d; want %d", scenario.SubWalletsMax+3, len(got), scenario.SubWalletsMax)
	}
}

func testExpired(t *testing.T, e *env) {
	mk := func(n uint64, expires time.Time, ended time.Time) scenario.SubWallet {
		w := subWallet(n, parent, at(0))
		w.ExpiresAt, w.EndedAt = expires, ended
		must(t, e.Store.CreateSubWallet(e.Ctx, w))
		return w
	}
	var want []tongbao.ID
	for _, n := range []uint64{7, 3, 5, 1} {
		want = append(want, mk(n, at(int(n)), time.Time{}).Wallet)
	}
	mk(8, at(20), time.Time{})                              // not yet expired
	mk(9, time.Time{}, time.Time{})                         // never expires
	mk(10, at(1), at(2))                                    // ended
	want = []tongbao.ID{want[3], want[1], want[2], want[0]} // 1, 3, 5, 7
	got, err := e.Store.Expired(e.Ctx, at(7), tongbao.ID{}, 0)
	must(t, err)
	storetest.WantEqual(t, "expired", wallets(got), want)
	var paged []tongbao.ID
	var after tongbao.ID
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page, err := e.Store.Expired(e.Ctx, at(7), after, 3)
		must(t, err)
		if len(page) > 3 {
			t.Fatalf("page of %d; want at most 3", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, wallets(page)...)
		after = page[len(page)-1].Wallet
	}
	storetest.WantEqual(t, "expired, paged by 3", paged, want)
	got, err = e.Store.Expired(e.Ctx, at(6).Add(-time.Nanosecond), tongbao.ID{}, scenario.ExpiredPageMax+1)
	must(t, err)
	storetest.WantEqual(t, "expired before 6", wallets(got), want[:3])
}

func testReopen(t *testing.T, e *env) {
	tpl := template(1, opA, at(1))
	must(t, e.Store.CreateTemplate(e.Ctx, tpl))
	w := subWallet(1, parent, at(1))
	must(t, e.Store.CreateSubWallet(e.Ctx, w))
	must(t, e.Store.Close())
	s := e.Reopen()
	gt, err := s.Template(e.Ctx, tpl.ID)
	must(t, err)
	storetest.WantEqual(t, "template after reopen", gt, tpl)
	gw, err := s.SubWallet(e.Ctx, w.Wallet)
	must(t, err)
	storetest.WantEqual(t, "sub-wallet after reopen", gw, w)
}
