// Package offlinetest is the conformance suite of offline.Store: the
// contract every implementation keeps, spelled out as tests and run on
// every database the store supports (storetest.Databases).
//
// The contract, beyond what offline.Store's doc comments say:
//   - every method is durable when it returns: a store opened again on
//     the same database reads what was written;
//   - every field comes back as stored: times to the nanosecond (as
//     tongbao.FromUnixNanos makes them), zero times as zero, byte fields
//     (keys, certificates, vouchers, raw objects) byte for byte and nil
//     when empty, empty lists as nil, counters and sequence numbers over
//     the whole uint64 range;
//   - a refused call changes nothing: a duplicate, a stale version, a
//     missing record, a batch with one bad member (which stores none of
//     its tokens, devices or cases);
//   - CreateDevice stores version 1 whatever the device says, and an
//     update stores the record at its Version+1; a case of a batch with
//     Version 0 is created at version 1;
//   - CreateLoad stores the load pending with no outcome (no problem, Seq
//     or voucher) whatever it says, and answers a taken id with the load
//     stored; FinishLoad refuses a load no longer pending with
//     ErrVersionConflict;
//   - lists are in the order their doc comment or the implementation's
//     names: devices and cases by id (a page's last id the next's
//     cursor), vouchers by Seq, pending loads by CreatedAt then id,
//     pending tokens by UploadedAt then payer and counter, a device's
//     tokens by counter then hash, devices to return by ReturnAt then
//     id, revocation lists by operator, keys by CreatedAt then id;
//   - of concurrent updates of one version, in one process or two,
//     exactly one is stored and the others are refused with
//     ErrVersionConflict.
package offlinetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/storetest"
	"github.com/tongbao/tongbao/offline"
)

// Store is an offline.Store that can be closed.
type Store interface {
	offline.Store
	Close() error
}

