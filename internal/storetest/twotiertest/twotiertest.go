// Package twotiertest is the conformance suite of twotier.Store: the
// contract every implementation keeps, spelled out as tests and run on
// every database the store supports (storetest.Databases).
//
// The contract, beyond what twotier.Store's doc comments say:
//   - every method is durable when it returns: a store opened again on
//     the same database reads what was written;
//   - every field of a record comes back as it was stored (times to the
//     nanosecond, zero times as zero, nil holder limits as nil);
//   - the mutable fields of a wallet, window and payment record are the
//     ones the Update methods name; an update never changes the others;
//   - a failed call changes nothing: a duplicate, a missing record, a
//     batch with one bad member;
//   - lists are in the order their doc comment names, and a page's last
//     id is the cursor of the next;
//   - concurrent creates of one id make it once: one caller is told it
//     created it, the others get the stored record (or the conflict).
package twotiertest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/storetest"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/twotier"
)

// Store is a twotier.Store that can be closed.
type Store interface {
	twotier.Store
	Close() error
}

// Run runs the suite on every database, each test on a database of its
// own, with stores open opens on target (see storetest.Database.Target),
// creating the tables if needed; opened twice on one target, the second
// store sees what the first wrote.
func Run[S Store](t *testing.T, open func(ctx context.Context, target string) (S, error)) {
	storetest.RunDomain(t, "twotier.db", func(ctx context.Context, target string) (Store, error) { return open(ctx, target) }, []storetest.DomainTest[Store]{
		{Name: "Institutions", Fn: testInstitutions},
		{Name: "WalletRoundTrip", Fn: testWalletRoundTrip},
		{Name: "WalletConflicts", Fn: testWalletConflicts},
		{Name: "UpdateWallet", Fn: testUpdateWallet},
		{Name: "WalletPages", Fn: testWalletPages},
		{Name: "WalletsBehindCaps", Fn: testWalletsBehindCaps},
		{Name: "SubWallets", Fn: testSubWallets},
		{Name: "CapVersions", Fn: testCapVersions},
		{Name: "Windows", Fn: testWindows},
		{Name: "PaymentRoundTrip", Fn: testPaymentRoundTrip},
		{Name: "PaymentBatches", Fn: testPaymentBatches},
		{Name: "PaymentsOfOperator", Fn: testPaymentsOfOperator},
		{Name: "ConcurrentCreates", Fn: testConcurrentCreates},
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
	opA = id(0xA0)
	opB = id(0xB0)
)

// wallet returns a wallet with every field set and distinct.
func wallet(n uint64, op tongbao.ID) twotier.Wallet {
	return twotier.Wallet{
		ID: id(0x1000 + n), Operator: op, Kind: twotier.WalletPersonal, Category: twotier.Category2,
		HolderMasked: fmt.Sprintf("张*%d", n), AliasKey: fmt.Sprintf("alias-%d", n), AliasMasked: fmt.Sprintf("138****%04d", n),
		MerchantCategory: "5411", Region: "310000", State: twotier.StateReceiveOnly, StateReason: "kyc review",
		FrozenUntil: at(int(n) + 100), FreezeReason: "court order", CapVersion: 7,
		HolderLimits: &ledger.Limits{BalanceMax: 1, DebitMax: 2, DailyDebitMax: 3, YearlyDebitMax: 4},
		Parent:       id(0x9000 + n), OpenedAt: at(int(n)), UpdatedAt: at(int(n) + 1),
	}
}

func testInstitutions(t *testing.T, e *env) {
	_, err := e.Store.Institution(e.Ctx, opA)
	wantErr(t, "institution before creation", err, twotier.ErrInstitutionNotFound)
	list, err := e.Store.Institutions(e.Ctx)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("empty store: got %d institutions; want none", len(list))
	}
	// Created in an order that is not the ids': the list keeps creation's.
	ins := []twotier.Institution{
		{ID: id(9), Kind: twotier.KindCentralBank, Name: "People's Bank", CreatedAt: at(1)},
		{ID: opB, Kind: twotier.KindOperator, Name: "Operator B", NetDebitCap: 50_000_00, CreatedAt: at(2)},
		{ID: opA, Kind: twotier.KindOperator, Name: "Operator A", NetDebitCap: 70_000_00, CreatedAt: at(3)},
	}
	for _, in := range ins {
		must(t, e.Store.CreateInstitution(e.Ctx, in))
	}
	// The same institution again is no error and adds nothing.
	retry := ins[1]
	retry.CreatedAt = at(50)
	must(t, e.Store.CreateInstitution(e.Ctx, retry))
	for _, change := range []func(*twotier.Institution){
		func(in *twotier.Institution) { in.Name = "other" },
		func(in *twotier.Institution) { in.Kind = twotier.KindCentralBank },
		func(in *twotier.Institution) { in.NetDebitCap++ },
	} {
		other := ins[1]
		change(&other)
		wantErr(t, "institution id with other content", e.Store.CreateInstitution(e.Ctx, other), twotier.ErrInstitutionExists)
	}
	got, err := e.Store.Institution(e.Ctx, opB)
	must(t, err)
	storetest.WantEqual(t, "institution", got, ins[1])
	list, err = e.Store.Institutions(e.Ctx)
	must(t, err)
	storetest.WantEqual(t, "institutions", list, ins)
}

func testWalletRoundTrip(t *testing.T, e *env) {
	w := wallet(1, opA)
	must(t, e.Store.CreateWallet(e.Ctx, w))
	got, err := e.Store.Wallet(e.Ctx, w.ID)
	must(t, err)
	storetest.WantEqual(t, "wallet", got, w)
	got, err = e.Store.WalletByAlias(e.Ctx, w.AliasKey)
	must(t, err)
	storetest.WantEqual(t, "wallet by alias", got, w)

	// The zero values: no alias, no limits, no freeze, no parent.
	bare := twotier.Wallet{ID: id(0x2000), Operator: opA, Kind: twotier.WalletMerchant, Category: twotier.Category4, State: twotier.StateActive, OpenedAt: at(5), UpdatedAt: at(5)}
	must(t, e.Store.CreateWallet(e.Ctx, bare))
	got, err = e.Store.Wallet(e.Ctx, bare.ID)
	must(t, err)
	storetest.WantEqual(t, "bare wallet", got, bare)

	_, err = e.Store.Wallet(e.Ctx, id(0x3000))
	wantErr(t, "missing wallet", err, twotier.ErrWalletNotFound)
	_, err = e.Store.WalletByAlias(e.Ctx, "no-such-alias")
	wantErr(t, "missing alias", err, twotier.ErrWalletNotFound)
	_, err = e.Store.WalletByAlias(e.Ctx, "")
	wantErr(t, "empty alias", err, twotier.ErrWalletNotFound)
}

func testWalletConflicts(t *testing.T, e *env) {
	w := wallet(1, opA)
	must(t, e.Store.CreateWallet(e.Ctx, w))

	sameID := wallet(2, opB)
	sameID.ID = w.ID
	wantErr(t, "wallet id taken", e.Store.CreateWallet(e.Ctx, sameID), twotier.ErrWalletExists)
	// The id conflicts even with the same alias: the id is told first.
	wantErr(t, "same wallet again", e.Store.CreateWallet(e.Ctx, w), twotier.ErrWalletExists)

	sameAlias := wallet(3, opB)
	sameAlias.AliasKey = w.AliasKey
	wantErr(t, "alias taken", e.Store.CreateWallet(e.Ctx, sameAlias), twotier.ErrAliasTaken)
	_, err := e.Store.Wallet(e.Ctx, sameAlias.ID)
	wantErr(t, "wallet refused for its alias", err, twotier.ErrWalletNotFound)
	got, err := e.Store.Wallet(e.Ctx, w.ID)
	must(t, err)
	storetest.WantEqual(t, "first wallet after the conflicts", got, w)

	// Wallets without an alias never conflict on it.
	for n := uint64(10); n < 13; n++ {
		nw := wallet(n, opA)
		nw.AliasKey = ""
		must(t, e.Store.CreateWallet(e.Ctx, nw))
	}
}

func testUpdateWallet(t *testing.T, e *env) {
	w := wallet(1, opA)
	must(t, e.Store.CreateWallet(e.Ctx, w))
	up := w
	up.Category, up.State, up.StateReason = twotier.Category1, twotier.StateSuspended, "fraud"
	up.FrozenUntil, up.FreezeReason = time.Time{}, ""
	up.CapVersion, up.HolderLimits = 0, &ledger.Limits{BalanceMax: 10, DebitMax: 20, DailyDebitMax: 30, YearlyDebitMax: 40}
	up.UpdatedAt = at(99)
	// The fields UpdateWallet does not replace: changed here, kept there.
	immutable := up
	immutable.Operator, immutable.Kind, immutable.HolderMasked, immutable.AliasKey = opB, twotier.WalletMerchant, "other", "other-alias"
	immutable.AliasMasked, immutable.MerchantCategory, immutable.Region, immutable.Parent = "x", "y", "z", id(1)
	immutable.OpenedAt = at(77)
	must(t, e.Store.UpdateWallet(e.Ctx, immutable))
	got, err := e.Store.Wallet(e.Ctx, w.ID)
	must(t, err)
	storetest.WantEqual(t, "updated wallet", got, up)
	if _, err := e.Store.WalletByAlias(e.Ctx, "other-alias"); !errors.Is(err, twotier.ErrWalletNotFound) {
		t.Fatalf("alias after update: got %v; want it unchanged", err)
	}

	up.HolderLimits = nil
	must(t, e.Store.UpdateWallet(e.Ctx, up))
	got, err = e.Store.Wallet(e.Ctx, w.ID)
	must(t, err)
	storetest.WantEqual(t, "wallet with limits removed", got, up)

	missing := wallet(2, opA)
	wantErr(t, "update of a missing wallet", e.Store.UpdateWallet(e.Ctx, missing), twotier.ErrWalletNotFound)
	if _, err := e.Store.Wallet(e.Ctx, missing.ID); !errors.Is(err, twotier.ErrWalletNotFound) {
		t.Fatalf("update of a missing wallet created it: %v", err)
	}
}

func ids(ws []twotier.Wallet) []tongbao.ID {
	out := []tongbao.ID{}
	for _, w := range ws {
		out = append(out, w.ID)
	}
	return out
}

func testWalletPages(t *testing.T, e *env) {
	// Created out of id order, at two operators.
	var want []tongbao.ID
	for _, n := range []uint64{7, 3, 9, 1, 5, 8, 2, 6, 4} {
		w := wallet(n, opA)
		must(t, e.Store.CreateWallet(e.Ctx, w))
		other := wallet(100+n, opB)
		must(t, e.Store.CreateWallet(e.Ctx, other))
	}
	for n := uint64(1); n <= 9; n++ {
		want = append(want, wallet(n, opA).ID)
	}
	all, err := e.Store.Wallets(e.Ctx, opA, tongbao.ID{}, 0)
	must(t, err)
	storetest.WantEqual(t, "wallets with no limit", ids(all), want)
	var paged []tongbao.ID
	var after tongbao.ID
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page, err := e.Store.Wallets(e.Ctx, opA, after, 4)
		must(t, err)
		if len(page) > 4 {
			t.Fatalf("page of %d; want at most 4", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, ids(page)...)
		after = page[len(page)-1].ID
	}
	storetest.WantEqual(t, "wallets paged by 4", paged, want)
	over, err := e.Store.Wallets(e.Ctx, opA, tongbao.ID{}, twotier.WalletsPageMax+1)
	must(t, err)
	storetest.WantEqual(t, "wallets with a limit over the most", ids(over), want)
	none, err := e.Store.Wallets(e.Ctx, id(0xC0), tongbao.ID{}, 10)
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("wallets of an operator with none: got %d", len(none))
	}
}

