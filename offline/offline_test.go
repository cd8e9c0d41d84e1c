package offline_test

import (
	"path/filepath"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/domaintest"
	"github.com/tongbao/tongbao/offline"
)

// TestHappyPath: load, pay offline, the payee syncs and is credited; the
// payer syncs the same token and nothing moves again.
func TestHappyPath(t *testing.T) {
	e := newEnv(t)
	payer, payee := e.device(e.A, yuan("1000.00")), e.device(e.A, 0)
	e.load(payer, yuan("300.00"))
	if got := e.balance(payer.wallet); got != yuan("700.00") {
		t.Fatalf("payer wallet after load: got %v; want 700.00", got)
	}
	if got := e.float(e.A); got != yuan("300.00") {
		t.Fatalf("float after load: got %v; want 300.00", got)
	}
	e.SupplyOK(t, "load")

	raw := e.pay(payer, payee, yuan("88.00"))
	if st := payer.el.Status(); st.Balance != yuan("212.00") || st.Counter != 1 || st.PaymentsLeft != 9 {
		t.Fatalf("payer device after paying: %+v", st)
	}
	if st := payee.el.Status(); st.Inbox != 1 || st.InboxAmount != yuan("88.00") {
		t.Fatalf("payee device after receiving: %+v", st)
	}

	res := e.sync(payee)
	if r := result(t, res, raw); r.Result != offline.ResultSettled || r.Amount != yuan("88.00") || r.Source != offline.SourcePurse {
		t.Fatalf("payee's sync: %+v", r)
	}
	if got := e.balance(payee.wallet); got != yuan("88.00") {
		t.Fatalf("payee wallet: got %v; want 88.00", got)
	}
	if st := payee.el.Status(); st.Inbox != 0 {
		t.Fatalf("payee inbox after sync: %d; want 0", st.Inbox)
	}
	e.SupplyOK(t, "payee sync")

	// The payer uploads its copy: a duplicate, credited once.
	res = e.sync(payer)
	if r := result(t, res, raw); r.Result != offline.ResultDuplicate || r.Status != offline.TokenSettled {
		t.Fatalf("payer's sync: %+v", r)
	}
	if got := e.balance(payee.wallet); got != yuan("88.00") {
		t.Fatalf("payee wallet after both synced: got %v; want 88.00", got)
	}
	if st := payer.el.Status(); st.Synced != 1 || st.Outbox != 0 || st.PaymentsLeft != 10 {
		t.Fatalf("payer device after its sync: %+v", st)
	}
	d := e.deviceRecord(payer)
	if d.Purse() != yuan("212.00") || d.Acked != 1 {
		t.Fatalf("payer device record: purse %v acked %d; want 212.00 and 1", d.Purse(), d.Acked)
	}
	if got := e.float(e.A); got != yuan("212.00") {
		t.Fatalf("float: got %v; want 212.00", got)
	}
	e.SupplyOK(t, "payer sync")
}

// TestUnload: an unload is a token to the device's own wallet.
func TestUnload(t *testing.T) {
	e := newEnv(t)
	p := e.device(e.A, yuan("500.00"))
	e.load(p, yuan("200.00"))
	raw, err := p.el.Unload(yuan("150.00"))
	domaintest.Must(t, err)
	res := e.sync(p)
	if r := result(t, res, raw); r.Result != offline.ResultSettled {
		t.Fatalf("unload: %+v", r)
	}
	if got := e.balance(p.wallet); got != yuan("450.00") {
		t.Fatalf("wallet after unload: got %v; want 450.00", got)
	}
	if d := e.deviceRecord(p); d.Purse() != yuan("50.00") || d.Unloaded != yuan("150.00") {
		t.Fatalf("device record: %+v", d)
	}
	e.SupplyOK(t, "unload")
}

