package keyspg_test

import (
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi"
	"github.com/tongbao/tongbao/httpapi/keyspg"
	"github.com/tongbao/tongbao/internal/storetest"
)

// Two nodes on one database share their keys: a key made at one works at
// the other at once, and a key revoked at one stops working at the other
// within a second. Nothing is kept but the hash of a secret.
func TestKeysSharedThroughTheDatabase(t *testing.T) {
	if storetest.Postgres() == "" {
		t.Skip(storetest.PostgresEnv + ` is not set, so the keys on PostgreSQL are not tested. To run it:
	eval "$(.ci/postgres.sh start)"; go test ./httpapi/keyspg; .ci/postgres.sh stop`)
	}
	dsn, err := storetest.TempSchema(t)
	if err != nil {
		t.Fatal(err)
	}
	open := func() (*keyspg.Store, *httpapi.Keys) {
		st, err := keyspg.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		k, err := httpapi.NewKeys(t.Context(), st)
		if err != nil {
			t.Fatal(err)
		}
		return st, k
	}
	store, a := open()
	_, b := open()

	op := tongbao.NewID()
	secret, p, err := a.Create(httpapi.Principal{Role: httpapi.RoleOperatorAdmin, Institution: op, Name: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := b.Lookup(secret)
	if !ok || got.KeyID != p.KeyID || got.Institution != op || got.Role != httpapi.RoleOperatorAdmin {
		t.Fatalf("the other node looked the new key up as %+v, %v; want %+v", got, ok, p)
	}
	if _, ok := b.Lookup(secret + "x"); ok {
		t.Fatal("a wrong secret was taken")
	}
	stored, err := store.Load(t.Context())
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored keys %+v, %v; want one", stored, err)
	}
	if stored[0].Hash == secret || stored[0].KeyID != p.KeyID {
		t.Fatalf("stored %+v: want the hash of the secret, never the secret", stored[0])
	}

	before, err := store.Stamp(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Revoke(p.KeyID, "rotated", func(httpapi.Principal) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if after, err := store.Stamp(t.Context()); err != nil || after == before {
		t.Fatalf("stamp %q after a revocation, %v; was %q", after, err, before)
	}
	if _, ok := a.Lookup(secret); ok {
		t.Fatal("the revoking node still takes the key")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := b.Lookup(secret); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the other node still takes the key 5 s after its revocation")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A third node, opened now, knows the key and that it is revoked.
	_, c := open()
	list := c.List(func(httpapi.Principal) bool { return true })
	if len(list) != 1 || list[0].RevokedAt.IsZero() || list[0].RevokeReason != "rotated" {
		t.Fatalf("a new node lists %+v; want the one revoked key", list)
	}
}