func testWalletsBehindCaps(t *testing.T, e *env) {
	mk := func(n uint64, op tongbao.ID, cat twotier.Category, version int64, kind twotier.WalletKind) twotier.Wallet {
		w := wallet(n, op)
		w.Category, w.CapVersion, w.Kind = cat, version, kind
		must(t, e.Store.CreateWallet(e.Ctx, w))
		return w
	}
	behind1 := mk(5, opA, twotier.Category2, 1, twotier.WalletPersonal)
	mk(6, opA, twotier.Category2, 3, twotier.WalletPersonal) // current
	behind2 := mk(2, opA, twotier.Category2, 0, twotier.WalletMerchant)
	mk(3, opA, twotier.Category3, 1, twotier.WalletPersonal) // another category
	mk(4, opB, twotier.Category2, 1, twotier.WalletPersonal) // another operator
	mk(7, opA, twotier.Category2, 1, twotier.WalletScenario) // a sub-wallet's limits are its scenario's
	behind3 := mk(8, opA, twotier.Category2, 2, twotier.WalletPersonal)
	got, err := e.Store.WalletsBehindCaps(e.Ctx, opA, twotier.Category2, 3, 0)
	must(t, err)
	storetest.WantEqual(t, "wallets behind caps", ids(got), []tongbao.ID{behind2.ID, behind1.ID, behind3.ID})
	got, err = e.Store.WalletsBehindCaps(e.Ctx, opA, twotier.Category2, 3, 2)
	must(t, err)
	storetest.WantEqual(t, "wallets behind caps, limit 2", ids(got), []tongbao.ID{behind2.ID, behind1.ID})
}