// TestReplayedToken: the payee's device refuses a token it holds, and
// the ledger credits a token uploaded twice once.
func TestReplayedToken(t *testing.T) {
	e := newEnv(t)
	payer, payee := e.device(e.A, yuan("500.00")), e.device(e.A, 0)
	e.load(payer, yuan("100.00"))
	raw := e.pay(payer, payee, yuan("10.00"))
	_, err := payee.el.Receive(raw)
	wantErr(t, "receive again", err, offline.ErrReplayed)
	e.sync(payee)
	// Uploaded again, by an operator's bulk upload.
	res, err := e.svc.Sync(e.Ctx, tongbao.ID{}, [][]byte{raw, raw})
	domaintest.Must(t, err)
	for _, r := range res.Results {
		if r.Result != offline.ResultDuplicate {
			t.Fatalf("replayed upload: %+v", r)
		}
	}
	// After its sync the payee's device still knows the token.
	_, err = payee.el.Receive(raw)
	wantErr(t, "receive after sync", err, offline.ErrReplayed)
	if got := e.balance(payee.wallet); got != yuan("10.00") {
		t.Fatalf("payee: got %v; want 10.00", got)
	}
	e.SupplyOK(t, "replay")
}

// TestForgedSignature: a token with a changed byte, or signed by a key
// the operator did not certify, is refused offline and at sync.
func TestForgedSignature(t *testing.T) {
	e := newEnv(t)
	payer, payee := e.device(e.A, yuan("500.00")), e.device(e.A, 0)
	e.load(payer, yuan("100.00"))
	raw, err := payer.el.Pay(payee.el.ID(), yuan("10.00"))
	domaintest.Must(t, err)
	forged := append([]byte(nil), raw...)
	forged[len(forged)-1] ^= 1 // the signature's last byte
	_, err = payee.el.Receive(forged)
	wantErr(t, "receive forged", err, offline.ErrBadSignature)

	// A device that installs another device's certificate signs with its
	// own key: the certified key does not verify it.
	thief, err := offline.InitDevice(filepath.Join(t.TempDir(), "thief"), e.Clock)
	domaintest.Must(t, err)
	d := e.deviceRecord(payer)
	err = thief.Install(d.Certificate, e.svc.PublicKeys(), nil)
	if err == nil {
		t.Fatal("a device installed another device's certificate")
	}

	res, err := e.svc.Sync(e.Ctx, tongbao.ID{}, [][]byte{forged})
	domaintest.Must(t, err)
	if r := res.Results[0]; r.Result != offline.ResultRefused || !errorsIs(r.Problem, offline.ErrBadSignature) {
		t.Fatalf("forged upload: %+v", r)
	}
	if got := e.balance(payee.wallet); got != 0 {
		t.Fatalf("payee credited %v for a forged token", got)
	}
	// The genuine token still settles.
	_, err = payee.el.Receive(raw)
	domaintest.Must(t, err)
	e.sync(payee)
	if got := e.balance(payee.wallet); got != yuan("10.00") {
		t.Fatalf("payee: got %v; want 10.00", got)
	}
	e.SupplyOK(t, "forged")
}

