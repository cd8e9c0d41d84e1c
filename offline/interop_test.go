package offline

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// interopDir holds the node project that runs @auth0/cose, a COSE
// implementation tongbao did not write: its verify.mjs and sign.mjs say
// what they read and print.
const interopDir = "testdata/interop"

// TestCOSEInterop checks that tongbao's tokens and certificates are COSE
// as others read it, and that tongbao reads COSE others write: a wallet
// maker or a payee's device need not use tongbao's code to check a token.
// The two signers must agree to the byte: Ed25519 signatures are
// deterministic, and both sides encode the envelope deterministically.
func TestCOSEInterop(t *testing.T) {
	if os.Getenv("TONGBAO_TEST_NODE") == "" {
		t.Skip("set TONGBAO_TEST_NODE=1 to check the signed objects against a JavaScript COSE library (needs node, and (cd offline/testdata/interop && npm ci) first)")
	}
	node := interopNode(t)

	operatorPublic, operatorPrivate := newEd25519(t)
	operator := OperatorKey{Operator: tongbao.NewID(), ID: KeyID(operatorPublic), Public: operatorPublic, Private: operatorPrivate}
	devicePublic, devicePrivate := newEd25519(t)
	issued := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	certRaw, err := signCertificate(Certificate{Device: tongbao.NewID(), Wallet: tongbao.NewID(), Operator: operator.Operator,
		Key: devicePublic, Caps: DefaultCaps, IssuedAt: issued, Expires: issued.AddDate(0, 0, 90)}, operator)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ParseCertificate(certRaw)
	if err != nil {
		t.Fatalf("parse tongbao's own certificate: %v", err)
	}
	payee := tongbao.NewID()
	tokenRaw, err := signToken(Token{Cert: cert, Payee: payee, Amount: 12_345, Counter: 1, Synced: 0,
		DeviceTime: issued.Add(time.Hour), Kind: KindPayment}, devicePrivate)
	if err != nil {
		t.Fatal(err)
	}
	token, err := ParseToken(tokenRaw)
	if err != nil {
		t.Fatalf("parse tongbao's own token: %v", err)
	}
	trust := Trust{}
	trust.Pin(operator)
	if err := trust.VerifyToken(token); err != nil {
		t.Fatalf("tongbao's own token: %v", err)
	}

	t.Run("node verifies tongbao's objects", func(t *testing.T) {
		flipped := bytes.Clone(tokenRaw)
		flipped[len(flipped)-1] ^= 0x01 // the signature is the envelope's last field
		var got []interopVerified
		runInterop(t, node, "verify.mjs", []interopVerify{
			{Cose: tokenRaw, PublicKey: devicePublic},
			{Cose: certRaw, PublicKey: operatorPublic},
			{Cose: flipped, PublicKey: devicePublic},
			{Cose: tokenRaw, PublicKey: operatorPublic},
		}, &got)
		if len(got) != 4 {
			t.Fatalf("got %d results; want 4", len(got))
		}
		tok, crt := got[0], got[1]
		if !tok.Verified || !crt.Verified {
			t.Fatalf("token verified %v (%s), certificate verified %v (%s); want both", tok.Verified, tok.Error, crt.Verified, crt.Error)
		}
		tok.header(t, TypeToken, cert.Device[:])
		crt.header(t, TypeCertificate, operator.ID)
		tok.claim(t, "1", certRaw)
		tok.claim(t, "2", payee[:])
		tok.claim(t, "3", int64(token.Amount))
		tok.claim(t, "4", token.Counter)
		tok.claim(t, "6", token.Synced)
		tok.claim(t, "8", uint8(token.Kind))
		if _, ok := tok.Claims["5"]; ok {
			t.Errorf("the first token carries a previous hash: %v", tok.Claims["5"])
		}
		crt.claim(t, "1", cert.Device[:])
		crt.claim(t, "2", cert.Wallet[:])
		crt.claim(t, "3", operator.Operator[:])
		crt.claim(t, "4", []byte(devicePublic))
		crt.claim(t, "5", int64(cert.Caps.PerPayment))
		crt.claim(t, "6", int64(cert.Caps.Balance))
		crt.claim(t, "7", cert.Caps.Payments)
		crt.claim(t, "8", issued.Unix())
		crt.claim(t, "9", cert.Expires.Unix())
		for i, what := range []string{"a token with one signature byte flipped", "a token checked with the operator's key"} {
			r := got[2+i]
			if r.Verified {
				t.Errorf("%s verified", what)
			}
			// Refused for its signature, not for being unreadable.
			if !strings.Contains(r.Error, "ERR_COSE_SIGNATURE_VERIFICATION_FAILED") {
				t.Errorf("%s: error %q; want a failed signature", what, r.Error)
			}
		}
	})

	t.Run("tongbao verifies node's objects", func(t *testing.T) {
		next := tokenClaims{Cert: certRaw, Payee: payee[:], Amount: 500, Counter: 2, Prev: token.Hash[:], Synced: 0,
			Time: issued.Add(2 * time.Hour).Unix(), Kind: uint8(KindPayment)}
		device, wallet := tongbao.NewID(), tongbao.NewID()
		other := certClaims{Device: device[:], Wallet: wallet[:], Operator: operator.Operator[:], Key: devicePublic,
			PerPayment: 10_000, Balance: 20_000, Payments: 5, IssuedAt: issued.Unix(), Expires: issued.AddDate(1, 0, 0).Unix()}
		var got []interopSigned
		runInterop(t, node, "sign.mjs", []interopSign{
			interopSignRequest(t, next, devicePrivate, TypeToken, cert.Device[:]),
			interopSignRequest(t, other, operatorPrivate, TypeCertificate, operator.ID),
		}, &got)
		if len(got) != 2 {
			t.Fatalf("got %d results; want 2", len(got))
		}
		tokenJS, certJS := got[0].Cose, got[1].Cose

		env, err := open(tokenJS, TypeToken, TokenSizeMax)
		if err != nil {
			t.Fatalf("open the token node signed: %v", err)
		}
		if err := env.verify(devicePublic); err != nil {
			t.Fatalf("the token node signed: %v", err)
		}
		if err := env.verify(operatorPublic); !errors.Is(err, ErrBadSignature) {
			t.Errorf("the token node signed, checked with the operator's key: %v; want ErrBadSignature", err)
		}
		tok, err := ParseToken(tokenJS)
		if err != nil {
			t.Fatalf("parse the token node signed: %v", err)
		}
		if err := trust.VerifyToken(tok); err != nil {
			t.Fatalf("verify the token node signed: %v", err)
		}
		if tok.Amount != 500 || tok.Counter != 2 || tok.Prev != token.Hash || tok.Payee != payee || tok.Payer() != cert.Device {
			t.Errorf("the token node signed: amount %d, counter %d, prev %s, payee %s, payer %s; want 500, 2, %s, %s, %s",
				tok.Amount, tok.Counter, tok.Prev, tok.Payee, tok.Payer(), token.Hash, payee, cert.Device)
		}
		c, err := ParseCertificate(certJS)
		if err != nil {
			t.Fatalf("parse the certificate node signed: %v", err)
		}
		if err := trust.VerifyCertificate(c); err != nil {
			t.Fatalf("verify the certificate node signed: %v", err)
		}
		if c.Device != device || c.Wallet != wallet || c.Caps.PerPayment != 10_000 || c.Caps.Payments != 5 {
			t.Errorf("the certificate node signed: device %s, wallet %s, caps %+v; want %s, %s, 10000 a payment, 5 payments", c.Device, c.Wallet, c.Caps, device, wallet)
		}

		// Both signers encode deterministically and Ed25519 is
		// deterministic, so the same claims give the same bytes.
		for _, tc := range []struct {
			what   string
			js     []byte
			typ    string
			kid    []byte
			key    ed25519.PrivateKey
			claims any
		}{
			{"token", tokenJS, TypeToken, cert.Device[:], devicePrivate, next},
			{"certificate", certJS, TypeCertificate, operator.ID, operatorPrivate, other},
		} {
			goRaw, err := sign(tc.typ, tc.kid, tc.key, tc.claims)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tc.js, goRaw) {
				t.Errorf("the %s node signed differs from tongbao's:\n node %x\n go   %x", tc.what, tc.js, goRaw)
			}
		}
	})
}