func testSubWallets(t *testing.T, e *env) {
	parent := wallet(1, opA)
	must(t, e.Store.CreateWallet(e.Ctx, parent))
	var want []tongbao.ID
	for _, n := range []uint64{30, 10, 20} {
		w := wallet(n, opA)
		w.Kind, w.Parent, w.AliasKey = twotier.WalletScenario, parent.ID, ""
		must(t, e.Store.CreateWallet(e.Ctx, w))
	}
	for _, n := range []uint64{10, 20, 30} {
		want = append(want, wallet(n, opA).ID)
	}
	// Another parent's, and a wallet that names the parent but is no sub-wallet.
	other := wallet(40, opA)
	other.Kind, other.Parent = twotier.WalletScenario, id(0x77)
	must(t, e.Store.CreateWallet(e.Ctx, other))
	odd := wallet(41, opA)
	odd.Parent = parent.ID
	must(t, e.Store.CreateWallet(e.Ctx, odd))
	got, err := e.Store.SubWallets(e.Ctx, parent.ID)
	must(t, err)
	storetest.WantEqual(t, "sub-wallets", ids(got), want)
	for _, w := range got {
		if w.Parent != parent.ID || w.Kind != twotier.WalletScenario {
			t.Fatalf("sub-wallet %v: parent %v kind %s", w.ID, w.Parent, w.Kind)
		}
	}
}