// TestRevokedDevice: a revoked device is on the list a payee's device
// fetches, its own device locks at its next sync, and the ledger settles
// none of its tokens not settled before.
func TestRevokedDevice(t *testing.T) {
	e := newEnv(t)
	payer, payee, other := e.device(e.A, yuan("500.00")), e.device(e.A, 0), e.device(e.A, 0)
	e.load(payer, yuan("100.00"))
	early := e.pay(payer, other, yuan("5.00")) // received, not uploaded before the revocation
	_, err := e.svc.SetState(e.Ctx, payer.el.ID(), offline.DeviceRevoked, "key extracted")
	domaintest.Must(t, err)

	e.sync(payee) // the payee fetches the new list
	raw, err := payer.el.Pay(payee.el.ID(), yuan("10.00"))
	domaintest.Must(t, err) // the payer's device does not know yet
	_, err = payee.el.Receive(raw)
	wantErr(t, "receive from revoked", err, offline.ErrRevoked)

	res, err := e.svc.Sync(e.Ctx, tongbao.ID{}, [][]byte{raw, early})
	domaintest.Must(t, err)
	for _, r := range res.Results {
		if r.Result != offline.ResultRefused || !errorsIs(r.Problem, offline.ErrRevoked) {
			t.Fatalf("upload of a revoked device's token: %+v", r)
		}
	}
	if got := e.balance(payee.wallet) + e.balance(other.wallet); got != 0 {
		t.Fatalf("payees credited %v from a revoked device", got)
	}
	// The revoked device learns it at its next sync and signs no more.
	signed, _ := payer.el.Pending()
	res, err = e.svc.Sync(e.Ctx, payer.el.ID(), signed)
	domaintest.Must(t, err)
	lists, err := e.svc.RevocationLists(e.Ctx)
	domaintest.Must(t, err)
	domaintest.Must(t, payer.el.Synced(res.Ack, res.Decided, e.svc.PublicKeys(), lists))
	_, err = payer.el.Pay(payee.el.ID(), yuan("1.00"))
	wantErr(t, "pay after revocation", err, offline.ErrDeviceLocked)
	_, err = e.svc.Load(e.Ctx, tongbao.NewID(), payer.el.ID(), yuan("1.00"))
	wantErr(t, "load a revoked device", err, offline.ErrDeviceState)
	e.SupplyOK(t, "revoked")
}

// TestExpiredCertificate: a device with an expired certificate cannot
// pay; a payee refuses a token under one; the ledger refuses tokens that
// arrive past the arrival grace.
func TestExpiredCertificate(t *testing.T) {
	e := newEnv(t)
	payer, payee := e.device(e.A, yuan("500.00")), e.device(e.A, 0)
	e.load(payer, yuan("100.00"))
	late := e.pay(payer, payee, yuan("10.00"))
	e.Clock.Advance(offline.DefaultCertValidity + time.Minute)
	_, err := payer.el.Pay(payee.el.ID(), yuan("10.00"))
	wantErr(t, "pay with an expired certificate", err, offline.ErrOwnCertExpired)

	// A token signed under a certificate that has since expired.
	other := e.device(e.A, 0)
	_, err = other.el.Receive(late)
	wantErr(t, "receive under an expired certificate", err, offline.ErrCertExpired)

	e.Clock.Advance(offline.DefaultArrivalGrace)
	res, err := e.svc.Sync(e.Ctx, tongbao.ID{}, [][]byte{late})
	domaintest.Must(t, err)
	if r := res.Results[0]; r.Result != offline.ResultRefused || !errorsIs(r.Problem, offline.ErrCertExpired) {
		t.Fatalf("upload past the grace: %+v", r)
	}
	if got := e.balance(payee.wallet); got != 0 {
		t.Fatalf("payee credited %v past the grace", got)
	}
	e.SupplyOK(t, "expired")
}

