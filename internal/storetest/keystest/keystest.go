// Package keystest is the conformance suite of httpapi.KeyStore: the
// contract every implementation keeps, spelled out as tests and run on
// every database the store supports (storetest.Databases).
//
// The contract, beyond what httpapi.KeyStore's doc comments say:
//   - Version is 0 on an empty store and grows with every Put, also a
//     Put that changes a stored key;
//   - Since lists each key once, at the version of its last change, in
//     version order, at most limit of them: a reader that pages from 0
//     with the last version of each page sees every key as last put;
//   - puts from several stores (nodes) on one database get distinct
//     versions, and each is durable when Put returns;
//   - through httpapi.Keys, the store holds the hash of a secret, never
//     the secret; a key made at one node is known at another at once,
//     and a revocation made at one stops the key at the other.
package keystest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi"
	"github.com/tongbao/tongbao/internal/storetest"
)

// Store is an httpapi.KeyStore that can be closed.
type Store interface {
	httpapi.KeyStore
	Close() error
}

// Run runs the suite on every database, each test on a database of its
// own, with stores open opens on target (see storetest.Database.Target),
// creating the tables if needed; opened twice on one target, the second
// store sees what the first wrote.
func Run[S Store](t *testing.T, open func(ctx context.Context, target string) (S, error)) {
	storetest.RunDomain(t, "keys.db", func(ctx context.Context, target string) (Store, error) { return open(ctx, target) }, []storetest.DomainTest[Store]{
		{Name: "Empty", Fn: testEmpty},
		{Name: "PutAndSince", Fn: testPutAndSince},
		{Name: "Pages", Fn: testPages},
		{Name: "ConcurrentPuts", Fn: testConcurrentPuts},
		{Name: "SharedByNodes", Fn: testSharedByNodes},
		{Name: "InterleavedNodes", Fn: testInterleavedNodes},
	})
}

type env = storetest.Env[Store]

var (
	must = storetest.Must
	at   = storetest.At
)

// key returns a stored key with every field set.
func key(n int) httpapi.StoredKey {
	sum := sha256.Sum256(fmt.Appendf(nil, "secret %d", n))
	h := hex.EncodeToString(sum[:])
	return httpapi.StoredKey{Hash: h, Principal: httpapi.Principal{
		KeyID: h[:16], Role: httpapi.RoleHolder, Institution: tongbao.IDFromUint64(uint64(0xA0 + n%3)), Wallet: tongbao.IDFromUint64(uint64(0x1000 + n)),
		Name: fmt.Sprintf("key %d", n), CreatedAt: at(n).UTC(),
	}}
}

// put puts k and checks that the version it returns is the store's
// latest.
func put(t *testing.T, e *env, s Store, k httpapi.StoredKey) int64 {
	t.Helper()
	v, err := s.Put(e.Ctx, k)
	must(t, err)
	latest, err := s.Version(e.Ctx)
	must(t, err)
	if v != latest {
		t.Fatalf("put returned version %d; the store's latest is %d", v, latest)
	}
	return v
}

func since(t *testing.T, e *env, s Store, version int64, limit int) []httpapi.StoredKey {
	t.Helper()
	ks, err := s.Since(e.Ctx, version, limit)
	must(t, err)
	return ks
}

func testEmpty(t *testing.T, e *env) {
	v, err := e.Store.Version(e.Ctx)
	must(t, err)
	if v != 0 {
		t.Fatalf("version of an empty store: %d; want 0", v)
	}
	if ks := since(t, e, e.Store, 0, 10); len(ks) != 0 {
		t.Fatalf("keys of an empty store: %d", len(ks))
	}
}

func testPutAndSince(t *testing.T, e *env) {
	var versions []int64
	for n := range 3 {
		put(t, e, e.Store, key(n))
		v, err := e.Store.Version(e.Ctx)
		must(t, err)
		if len(versions) > 0 && v <= versions[len(versions)-1] {
			t.Fatalf("version %d after put %d; want above %d", v, n, versions[len(versions)-1])
		}
		versions = append(versions, v)
	}
	ks := since(t, e, e.Store, 0, 10)
	if len(ks) != 3 {
		t.Fatalf("keys: got %d; want 3", len(ks))
	}
	for i, k := range ks {
		want := key(i)
		want.Version = versions[i]
		storetest.WantEqual(t, "stored key", k, want)
	}
	// A changed key (a revocation) moves to a new version, listed once.
	revoked := key(0)
	revoked.RevokedAt, revoked.RevokeReason = at(50).UTC(), "lost"
	put(t, e, e.Store, revoked)
	v, err := e.Store.Version(e.Ctx)
	must(t, err)
	if v <= versions[2] {
		t.Fatalf("version after a change: %d; want above %d", v, versions[2])
	}
	revoked.Version = v
	storetest.WantEqual(t, "keys since the third put", since(t, e, e.Store, versions[2], 10), []httpapi.StoredKey{revoked})
	if ks := since(t, e, e.Store, 0, 10); len(ks) != 3 || ks[2].Hash != revoked.Hash {
		t.Fatalf("keys after a change: %+v; want 3, the changed one last", ks)
	}
	if ks := since(t, e, e.Store, v, 10); len(ks) != 0 {
		t.Fatalf("keys since the latest version: %d", len(ks))
	}
}

