package main

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// sandboxNode serves a node on dir, in sandbox mode if sandbox is set,
// and returns it with a central bank client; the node is closed when the
// test ends, or before by the returned stop.
func sandboxNode(t *testing.T, dir string, sandbox bool, cbKey string) (*node, *client.Client, func()) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := openNode(t.Context(), dir, log, sandbox)
	must(t, err)
	addr, stop, err := n.listen("127.0.0.1:0", log)
	if err != nil {
		n.close()
		t.Fatal(err)
	}
	stopped := false
	halt := func() {
		if !stopped {
			stopped = true
			stop()
			n.close()
		}
	}
	t.Cleanup(halt)
	if cbKey == "" {
		cbKey = n.cbKey
	}
	return n, client.New("http://"+addr, cbKey, nil), halt
}

// fundedOperator authorises an operator, deposits reserves and issues
// part of them to it, and returns it with a client of its admin's.
func fundedOperator(t *testing.T, cb *client.Client, name string, reserves, issue tongbao.Amount) (wire.Institution, *client.Client) {
	t.Helper()
	ctx := t.Context()
	op, err := cb.CreateOperator(ctx, client.NewKey(), wire.CreateOperator{Name: name, NetDebitCap: wire.Amount(50_000 * yuan)})
	must(t, err)
	_, err = cb.DepositReserves(ctx, client.NewKey(), op.ID, reserves)
	must(t, err)
	_, err = cb.Issue(ctx, client.NewKey(), op.ID, issue)
	must(t, err)
	k, err := cb.CreateKey(ctx, wire.CreateKey{Role: wire.RoleOperatorAdmin, Operator: &op.ID})
	must(t, err)
	return op, cb.WithKey(k.Secret)
}

func wantProblem(t *testing.T, step string, err error, name string) {
	t.Helper()
	if got := client.ProblemName(err); got != name {
		t.Fatalf("%s: %v; want problem %s", step, err, name)
	}
}