// TestClonedDevice: restoring an old copy of a device's state rolls its
// counter back. The payee that saw the counter refuses it offline; a
// second payee accepts, and the ledger catches the double spend at sync:
// the device is suspended, a fraud case opened, the payee paid by the
// operator and the advance taken back from the holder's wallet.
func TestClonedDevice(t *testing.T) {
	e := newEnv(t)
	payer, payee1, payee2 := e.device(e.A, yuan("1000.00")), e.device(e.A, 0), e.device(e.A, 0)
	e.load(payer, yuan("300.00"))
	copyDir(t, payer.dir, payer.dir+"-copy")
	copyDir(t, payer.dir, payer.dir+"-copy2")

	first := e.pay(payer, payee1, yuan("200.00"))
	clone, err := offline.OpenDevice(payer.dir+"-copy", e.Clock)
	domaintest.Must(t, err)
	rolled, err := clone.Pay(payee1.el.ID(), yuan("150.00"))
	domaintest.Must(t, err)
	_, err = payee1.el.Receive(rolled)
	wantErr(t, "the same payee gets a rolled-back counter", err, offline.ErrRolledBack)

	clone2, err := offline.OpenDevice(payer.dir+"-copy2", e.Clock)
	domaintest.Must(t, err)
	second, err := clone2.Pay(payee2.el.ID(), yuan("200.00"))
	domaintest.Must(t, err)
	_, err = payee2.el.Receive(second)
	domaintest.Must(t, err) // offline, payee2 cannot tell

	e.sync(payee1)
	res := e.sync(payee2)
	r := result(t, res, second)
	res, err = e.svc.Sync(e.Ctx, tongbao.ID{}, [][]byte{first})
	domaintest.Must(t, err)
	if r.Result != offline.ResultSettled || r.Source != offline.SourceOperator || r.Case.IsZero() {
		t.Fatalf("the double spend: %+v", r)
	}
	if got := e.balance(payee1.wallet) + e.balance(payee2.wallet); got != yuan("400.00") {
		t.Fatalf("payees: got %v; want 400.00 (both made whole)", got)
	}
	d := e.deviceRecord(payer)
	if d.State != offline.DeviceSuspended {
		t.Fatalf("payer device: %s; want suspended", d.State)
	}
	c, err := e.svc.Case(e.Ctx, r.Case)
	domaintest.Must(t, err)
	// The purse held 100.00 after the first token; the second was 200.00:
	// it is the double spend, paid by the operator and recovered in full.
	if c.Advanced != yuan("200.00") || c.Recovered != yuan("200.00") || c.Loss() != 0 || len(c.Findings) == 0 {
		t.Fatalf("case: %+v", c)
	}
	if got := e.balance(payer.wallet); got != yuan("500.00") {
		t.Fatalf("payer wallet: got %v; want 500.00 (700.00 less the 200.00 recovered)", got)
	}
	_, err = e.svc.Load(e.Ctx, tongbao.NewID(), payer.el.ID(), yuan("1.00"))
	wantErr(t, "load a frozen device", err, offline.ErrDeviceState)
	if r := result(t, res, first); r.Result != offline.ResultDuplicate || r.Source != offline.SourcePurse {
		t.Fatalf("the first token: %+v", r)
	}
	e.SupplyOK(t, "clone")
}

// TestDoubleSpendPastCover: clones spending past the device's balance
// cap find their later tokens rejected, and the operator bears what it
// could not recover.
func TestDoubleSpendPastCover(t *testing.T) {
	e := newEnv(t)
	payer := e.device(e.A, yuan("100.00"))
	e.load(payer, yuan("100.00")) // the wallet is now empty: nothing to recover
	const clones = 12
	var payees []*phone
	var raws [][]byte
	for i := 0; i < clones; i++ {
		dir := filepath.Join(t.TempDir(), "clone")
		copyDir(t, payer.dir, dir)
		clone, err := offline.OpenDevice(dir, e.Clock)
		domaintest.Must(t, err)
		p := e.device(e.A, 0)
		raw, err := clone.Pay(p.el.ID(), yuan("100.00"))
		domaintest.Must(t, err)
		_, err = p.el.Receive(raw)
		domaintest.Must(t, err)
		payees, raws = append(payees, p), append(raws, raw)
	}
	res, err := e.svc.Sync(e.Ctx, tongbao.ID{}, raws)
	domaintest.Must(t, err)
	// 100.00 from the purse, then the cap of 1,000.00 advanced in ten
	// tokens; the twelfth would pass it.
	var credited tongbao.Amount
	for i, r := range res.Results {
		want, source := offline.ResultSettled, offline.SourceOperator
		switch i {
		case 0:
			source = offline.SourcePurse
		case clones - 1:
			want, source = offline.ResultRejected, ""
		}
		if r.Result != want || r.Source != source {
			t.Fatalf("token %d: %+v; want %s from %s", i, r, want, source)
		}
		credited += e.balance(payees[i].wallet)
	}
	if credited != yuan("1100.00") {
		t.Fatalf("credited %v; want 1,100.00", credited)
	}
	cs, err := e.svc.Cases(e.Ctx, e.A, tongbao.ID{}, 10)
	domaintest.Must(t, err)
	if len(cs) != 1 || cs[0].Advanced != yuan("1000.00") || cs[0].Recovered != 0 || cs[0].Refused != yuan("100.00") || cs[0].Loss() != yuan("1000.00") {
		t.Fatalf("cases: %+v", cs)
	}
	e.SupplyOK(t, "past cover")
}