// interopNode returns the node binary, and fails (not skips) the test
// when the check was asked for but cannot run.
func interopNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("TONGBAO_TEST_NODE is set but there is no node: %v", err)
	}
	if _, err := os.Stat(filepath.Join(interopDir, "node_modules", "@auth0", "cose", "package.json")); err != nil {
		t.Fatalf("TONGBAO_TEST_NODE is set but the COSE library is not installed: run (cd offline/%s && npm ci): %v", interopDir, err)
	}
	return node
}

// runInterop runs a script of the node project with in as JSON on its
// standard input and decodes its standard output into out.
func runInterop(t *testing.T, node, script string, in, out any) {
	t.Helper()
	input, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = interopDir
	cmd.Stdin = bytes.NewReader(input)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, stderr.Bytes())
	}
	dec := json.NewDecoder(&stdout)
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("node %s printed %q: %v", script, stdout.Bytes(), err)
	}
}

// interopVerify is a request to verify.mjs. []byte marshals as base64.
type interopVerify struct {
	Cose      []byte `json:"cose_b64"`
	PublicKey []byte `json:"public_key_b64"`
}

// interopVerified is what verify.mjs found.
type interopVerified struct {
	Verified    bool           `json:"verified"`
	Error       string         `json:"error"`
	Alg         json.Number    `json:"alg"`
	ContentType string         `json:"content_type"`
	KeyID       []byte         `json:"kid_b64"`
	Claims      map[string]any `json:"claims"`
}

