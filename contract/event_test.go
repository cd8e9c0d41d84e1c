package contract

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	tongbao "github.com/tongbao/tongbao"
)

// testKey is a fixed key, so the tests and the fuzz corpus are repeatable.
func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func sampleEvent() Event {
	return Event{ID: "delivery-1", Type: "delivered", Contract: tongbao.IDFromUint64(9), Data: map[string]any{"waybill": "SF123", "pieces": int64(2)}, IssuedAt: 1_800_000_000}
}

func TestEventRoundTrip(t *testing.T) {
	key, signer := testKey(1), tongbao.IDFromUint64(7)
	jws, err := SignEvent(key, signer, sampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	kid, verify, err := ParseEvent(jws)
	if err != nil {
		t.Fatal(err)
	}
	if kid != signer {
		t.Fatalf("kid %s; want %s", kid, signer)
	}
	ev, err := verify(key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ev.Event, sampleEvent()) {
		t.Fatalf("got %+v; want %+v", ev.Event, sampleEvent())
	}
}

func TestEventRefusals(t *testing.T) {
	key, signer := testKey(1), tongbao.IDFromUint64(7)
	jws, err := SignEvent(key, signer, sampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	parts := bytes.Split(jws, []byte("."))
	enc := base64.RawURLEncoding.EncodeToString
	join := func(p ...[]byte) []byte { return bytes.Join(p, []byte(".")) }
	header := func(h string) []byte { return []byte(enc([]byte(h))) }
	otherPayload := []byte(enc([]byte(`{"id":"delivery-1","type":"delivered","contract":"` + tongbao.IDFromUint64(9).String() + `","iat":1800000001}`)))
	for _, tc := range []struct {
		name string
		jws  []byte
		key  ed25519.PrivateKey
		want error
	}{
		{"a tampered payload", join(parts[0], otherPayload, parts[2]), key, ErrSignature},
		{"another key", jws, testKey(2), ErrSignature},
		{"alg none", join(header(`{"alg":"none","kid":"`+signer.String()+`"}`), parts[1], parts[2]), key, ErrEvent},
		{"alg HS256", join(header(`{"alg":"HS256","kid":"`+signer.String()+`"}`), parts[1], parts[2]), key, ErrEvent},
		{"no kid", join(header(`{"alg":"EdDSA"}`), parts[1], parts[2]), key, ErrEvent},
		{"an extra part", join(parts[0], parts[1], parts[2], parts[2]), key, ErrEvent},
		{"two parts", join(parts[0], parts[1]), key, ErrEvent},
		{"bad base64", join(parts[0], []byte("!!"), parts[2]), key, ErrEvent},
		{"a short signature", join(parts[0], parts[1], []byte(enc([]byte("short")))), key, ErrSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, verify, err := ParseEvent(tc.jws)
			if err == nil {
				_, err = verify(tc.key.Public().(ed25519.PublicKey))
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v; want %v", err, tc.want)
			}
		})
	}
	// A tampered header is refused whether it still parses or not.
	_, verify, err := ParseEvent(join(header(`{"alg":"EdDSA","kid":"`+tongbao.IDFromUint64(8).String()+`"}`), parts[1], parts[2]))
	if err == nil {
		_, err = verify(key.Public().(ed25519.PublicKey))
	}
	if !errors.Is(err, ErrSignature) && !errors.Is(err, ErrEvent) {
		t.Fatalf("a tampered header: %v; want ErrSignature or ErrEvent", err)
	}
}

// FuzzParseEvent checks that no input makes ParseEvent panic, and that an
// event it accepts and verifies, signed again with the same key, parses
// back to the same event.
func FuzzParseEvent(f *testing.F) {
	key := testKey(3)
	signer := tongbao.IDFromUint64(5)
	jws, err := SignEvent(key, signer, sampleEvent())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(jws)
	f.Add([]byte("a.b.c"))
	f.Add([]byte(""))
	rng := rand.New(rand.NewPCG(1, 2))
	for range 4 {
		b := bytes.Clone(jws)
		b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		_, verify, err := ParseEvent(in)
		if err != nil {
			return
		}
		ev, err := verify(key.Public().(ed25519.PublicKey))
		if err != nil {
			return
		}
		again, err := SignEvent(key, signer, ev.Event)
		if err != nil {
			t.Fatalf("an accepted event does not sign again: %v", err)
		}
		_, verify2, err := ParseEvent(again)
		if err != nil {
			t.Fatalf("a re-signed event does not parse: %v", err)
		}
		ev2, err := verify2(key.Public().(ed25519.PublicKey))
		if err != nil || !reflect.DeepEqual(ev2.Event, ev.Event) {
			t.Fatalf("round trip: %+v, %v; want %+v", ev2.Event, err, ev.Event)
		}
	})
}

// FuzzDecodeDocument checks that no input makes Decode panic, and that a
// document it accepts decodes again from its canonical JSON to the same
// hash.
func FuzzDecodeDocument(f *testing.F) {
	for _, tpl := range Templates() {
		doc, err := FromTemplate(tpl.Name, nil, sampleValues(tpl), "")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc)
	}
	f.Add([]byte(`{"tongbao_contract":1}`))
	f.Add([]byte("tongbao_contract: 1\nname: x\nparties: []\ntriggers: []\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		d, canon, hash, err := Decode(in)
		if err != nil {
			if tongbao.ErrorKind(err) == "" {
				t.Fatalf("an error without a problem type: %v", err)
			}
			return
		}
		_ = CheckExpressions(d)
		_, canon2, hash2, err := Decode(canon)
		if err != nil {
			t.Fatalf("the canonical form of an accepted document is refused: %v\n%s", err, canon)
		}
		if hash2 != hash || !bytes.Equal(canon, canon2) {
			t.Fatalf("hash %s then %s", hash, hash2)
		}
	})
}
