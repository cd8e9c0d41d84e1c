package httpapi_test

import (
	"context"
	"slices"
	"sync"
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

	list, err := adminA.Keys(ctx, client.Page{})
	must(t, err)
	if len(list.Items) != 2 { // its own admin key and the holder's
		t.Fatalf("operator A sees %d keys; want 2: %+v", len(list.Items), list.Items)
	}
	for _, k := range list.Items {
		if k.Secret != "" || k.Institution == nil || *k.Institution != a {
			t.Fatalf("listed key %+v", k)
		}
	}
	all, err := e.cb.Keys(ctx, client.Page{})
	must(t, err)
	if len(all.Items) != 5 { // the central bank's, two admins', two holders'
		t.Fatalf("the central bank sees %d keys; want 5", len(all.Items))
	}
	_, err = holder.Keys(ctx, client.Page{})
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
	_, err = adminB.Keys(ctx, client.Page{})
	wantProblem(t, "a revoked admin key", err, "unauthorized")
}

// stallingStore is a key store whose reads can be made to hang, as a
// database that stopped answering does.
type stallingStore struct {
	mu     sync.Mutex
	keys   []httpapi.StoredKey // in version order, the Nth at version N+1
	stall  chan struct{}       // while not nil, Version waits for it to close
	called chan struct{}       // told when a Version starts to wait
}

func (s *stallingStore) Version(ctx context.Context) (int64, error) {
	s.mu.Lock()
	stall, called, version := s.stall, s.called, int64(len(s.keys))
	s.mu.Unlock()
	if stall != nil {
		called <- struct{}{}
		select {
		case <-stall:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return version, nil
}

func (s *stallingStore) Since(_ context.Context, version int64, limit int) ([]httpapi.StoredKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ks := slices.Clone(s.keys[min(version, int64(len(s.keys))):])
	return ks[:min(limit, len(ks))], nil
}

func (s *stallingStore) Put(_ context.Context, k httpapi.StoredKey) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k.Version = int64(len(s.keys) + 1)
	s.keys = append(s.keys, k)
	return k.Version, nil
}

// A key store that hangs holds up only the lookup rechecking it: every
// other request with a known key goes on.
func TestKnownKeysWorkWhileTheStoreHangs(t *testing.T) {
	st := &stallingStore{}
	keys, err := httpapi.NewKeys(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := keys.Create(httpapi.Principal{Role: httpapi.RoleHolder})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the key is due for a recheck
	stall := make(chan struct{})
	st.mu.Lock()
	st.stall, st.called = stall, make(chan struct{}, 1)
	st.mu.Unlock()
	rechecked := make(chan bool, 1)
	go func() {
		_, ok := keys.Lookup(secret)
		rechecked <- ok
	}()
	<-st.called // the recheck hangs in the store
	done := make(chan bool, 1)
	go func() {
		_, ok := keys.Lookup(secret)
		done <- ok
	}()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("a known key was refused while the store hung")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a lookup of a known key waited for a hanging store")
	}
	close(stall)
	if ok := <-rechecked; !ok {
		t.Fatal("the rechecked key was refused")
	}
}

// TestKeysPaged walks an operator's keys a page at a time: every key in
// its part once, oldest first, none of another operator's, and a cursor
// the API did not make is refused.
func TestKeysPaged(t *testing.T) {
	e := newEnv(t)
	ctx := e.ctx
	a, adminA := e.operator("Operator A", 50_000*yuan, 0)
	b, adminB := e.operator("Operator B", 50_000*yuan, 0)
	w, _ := e.wallet(adminA, a, wire.OpenWallet{Category: 2, HolderName: "李四", Phone: "13800000002"})
	wb, _ := e.wallet(adminB, b, wire.OpenWallet{Category: 2, HolderName: "赵六", Phone: "13900000002"})
	const made = 11
	for range made {
		_, err := adminA.CreateKey(ctx, wire.CreateKey{Role: wire.RoleHolder, Wallet: &w.ID})
		must(t, err)
		_, err = adminB.CreateKey(ctx, wire.CreateKey{Role: wire.RoleHolder, Wallet: &wb.ID})
		must(t, err)
	}
	want := made + 2 // and its admin's and the first holder's
	seen := map[string]bool{}
	var last time.Time
	pages := 0
	for page := (client.Page{Limit: 4}); ; pages++ {
		list, err := adminA.Keys(ctx, page)
		must(t, err)
		for _, k := range list.Items {
			if k.Institution == nil || *k.Institution != a {
				t.Fatalf("operator A's page holds %+v", k)
			}
			if seen[k.ID] {
				t.Fatalf("key %s listed twice", k.ID)
			}
			if k.CreatedAt.Before(last) {
				t.Fatalf("key %s created %v listed after one created %v", k.ID, k.CreatedAt, last)
			}
			seen[k.ID], last = true, k.CreatedAt
		}
		if list.NextCursor == "" {
			break
		}
		page.Cursor = list.NextCursor
	}
	if len(seen) != want || pages != (want-1)/4 {
		t.Errorf("%d keys in %d pages after the first; want %d in %d", len(seen), pages, want, (want-1)/4)
	}
	_, err := adminA.Keys(ctx, client.Page{Cursor: "AAEC"})
	wantProblem(t, "a cursor the API did not make", err, "invalid-request")
}