// TestBothSidesUpload: the payer and the payee both upload one token,
// in either order and in one batch: it is credited once.
func TestBothSidesUpload(t *testing.T) {
	e := newEnv(t)
	payer, payee := e.device(e.A, yuan("500.00")), e.device(e.A, 0)
	e.load(payer, yuan("100.00"))
	a := e.pay(payer, payee, yuan("10.00"))
	b := e.pay(payer, payee, yuan("20.00"))
	e.sync(payer) // the payer first
	e.sync(payee)
	if got := e.balance(payee.wallet); got != yuan("30.00") {
		t.Fatalf("payee: got %v; want 30.00", got)
	}
	res, err := e.svc.Sync(e.Ctx, tongbao.ID{}, [][]byte{a, b, a, b})
	domaintest.Must(t, err)
	for _, r := range res.Results {
		if r.Result != offline.ResultDuplicate {
			t.Fatalf("again: %+v", r)
		}
	}
	if got := e.balance(payee.wallet); got != yuan("30.00") {
		t.Fatalf("payee after repeats: got %v; want 30.00", got)
	}
	e.SupplyOK(t, "both sides")
}

// TestPayeeAtAnotherOperator: a token paying a device of another
// operator clears through the settlement window.
func TestPayeeAtAnotherOperator(t *testing.T) {
	e := newEnv(t)
	payer, payee := e.device(e.A, yuan("500.00")), e.device(e.B, 0)
	e.load(payer, yuan("100.00"))
	raw := e.pay(payer, payee, yuan("60.00"))
	res := e.sync(payee)
	if r := result(t, res, raw); r.Result != offline.ResultSettled {
		t.Fatalf("cross-operator token: %+v", r)
	}
	if got := e.balance(payee.wallet); got != yuan("60.00") {
		t.Fatalf("payee at B: got %v; want 60.00", got)
	}
	e.SupplyOK(t, "cross-operator sync")
	_, err := e.Payments.Settle(e.Ctx)
	domaintest.Must(t, err)
	e.SupplyOK(t, "settlement")
}

// TestCountCap: a device refuses its eleventh payment before it
// reconnects, and may pay again after a sync.
func TestCountCap(t *testing.T) {
	e := newEnv(t)
	payer, payee := e.device(e.A, yuan("500.00")), e.device(e.A, 0)
	e.load(payer, yuan("100.00"))
	for i := 0; i < int(offline.DefaultCaps.Payments); i++ {
		e.pay(payer, payee, yuan("1.00"))
	}
	_, err := payer.el.Pay(payee.el.ID(), yuan("1.00"))
	wantErr(t, "the eleventh payment", err, offline.ErrCountCap)
	if st := payer.el.Status(); st.Counter != 10 || st.Balance != yuan("90.00") {
		t.Fatalf("the refused payment changed the device: %+v", st)
	}
	e.sync(payer)
	e.pay(payer, payee, yuan("1.00"))
	e.sync(payee)
	if got := e.balance(payee.wallet); got != yuan("11.00") {
		t.Fatalf("payee: got %v; want 11.00", got)
	}
	e.SupplyOK(t, "count cap")
}

