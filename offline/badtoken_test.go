package offline_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/domaintest"
	"github.com/tongbao/tongbao/offline"
)

// TestBadTokens: each kind of bad token gets its own answer, at the
// payee's device and at sync, and credits nothing: truncated, re-encoded,
// signed by another key, over the caps (signed by a broken secure
// element), for another payee, and uploaded again.
func TestBadTokens(t *testing.T) {
	e := newEnv(t)
	payer, payee, other := e.device(e.A, yuan("1000.00")), e.device(e.A, 0), e.device(e.A, 0)
	e.load(payer, yuan("800.00"))
	good, err := payer.el.Pay(payee.el.ID(), yuan("10.00"))
	domaintest.Must(t, err)
	cert := offline.CertOf(payer.el)
	_, stranger, err := ed25519.GenerateKey(rand.Reader)
	domaintest.Must(t, err)
	otherKey, err := offline.SignWithKey(stranger, offline.Token{Cert: cert, Payee: payee.el.ID(), Amount: yuan("10.00"), Counter: 2, Prev: offline.HashOf(good)})
	domaintest.Must(t, err)
	overCap, err := offline.SignWith(payer.el, offline.Token{Cert: cert, Payee: payee.el.ID(), Amount: yuan("600.00"), Counter: 2, Prev: offline.HashOf(good)})
	domaintest.Must(t, err)
	overCount, err := offline.SignWith(payer.el, offline.Token{Cert: cert, Payee: payee.el.ID(), Amount: yuan("1.00"), Counter: 12, Prev: offline.HashOf(good)})
	domaintest.Must(t, err)
	reencoded := offline.Reencode(good)

	cases := []struct {
		name string
		raw  []byte
		want error
	}{
		{"truncated", good[:len(good)-5], offline.ErrMalformed},
		{"re-encoded", reencoded, offline.ErrNotCanonical},
		{"signed by another key", otherKey, offline.ErrBadSignature},
		{"over the per-payment cap", overCap, offline.ErrOverCap},
		{"past the payments cap", overCount, offline.ErrCountCap},
	}
	for _, c := range cases {
		_, err := payee.el.Receive(c.raw)
		wantErr(t, c.name+" at the payee's device", err, c.want)
		// Twice in one upload: both copies refused alike.
		res, err := e.svc.Sync(e.Ctx, tongbao.ID{}, [][]byte{c.raw, c.raw})
		domaintest.Must(t, err)
		for _, r := range res.Results {
			if r.Result != offline.ResultRefused || !errorsIs(r.Problem, c.want) {
				t.Fatalf("%s at sync: %+v; want refused with %v", c.name, r, c.want)
			}
		}
	}
	_, err = other.el.Receive(good)
	wantErr(t, "a token for another payee", err, offline.ErrWrongPayee)

	// The genuine token, uploaded twice in each of two syncs: paid once,
	// its later copies answered as duplicates of a settled token.
	for range 2 {
		res, err := e.svc.Sync(e.Ctx, tongbao.ID{}, [][]byte{good, good})
		domaintest.Must(t, err)
		if r := res.Results[1]; r.Result != offline.ResultDuplicate || r.Status != offline.TokenSettled {
			t.Fatalf("the second copy: %+v; want a duplicate of a settled token", r)
		}
	}
	if got := e.balance(payee.wallet); got != yuan("10.00") {
		t.Fatalf("payee: got %v; want 10.00", got)
	}
	if d := e.deviceRecord(payer); d.State != offline.DeviceActive || d.Spent != yuan("10.00") {
		t.Fatalf("payer's record after refusals: %+v", d)
	}
	e.SupplyOK(t, "bad tokens")
}

// TestBrokenElement: a secure element broken open signs what a genuine
// one refuses: a claimed acknowledgement the ledger never gave, and
// spending past what was loaded. The ledger treats both as fraud.
func TestBrokenElement(t *testing.T) {
	e := newEnv(t)
	payer, payee := e.device(e.A, yuan("1000.00")), e.device(e.A, 0)
	e.load(payer, yuan("50.00"))
	cert := offline.CertOf(payer.el)
	forgedAck, err := offline.SignWith(payer.el, offline.Token{Cert: cert, Payee: payee.el.ID(), Amount: yuan("10.00"), Counter: 5, Synced: 4})
	domaintest.Must(t, err)
	res, err := e.svc.Sync(e.Ctx, tongbao.ID{}, [][]byte{forgedAck})
	domaintest.Must(t, err)
	r := res.Results[0]
	if r.Result != offline.ResultSettled || r.Case.IsZero() {
		t.Fatalf("a forged acknowledgement: %+v; want paid under a fraud case", r)
	}
	c, err := e.svc.Case(e.Ctx, r.Case)
	domaintest.Must(t, err)
	if len(c.Findings) != 1 || c.Findings[0] != offline.FindingForgedAck+"@5" {
		t.Fatalf("findings: %v", c.Findings)
	}
	// Past the purse (40.00 left), with no counter in conflict.
	over, err := offline.SignWith(payer.el, offline.Token{Cert: cert, Payee: payee.el.ID(), Amount: yuan("90.00"), Counter: 6, Synced: 0, Prev: offline.HashOf(forgedAck)})
	domaintest.Must(t, err)
	res, err = e.svc.Sync(e.Ctx, tongbao.ID{}, [][]byte{over})
	domaintest.Must(t, err)
	if r := res.Results[0]; r.Result != offline.ResultSettled || r.Source != offline.SourceOperator {
		t.Fatalf("an overspend: %+v; want advanced by the operator", r)
	}
	c, err = e.svc.Case(e.Ctx, r.Case)
	domaintest.Must(t, err)
	if c.Advanced != yuan("90.00") || c.Recovered != yuan("90.00") || c.Findings[len(c.Findings)-1] != offline.FindingOverspend+"@6" {
		t.Fatalf("case: %+v", c)
	}
	if got := e.balance(payee.wallet); got != yuan("100.00") {
		t.Fatalf("payee: got %v; want 100.00", got)
	}
	if got := e.balance(payer.wallet); got != yuan("860.00") {
		t.Fatalf("payer: got %v; want 860.00 (950.00 less the 90.00 recovered)", got)
	}
	e.SupplyOK(t, "broken element")
}
