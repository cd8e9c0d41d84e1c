package offline

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// fixture signs a certificate and a token with fixed keys, for seeds.
func fixture(tb testing.TB) (op OperatorKey, cert Certificate, token []byte) {
	tb.Helper()
	opPriv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	devPriv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	opPub := opPriv.Public().(ed25519.PublicKey)
	op = OperatorKey{Operator: tongbao.IDFromUint64(2), ID: KeyID(opPub), Public: opPub, Private: opPriv}
	at := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	raw, err := signCertificate(Certificate{Device: tongbao.IDFromUint64(7), Wallet: tongbao.IDFromUint64(8), Operator: op.Operator,
		Key: devPriv.Public().(ed25519.PublicKey), Caps: DefaultCaps, IssuedAt: at, Expires: at.Add(DefaultCertValidity)}, op)
	if err != nil {
		tb.Fatal(err)
	}
	if cert, err = ParseCertificate(raw); err != nil {
		tb.Fatal(err)
	}
	token, err = signToken(Token{Cert: cert, Payee: tongbao.IDFromUint64(9), Amount: 8800, Counter: 2, Prev: HashOf([]byte("first")), Synced: 1, DeviceTime: at}, devPriv)
	if err != nil {
		tb.Fatal(err)
	}
	return op, cert, token
}

// FuzzParseToken: no input panics the decoder; an input it takes is in
// deterministic encoding (its one byte string, whose hash is its
// identity), and one that verifies is the fixture's own token: no other
// bytes carry its signature.
func FuzzParseToken(f *testing.F) {
	op, cert, token := fixture(f)
	f.Add(token)
	f.Add(cert.Raw)
	f.Add([]byte(EncodeQR(token)[:10]))
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	trust := Trust{}
	trust.Pin(op)
	f.Fuzz(func(t *testing.T, raw []byte) {
		tok, err := ParseToken(raw)
		if err != nil {
			return
		}
		if tok.Hash != HashOf(raw) || tok.Counter == 0 || tok.Amount <= 0 {
			t.Fatalf("accepted a token with hash %v, counter %d, amount %v", tok.Hash, tok.Counter, tok.Amount)
		}
		if trust.VerifyToken(tok) == nil && !bytes.Equal(raw, token) {
			t.Fatalf("another byte string verifies as the fixture's token: %x", raw)
		}
	})
}

// FuzzParseCertificate: as FuzzParseToken, for certificates.
func FuzzParseCertificate(f *testing.F) {
	op, cert, token := fixture(f)
	f.Add(cert.Raw)
	f.Add(token)
	trust := Trust{}
	trust.Pin(op)
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := ParseCertificate(raw)
		if err != nil {
			return
		}
		if !c.Caps.Valid() || !c.Expires.After(c.IssuedAt) || len(c.Key) != ed25519.PublicKeySize {
			t.Fatalf("accepted a certificate with caps %+v, %v–%v", c.Caps, c.IssuedAt, c.Expires)
		}
		if trust.VerifyCertificate(c) == nil && !bytes.Equal(raw, cert.Raw) {
			t.Fatalf("another byte string verifies as the fixture's certificate: %x", raw)
		}
	})
}

// FuzzDecodeQR: base45 decoding never panics, and what decodes encodes
// back to the same text.
func FuzzDecodeQR(f *testing.F) {
	_, _, token := fixture(f)
	f.Add(EncodeQR(token))
	f.Add("TB1:%69 VD92EX0")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeQR(s)
		if err != nil {
			return
		}
		if got := EncodeQR(b); got != s {
			t.Fatalf("decode then encode: got %q; want %q", got, s)
		}
	})
}

// TestReencodedRefused: the same claims in another CBOR encoding (a
// longer integer form) are refused as not canonical, so a re-encoded
// token is never counted as a second one.
func TestReencodedRefused(t *testing.T) {
	_, _, token := fixture(t)
	env, err := open(token, TypeToken, TokenSizeMax)
	if err != nil {
		t.Fatal(err)
	}
	// The envelope's array header 0x84 as 0x98 0x04: the same array, a
	// longer length form.
	long := append([]byte{token[0], 0x98, 0x04}, token[2:]...)
	if _, err := ParseToken(long); err == nil {
		t.Fatal("a re-encoded envelope was accepted")
	}
	// A truncated token.
	if _, err := ParseToken(token[:len(token)-1]); err == nil {
		t.Fatal("a truncated token was accepted")
	}
	_ = env
}