// TestDecommission: a decommissioned device's purse returns to its
// wallet after the arrival grace; tokens arriving before are paid, and
// one arriving after is a double spend.
func TestDecommission(t *testing.T) {
	e := newEnv(t)
	payer, payee := e.device(e.A, yuan("500.00")), e.device(e.A, 0)
	e.load(payer, yuan("100.00"))
	early := e.pay(payer, payee, yuan("30.00"))
	_, err := e.svc.SetState(e.Ctx, payer.el.ID(), offline.DeviceDecommissioned, "holder retired the phone")
	domaintest.Must(t, err)
	n, err := e.svc.ReturnDue(e.Ctx)
	domaintest.Must(t, err)
	if n != 0 {
		t.Fatalf("returned %d purses before the grace", n)
	}
	e.sync(payee)
	e.Clock.Advance(offline.DefaultArrivalGrace + time.Second)
	n, err = e.svc.ReturnDue(e.Ctx)
	domaintest.Must(t, err)
	if n != 1 || e.balance(payer.wallet) != yuan("470.00") || e.float(e.A) != 0 {
		t.Fatalf("after the grace: returned %d, wallet %v, float %v; want 1, 470.00, 0", n, e.balance(payer.wallet), e.float(e.A))
	}
	res, err := e.svc.Sync(e.Ctx, tongbao.ID{}, [][]byte{early})
	domaintest.Must(t, err)
	if r := result(t, res, early); r.Result != offline.ResultDuplicate || r.Status != offline.TokenSettled {
		t.Fatalf("the token paid before decommissioning: %+v", r)
	}
	e.SupplyOK(t, "decommission")
}

// TestLoadRefusals: a load past the purse cap or the wallet's funds moves
// nothing; the same id again answers the same.
func TestLoadRefusals(t *testing.T) {
	e := newEnv(t)
	p := e.device(e.A, yuan("2000.00"))
	_, err := e.svc.Load(e.Ctx, tongbao.NewID(), p.el.ID(), yuan("1000.01"))
	wantErr(t, "past the purse cap", err, offline.ErrLoadOverCap)
	poor := e.device(e.A, yuan("10.00"))
	id := tongbao.NewID()
	_, err = e.svc.Load(e.Ctx, id, poor.el.ID(), yuan("20.00"))
	if tongbao.ErrorCode(err) != tongbao.EUNPROCESSABLE {
		t.Fatalf("load past the wallet's funds: %v", err)
	}
	_, err = e.svc.Load(e.Ctx, id, poor.el.ID(), yuan("20.00"))
	if tongbao.ErrorCode(err) != tongbao.EUNPROCESSABLE {
		t.Fatalf("the same load again: %v", err)
	}
	if e.balance(poor.wallet) != yuan("10.00") || e.float(e.A) != 0 {
		t.Fatal("a refused load moved money")
	}
	// A voucher accepted once.
	l, err := e.svc.Load(e.Ctx, tongbao.NewID(), p.el.ID(), yuan("5.00"))
	domaintest.Must(t, err)
	_, err = p.el.AcceptVoucher(l.Voucher)
	domaintest.Must(t, err)
	_, err = p.el.AcceptVoucher(l.Voucher)
	wantErr(t, "a voucher again", err, offline.ErrVoucherOrder)
	if st := p.el.Status(); st.Balance != yuan("5.00") {
		t.Fatalf("purse: %v; want 5.00", st.Balance)
	}
	e.SupplyOK(t, "loads")
}

