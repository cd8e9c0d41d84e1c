package contract

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	tongbao "github.com/tongbao/tongbao"
)

// testKey returns a key made from seed, so every run signs alike.
func testKey(seed uint64) ed25519.PrivateKey {
	r := rand.New(rand.NewPCG(seed, seed))
	var s [ed25519.SeedSize]byte
	for i := range s {
		s[i] = byte(r.Uint32())
	}
	return ed25519.NewKeyFromSeed(s[:])
}

var (
	testSigner   = tongbao.IDFromUint64(7)
	testContract = tongbao.IDFromUint64(42)
)

func testEvent() Event {
	return Event{ID: "delivery-0001", Type: "delivered", Contract: testContract, IssuedAt: 1767225600,
		Data: map[string]any{"amount": int64(1200), "to": "shop", "ok": true, "items": []any{"a", int64(2)}, "nested": map[string]any{"n": int64(-3)}}}
}

func TestEventRoundTrip(t *testing.T) {
	key := testKey(1)
	jws, err := SignEvent(key, testSigner, testEvent())
	if err != nil {
		t.Fatal(err)
	}
	kid, verify, err := ParseEvent(jws)
	if err != nil {
		t.Fatalf("ParseEvent: %v", err)
	}
	if kid != testSigner {
		t.Fatalf("got kid %s; want %s", kid, testSigner)
	}
	ev, err := verify(key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !reflect.DeepEqual(ev.Event, testEvent()) || ev.Signer != testSigner || ev.Raw != string(jws) {
		t.Fatalf("got %+v; want %+v signed by %s", ev, testEvent(), testSigner)
	}
	// CEL counts fen in int: an integer of the data is an int64.
	if _, ok := ev.Data["amount"].(int64); !ok {
		t.Fatalf("got amount %T; want int64", ev.Data["amount"])
	}
}

// jwsOf builds a compact JWS of header and payload, signed by key.
func jwsOf(key ed25519.PrivateKey, header, payload string) []byte {
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	return []byte(in + "." + enc.EncodeToString(ed25519.Sign(key, []byte(in))))
}

func TestEventRefused(t *testing.T) {
	key, other := testKey(1), testKey(2)
	good, err := SignEvent(key, testSigner, testEvent())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(good), ".")
	enc := base64.RawURLEncoding
	header := `{"alg":"EdDSA","kid":"` + testSigner.String() + `","typ":"tongbao-event+jwt"}`
	payload := `{"id":"e1","type":"delivered","contract":"` + testContract.String() + `","iat":1}`
	withHeader := func(h string) []byte { return jwsOf(key, h, payload) }
	withPayload := func(p string) []byte { return jwsOf(key, header, p) }
	for _, tc := range []struct {
		name string
		jws  []byte
		key  ed25519.PrivateKey
		want error
	}{
		{"tampered payload", []byte(parts[0] + "." + enc.EncodeToString([]byte(strings.Replace(payload, "e1", "e2", 1))) + "." + parts[2]), key, ErrSignature},
		{"tampered header", []byte(enc.EncodeToString([]byte(`{"alg":"EdDSA","kid":"`+testSigner.String()+`"}`)) + "." + parts[1] + "." + parts[2]), key, ErrSignature},
		{"wrong key", good, other, ErrSignature},
		{"short signature", []byte(parts[0] + "." + parts[1] + "." + enc.EncodeToString([]byte("short"))), key, ErrSignature},
		{"empty signature", []byte(parts[0] + "." + parts[1] + "."), key, ErrSignature},
		{"alg none", withHeader(`{"alg":"none","kid":"` + testSigner.String() + `"}`), key, ErrEvent},
		{"alg HS256", withHeader(`{"alg":"HS256","kid":"` + testSigner.String() + `"}`), key, ErrEvent},
		{"missing kid", withHeader(`{"alg":"EdDSA"}`), key, ErrEvent},
		{"kid not an id", withHeader(`{"alg":"EdDSA","kid":"carrier"}`), key, ErrEvent},
		{"crit", withHeader(`{"alg":"EdDSA","kid":"` + testSigner.String() + `","crit":["b64"],"b64":false}`), key, ErrEvent},
		{"header names its key", withHeader(`{"alg":"EdDSA","kid":"` + testSigner.String() + `","jwk":{}}`), key, ErrEvent},
		{"other typ", withHeader(`{"alg":"EdDSA","kid":"` + testSigner.String() + `","typ":"JWT"}`), key, ErrEvent},
		{"alg twice", withHeader(`{"alg":"EdDSA","alg":"none","kid":"` + testSigner.String() + `"}`), key, ErrEvent},
		{"extra dots", append(append([]byte{}, good...), ".x"...), key, ErrEvent},
		{"two parts", []byte(parts[0] + "." + parts[1]), key, ErrEvent},
		{"padding", []byte(parts[0] + "=." + parts[1] + "." + parts[2]), key, ErrEvent},
		{"newline inside", []byte(parts[0] + "\n." + parts[1] + "." + parts[2]), key, ErrEvent},
		{"too long", bytes.Repeat([]byte("a"), EventMax+1), key, ErrEvent},
		{"payload not json", withPayload(`{"id":`), key, ErrEvent},
		{"payload member twice", withPayload(`{"id":"e1","id":"e2","type":"delivered","contract":"` + testContract.String() + `"}`), key, ErrEvent},
		{"payload member in another case", withPayload(`{"ID":"e1","type":"delivered","contract":"` + testContract.String() + `"}`), key, ErrEvent},
		{"payload unknown member", withPayload(`{"id":"e1","type":"delivered","contract":"` + testContract.String() + `","exp":1}`), key, ErrEvent},
		{"payload not utf-8", withPayload("{\"id\":\"e\xff\",\"type\":\"delivered\",\"contract\":\"" + testContract.String() + "\"}"), key, ErrEvent},
		{"no id", withPayload(`{"type":"delivered","contract":"` + testContract.String() + `"}`), key, ErrEvent},
		{"id with a space", withPayload(`{"id":"e 1","type":"delivered","contract":"` + testContract.String() + `"}`), key, ErrEvent},
		{"id too long", withPayload(`{"id":"` + strings.Repeat("e", EventIDMax+1) + `","type":"delivered","contract":"` + testContract.String() + `"}`), key, ErrEvent},
		{"bad type", withPayload(`{"id":"e1","type":"Delivered","contract":"` + testContract.String() + `"}`), key, ErrEvent},
		{"no contract", withPayload(`{"id":"e1","type":"delivered"}`), key, ErrEvent},
		{"data not an object", withPayload(`{"id":"e1","type":"delivered","contract":"` + testContract.String() + `","data":[1]}`), key, ErrEvent},
		{"data float", withPayload(`{"id":"e1","type":"delivered","contract":"` + testContract.String() + `","data":{"amount":1.5}}`), key, ErrEvent},
		{"data nested float", withPayload(`{"id":"e1","type":"delivered","contract":"` + testContract.String() + `","data":{"a":[{"b":1e3}]}}`), key, ErrEvent},
		{"data integer beyond 64 bits", withPayload(`{"id":"e1","type":"delivered","contract":"` + testContract.String() + `","data":{"amount":9223372036854775808}}`), key, ErrEvent},
		{"data of 33 members", withPayload(`{"id":"e1","type":"delivered","contract":"` + testContract.String() + `","data":{` + manyMembers(33) + `}}`), key, ErrEvent},
		{"iat not an integer", withPayload(`{"id":"e1","type":"delivered","contract":"` + testContract.String() + `","iat":1.5}`), key, ErrEvent},
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
	// The limits themselves are accepted.
	if _, _, err := ParseEvent(withPayload(`{"id":"` + strings.Repeat("e", EventIDMax) + `","type":"delivered","contract":"` + testContract.String() + `","data":{` + manyMembers(EventDataMax) + `}}`)); err != nil {
		t.Fatalf("an event at the limits: %v", err)
	}
}

func manyMembers(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"k` + strings.Repeat("x", i) + `":1`)
	}
	return b.String()
}

func TestSignEventRefusesWhatParseRefuses(t *testing.T) {
	ev := testEvent()
	ev.Data = map[string]any{"amount": 1.5}
	if _, err := SignEvent(testKey(1), testSigner, ev); !errors.Is(err, ErrEvent) {
		t.Fatalf("got %v; want ErrEvent", err)
	}
	ev = testEvent()
	ev.Type = ""
	if _, err := SignEvent(testKey(1), testSigner, ev); !errors.Is(err, ErrEvent) {
		t.Fatalf("got %v; want ErrEvent", err)
	}
	// A float with an integer value (a decoder without UseNumber) is an integer.
	ev = testEvent()
	ev.Data = map[string]any{"amount": float64(1200)}
	jws, err := SignEvent(testKey(1), testSigner, ev)
	if err != nil {
		t.Fatal(err)
	}
	_, verify, _ := ParseEvent(jws)
	got, err := verify(testKey(1).Public().(ed25519.PublicKey))
	if err != nil || got.Data["amount"] != int64(1200) {
		t.Fatalf("got %v (%T), %v; want int64 1200", got.Data["amount"], got.Data["amount"], err)
	}
}

func TestVerifyRefusesABadKey(t *testing.T) {
	jws, err := SignEvent(testKey(1), testSigner, testEvent())
	if err != nil {
		t.Fatal(err)
	}
	_, verify, err := ParseEvent(jws)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify(ed25519.PublicKey{1, 2, 3}); !errors.Is(err, ErrSignature) {
		t.Fatalf("got %v; want ErrSignature", err)
	}
}