// TestSandboxClockDailyCap advances a sandbox node's clock over HTTP
// across midnight in Asia/Shanghai: a payment refused for the day's cap
// before midnight goes through after it, and a payment request expires
// without waiting. The clock refuses to go back, also after a restart.
func TestSandboxClockDailyCap(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	_, cb, stop := sandboxNode(t, dir, true, "")
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	must(t, err)

	// Ten to midnight in Shanghai, the next one on the node's clock.
	clock, err := cb.SandboxClock(ctx)
	must(t, err)
	if clock.Offset != "0s" {
		t.Fatalf("a new sandbox node's clock is %s ahead; want 0s", clock.Offset)
	}
	local := clock.Now.In(shanghai)
	evening := time.Date(local.Year(), local.Month(), local.Day(), 23, 50, 0, 0, shanghai)
	if !evening.After(local) {
		evening = evening.AddDate(0, 0, 1)
	}
	clock, err = cb.AdvanceSandboxClockTo(ctx, evening)
	must(t, err)
	if clock.Now.Before(evening) || clock.Now.After(evening.Add(time.Minute)) {
		t.Fatalf("clock at %v after advancing to %v", clock.Now, evening)
	}

	op, admin := fundedOperator(t, cb, "Sandbox Operator", 100_000*yuan, 100_000*yuan)
	// A category 4 wallet may pay 5,000.00 a day, 2,000.00 at a time.
	payer, err := admin.OpenWallet(ctx, client.NewKey(), op.ID, wire.OpenWallet{Category: 4, Phone: "13800000004"})
	must(t, err)
	payee, err := admin.OpenWallet(ctx, client.NewKey(), op.ID, wire.OpenWallet{Category: 2, HolderName: "王五", Phone: "13800000002"})
	must(t, err)
	shop, err := admin.OpenWallet(ctx, client.NewKey(), op.ID, wire.OpenWallet{Category: 2, HolderName: "Sandbox Shop", Merchant: true, MerchantCategory: "5411", Region: "310000"})
	must(t, err)
	_, err = admin.TopUp(ctx, client.NewKey(), payer.ID, 9_000*yuan)
	must(t, err)
	hk, err := admin.CreateKey(ctx, wire.CreateKey{Role: wire.RoleHolder, Wallet: &payer.ID})
	must(t, err)
	holder := cb.WithKey(hk.Secret)
	mk, err := admin.CreateKey(ctx, wire.CreateKey{Role: wire.RoleMerchant, Wallet: &shop.ID})
	must(t, err)
	merchant := cb.WithKey(mk.Secret)
	pay := func(amount tongbao.Amount) error {
		_, err := holder.Pay(ctx, client.NewKey(), wire.Pay{From: payer.ID, To: payee.ID.String(), Amount: wire.Amount(amount)})
		return err
	}
	for _, a := range []tongbao.Amount{2_000 * yuan, 2_000 * yuan, 1_000 * yuan} {
		must(t, pay(a))
	}
	wantProblem(t, "a payment over the day's cap", pay(yuan), "daily-cap-exceeded")
	// A payment request that expires in five minutes.
	req, err := merchant.CreatePaymentRequest(ctx, client.NewKey(), wire.CreatePaymentRequest{OrderID: "SANDBOX-1", Amount: wire.Amount(12 * yuan), ExpiresIn: 300, MerchantName: "Sandbox Shop", MerchantCity: "Shanghai"})
	must(t, err)

	// Twenty minutes on: ten past midnight, a new day in Shanghai.
	clock, err = cb.AdvanceSandboxClock(ctx, 20*time.Minute)
	must(t, err)
	if got := clock.Now.In(shanghai); got.Hour() != 0 || got.Day() == evening.Day() {
		t.Fatalf("clock at %v after advancing 20 minutes from %v; want just after midnight", got, evening)
	}
	must(t, pay(yuan))
	_, err = holder.PayPaymentRequest(ctx, client.NewKey(), req.ID, payer.ID)
	wantProblem(t, "paying an expired request", err, "payment-request-expired")

	// Never backwards: not to an earlier moment, not by a negative
	// duration; the clock stays where it was.
	_, err = cb.AdvanceSandboxClockTo(ctx, evening)
	wantProblem(t, "back to the evening", err, "sandbox-clock-backwards")
	err = cb.Do(ctx, "POST", "/v1/sandbox/clock/advance", "", []byte(`{"by":"-1h"}`), nil)
	wantProblem(t, "by a negative duration", err, "invalid-request")
	err = cb.Do(ctx, "POST", "/v1/sandbox/clock/advance", "", []byte(`{"by":"1h","to":"2030-01-01T00:00:00Z"}`), nil)
	wantProblem(t, "both by and to", err, "invalid-request")
	after, err := cb.SandboxClock(ctx)
	must(t, err)
	if after.Offset != clock.Offset {
		t.Fatalf("offset %s after refused advances; want %s", after.Offset, clock.Offset)
	}
	// Only the central bank moves it.
	_, err = admin.AdvanceSandboxClock(ctx, time.Hour)
	wantProblem(t, "an operator advancing the clock", err, "forbidden")

	// A restart keeps the clock where it was; a start without --sandbox
	// is refused rather than go back in time.
	stop()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := openNode(ctx, dir, log, false); err == nil || !strings.Contains(err.Error(), "--sandbox") {
		t.Fatalf("opening an advanced sandbox folder without --sandbox: %v; want an error naming --sandbox", err)
	}
	_, cb, _ = sandboxNode(t, dir, true, cb.Key())
	restarted, err := cb.SandboxClock(ctx)
	must(t, err)
	if restarted.Now.Before(after.Now) || restarted.Offset != after.Offset {
		t.Fatalf("clock after a restart %+v; want at least %v, offset %s", restarted, after.Now, after.Offset)
	}
}

// A node not in sandbox mode refuses to show or move its clock, and
// keeps the machine's time.
func TestSandboxClockDisabled(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	n, cb, _ := sandboxNode(t, dir, false, "")
	_, err := cb.SandboxClock(ctx)
	wantProblem(t, "reading the clock", err, "sandbox-disabled")
	_, err = cb.AdvanceSandboxClock(ctx, 48*time.Hour)
	wantProblem(t, "advancing the clock", err, "sandbox-disabled")
	var p *wire.Problem
	if errors.As(err, &p); p == nil || p.Status != http.StatusConflict {
		t.Fatalf("advancing the clock: %v; want a 409 problem", err)
	}
	if d := n.clock.Now().Sub(time.Now()); d > time.Second || d < -time.Second {
		t.Fatalf("the node's clock is %v off the machine's after a refused advance", d)
	}
	if _, err := os.Stat(filepath.Join(dir, nodeSandboxFile)); !os.IsNotExist(err) {
		t.Fatalf("a refused advance left %s (%v)", nodeSandboxFile, err)
	}
}