// TestOperatorCaps: an operator sets its own caps; new certificates carry
// them, a device certified before gets them at its next sync, and a
// device keeps to them offline.
func TestOperatorCaps(t *testing.T) {
	e := newEnv(t)
	before := e.device(e.A, yuan("1000.00"))
	caps := offline.Caps{PerPayment: yuan("100.00"), Balance: yuan("300.00"), Payments: 3}
	_, err := e.svc.SetCaps(e.Ctx, e.A, offline.Caps{PerPayment: yuan("100.00"), Balance: yuan("50.00"), Payments: 3})
	wantErr(t, "a purse cap below the per-payment cap", err, offline.ErrCapsInvalid)
	_, err = e.svc.SetCaps(e.Ctx, tongbao.IDFromUint64(1), caps)
	if err == nil {
		t.Fatal("the central bank set offline caps")
	}
	_, err = e.svc.SetCaps(e.Ctx, e.A, caps)
	domaintest.Must(t, err)
	e.reopen() // the caps are the store's, not the process's
	if got := e.svc.CapsOf(e.A); got != caps {
		t.Fatalf("caps after a restart: %+v; want %+v", got, caps)
	}
	if got := e.svc.CapsOf(e.B); got != offline.DefaultCaps {
		t.Fatalf("the other operator's caps: %+v; want the defaults", got)
	}

	payer, payee := e.device(e.A, yuan("1000.00")), e.device(e.A, 0)
	if st := payer.el.Status(); st.Caps != caps {
		t.Fatalf("a new certificate's caps: %+v; want %+v", st.Caps, caps)
	}
	_, err = e.svc.Load(e.Ctx, tongbao.NewID(), payer.el.ID(), yuan("300.01"))
	wantErr(t, "a load past the new purse cap", err, offline.ErrLoadOverCap)
	e.load(payer, yuan("300.00"))
	_, err = payer.el.Pay(payee.el.ID(), yuan("100.01"))
	wantErr(t, "past the new per-payment cap", err, offline.ErrOverCap)
	for range 3 {
		e.pay(payer, payee, yuan("10.00"))
	}
	_, err = payer.el.Pay(payee.el.ID(), yuan("10.00"))
	wantErr(t, "the fourth payment", err, offline.ErrCountCap)

	if st := before.el.Status(); st.Caps != offline.DefaultCaps {
		t.Fatalf("a certificate issued before: %+v; want the defaults until it syncs", st.Caps)
	}
	e.sync(before)
	if st := before.el.Status(); st.Caps != caps {
		t.Fatalf("after its sync: %+v; want %+v", st.Caps, caps)
	}
	e.SupplyOK(t, "operator caps")
}

// TestDeviceClockBehind: devices whose clocks lag the operator's (or an
// operator's sandbox clock run ahead) pay and receive with a certificate
// issued after their own "now", and the ledger settles the token.
func TestDeviceClockBehind(t *testing.T) {
	e := newEnv(t)
	lagging := tongbao.NewManualClock(start.Add(-48 * time.Hour))
	mk := func(funds tongbao.Amount) *phone {
		p := &phone{dir: filepath.Join(t.TempDir(), "device"), wallet: e.wallet(e.A, funds)}
		var err error
		p.el, err = offline.InitDevice(p.dir, lagging)
		domaintest.Must(t, err)
		e.certify(p)
		return p
	}
	payer, payee := mk(yuan("100.00")), mk(0)
	e.load(payer, yuan("50.00"))
	raw := e.pay(payer, payee, yuan("20.00"))
	if r := result(t, e.sync(payee), raw); r.Result != offline.ResultSettled {
		t.Fatalf("a token of lagging devices: %+v", r)
	}
	e.SupplyOK(t, "lagging clocks")
}

// TestDeviceForgetsOldestPayer: a device remembers a bounded number of
// payers; one it forgot can show a token again, which the device takes
// and the ledger pays once.
func TestDeviceForgetsOldestPayer(t *testing.T) {
	offline.SetSeenMax(t, 2)
	e := newEnv(t)
	payee := e.device(e.A, 0)
	var first []byte
	for i := range 3 {
		p := e.device(e.A, yuan("100.00"))
		e.load(p, yuan("10.00"))
		raw := e.pay(p, payee, yuan("1.00"))
		if i == 0 {
			first = raw
		}
		if n := offline.SeenCount(payee.el); n > 2 {
			t.Fatalf("the device remembers %d payers; want at most 2", n)
		}
	}
	if _, err := payee.el.Receive(first); err != nil {
		t.Fatalf("a forgotten payer's token again: %v; want it taken", err)
	}
	e.sync(payee)
	if got := e.balance(payee.wallet); got != yuan("3.00") {
		t.Fatalf("payee: got %v; want 3.00 (the repeated token paid once)", got)
	}
	e.SupplyOK(t, "forgotten payer")
}
