package offline

import (
	"crypto/ed25519"
	"slices"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// SignWith signs t with el's key, past every check el makes itself: what
// a device whose secure element was broken open could sign.
func SignWith(el *Element, t Token) ([]byte, error) { return signToken(t, el.key) }

// SignWithKey signs t with key, whatever its certificate says.
func SignWithKey(key ed25519.PrivateKey, t Token) ([]byte, error) { return signToken(t, key) }

// CertOf returns the certificate el holds.
func CertOf(el *Element) Certificate { return *el.cert }

// Reencode returns a signed object with its payload's map keys in
// descending order: the same claims and signature, other bytes.
func Reencode(raw []byte) []byte {
	msg := cose.NewSign1Message()
	if err := msg.UnmarshalCBOR(raw); err != nil {
		panic(err)
	}
	var m map[int]cbor.RawMessage
	if err := cbor.Unmarshal(msg.Payload, &m); err != nil {
		panic(err)
	}
	keys := slices.Sorted(func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
	slices.Reverse(keys)
	payload := []byte{0xa0 | byte(len(keys))}
	for _, k := range keys {
		enc, _ := cbor.Marshal(k)
		payload = append(append(payload, enc...), m[k]...)
	}
	msg.Payload = payload
	out, err := msg.MarshalCBOR()
	if err != nil {
		panic(err)
	}
	return out
}

// SetSeenMax sets how many payers devices remember, until the test ends.
func SetSeenMax(tb interface{ Cleanup(func()) }, n int) {
	old := seenMax
	seenMax = n
	tb.Cleanup(func() { seenMax = old })
}

// SeenCount returns how many payers el remembers.
func SeenCount(el *Element) int { return len(el.st.Seen) }