// Run runs the suite on every database, each test on a database of its
// own, with stores open opens on target (see storetest.Database.Target),
// creating the tables if needed; opened twice on one target, the second
// store sees what the first wrote.
func Run[S Store](t *testing.T, open func(ctx context.Context, target string) (S, error)) {
	storetest.RunDomain(t, "offline.db", func(ctx context.Context, target string) (Store, error) { return open(ctx, target) }, []storetest.DomainTest[Store]{
		{Name: "Keys", Fn: testKeys},
		{Name: "DeviceRoundTrip", Fn: testDeviceRoundTrip},
		{Name: "Devices", Fn: testDevices},
		{Name: "DevicesByID", Fn: testDevicesByID},
		{Name: "UpdateDevice", Fn: testUpdateDevice},
		{Name: "DevicesToReturn", Fn: testDevicesToReturn},
		{Name: "CreateLoad", Fn: testCreateLoad},
		{Name: "FinishLoad", Fn: testFinishLoad},
		{Name: "FinishLoadRefusedStoresNothing", Fn: testFinishLoadRefused},
		{Name: "Vouchers", Fn: testVouchers},
		{Name: "PendingLoads", Fn: testPendingLoads},
		{Name: "WriteBatch", Fn: testWriteBatch},
		{Name: "WriteBatchRefusedStoresNothing", Fn: testWriteBatchRefused},
		{Name: "TokensOf", Fn: testTokensOf},
		{Name: "OperatorCaps", Fn: testOperatorCaps},
		{Name: "SetTokensSettled", Fn: testSetTokensSettled},
		{Name: "PendingTokens", Fn: testPendingTokens},
		{Name: "Cases", Fn: testCases},
		{Name: "UpdateCase", Fn: testUpdateCase},
		{Name: "Revocations", Fn: testRevocations},
		{Name: "ConcurrentUpdateDeviceOneWins", Fn: testConcurrentUpdateDevice},
		{Name: "ConcurrentBatchesOneWins", Fn: testConcurrentBatches},
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

// hash returns a hash of its own for n.
func hash(n int) offline.Hash { return offline.HashOf([]byte(fmt.Sprintf("token %d", n))) }

// bytesOf returns size bytes of their own for n.
func bytesOf(n, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(n*7 + i*13 + 1)
	}
	return b
}

// device returns an active device of op with every field set and
// distinct.
func device(n uint64, op tongbao.ID) offline.Device {
	k := int(n)
	return offline.Device{
		ID: id(0x1000 + n), Wallet: id(0x2000 + n), Operator: op, Key: ed25519.PublicKey(bytesOf(k, ed25519.PublicKeySize)),
		Caps:  offline.Caps{PerPayment: tongbao.Amount(500 + k), Balance: tongbao.Amount(10_000 + k), Payments: uint32(10 + k)},
		State: offline.DeviceActive, Reason: fmt.Sprintf("理由 %d", n), Certificate: bytesOf(k+1, 300), CertExpires: at(k + 100),
		Loaded: tongbao.Amount(9000 + k), Unloaded: tongbao.Amount(700 + k), Spent: tongbao.Amount(600 + k), Returned: tongbao.Amount(50 + k),
		Advanced: tongbao.Amount(30 + k), Vouchers: 40 + n, Acked: 20 + n, ReturnAt: at(k + 200),
		CreatedAt: at(k + 1), UpdatedAt: at(k + 2), Version: 1,
	}
}

// create stores a device and returns it as stored.
func create(t *testing.T, e *env, d offline.Device) offline.Device {
	t.Helper()
	must(t, e.Store.CreateDevice(e.Ctx, d))
	d.Version = 1
	return d
}

// token returns a pending token of payer with every field set and
// distinct.
func token(n int, payer tongbao.ID, counter uint64) offline.TokenRecord {
	return offline.TokenRecord{
		Hash: hash(n), Payer: payer, Counter: counter, Prev: hash(n + 1000), Payee: id(0x3000 + uint64(n)), PayeeWallet: id(0x4000 + uint64(n)),
		Amount: tongbao.Amount(100 + n), Kind: offline.KindPayment, Status: offline.TokenPending, Source: offline.SourcePurse,
		Case: id(0x5000 + uint64(n)), Problem: fmt.Sprintf("problem-%d", n), Raw: bytesOf(n, 200+n), UploadedAt: at(n + 10), SettledAt: at(n + 20),
	}
}

// fraudCase returns a new case (version 0) of op with every field set and
// distinct.
func fraudCase(n uint64, op tongbao.ID) offline.Case {
	k := int(n)
	return offline.Case{
		ID: id(0x6000 + n), Device: id(0x1000 + n), Operator: op, Wallet: id(0x2000 + n),
		Findings: []string{fmt.Sprintf("offline-double-spend@%d", n), "offline-chain-broken@9", `"quoted" \ 双`},
		Tokens:   []offline.Hash{hash(k), hash(k + 1)}, Advanced: tongbao.Amount(300 + k), Recovered: tongbao.Amount(100 + k), Refused: tongbao.Amount(50 + k),
		Status: offline.CaseOpen, Note: fmt.Sprintf("note %d", n), OpenedAt: at(k + 3), UpdatedAt: at(k + 4),
	}
}

func deviceIDs(ds []offline.Device) []tongbao.ID {
	out := []tongbao.ID{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func sortIDs(ids []tongbao.ID) {
	slices.SortFunc(ids, func(a, b tongbao.ID) int { return bytes.Compare(a[:], b[:]) })
}

func testKeys(t *testing.T, e *env) {
	keys, err := e.Store.Keys(e.Ctx)
	must(t, err)
	if len(keys) != 0 {
		t.Fatalf("keys of an empty store: %d", len(keys))
	}
	seed := bytesOf(1, ed25519.SeedSize)
	full := ed25519.NewKeyFromSeed(bytesOf(2, ed25519.SeedSize))
	public := ed25519.NewKeyFromSeed(bytesOf(3, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	// Created out of the order of their times: listed oldest first.
	newest := offline.OperatorKey{Operator: opA, ID: offline.KeyID(full.Public().(ed25519.PublicKey)), Public: full.Public().(ed25519.PublicKey), Private: full, CreatedAt: at(3)}
	oldest := offline.OperatorKey{Operator: opB, ID: []byte("seed-key"), Public: ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey), Private: ed25519.PrivateKey(seed), CreatedAt: at(1)}
	publicOnly := offline.OperatorKey{Operator: opA, ID: offline.KeyID(public), Public: public, CreatedAt: at(2)}
	for _, k := range []offline.OperatorKey{newest, oldest, publicOnly} {
		must(t, e.Store.CreateKey(e.Ctx, k))
	}
	keys, err = e.Store.Keys(e.Ctx)
	must(t, err)
	storetest.WantEqual(t, "keys", keys, []offline.OperatorKey{oldest, publicOnly, newest})
	if keys[0].Private == nil || len(keys[0].Private) != ed25519.SeedSize || keys[1].Private != nil || len(keys[2].Private) != ed25519.PrivateKeySize {
		t.Fatalf("private halves: got lengths %d, %d (nil %t), %d; want a seed, none, a whole key", len(keys[0].Private), len(keys[1].Private), keys[1].Private == nil, len(keys[2].Private))
	}

	dup := newest
	dup.Operator, dup.CreatedAt = opB, at(9)
	wantErr(t, "key id taken", e.Store.CreateKey(e.Ctx, dup), offline.ErrKeyExists)
	keys, err = e.Store.Keys(e.Ctx)
	must(t, err)
	storetest.WantEqual(t, "keys after a refused create", keys, []offline.OperatorKey{oldest, publicOnly, newest})
}

func testDeviceRoundTrip(t *testing.T, e *env) {
	_, err := e.Store.Device(e.Ctx, id(0x1001))
	wantErr(t, "missing device", err, offline.ErrDeviceNotFound)
	d := device(1, opA)
	d.Vouchers, d.Acked = math.MaxUint64, 1<<63 // the whole range
	sent := d
	sent.Version = 7 // a new device is at version 1, whatever it says
	must(t, e.Store.CreateDevice(e.Ctx, sent))
	got, err := e.Store.Device(e.Ctx, d.ID)
	must(t, err)
	storetest.WantEqual(t, "device", got, d)

	bare := offline.Device{ID: id(2), Operator: opA, State: offline.DeviceSuspended}
	must(t, e.Store.CreateDevice(e.Ctx, bare))
	bare.Version = 1
	got, err = e.Store.Device(e.Ctx, bare.ID)
	must(t, err)
	storetest.WantEqual(t, "bare device", got, bare)
	if got.Key != nil || got.Certificate != nil {
		t.Fatalf("bare device: key %v, certificate %v; want nil", got.Key, got.Certificate)
	}

	dup := device(1, opB)
	dup.Reason = "other"
	wantErr(t, "device id taken", e.Store.CreateDevice(e.Ctx, dup), offline.ErrDeviceExists)
	got, err = e.Store.Device(e.Ctx, d.ID)
	must(t, err)
	storetest.WantEqual(t, "device after a refused create", got, d)

	bad := device(3, opA)
	bad.State = "lost"
	if err := e.Store.CreateDevice(e.Ctx, bad); tongbao.ErrorCode(err) != tongbao.EINVALID {
		t.Fatalf("unknown state: got %v; want %s", err, tongbao.EINVALID)
	}
	_, err = e.Store.Device(e.Ctx, bad.ID)
	wantErr(t, "device of a refused create", err, offline.ErrDeviceNotFound)
}

func testDevices(t *testing.T, e *env) {
	var ofA, all []tongbao.ID
	for _, n := range []uint64{5, 1, 4, 2, 3} {
		op := opA
		if n == 4 {
			op = opB
		}
		d := create(t, e, device(n, op))
		if op == opA {
			ofA = append(ofA, d.ID)
		}
		all = append(all, d.ID)
	}
	sortIDs(ofA)
	sortIDs(all)
	got, err := e.Store.Devices(e.Ctx, opA, tongbao.ID{}, 0)
	must(t, err)
	storetest.WantEqual(t, "devices of A", deviceIDs(got), ofA)
	storetest.WantEqual(t, "first device of A, whole", got[0], create1(device(1, opA)))
	got, err = e.Store.Devices(e.Ctx, tongbao.ID{}, tongbao.ID{}, 0)
	must(t, err)
	storetest.WantEqual(t, "devices of every operator", deviceIDs(got), all)
	var paged []tongbao.ID
	var after tongbao.ID
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page, err := e.Store.Devices(e.Ctx, opA, after, 2)
		must(t, err)
		if len(page) > 2 {
			t.Fatalf("page of %d; want at most 2", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, deviceIDs(page)...)
		after = page[len(page)-1].ID
	}
	storetest.WantEqual(t, "devices of A, paged by 2", paged, ofA)
	none, err := e.Store.Devices(e.Ctx, id(0xC0), tongbao.ID{}, 10)
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("devices of an operator with none: %d", len(none))
	}
}

// create1 is d as CreateDevice stores it.
func create1(d offline.Device) offline.Device {
	d.Version = 1
	return d
}

func testDevicesByID(t *testing.T, e *env) {
	got, err := e.Store.DevicesByID(e.Ctx, nil)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("devices of no ids: %d", len(got))
	}
	// More than an implementation might send in one query.
	const n = 150
	want := map[tongbao.ID]offline.Device{}
	var ask []tongbao.ID
	for i := uint64(1); i <= n; i++ {
		d := create(t, e, device(i, opA))
		if i%3 != 0 {
			want[d.ID] = d
			ask = append(ask, d.ID)
		}
		ask = append(ask, id(0x9000+i)) // not stored
	}
	ask = append(ask, ask[0]) // twice
	got, err = e.Store.DevicesByID(e.Ctx, ask)
	must(t, err)
	storetest.WantEqual(t, "devices by id", got, want)
}

func testUpdateDevice(t *testing.T, e *env) {
	d := create(t, e, device(1, opA))
	up := device(7, opB) // every field other
	up.ID, up.Version, up.State = d.ID, 1, offline.DeviceDecommissioned
	must(t, e.Store.UpdateDevice(e.Ctx, up))
	want := up
	want.Version = 2
	got, err := e.Store.Device(e.Ctx, d.ID)
	must(t, err)
	storetest.WantEqual(t, "updated device", got, want)

	stale := up
	stale.Reason, stale.Spent = "stale", 1
	wantErr(t, "update on version 1 of a device at 2", e.Store.UpdateDevice(e.Ctx, stale), offline.ErrVersionConflict)
	ahead := want
	ahead.Version = 5
	wantErr(t, "update on version 5 of a device at 2", e.Store.UpdateDevice(e.Ctx, ahead), offline.ErrVersionConflict)
	got, err = e.Store.Device(e.Ctx, d.ID)
	must(t, err)
	storetest.WantEqual(t, "device after refused updates", got, want)

	wantErr(t, "update of a missing device", e.Store.UpdateDevice(e.Ctx, device(9, opA)), offline.ErrDeviceNotFound)
	_, err = e.Store.Device(e.Ctx, device(9, opA).ID)
	wantErr(t, "device after an update of a missing one", err, offline.ErrDeviceNotFound)

	bad := want
	bad.State = ""
	if err := e.Store.UpdateDevice(e.Ctx, bad); tongbao.ErrorCode(err) != tongbao.EINVALID {
		t.Fatalf("unknown state: got %v; want %s", err, tongbao.EINVALID)
	}
	got, err = e.Store.Device(e.Ctx, d.ID)
	must(t, err)
	storetest.WantEqual(t, "device after an update with an unknown state", got, want)
}

func testDevicesToReturn(t *testing.T, e *env) {
	now := at(50)
	mk := func(n uint64, st offline.DeviceState, returnAt time.Time, purse tongbao.Amount) offline.Device {
		d := device(n, opA)
		d.State, d.ReturnAt = st, returnAt
		d.Loaded, d.Unloaded, d.Spent, d.Returned = purse+600, 300, 200, 100
		return create(t, e, d)
	}
	due := mk(1, offline.DeviceDecommissioned, at(40), 500)
	atNow := mk(2, offline.DeviceDecommissioned, now, 1)
	earliest := mk(3, offline.DeviceDecommissioned, at(10), 70)
	mk(4, offline.DeviceDecommissioned, at(51), 500)            // not yet
	mk(5, offline.DeviceDecommissioned, at(10), 0)              // returned
	mk(6, offline.DeviceDecommissioned, at(10), -20)            // overspent: nothing to return
	mk(7, offline.DeviceActive, at(10), 500)                    // not decommissioned
	mk(8, offline.DeviceSuspended, at(10), 500)                 // not decommissioned
	mk(9, offline.DeviceRevoked, at(10), 500)                   // not decommissioned
	sameTime := mk(10, offline.DeviceDecommissioned, at(40), 9) // ties with due: by id

	got, err := e.Store.DevicesToReturn(e.Ctx, now, 0)
	must(t, err)
	storetest.WantEqual(t, "devices to return", got, []offline.Device{earliest, due, sameTime, atNow})
	got, err = e.Store.DevicesToReturn(e.Ctx, now, 2)
	must(t, err)
	storetest.WantEqual(t, "devices to return, two", deviceIDs(got), []tongbao.ID{earliest.ID, due.ID})

	// Returned: no longer listed.
	returned := due
	returned.Returned += returned.Purse()
	must(t, e.Store.UpdateDevice(e.Ctx, returned))
	got, err = e.Store.DevicesToReturn(e.Ctx, now, 0)
	must(t, err)
	storetest.WantEqual(t, "devices to return after one returned", deviceIDs(got), []tongbao.ID{earliest.ID, sameTime.ID, atNow.ID})
	got, err = e.Store.DevicesToReturn(e.Ctx, at(5), 0)
	must(t, err)
	storetest.WantEqual(t, "devices to return before any is due", deviceIDs(got), []tongbao.ID{})
}

// load returns a pending load of device with every field set and
// distinct.
func load(n uint64, device tongbao.ID) offline.Load {
	k := int(n)
	return offline.Load{ID: id(0x7000 + n), Device: device, Amount: tongbao.Amount(1000 + k), Status: offline.LoadPending,
		CreatedAt: at(k + 30), UpdatedAt: at(k + 31)}
}

func testCreateLoad(t *testing.T, e *env) {
	d := create(t, e, device(1, opA))
	l := load(1, d.ID)
	sent := l
	// The store records it pending, with no outcome.
	sent.Status, sent.Problem, sent.Seq, sent.Voucher = offline.LoadDone, "why", 9, []byte("voucher")
	got, created, err := e.Store.CreateLoad(e.Ctx, sent)
	must(t, err)
	if !created {
		t.Fatal("new load: not created")
	}
	storetest.WantEqual(t, "created load", got, l)
	pending, err := e.Store.PendingLoads(e.Ctx, 0)
	must(t, err)
	storetest.WantEqual(t, "pending loads", pending, []offline.Load{l})

	again := load(1, id(0x999))
	again.Amount, again.CreatedAt = 5, at(90)
	got, created, err = e.Store.CreateLoad(e.Ctx, again)
	must(t, err)
	if created {
		t.Fatal("load id taken: created again")
	}
	storetest.WantEqual(t, "load answered for a taken id", got, l)
	pending, err = e.Store.PendingLoads(e.Ctx, 0)
	must(t, err)
	storetest.WantEqual(t, "pending loads after a second create", pending, []offline.Load{l})

	bare := offline.Load{ID: id(2), Device: d.ID, Amount: 1}
	got, created, err = e.Store.CreateLoad(e.Ctx, bare)
	must(t, err)
	bare.Status = offline.LoadPending
	if !created {
		t.Fatal("bare load: not created")
	}
	storetest.WantEqual(t, "bare load", got, bare)
}

// finish returns l done as voucher seq, with every field set.
func finish(l offline.Load, seq uint64) offline.Load {
	l.Status, l.Seq, l.Voucher, l.UpdatedAt = offline.LoadDone, seq, bytesOf(int(seq), 120), at(int(seq)+60)
	return l
}

func testFinishLoad(t *testing.T, e *env) {
	d := create(t, e, device(1, opA))
	l, _, err := e.Store.CreateLoad(e.Ctx, load(1, d.ID))
	must(t, err)
	done := finish(l, math.MaxUint64-1)
	moved := d
	moved.Loaded, moved.Vouchers, moved.UpdatedAt = d.Loaded+l.Amount, done.Seq, at(61)
	must(t, e.Store.FinishLoad(e.Ctx, done, moved))
	got, err := e.Store.Device(e.Ctx, d.ID)
	must(t, err)
	moved.Version = 2
	storetest.WantEqual(t, "device after a finished load", got, moved)
	vouchers, err := e.Store.Vouchers(e.Ctx, d.ID, 0, 0)
	must(t, err)
	storetest.WantEqual(t, "vouchers", vouchers, []offline.Load{done})
	pending, err := e.Store.PendingLoads(e.Ctx, 0)
	must(t, err)
	storetest.WantEqual(t, "pending loads after the finish", loadIDs(pending), []tongbao.ID{})

	failed, _, err := e.Store.CreateLoad(e.Ctx, load(2, d.ID))
	must(t, err)
	failed.Status, failed.Problem, failed.UpdatedAt = offline.LoadFailed, "insufficient-funds", at(70)
	must(t, e.Store.FinishLoad(e.Ctx, failed, moved))
	moved.Version = 3
	got, err = e.Store.Device(e.Ctx, d.ID)
	must(t, err)
	storetest.WantEqual(t, "device after a failed load", got, moved)
	vouchers, err = e.Store.Vouchers(e.Ctx, d.ID, 0, 0)
	must(t, err)
	storetest.WantEqual(t, "vouchers after a failed load", vouchers, []offline.Load{done})
	stored, created, err := e.Store.CreateLoad(e.Ctx, load(2, d.ID))
	must(t, err)
	if created {
		t.Fatal("failed load: created again")
	}
	storetest.WantEqual(t, "failed load", stored, failed)
}

func testFinishLoadRefused(t *testing.T, e *env) {
	d := create(t, e, device(1, opA))
	l, _, err := e.Store.CreateLoad(e.Ctx, load(1, d.ID))
	must(t, err)
	moved := d
	moved.Loaded += l.Amount
	stale := moved
	stale.Version = 4
	wantErr(t, "finish with a stale device", e.Store.FinishLoad(e.Ctx, finish(l, 1), stale), offline.ErrVersionConflict)
	got, err := e.Store.Device(e.Ctx, d.ID)
	must(t, err)
	storetest.WantEqual(t, "device after a refused finish", got, d)
	pending, err := e.Store.PendingLoads(e.Ctx, 0)
	must(t, err)
	storetest.WantEqual(t, "load after a refused finish", pending, []offline.Load{l})

	missing := device(9, opA)
	wantErr(t, "finish with a missing device", e.Store.FinishLoad(e.Ctx, finish(l, 1), missing), offline.ErrDeviceNotFound)

	must(t, e.Store.FinishLoad(e.Ctx, finish(l, 1), moved))
	// Finished twice, on the device's latest version: refused, as the load
	// is no longer pending.
	moved.Version = 2
	again := moved
	again.Loaded += l.Amount
	wantErr(t, "second finish", e.Store.FinishLoad(e.Ctx, finish(l, 2), again), offline.ErrVersionConflict)
	got, err = e.Store.Device(e.Ctx, d.ID)
	must(t, err)
	storetest.WantEqual(t, "device after a second finish", got, moved)
	vouchers, err := e.Store.Vouchers(e.Ctx, d.ID, 0, 0)
	must(t, err)
	storetest.WantEqual(t, "vouchers after a second finish", vouchers, []offline.Load{finish(l, 1)})

	// A load finished neither done nor failed: refused.
	other, _, err := e.Store.CreateLoad(e.Ctx, load(2, d.ID))
	must(t, err)
	if err := e.Store.FinishLoad(e.Ctx, other, moved); tongbao.ErrorCode(err) != tongbao.EINVALID {
		t.Fatalf("finish as pending: got %v; want %s", err, tongbao.EINVALID)
	}
	got, err = e.Store.Device(e.Ctx, d.ID)
	must(t, err)
	storetest.WantEqual(t, "device after a finish as pending", got, moved)
}

func loadSeqs(ls []offline.Load) []uint64 {
	out := []uint64{}
	for _, l := range ls {
		out = append(out, l.Seq)
	}
	return out
}

func testVouchers(t *testing.T, e *env) {
	a := create(t, e, device(1, opA))
	b := create(t, e, device(2, opA))
	// Finished out of order of their Seq; with loads of b, a failed and a
	// pending one in between.
	n := uint64(0)
	add := func(d *offline.Device, seq uint64, st offline.LoadStatus) {
		t.Helper()
		n++
		l, _, err := e.Store.CreateLoad(e.Ctx, load(n, d.ID))
		must(t, err)
		if st == offline.LoadPending {
			return
		}
		done := finish(l, seq)
		if st == offline.LoadFailed {
			done.Status, done.Seq, done.Voucher = offline.LoadFailed, 0, nil
		}
		must(t, e.Store.FinishLoad(e.Ctx, done, *d))
		d.Version++
	}
	for _, seq := range []uint64{3, 1, 5, 2, 4} {
		add(&a, seq, offline.LoadDone)
		add(&b, seq+10, offline.LoadDone)
	}
	add(&a, 0, offline.LoadFailed)
	add(&a, 0, offline.LoadPending)
	add(&a, 1<<63, offline.LoadDone) // past int64: still after 5

	got, err := e.Store.Vouchers(e.Ctx, a.ID, 0, 0)
	must(t, err)
	storetest.WantEqual(t, "vouchers of a", loadSeqs(got), []uint64{1, 2, 3, 4, 5, 1 << 63})
	got, err = e.Store.Vouchers(e.Ctx, a.ID, 2, 2)
	must(t, err)
	storetest.WantEqual(t, "vouchers of a after 2, two", loadSeqs(got), []uint64{3, 4})
	got, err = e.Store.Vouchers(e.Ctx, a.ID, 5, 0)
	must(t, err)
	storetest.WantEqual(t, "vouchers of a after 5", loadSeqs(got), []uint64{1 << 63})
	got, err = e.Store.Vouchers(e.Ctx, a.ID, 1<<63, 0)
	must(t, err)
	storetest.WantEqual(t, "vouchers of a after the last", loadSeqs(got), []uint64{})
	got, err = e.Store.Vouchers(e.Ctx, b.ID, 12, 0)
	must(t, err)
	storetest.WantEqual(t, "vouchers of b after 12", loadSeqs(got), []uint64{13, 14, 15})
	got, err = e.Store.Vouchers(e.Ctx, id(0x999), 0, 0)
	must(t, err)
	storetest.WantEqual(t, "vouchers of a device with none", loadSeqs(got), []uint64{})
}

func loadIDs(ls []offline.Load) []tongbao.ID {
	out := []tongbao.ID{}
	for _, l := range ls {
		out = append(out, l.ID)
	}
	return out
}

func testPendingLoads(t *testing.T, e *env) {
	d := create(t, e, device(1, opA))
	mk := func(n uint64, created int) offline.Load {
		l := load(n, d.ID)
		l.CreatedAt = at(created)
		got, _, err := e.Store.CreateLoad(e.Ctx, l)
		must(t, err)
		return got
	}
	third := mk(1, 30)
	first := mk(2, 10)
	finished := mk(3, 5)
	second := mk(5, 20)
	tie := mk(4, 20) // created with second: by id
	must(t, e.Store.FinishLoad(e.Ctx, finish(finished, 1), d))
	got, err := e.Store.PendingLoads(e.Ctx, 0)
	must(t, err)
	storetest.WantEqual(t, "pending loads", loadIDs(got), []tongbao.ID{first.ID, tie.ID, second.ID, third.ID})
	got, err = e.Store.PendingLoads(e.Ctx, 2)
	must(t, err)
	storetest.WantEqual(t, "pending loads, two", got, []offline.Load{first, tie})
}

func tokenHashes(ts []offline.TokenRecord) []offline.Hash {
	out := []offline.Hash{}
	for _, t := range ts {
		out = append(out, t.Hash)
	}
	return out
}

func byHash(ts ...offline.TokenRecord) map[offline.Hash]offline.TokenRecord {
	out := map[offline.Hash]offline.TokenRecord{}
	for _, t := range ts {
		out[t.Hash] = t
	}
	return out
}

func testWriteBatch(t *testing.T, e *env) {
	payer := create(t, e, device(1, opA))
	payee := create(t, e, device(2, opA))
	existing := fraudCase(9, opA)
	must(t, e.Store.WriteBatch(e.Ctx, offline.Batch{Cases: []offline.Case{existing}}))
	existing.Version = 1

	t1 := token(1, payer.ID, 1)
	t2 := token(2, payer.ID, 2)
	t2.Kind, t2.Status, t2.Source, t2.SettledAt = offline.KindUnload, offline.TokenSettled, offline.SourceOperator, at(99)
	t3 := token(3, payer.ID, 2) // a double spend of counter 2
	t3.Status, t3.Source, t3.Problem = offline.TokenRejected, "", "offline-double-spend"
	bare := offline.TokenRecord{Hash: hash(4), Payer: payer.ID, Counter: 3, Status: offline.TokenPending}

	spent := payer
	spent.Spent, spent.Acked, spent.UpdatedAt = payer.Spent+t1.Amount+t2.Amount, 2, at(80)
	paid := payee
	paid.Reason = "paid"
	opened := fraudCase(1, opA)
	opened.Version = 0
	bareCase := offline.Case{ID: id(0x6100), Device: payer.ID, Operator: opB, Status: offline.CaseOpen}
	closed := existing
	closed.Status, closed.Recovered, closed.Findings, closed.Tokens, closed.Note = offline.CaseClosed, existing.Advanced, nil, nil, "settled"

	must(t, e.Store.WriteBatch(e.Ctx, offline.Batch{
		Tokens:  []offline.TokenRecord{t3, t1, bare, t2},
		Devices: []offline.Device{spent, paid},
		Cases:   []offline.Case{closed, opened, bareCase},
	}))

	got, err := e.Store.Tokens(e.Ctx, []offline.Hash{t1.Hash, t2.Hash, t3.Hash, bare.Hash, hash(77)})
	must(t, err)
	storetest.WantEqual(t, "tokens of the batch", got, byHash(t1, t2, t3, bare))
	if got[bare.Hash].Raw != nil {
		t.Fatalf("bare token's raw: %v; want nil", got[bare.Hash].Raw)
	}
	none, err := e.Store.Tokens(e.Ctx, nil)
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("tokens of no hashes: %d", len(none))
	}

	spent.Version, paid.Version = 2, 2
	for _, want := range []offline.Device{spent, paid} {
		d, err := e.Store.Device(e.Ctx, want.ID)
		must(t, err)
		storetest.WantEqual(t, "device of the batch", d, want)
	}
	opened.Version, bareCase.Version, closed.Version = 1, 1, 2
	for _, want := range []offline.Case{opened, bareCase, closed} {
		c, err := e.Store.Case(e.Ctx, want.ID)
		must(t, err)
		storetest.WantEqual(t, "case of the batch", c, want)
	}

	// An empty batch stores nothing and is no error.
	must(t, e.Store.WriteBatch(e.Ctx, offline.Batch{}))
}

func testWriteBatchRefused(t *testing.T, e *env) {
	payer := create(t, e, device(1, opA))
	stored := token(1, payer.ID, 1)
	c := fraudCase(1, opA)
	must(t, e.Store.WriteBatch(e.Ctx, offline.Batch{Tokens: []offline.TokenRecord{stored}, Cases: []offline.Case{c}}))
	c.Version = 1

	fresh := token(2, payer.ID, 2)
	moved := payer
	moved.Spent += fresh.Amount
	newCase := fraudCase(2, opA)
	changed := c
	changed.Note = "changed"
	good := func() offline.Batch {
		return offline.Batch{Tokens: []offline.TokenRecord{fresh}, Devices: []offline.Device{moved}, Cases: []offline.Case{newCase, changed}}
	}
	// Enough tokens for the multi-row inserts: 63 with fresh and stored
	// make exactly one, 64 make one and a single row.
	var many []offline.TokenRecord
	var manyHashes []offline.Hash
	for i := range 64 {
		many = append(many, token(100+i, payer.ID, uint64(10+i)))
		manyHashes = append(manyHashes, many[i].Hash)
	}
	for _, tc := range []struct {
		name string
		bad  func(*offline.Batch)
		want error
		code string
	}{
		{"a token stored already", func(b *offline.Batch) { b.Tokens = append(b.Tokens, stored) }, offline.ErrTokenExists, ""},
		{"a token twice", func(b *offline.Batch) { b.Tokens = append(b.Tokens, fresh) }, offline.ErrTokenExists, ""},
		{"a token stored already among 64", func(b *offline.Batch) { b.Tokens = append(append(b.Tokens, many[:62]...), stored) }, offline.ErrTokenExists, ""},
		{"a token stored already among 65", func(b *offline.Batch) { b.Tokens = append(append(b.Tokens, many[:63]...), stored) }, offline.ErrTokenExists, ""},
		{"a token twice among 66", func(b *offline.Batch) { b.Tokens = append(append(b.Tokens, many...), many[5]) }, offline.ErrTokenExists, ""},
		{"a stale device", func(b *offline.Batch) { b.Devices[0].Version = 7 }, offline.ErrVersionConflict, ""},
		{"a missing device", func(b *offline.Batch) { b.Devices = append(b.Devices, device(9, opA)) }, offline.ErrDeviceNotFound, ""},
		{"a stale case", func(b *offline.Batch) { b.Cases[1].Version = 3 }, offline.ErrVersionConflict, ""},
		{"a new case whose id is stored", func(b *offline.Batch) { b.Cases = append(b.Cases, fraudCase(1, opB)) }, offline.ErrVersionConflict, ""},
		{"a missing case", func(b *offline.Batch) { m := fraudCase(8, opA); m.Version = 1; b.Cases = append(b.Cases, m) }, offline.ErrCaseNotFound, ""},
		{"an unknown token status", func(b *offline.Batch) { b.Tokens[0].Status = "lost" }, nil, tongbao.EINVALID},
		{"an unknown token source", func(b *offline.Batch) { b.Tokens[0].Source = "bank" }, nil, tongbao.EINVALID},
		{"an unknown device state", func(b *offline.Batch) { b.Devices[0].State = "" }, nil, tongbao.EINVALID},
		{"an unknown case status", func(b *offline.Batch) { b.Cases[0].Status = "pending" }, nil, tongbao.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := good()
			tc.bad(&b)
			err := e.Store.WriteBatch(e.Ctx, b)
			if tc.want != nil {
				wantErr(t, "batch with "+tc.name, err, tc.want)
			} else if tongbao.ErrorCode(err) != tc.code {
				t.Fatalf("batch with %s: got %v; want %s", tc.name, err, tc.code)
			}
			got, err := e.Store.Tokens(e.Ctx, []offline.Hash{stored.Hash, fresh.Hash})
			must(t, err)
			storetest.WantEqual(t, "tokens after a refused batch", got, byHash(stored))
			none, err := e.Store.Tokens(e.Ctx, manyHashes)
			must(t, err)
			if len(none) != 0 {
				t.Fatalf("a refused batch stored %d of its tokens", len(none))
			}
			d, err := e.Store.Device(e.Ctx, payer.ID)
			must(t, err)
			storetest.WantEqual(t, "device after a refused batch", d, payer)
			_, err = e.Store.Case(e.Ctx, newCase.ID)
			wantErr(t, "new case of a refused batch", err, offline.ErrCaseNotFound)
			kept, err := e.Store.Case(e.Ctx, c.ID)
			must(t, err)
			storetest.WantEqual(t, "case after a refused batch", kept, c)
		})
	}
	// The good batch itself is stored.
	must(t, e.Store.WriteBatch(e.Ctx, good()))
	got, err := e.Store.Tokens(e.Ctx, []offline.Hash{fresh.Hash})
	must(t, err)
	storetest.WantEqual(t, "tokens of the good batch", got, byHash(fresh))
}

func testTokensOf(t *testing.T, e *env) {
	a, b := id(0x1001), id(0x1002)
	var tokens []offline.TokenRecord
	n := 0
	mk := func(payer tongbao.ID, counter uint64) offline.TokenRecord {
		n++
		tk := token(n, payer, counter)
		tokens = append(tokens, tk)
		return tk
	}
	c1 := mk(a, 1)
	c3 := mk(a, 3)
	c2 := mk(a, 2)
	c2twice := mk(a, 2) // a double spend
	c4 := mk(a, 4)
	huge := mk(a, math.MaxUint64)
	mk(b, 2)
	mk(b, 3)
	must(t, e.Store.WriteBatch(e.Ctx, offline.Batch{Tokens: tokens}))

	pair := []offline.TokenRecord{c2, c2twice}
	slices.SortFunc(pair, func(x, y offline.TokenRecord) int { return bytes.Compare(x.Hash[:], y.Hash[:]) })
	got, err := e.Store.TokensOf(e.Ctx, a, 2, 3)
	must(t, err)
	storetest.WantEqual(t, "tokens of a from 2 to 3", got, []offline.TokenRecord{pair[0], pair[1], c3})
	got, err = e.Store.TokensOf(e.Ctx, a, 0, math.MaxUint64)
	must(t, err)
	storetest.WantEqual(t, "every token of a", tokenHashes(got), tokenHashes([]offline.TokenRecord{c1, pair[0], pair[1], c3, c4, huge}))
	got, err = e.Store.TokensOf(e.Ctx, a, 4, 4)
	must(t, err)
	storetest.WantEqual(t, "tokens of a at 4", got, []offline.TokenRecord{c4})
	got, err = e.Store.TokensOf(e.Ctx, a, 5, 1<<63)
	must(t, err)
	storetest.WantEqual(t, "tokens of a from 5 to 2^63", tokenHashes(got), []offline.Hash{})
	got, err = e.Store.TokensOf(e.Ctx, id(0x999), 0, math.MaxUint64)
	must(t, err)
	storetest.WantEqual(t, "tokens of a device with none", tokenHashes(got), []offline.Hash{})

	link := func(tk offline.TokenRecord) offline.TokenLink {
		return offline.TokenLink{Counter: tk.Counter, Hash: tk.Hash, Prev: tk.Prev}
	}
	links, err := e.Store.TokenLinks(e.Ctx, a, 0, math.MaxUint64)
	must(t, err)
	storetest.WantEqual(t, "links of a", links, []offline.TokenLink{link(c1), link(pair[0]), link(pair[1]), link(c3), link(c4), link(huge)})
	links, err = e.Store.TokenLinks(e.Ctx, a, 2, 3)
	must(t, err)
	storetest.WantEqual(t, "links of a from 2 to 3", links, []offline.TokenLink{link(pair[0]), link(pair[1]), link(c3)})
	links, err = e.Store.TokenLinks(e.Ctx, b, 3, 3)
	must(t, err)
	storetest.WantEqual(t, "links of b at 3", links, []offline.TokenLink{link(tokens[len(tokens)-1])})
	links, err = e.Store.TokenLinks(e.Ctx, b, 4, math.MaxUint64)
	must(t, err)
	if len(links) != 0 {
		t.Fatalf("links of b past its last counter: %v", links)
	}
}

func testSetTokensSettled(t *testing.T, e *env) {
	payer := id(0x1001)
	p1, p2, p3 := token(1, payer, 1), token(2, payer, 2), token(3, payer, 3)
	for _, p := range []*offline.TokenRecord{&p1, &p2, &p3} {
		p.SettledAt = time.Time{}
	}
	rejected := token(4, payer, 3)
	rejected.Status, rejected.SettledAt = offline.TokenRejected, time.Time{}
	settled := token(5, payer, 4)
	settled.Status = offline.TokenSettled
	must(t, e.Store.WriteBatch(e.Ctx, offline.Batch{Tokens: []offline.TokenRecord{p1, p2, p3, rejected, settled}}))

	must(t, e.Store.SetTokensSettled(e.Ctx, []offline.Hash{p1.Hash, p3.Hash, rejected.Hash, settled.Hash, hash(99)}, at(70)))
	p1.Status, p1.SettledAt = offline.TokenSettled, at(70)
	p3.Status, p3.SettledAt = offline.TokenSettled, at(70)
	got, err := e.Store.Tokens(e.Ctx, []offline.Hash{p1.Hash, p2.Hash, p3.Hash, rejected.Hash, settled.Hash})
	must(t, err)
	storetest.WantEqual(t, "tokens after settling", got, byHash(p1, p2, p3, rejected, settled))
	pending, err := e.Store.PendingTokens(e.Ctx, 0)
	must(t, err)
	storetest.WantEqual(t, "pending tokens after settling", pending, []offline.TokenRecord{p2})
	must(t, e.Store.SetTokensSettled(e.Ctx, nil, at(71)))

	// More than an implementation might send in one statement.
	var many []offline.TokenRecord
	var hashes []offline.Hash
	for i := range 150 {
		tk := token(100+i, id(0x1002), uint64(i+1))
		many = append(many, tk)
		hashes = append(hashes, tk.Hash)
	}
	must(t, e.Store.WriteBatch(e.Ctx, offline.Batch{Tokens: many}))
	must(t, e.Store.SetTokensSettled(e.Ctx, append(hashes, p2.Hash), at(72)))
	pending, err = e.Store.PendingTokens(e.Ctx, 0)
	must(t, err)
	storetest.WantEqual(t, "pending tokens after settling many", tokenHashes(pending), []offline.Hash{})
	// Each token keeps the time it was first marked at, whichever way the
	// store keeps its marks (the tokens of one batch at once, or one by
	// one); marking one again changes nothing.
	must(t, e.Store.SetTokensSettled(e.Ctx, []offline.Hash{p1.Hash, p2.Hash, hashes[7]}, at(75)))
	p2.Status, p2.SettledAt = offline.TokenSettled, at(72)
	got, err = e.Store.Tokens(e.Ctx, []offline.Hash{p1.Hash, p2.Hash, p3.Hash, rejected.Hash, settled.Hash})
	must(t, err)
	storetest.WantEqual(t, "tokens after settling twice", got, byHash(p1, p2, p3, rejected, settled))
	of, err := e.Store.TokensOf(e.Ctx, payer, 0, math.MaxUint64)
	must(t, err)
	storetest.WantEqual(t, "a payer's tokens after settling", byHash(of...), byHash(p1, p2, p3, rejected, settled))
	for i := range many {
		many[i].Status, many[i].SettledAt = offline.TokenSettled, at(72)
	}
	got, err = e.Store.Tokens(e.Ctx, hashes)
	must(t, err)
	storetest.WantEqual(t, "many tokens after settling", got, byHash(many...))

	// A batch marks an earlier batch's tokens settled in its own
	// transaction: refused, it marks nothing.
	later := token(300, id(0x1003), 1)
	must(t, e.Store.WriteBatch(e.Ctx, offline.Batch{Tokens: []offline.TokenRecord{later}}))
	err = e.Store.WriteBatch(e.Ctx, offline.Batch{Tokens: []offline.TokenRecord{later}, Settled: []offline.Hash{later.Hash}, SettledAt: at(73)})
	if !errors.Is(err, offline.ErrTokenExists) {
		t.Fatalf("a batch repeating a token: %v; want ErrTokenExists", err)
	}
	pending, err = e.Store.PendingTokens(e.Ctx, 0)
	must(t, err)
	storetest.WantEqual(t, "pending after a refused batch", tokenHashes(pending), []offline.Hash{later.Hash})
	must(t, e.Store.WriteBatch(e.Ctx, offline.Batch{Settled: []offline.Hash{later.Hash, settled.Hash}, SettledAt: at(74)}))
	got, err = e.Store.Tokens(e.Ctx, []offline.Hash{later.Hash, settled.Hash})
	must(t, err)
	later.Status, later.SettledAt = offline.TokenSettled, at(74)
	storetest.WantEqual(t, "tokens marked by a batch", got, byHash(later, settled))
}

func testPendingTokens(t *testing.T, e *env) {
	a, b := id(0x1001), id(0x1002)
	mk := func(n int, payer tongbao.ID, counter uint64, uploaded int) offline.TokenRecord {
		tk := token(n, payer, counter)
		tk.UploadedAt = at(uploaded)
		return tk
	}
	// Uploaded in two syncs; within one, by payer and counter.
	late := mk(1, a, 9, 20)
	early2 := mk(2, b, 1, 10)
	early1 := mk(3, a, 5, 10)
	early0 := mk(4, a, 4, 10)
	rejected := mk(5, a, 1, 5)
	rejected.Status = offline.TokenRejected
	settled := mk(6, a, 2, 5)
	settled.Status = offline.TokenSettled
	must(t, e.Store.WriteBatch(e.Ctx, offline.Batch{Tokens: []offline.TokenRecord{late, early2, early1, early0, rejected, settled}}))
	want := []offline.TokenRecord{early0, early1, early2, late}
	if bytes.Compare(a[:], b[:]) > 0 {
		want = []offline.TokenRecord{early2, early0, early1, late}
	}
	got, err := e.Store.PendingTokens(e.Ctx, 0)
	must(t, err)
	storetest.WantEqual(t, "pending tokens", got, want)
	got, err = e.Store.PendingTokens(e.Ctx, 2)
	must(t, err)
	storetest.WantEqual(t, "pending tokens, two", got, want[:2])
}

func caseIDs(cs []offline.Case) []tongbao.ID {
	out := []tongbao.ID{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func testCases(t *testing.T, e *env) {
	_, err := e.Store.Case(e.Ctx, id(0x6001))
	wantErr(t, "missing case", err, offline.ErrCaseNotFound)
	var ofA, all []tongbao.ID
	var batch []offline.Case
	for _, n := range []uint64{5, 1, 4, 2, 3} {
		op := opA
		if n == 4 {
			op = opB
		}
		c := fraudCase(n, op)
		batch = append(batch, c)
		if op == opA {
			ofA = append(ofA, c.ID)
		}
		all = append(all, c.ID)
	}
	must(t, e.Store.WriteBatch(e.Ctx, offline.Batch{Cases: batch}))
	sortIDs(ofA)
	sortIDs(all)
	got, err := e.Store.Cases(e.Ctx, opA, tongbao.ID{}, 0)
	must(t, err)
	storetest.WantEqual(t, "cases of A", caseIDs(got), ofA)
	first := fraudCase(1, opA)
	first.Version = 1
	storetest.WantEqual(t, "first case of A, whole", got[0], first)
	got, err = e.Store.Cases(e.Ctx, tongbao.ID{}, tongbao.ID{}, 0)
	must(t, err)
	storetest.WantEqual(t, "cases of every operator", caseIDs(got), all)
	var paged []tongbao.ID
	var after tongbao.ID
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page, err := e.Store.Cases(e.Ctx, opA, after, 2)
		must(t, err)
		if len(page) > 2 {
			t.Fatalf("page of %d; want at most 2", len(page))
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, caseIDs(page)...)
		after = page[len(page)-1].ID
	}
	storetest.WantEqual(t, "cases of A, paged by 2", paged, ofA)
	none, err := e.Store.Cases(e.Ctx, id(0xC0), tongbao.ID{}, 10)
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("cases of an operator with none: %d", len(none))
	}
}

func testUpdateCase(t *testing.T, e *env) {
	c := fraudCase(1, opA)
	must(t, e.Store.WriteBatch(e.Ctx, offline.Batch{Cases: []offline.Case{c}}))
	c.Version = 1
	up := fraudCase(7, opB) // every field other
	up.ID, up.Version, up.Status = c.ID, 1, offline.CaseClosed
	up.Findings = append(up.Findings, "offline-revoked@3")
	up.Tokens = append(up.Tokens, hash(40))
	must(t, e.Store.UpdateCase(e.Ctx, up))
	want := up
	want.Version = 2
	got, err := e.Store.Case(e.Ctx, c.ID)
	must(t, err)
	storetest.WantEqual(t, "updated case", got, want)

	emptied := want
	emptied.Findings, emptied.Tokens = []string{}, []offline.Hash{}
	must(t, e.Store.UpdateCase(e.Ctx, emptied))
	want = emptied
	want.Findings, want.Tokens, want.Version = nil, nil, 3
	got, err = e.Store.Case(e.Ctx, c.ID)
	must(t, err)
	storetest.WantEqual(t, "case with its lists emptied", got, want)

	stale := up
	stale.Note = "stale"
	wantErr(t, "update on version 1 of a case at 3", e.Store.UpdateCase(e.Ctx, stale), offline.ErrVersionConflict)
	got, err = e.Store.Case(e.Ctx, c.ID)
	must(t, err)
	storetest.WantEqual(t, "case after a refused update", got, want)

	missing := fraudCase(9, opA)
	missing.Version = 1
	wantErr(t, "update of a missing case", e.Store.UpdateCase(e.Ctx, missing), offline.ErrCaseNotFound)

	bad := want
	bad.Status = "reopened"
	if err := e.Store.UpdateCase(e.Ctx, bad); tongbao.ErrorCode(err) != tongbao.EINVALID {
		t.Fatalf("unknown status: got %v; want %s", err, tongbao.EINVALID)
	}
}

func testRevocations(t *testing.T, e *env) {
	lists, err := e.Store.Revocations(e.Ctx)
	must(t, err)
	if len(lists) != 0 {
		t.Fatalf("revocation lists of an empty store: %d", len(lists))
	}
	mk := func(op tongbao.ID, seq uint64, devices ...tongbao.ID) offline.RevocationList {
		return offline.RevocationList{Operator: op, Seq: seq, IssuedAt: at(int(seq)), Devices: devices,
			KeyID: bytesOf(int(seq), 8), Raw: bytesOf(int(seq)+1, 64+len(devices)*20)}
	}
	b1 := mk(opB, 1, id(3), id(1), id(2)) // in the list's order, not sorted
	a1 := mk(opA, 1)
	must(t, e.Store.SaveRevocations(e.Ctx, b1))
	must(t, e.Store.SaveRevocations(e.Ctx, a1))
	lists, err = e.Store.Revocations(e.Ctx)
	must(t, err)
	storetest.WantEqual(t, "revocation lists", lists, []offline.RevocationList{a1, b1})
	if lists[0].Devices != nil {
		t.Fatalf("empty list's devices: %v; want nil", lists[0].Devices)
	}

	a3 := mk(opA, 3, id(5))
	must(t, e.Store.SaveRevocations(e.Ctx, a3))
	for _, old := range []offline.RevocationList{mk(opA, 3, id(6)), mk(opA, 2, id(7)), a1} {
		wantErr(t, fmt.Sprintf("list %d after 3", old.Seq), e.Store.SaveRevocations(e.Ctx, old), offline.ErrVersionConflict)
	}
	lists, err = e.Store.Revocations(e.Ctx)
	must(t, err)
	storetest.WantEqual(t, "revocation lists after refused saves", lists, []offline.RevocationList{a3, b1})

	// Sequence numbers compare over the whole uint64 range.
	big := mk(opA, 1<<63, id(8))
	big.IssuedAt, big.KeyID, big.Raw = at(9), []byte("key-9"), []byte("raw-9")
	must(t, e.Store.SaveRevocations(e.Ctx, big))
	wantErr(t, "list 4 after 2^63", e.Store.SaveRevocations(e.Ctx, mk(opA, 4)), offline.ErrVersionConflict)
	lists, err = e.Store.Revocations(e.Ctx)
	must(t, err)
	storetest.WantEqual(t, "revocation lists after a list numbered 2^63", lists, []offline.RevocationList{big, b1})
}

// testConcurrentUpdateDevice: updates of one version at once, from two
// stores on one database: exactly one is stored.
func testConcurrentUpdateDevice(t *testing.T, e *env) {
	d := create(t, e, device(1, opA))
	store := e.TwoStores()
	const n = 8
	errs := storetest.Concurrently(n, func(i int) error {
		up := d
		up.Spent, up.Reason = tongbao.Amount(i), fmt.Sprintf("writer %d", i)
		return store(i).UpdateDevice(e.Ctx, up)
	})
	won := storetest.Succeeded(t, errs, offline.ErrVersionConflict)
	if len(won) != 1 {
		t.Fatalf("updates of one version: %d won (%v); want exactly 1", len(won), errs)
	}
	got, err := e.Store.Device(e.Ctx, d.ID)
	must(t, err)
	want := d
	want.Spent, want.Reason, want.Version = tongbao.Amount(won[0]), fmt.Sprintf("writer %d", won[0]), 2
	storetest.WantEqual(t, "device after concurrent updates", got, want)
}

// testConcurrentBatches: batches on one version of a device at once, from
// two stores: exactly one is stored, tokens and all; the others store
// nothing. And batches of other devices do not refuse each other.
func testConcurrentBatches(t *testing.T, e *env) {
	d := create(t, e, device(1, opA))
	other := make([]offline.Device, 4)
	for i := range other {
		other[i] = create(t, e, device(uint64(10+i), opA))
	}
	store := e.TwoStores()
	const n = 8
	batch := func(i int) offline.Batch {
		tk := token(i, d.ID, 1)
		up := d
		up.Spent = tk.Amount
		c := fraudCase(uint64(i), opA)
		return offline.Batch{Tokens: []offline.TokenRecord{tk}, Devices: []offline.Device{up}, Cases: []offline.Case{c}}
	}
	errs := storetest.Concurrently(n+len(other), func(i int) error {
		if i >= n {
			o := other[i-n]
			o.Spent = 1
			return store(i).WriteBatch(e.Ctx, offline.Batch{Tokens: []offline.TokenRecord{token(100+i, o.ID, 1)}, Devices: []offline.Device{o}})
		}
		return store(i).WriteBatch(e.Ctx, batch(i))
	})
	for i := n; i < len(errs); i++ {
		must(t, errs[i])
	}
	won := storetest.Succeeded(t, errs[:n], offline.ErrVersionConflict)
	if len(won) != 1 {
		t.Fatalf("batches on one version: %d won (%v); want exactly 1", len(won), errs[:n])
	}
	got, err := e.Store.TokensOf(e.Ctx, d.ID, 0, math.MaxUint64)
	must(t, err)
	storetest.WantEqual(t, "tokens after concurrent batches: the winner's alone", tokenHashes(got), []offline.Hash{hash(won[0])})
	cases, err := e.Store.Cases(e.Ctx, opA, tongbao.ID{}, 0)
	must(t, err)
	storetest.WantEqual(t, "cases after concurrent batches: the winner's alone", caseIDs(cases), []tongbao.ID{fraudCase(uint64(won[0]), opA).ID})
	stored, err := e.Store.Device(e.Ctx, d.ID)
	must(t, err)
	if stored.Version != 2 || stored.Spent != tokenAmount(won[0]) {
		t.Fatalf("device after concurrent batches: version %d, spent %d; want 2, %d", stored.Version, stored.Spent, tokenAmount(won[0]))
	}
}

// tokenAmount is the amount of token(i, …).
func tokenAmount(i int) tongbao.Amount { return token(i, tongbao.ID{}, 0).Amount }

func testReopen(t *testing.T, e *env) {
	k := offline.OperatorKey{Operator: opA, ID: []byte("k1"), Public: bytesOf(1, 32), Private: bytesOf(2, 64), CreatedAt: at(1)}
	must(t, e.Store.CreateKey(e.Ctx, k))
	d := create(t, e, device(1, opA))
	l, _, err := e.Store.CreateLoad(e.Ctx, load(1, d.ID))
	must(t, err)
	tk := token(1, d.ID, 1)
	c := fraudCase(1, opA)
	must(t, e.Store.WriteBatch(e.Ctx, offline.Batch{Tokens: []offline.TokenRecord{tk}, Cases: []offline.Case{c}}))
	c.Version = 1
	rl := offline.RevocationList{Operator: opA, Seq: 1, IssuedAt: at(1), Devices: []tongbao.ID{d.ID}, KeyID: []byte("k1"), Raw: []byte("raw")}
	must(t, e.Store.SaveRevocations(e.Ctx, rl))
	must(t, e.Store.Close())

	s := e.Reopen()
	keys, err := s.Keys(e.Ctx)
	must(t, err)
	storetest.WantEqual(t, "keys after reopen", keys, []offline.OperatorKey{k})
	gd, err := s.Device(e.Ctx, d.ID)
	must(t, err)
	storetest.WantEqual(t, "device after reopen", gd, d)
	pending, err := s.PendingLoads(e.Ctx, 0)
	must(t, err)
	storetest.WantEqual(t, "loads after reopen", pending, []offline.Load{l})
	tokens, err := s.Tokens(e.Ctx, []offline.Hash{tk.Hash})
	must(t, err)
	storetest.WantEqual(t, "tokens after reopen", tokens, byHash(tk))
	gc, err := s.Case(e.Ctx, c.ID)
	must(t, err)
	storetest.WantEqual(t, "case after reopen", gc, c)
	lists, err := s.Revocations(e.Ctx)
	must(t, err)
	storetest.WantEqual(t, "revocations after reopen", lists, []offline.RevocationList{rl})
	must(t, s.FinishLoad(e.Ctx, finish(l, 1), d))
	vouchers, err := s.Vouchers(e.Ctx, d.ID, 0, 0)
	must(t, err)
	storetest.WantEqual(t, "vouchers on the reopened store", vouchers, []offline.Load{finish(l, 1)})
}

func testOperatorCaps(t *testing.T, e *env) {
	got, err := e.Store.OperatorCaps(e.Ctx)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("caps of a new store: %v", got)
	}
	a, b := id(0x2001), id(0x2002)
	must(t, e.Store.SetOperatorCaps(e.Ctx, a, offline.Caps{PerPayment: 1, Balance: 2, Payments: 3}, at(1)))
	must(t, e.Store.SetOperatorCaps(e.Ctx, b, offline.Caps{PerPayment: 4, Balance: 5, Payments: 6}, at(2)))
	must(t, e.Store.SetOperatorCaps(e.Ctx, a, offline.Caps{PerPayment: 7, Balance: 8, Payments: 9}, at(3)))
	got, err = e.Reopen().OperatorCaps(e.Ctx)
	must(t, err)
	storetest.WantEqual(t, "caps", got, map[tongbao.ID]offline.Caps{a: {PerPayment: 7, Balance: 8, Payments: 9}, b: {PerPayment: 4, Balance: 5, Payments: 6}})
}
