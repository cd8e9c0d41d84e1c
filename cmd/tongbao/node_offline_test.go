package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/offline"
)

// TestNodeServesOffline certifies and loads a device on a sandbox node,
// keeps its records in the data folder's offline.db, and sees a
// decommissioned device's purse return to its wallet as soon as the
// sandbox clock passes the arrival grace: the node runs the offline
// service's periodic work on an advance as it does every minute.
func TestNodeServesOffline(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	_, cb, _ := sandboxNode(t, dir, true, "")
	op, admin := fundedOperator(t, cb, "Offline Operator", 10_000*yuan, 10_000*yuan)
	w, err := admin.OpenWallet(ctx, client.NewKey(), op.ID, wire.OpenWallet{Category: 2, HolderName: "李四", Phone: "13800000002"})
	must(t, err)
	_, err = admin.TopUp(ctx, client.NewKey(), w.ID, 100*yuan)
	must(t, err)
	hk, err := admin.CreateKey(ctx, wire.CreateKey{Role: wire.RoleHolder, Wallet: &w.ID})
	must(t, err)
	holder := cb.WithKey(hk.Secret)

	el, err := offline.InitDevice(filepath.Join(t.TempDir(), "device"), tongbao.SystemClock{})
	must(t, err)
	d, err := holder.CertifyDevice(ctx, el.ID(), w.ID, el.PublicKey())
	must(t, err)
	keys := make([]offline.OperatorKey, len(d.OperatorKeys))
	for i, k := range d.OperatorKeys {
		keys[i] = offline.OperatorKey{Operator: k.Operator, ID: k.ID, Public: k.Public}
	}
	must(t, el.Install(d.Certificate, keys, d.RevocationLists))
	l, err := holder.LoadDevice(ctx, client.NewKey(), el.ID(), 40*yuan)
	must(t, err)
	if _, err := el.AcceptVoucher(l.Voucher); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, nodeOfflineFile)); err != nil {
		t.Fatalf("the node's offline store: %v", err)
	}
	balance := func() tongbao.Amount {
		t.Helper()
		got, err := holder.Wallet(ctx, w.ID)
		must(t, err)
		return tongbao.Amount(*got.Balance)
	}
	if got := balance(); got != 60*yuan {
		t.Fatalf("balance after the load: %v; want 60.00", got)
	}

	_, err = holder.SetDeviceState(ctx, el.ID(), "decommissioned", "a new phone")
	must(t, err)
	_, err = cb.AdvanceSandboxClock(ctx, offline.DefaultArrivalGrace+time.Minute)
	must(t, err)
	if got := balance(); got != 100*yuan {
		t.Fatalf("balance after the arrival grace: %v; want 100.00, the purse returned", got)
	}
	s, err := cb.Supply(ctx)
	must(t, err)
	if !s.OK {
		t.Fatalf("supply %+v does not hold", s)
	}
}

// TestRunOfflineFollowsTheWriter runs the offline work while the node
// serves writes, waits while it does not, and stops when told.
func TestRunOfflineFollowsTheWriter(t *testing.T) {
	n, _, _ := sandboxNode(t, t.TempDir(), false, "")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.runOffline(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	cur, err := n.current()
	must(t, err)
	n.set(httpapi.Services{}) // the writer lost: the work stops
	n.set(cur)                // and taken again: Recover, then the work
	cancel()
	<-done
}