func testPages(t *testing.T, e *env) {
	const keys = 25
	for n := range keys {
		put(t, e, e.Store, key(n))
	}
	var seen []string
	var from int64
	for pages := 0; ; pages++ {
		if pages > keys {
			t.Fatal("paging does not end")
		}
		page := since(t, e, e.Store, from, 7)
		if len(page) > 7 {
			t.Fatalf("page of %d; want at most 7", len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, k := range page {
			seen = append(seen, k.Hash)
		}
		from = page[len(page)-1].Version
	}
	var want []string
	for n := range keys {
		want = append(want, key(n).Hash)
	}
	storetest.WantEqual(t, "keys paged by 7", seen, want)
}

func testConcurrentPuts(t *testing.T, e *env) {
	const puts = 64
	store := e.TwoStores()
	for _, err := range storetest.Concurrently(puts, func(i int) error {
		_, err := store(i).Put(e.Ctx, key(i))
		return err
	}) {
		must(t, err)
	}
	second := store(1)
	ks := since(t, e, second, 0, 1000)
	if len(ks) != puts {
		t.Fatalf("keys after %d concurrent puts: %d", puts, len(ks))
	}
	for i := 1; i < len(ks); i++ {
		if ks[i].Version <= ks[i-1].Version {
			t.Fatalf("versions %d then %d: not increasing", ks[i-1].Version, ks[i].Version)
		}
	}
	// Durable: a store opened afresh reads them all.
	must(t, e.Store.Close())
	must(t, second.Close())
	if ks := since(t, e, e.Reopen(), 0, 1000); len(ks) != puts {
		t.Fatalf("keys after reopen: %d; want %d", len(ks), puts)
	}
}

// testSharedByNodes is two nodes on one database, each with its Keys: a
// key made at one works at the other at once, and a key revoked at one
// stops working at the other within a few seconds (the other rechecks a
// known key every second). Nothing is kept but the hash of a secret.
func testSharedByNodes(t *testing.T, e *env) {
	a, err := httpapi.NewKeys(e.Ctx, e.Store)
	must(t, err)
	second := e.Reopen()
	clock := tongbao.NewManualClock(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC))
	b, err := httpapi.NewKeysClock(e.Ctx, second, clock)
	must(t, err)
	op := tongbao.NewID()
	secret, p, err := a.Create(httpapi.Principal{Role: httpapi.RoleOperatorAdmin, Institution: op, Name: "ops"})
	must(t, err)
	got, ok := b.Lookup(secret)
	if !ok || got.KeyID != p.KeyID || got.Institution != op || got.Role != httpapi.RoleOperatorAdmin {
		t.Fatalf("the other node looked the new key up as %+v, %v; want %+v", got, ok, p)
	}
	if _, ok := b.Lookup(secret + "x"); ok {
		t.Fatal("a wrong secret was taken")
	}
	stored := since(t, e, second, 0, 10)
	sum := sha256.Sum256([]byte(secret))
	if len(stored) != 1 || stored[0].Hash != hex.EncodeToString(sum[:]) || stored[0].KeyID != p.KeyID {
		t.Fatalf("stored %+v: want the one key, kept by the SHA-256 of its secret", stored)
	}
	if strings.Contains(fmt.Sprintf("%+v", stored[0]), secret) {
		t.Fatal("the secret is stored")
	}

	if _, err := a.Revoke(p.KeyID, "rotated", func(httpapi.Principal) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if _, ok := a.Lookup(secret); ok {
		t.Fatal("the revoking node still takes the key")
	}
	// The other node rechecks a known key once a second: on its clock,
	// a second later, it refuses the key.
	clock.Advance(time.Second + time.Nanosecond)
	if _, ok := b.Lookup(secret); ok {
		t.Fatal("the other node still takes the key a second after its revocation")
	}
	// A third node, opened now, knows the key and that it is revoked.
	c, err := httpapi.NewKeys(e.Ctx, e.Reopen())
	must(t, err)
	list, _ := c.List(func(httpapi.Principal) bool { return true }, nil, 100)
	if len(list) != 1 || list[0].RevokedAt.IsZero() || list[0].RevokeReason != "rotated" {
		t.Fatalf("a new node lists %+v; want the one revoked key", list)
	}
}

// testInterleavedNodes is two nodes making keys in turn: each node keeps
// up with the other's keys between its own (a node moves its version over
// its own keys without reading them back, never over another's).
func testInterleavedNodes(t *testing.T, e *env) {
	a, err := httpapi.NewKeys(e.Ctx, e.Store)
	must(t, err)
	b, err := httpapi.NewKeys(e.Ctx, e.Reopen())
	must(t, err)
	var secrets []string
	for i := range 6 {
		node := a
		if i%3 == 1 {
			node = b
		}
		secret, _, err := node.Create(httpapi.Principal{Role: httpapi.RoleHolder, Wallet: tongbao.IDFromUint64(uint64(i + 1))})
		must(t, err)
		secrets = append(secrets, secret)
	}
	for _, node := range []*httpapi.Keys{a, b} {
		for i, secret := range secrets {
			if _, ok := node.Lookup(secret); !ok {
				t.Fatalf("key %d is unknown at a node", i)
			}
		}
		if list, _ := node.List(func(httpapi.Principal) bool { return true }, nil, 100); len(list) != len(secrets) {
			t.Fatalf("a node lists %d keys; want %d", len(list), len(secrets))
		}
	}
}