func testCapVersions(t *testing.T, e *env) {
	got, err := e.Store.CapVersions(e.Ctx, opA)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("cap versions of a new store: got %d", len(got))
	}
	caps := func(n tongbao.Amount) map[twotier.Category]ledger.Limits {
		return map[twotier.Category]ledger.Limits{
			twotier.Category2: {BalanceMax: n, DebitMax: n + 1, DailyDebitMax: n + 2, YearlyDebitMax: n + 3},
			twotier.Category4: {BalanceMax: n + 10, DebitMax: n + 11, DailyDebitMax: n + 12, YearlyDebitMax: n + 13},
		}
	}
	v2 := twotier.CapVersion{Operator: opA, Version: 2, EffectiveFrom: at(20), Caps: caps(200), SetBy: "key-2", SetAt: at(21)}
	v1 := twotier.CapVersion{Operator: opA, Version: 1, EffectiveFrom: at(10), Caps: caps(100), SetBy: "key-1", SetAt: at(11)}
	vb := twotier.CapVersion{Operator: opB, Version: 1, EffectiveFrom: at(12), Caps: caps(300), SetBy: "key-b", SetAt: at(13)}
	for _, v := range []twotier.CapVersion{v2, v1, vb} {
		must(t, e.Store.AddCapVersion(e.Ctx, v))
	}
	dup := v1
	dup.Caps = caps(999)
	wantErr(t, "version taken", e.Store.AddCapVersion(e.Ctx, dup), twotier.ErrCapVersionExists)
	got, err = e.Store.CapVersions(e.Ctx, opA)
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("cap versions of A: got %d; want 2", len(got))
	}
	for i, want := range []twotier.CapVersion{v1, v2} {
		if !got[i].EffectiveFrom.Equal(want.EffectiveFrom) {
			t.Fatalf("version %d effective from %v; want %v", i, got[i].EffectiveFrom, want.EffectiveFrom)
		}
		got[i].EffectiveFrom = want.EffectiveFrom
		storetest.WantEqual(t, fmt.Sprintf("cap version %d", want.Version), got[i], want)
	}
}

