package httpapi_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// TestKeyRevocation lists and revokes keys over HTTP: each role sees and
// revokes only its part, and a revoked key authenticates nothing.
func TestKeyRevocation(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	a, adminA := e.operator("Operator A", 50_000*yuan, 0)
	b, adminB := e.operator("Operator B", 50_000*yuan, 0)
	w, holder := e.wallet(adminA, a, wire.OpenWallet{Category: 2, HolderName: "李四", Phone: "13800000002"})
	_, holderB := e.wallet(adminB, b, wire.OpenWallet{Category: 2, HolderName: "赵六", Phone: "13900000002"})
	me, err := holder.Me(ctx)
	must(t, err)

	list, err := adminA.Keys(ctx)
	must(t, err)
	if len(list.Items) != 2 { // its own admin key and the holder's
		t.Fatalf("operator A sees %d keys; want 2: %+v", len(list.Items), list.Items)
	}
	for _, k := range list.Items {
		if k.Secret != "" || k.Institution == nil || *k.Institution != a {
			t.Fatalf("listed key %+v", k)
		}
	}
	all, err := e.cb.Keys(ctx)
	must(t, err)
	if len(all.Items) != 5 { // the central bank's, two admins', two holders'
		t.Fatalf("the central bank sees %d keys; want 5", len(all.Items))
	}
	_, err = holder.Keys(ctx)
	wantProblem(t, "a holder lists keys", err, "forbidden")

	// Another operator's admin and another holder may not revoke it.
	_, err = adminB.RevokeKey(ctx, me.ID, "not mine")
	wantProblem(t, "another operator revokes", err, "forbidden")
	_, err = holderB.RevokeKey(ctx, me.ID, "not mine")
	wantProblem(t, "another holder revokes", err, "forbidden")
	_, err = adminA.RevokeKey(ctx, "0000000000000000", "")
	wantProblem(t, "an unknown key", err, "not-found")
	if _, err := holder.Wallet(ctx, w.ID); err != nil {
		t.Fatalf("the key stopped working before it was revoked: %v", err)
	}

	// The holder revokes its own key: it authenticates nothing after.
	k, err := holder.RevokeKey(ctx, me.ID, "phone lost")
	must(t, err)
	if k.RevokedAt == nil || k.RevokeReason != "phone lost" {
		t.Fatalf("revoked key %+v", k)
	}
	_, err = holder.Wallet(ctx, w.ID)
	wantProblem(t, "a revoked key", err, "unauthorized")
	_, err = holder.Pay(ctx, client.NewKey(), wire.Pay{From: w.ID, To: "13900000002", Amount: 1})
	wantProblem(t, "a payment with a revoked key", err, "unauthorized")
	again, err := adminA.RevokeKey(ctx, me.ID, "again")
	must(t, err)
	if again.RevokeReason != "phone lost" {
		t.Fatalf("revoking again changed the key: %+v", again)
	}
	// The central bank revokes an operator admin's key.
	adminMe, err := adminB.Me(ctx)
	must(t, err)
	_, err = e.cb.RevokeKey(ctx, adminMe.ID, "rotated")
	must(t, err)
	_, err = adminB.Keys(ctx)
	wantProblem(t, "a revoked admin key", err, "unauthorized")
}

// A key revoked at one process stops working at another that shares the
// key file, within a second.
func TestKeyRevokedAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	one, err := httpapi.OpenKeys(path)
	must(t, err)
	two, err := httpapi.OpenKeys(path)
	must(t, err)
	secret, p, err := one.Create(httpapi.Principal{Role: httpapi.RoleHolder})
	must(t, err)
	if _, ok := two.Lookup(secret); !ok {
		t.Fatal("a key made at one process is unknown at the other")
	}
	if _, err := one.Revoke(p.KeyID, "lost", func(httpapi.Principal) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if _, ok := one.Lookup(secret); ok {
		t.Fatal("a revoked key still works where it was revoked")
	}
	time.Sleep(1100 * time.Millisecond) // keysRecheck
	if _, ok := two.Lookup(secret); ok {
		t.Fatal("a revoked key still works at the other process")
	}
}
