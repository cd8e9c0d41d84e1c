package contract

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"reflect"
	"testing"
)

// FuzzDecodeDocument: Decode never panics, and a document it accepts
// decodes again from its canonical JSON to the same canonical JSON and
// hash (the hash pins one meaning).
func FuzzDecodeDocument(f *testing.F) {
	for _, s := range []string{baseDocument, minimalDocument, yamlDocument, `{}`, `[]`, `tongbao_contract: 1`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, canon, sum, err := Decode(data)
		if err != nil {
			return
		}
		_, canon2, sum2, err := Decode(canon)
		if err != nil {
			t.Fatalf("canonical JSON refused: %v\n%s", err, canon)
		}
		if sum2 != sum || !bytes.Equal(canon, canon2) {
			t.Fatalf("canonical JSON re-decodes to another hash:\n%s\n%s", canon, canon2)
		}
	})
}

// FuzzParseEvent: ParseEvent and verify never panic, on a JWS as given
// and on a header and payload the target signs itself (so the fuzzer
// reaches the payload's rules past the signature); an event that
// verifies, signed again with the same key, parses back to the same
// event.
func FuzzParseEvent(f *testing.F) {
	key := testKey(1)
	good, err := SignEvent(key, testSigner, testEvent())
	if err != nil {
		f.Fatal(err)
	}
	parts := bytes.Split(good, []byte("."))
	header, _ := base64.RawURLEncoding.DecodeString(string(parts[0]))
	payload, _ := base64.RawURLEncoding.DecodeString(string(parts[1]))
	f.Add(good, header, payload)
	f.Add([]byte("a.b.c"), []byte(`{"alg":"none"}`), []byte(`{"id":"e","type":"t","contract":"00000000000000000000000000000001","data":{"x":1.5}}`))
	f.Add([]byte(".."), []byte(`{"alg":"EdDSA","kid":"00000000000000000000000000000007","crit":[]}`), []byte(`{"id":"e","type":"t","contract":"00000000000000000000000000000001","iat":-1,"data":null}`))
	pub := key.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, raw, header, payload []byte) {
		check := func(jws []byte) {
			kid, verify, err := ParseEvent(jws)
			if err != nil {
				return
			}
			ev, err := verify(pub)
			if err != nil {
				return
			}
			again, err := SignEvent(key, kid, ev.Event)
			if err != nil {
				t.Fatalf("a verified event cannot be signed again: %v", err)
			}
			kid2, verify2, err := ParseEvent(again)
			if err != nil {
				t.Fatalf("re-signed event refused: %v", err)
			}
			ev2, err := verify2(pub)
			if err != nil || kid2 != kid || !reflect.DeepEqual(ev2.Event, ev.Event) {
				t.Fatalf("re-signed event %+v (%v); want %+v", ev2.Event, err, ev.Event)
			}
		}
		check(raw)
		check(jwsOf(key, string(header), string(payload)))
	})
}