func testWindows(t *testing.T, e *env) {
	got, err := e.Store.Windows(e.Ctx, 0)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("windows of a new store: got %d", len(got))
	}
	for n := uint64(1); n <= 3; n++ {
		must(t, e.Store.CreateWindow(e.Ctx, twotier.Window{Number: n, Status: twotier.WindowOpen, OpenedAt: at(int(n))}))
	}
	wantErr(t, "window number taken", e.Store.CreateWindow(e.Ctx, twotier.Window{Number: 2, Status: twotier.WindowSettled}), twotier.ErrWindowExists)

	w2 := twotier.Window{Number: 2, Status: twotier.WindowSettled, OpenedAt: at(2), ClosedAt: at(20), SettledAt: at(21),
		Positions: map[tongbao.ID]tongbao.Amount{opA: 1500, opB: -1500}}
	must(t, e.Store.UpdateWindow(e.Ctx, w2))
	// Positions are replaced, not merged.
	w2.Positions = map[tongbao.ID]tongbao.Amount{opA: -7, id(0xC0): 7}
	must(t, e.Store.UpdateWindow(e.Ctx, w2))
	wantErr(t, "update of a missing window", e.Store.UpdateWindow(e.Ctx, twotier.Window{Number: 9, Status: twotier.WindowSettled,
		Positions: map[tongbao.ID]tongbao.Amount{opA: 1}}), twotier.ErrWindowNotFound)

	got, err = e.Store.Windows(e.Ctx, 2)
	must(t, err)
	want := []twotier.Window{w2, {Number: 3, Status: twotier.WindowOpen, OpenedAt: at(3), Positions: map[tongbao.ID]tongbao.Amount{}}}
	storetest.WantEqual(t, "windows from 2", got, want)
	all, err := e.Store.Windows(e.Ctx, 0)
	must(t, err)
	if len(all) != 3 || all[0].Number != 1 || all[2].Number != 3 {
		t.Fatalf("windows from 0: got %+v; want 1, 2, 3", all)
	}
	later, err := e.Store.Windows(e.Ctx, 9)
	must(t, err)
	if len(later) != 0 {
		t.Fatalf("windows from 9: got %d (the refused update must not create one)", len(later))
	}
}

// payment returns a record with every field set and distinct.
func payment(n uint64, payer, payee tongbao.ID, created time.Time) twotier.PaymentRecord {
	return twotier.PaymentRecord{
		ID: id(0x5000 + n), PayerOperator: payer, PayeeOperator: payee, PayerWallet: id(0x6000 + n), PayeeWallet: id(0x7000 + n),
		Amount: tongbao.Amount(100 + n), Currency: tongbao.CNY, Window: 3, Status: twotier.PaymentPending, Reason: "",
		CreatedAt: created,
	}
}

func testPaymentRoundTrip(t *testing.T, e *env) {
	_, err := e.Store.Payment(e.Ctx, id(1))
	wantErr(t, "missing payment", err, twotier.ErrPaymentNotFound)
	p := payment(1, opA, opB, at(1))
	stored, created, err := e.Store.CreatePayment(e.Ctx, p)
	must(t, err)
	if !created {
		t.Fatal("first create: created false")
	}
	storetest.WantEqual(t, "created payment", stored, p)
	// A retry, with other content, answers the record stored.
	other := p
	other.Amount, other.Status = 999, twotier.PaymentFailed
	stored, created, err = e.Store.CreatePayment(e.Ctx, other)
	must(t, err)
	if created {
		t.Fatal("second create: created true")
	}
	storetest.WantEqual(t, "payment created twice", stored, p)

	up := p
	up.Window, up.Status, up.Reason, up.PayerTimestamp, up.PayeeTimestamp = 4, twotier.PaymentPosted, "ok", 11, 12
	immutable := up
	immutable.Amount, immutable.PayerWallet, immutable.CreatedAt, immutable.Currency = 1, id(1), at(50), "USD"
	must(t, e.Store.UpdatePayment(e.Ctx, immutable))
	got, err := e.Store.Payment(e.Ctx, p.ID)
	must(t, err)
	storetest.WantEqual(t, "updated payment", got, up)
	wantErr(t, "update of a missing payment", e.Store.UpdatePayment(e.Ctx, payment(2, opA, opB, at(2))), twotier.ErrPaymentNotFound)
}