// header checks the protected header node read.
func (r interopVerified) header(t *testing.T, typ string, kid []byte) {
	t.Helper()
	if r.Alg != "-8" || r.ContentType != typ || !bytes.Equal(r.KeyID, kid) {
		t.Errorf("header: alg %s, content type %s, kid %x; want -8, %s, %x", r.Alg, r.ContentType, r.KeyID, typ, kid)
	}
}

// claim checks one claim node decoded, want being a byte string or an
// integer: node prints byte strings in base64, integers as JSON numbers.
func (r interopVerified) claim(t *testing.T, key string, want any) {
	t.Helper()
	var w string
	switch v := want.(type) {
	case []byte:
		w = base64.StdEncoding.EncodeToString(v)
	default:
		w = fmt.Sprintf("%d", v) // %d, not %v: Amount prints as yuan
	}
	got, ok := r.Claims[key]
	if !ok {
		t.Errorf("claim %s: missing; want %s", key, w)
		return
	}
	if g := fmt.Sprint(got); g != w {
		t.Errorf("claim %s: got %s; want %s", key, g, w)
	}
}

// interopSign is a request to sign.mjs.
type interopSign struct {
	Payload     []byte `json:"payload_b64"`
	Seed        []byte `json:"seed_b64"`
	PublicKey   []byte `json:"public_key_b64"`
	ContentType string `json:"content_type"`
	KeyID       []byte `json:"kid_b64"`
}

// interopSigned is what sign.mjs made.
type interopSigned struct {
	Cose []byte `json:"cose_b64"`
}

func interopSignRequest(t *testing.T, claims any, key ed25519.PrivateKey, typ string, kid []byte) interopSign {
	t.Helper()
	payload, err := encMode.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return interopSign{Payload: payload, Seed: key.Seed(), PublicKey: key.Public().(ed25519.PublicKey), ContentType: typ, KeyID: kid}
}

func newEd25519(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}