func testPaymentBatches(t *testing.T, e *env) {
	stored, created, err := e.Store.CreatePayments(e.Ctx, nil)
	must(t, err)
	if len(stored) != 0 || len(created) != 0 {
		t.Fatal("empty batch returned records")
	}
	old := payment(1, opA, opB, at(1))
	_, _, err = e.Store.CreatePayment(e.Ctx, old)
	must(t, err)
	p2, p3 := payment(2, opA, opB, at(2)), payment(3, opB, opA, at(3))
	again := old
	again.Amount = 5
	p2dup := p2
	p2dup.Reason = "the second of a repeated id"
	stored, created, err = e.Store.CreatePayments(e.Ctx, []twotier.PaymentRecord{p2, again, p3, p2dup})
	must(t, err)
	storetest.WantEqual(t, "created flags", created, []bool{true, false, true, false})
	storetest.WantEqual(t, "stored records", stored, []twotier.PaymentRecord{p2, old, p3, p2})

	// One missing record fails the whole batch.
	u2, u3 := p2, p3
	u2.Status, u3.Status = twotier.PaymentPosted, twotier.PaymentFailed
	err = e.Store.UpdatePayments(e.Ctx, []twotier.PaymentRecord{u2, payment(9, opA, opB, at(9)), u3})
	wantErr(t, "batch update with a missing record", err, twotier.ErrPaymentNotFound)
	got, err := e.Store.Payment(e.Ctx, p2.ID)
	must(t, err)
	storetest.WantEqual(t, "record of a refused batch update", got, p2)
	must(t, e.Store.UpdatePayments(e.Ctx, []twotier.PaymentRecord{u2, u3}))
	must(t, e.Store.UpdatePayments(e.Ctx, nil))
	for _, want := range []twotier.PaymentRecord{u2, u3} {
		got, err := e.Store.Payment(e.Ctx, want.ID)
		must(t, err)
		storetest.WantEqual(t, "batch-updated record", got, want)
	}
}

func testPaymentsOfOperator(t *testing.T, e *env) {
	opC := id(0xC0)
	ps := []twotier.PaymentRecord{
		payment(1, opA, opB, at(1)),
		payment(2, opB, opA, at(2)),
		payment(3, opA, opA, at(3)), // within A: listed once
		payment(4, opB, opC, at(4)), // not A's
		payment(5, opA, opC, at(5)), // at the end of the range: excluded
		payment(6, opC, opA, at(0)), // before it
	}
	// Two records at one time are ordered by id.
	p7 := payment(7, opC, opA, at(2))
	p7.ID = id(0x4000)
	ps = append(ps, p7)
	for _, p := range ps {
		_, _, err := e.Store.CreatePayment(e.Ctx, p)
		must(t, err)
	}
	got, err := e.Store.Payments(e.Ctx, opA, at(1), at(5))
	must(t, err)
	storetest.WantEqual(t, "payments of A in [1, 5)", got, []twotier.PaymentRecord{ps[0], p7, ps[1], ps[2]})
	got, err = e.Store.Payments(e.Ctx, opA, at(5), at(1))
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("empty range: got %d", len(got))
	}
}

func testConcurrentCreates(t *testing.T, e *env) {
	const callers = 8
	store := e.TwoStores()
	p := payment(1, opA, opB, at(1))
	created := storetest.Succeeded(t, storetest.Concurrently(callers, func(i int) error {
		stored, created, err := store(i).CreatePayment(e.Ctx, p)
		switch {
		case err != nil:
			return err
		case !reflect.DeepEqual(stored, p):
			return fmt.Errorf("stored %+v", stored)
		case !created:
			return errNotCreated
		}
		return nil
	}), errNotCreated)
	if len(created) != 1 {
		t.Fatalf("concurrent creates of one payment: %d created; want 1", len(created))
	}
	in := twotier.Institution{ID: opA, Kind: twotier.KindOperator, Name: "A", NetDebitCap: 5, CreatedAt: at(1)}
	for _, err := range storetest.Concurrently(callers, func(i int) error { return store(i).CreateInstitution(e.Ctx, in) }) {
		must(t, err)
	}
	list, err := e.Store.Institutions(e.Ctx)
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("concurrent creates of one institution: %d stored", len(list))
	}
	// Each caller its own wallet id, all on one alias.
	won := storetest.Succeeded(t, storetest.Concurrently(callers, func(i int) error {
		w := wallet(uint64(i), opA)
		w.AliasKey = "shared"
		return store(i).CreateWallet(e.Ctx, w)
	}), twotier.ErrAliasTaken)
	if len(won) != 1 {
		t.Fatalf("concurrent wallets on one alias: %d stored; want 1", len(won))
	}
}

// errNotCreated marks a create answered with the record already stored.
var errNotCreated = errors.New("not created")

func testReopen(t *testing.T, e *env) {
	w := wallet(1, opA)
	must(t, e.Store.CreateWallet(e.Ctx, w))
	p := payment(1, opA, opB, at(1))
	_, _, err := e.Store.CreatePayment(e.Ctx, p)
	must(t, err)
	must(t, e.Store.Close())
	s := e.Reopen()
	got, err := s.Wallet(e.Ctx, w.ID)
	must(t, err)
	storetest.WantEqual(t, "wallet after reopen", got, w)
	gp, err := s.Payment(e.Ctx, p.ID)
	must(t, err)
	storetest.WantEqual(t, "payment after reopen", gp, p)
}
