package contract

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"unicode/utf8"

	tongbao "github.com/tongbao/tongbao"
)

// Limits of a signed event.
const (
	EventMax        = 16 << 10 // bytes of the compact JWS
	EventIDMax      = 128      // characters of an event's id
	EventDataMax    = 32       // members of an event's data
	EventMediaType  = "tongbao-event+jwt"
	eventAlgorithm  = "EdDSA"
	eventPartsCount = 3
)

// Event is what a signer party posts to a contract: a JWS (RFC 7515,
// compact serialisation) signed with the party's Ed25519 key (RFC 8037,
// alg EdDSA), the party's id as kid, over this payload.
type Event struct {
	// ID is the signer's id of the event: accepted once per signer; 1 to
	// EventIDMax visible ASCII characters.
	ID string `json:"id"`
	// Type is the event's type, a name the contract's triggers name.
	Type     string     `json:"type"`
	Contract tongbao.ID `json:"contract"`
	// Data is what the expressions read as event.data: at most
	// EventDataMax members of JSON values, numbers only integers (int64,
	// so CEL sees int).
	Data     map[string]any `json:"data,omitempty"`
	IssuedAt int64          `json:"iat"`
}

// SignedEvent is an event whose signature verified.
type SignedEvent struct {
	Event
	Signer tongbao.ID
	// Raw is the compact JWS as posted.
	Raw string
}

// eventHeader is the JWS protected header tongbao writes; Parse accepts
// these members and no others, so no header can name its own key (jwk,
// jku) or an extension (crit) the verifier would ignore.
type eventHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// eventEncoding is base64url without padding (RFC 7515 section 2),
// strict so that one event has one encoding.
var eventEncoding = base64.RawURLEncoding.Strict()

// ParseEvent decodes a compact JWS event without verifying it: the
// signer's id (kid) to look its key up by, and a verify function that
// checks the signature with the signer's key. ParseEvent returns
// ErrEvent for anything but a well-formed event (three base64url parts,
// a header of alg EdDSA and a kid, a payload of strict JSON within the
// limits); verify returns ErrSignature when the signature does not
// verify with that key.
func ParseEvent(jws []byte) (tongbao.ID, func(ed25519.PublicKey) (SignedEvent, error), error) {
	jws = bytes.TrimSpace(jws)
	if len(jws) > EventMax {
		return tongbao.ID{}, nil, docError(ErrEvent, "event is longer than %d bytes", EventMax)
	}
	// The base64 decoder skips newlines: refuse every byte outside the
	// alphabet first, so one event has one text.
	for _, c := range jws {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return tongbao.ID{}, nil, docError(ErrEvent, "event is not a compact JWS: byte %q outside base64url", c)
		}
	}
	parts := bytes.Split(jws, []byte("."))
	if len(parts) != eventPartsCount {
		return tongbao.ID{}, nil, docError(ErrEvent, "event is not a compact JWS: %d parts, not 3", len(parts))
	}
	header, err := decodePart(parts[0], "header")
	if err != nil {
		return tongbao.ID{}, nil, err
	}
	signer, err := parseEventHeader(header)
	if err != nil {
		return tongbao.ID{}, nil, err
	}
	payload, err := decodePart(parts[1], "payload")
	if err != nil {
		return tongbao.ID{}, nil, err
	}
	ev, err := parseEventPayload(payload)
	if err != nil {
		return tongbao.ID{}, nil, err
	}
	signature, err := decodePart(parts[2], "signature")
	if err != nil {
		return tongbao.ID{}, nil, err
	}
	signed := jws[:len(parts[0])+1+len(parts[1])]
	raw := string(jws)
	verify := func(key ed25519.PublicKey) (SignedEvent, error) {
		if len(key) != ed25519.PublicKeySize {
			return SignedEvent{}, docError(ErrSignature, "the signer's key is not an Ed25519 public key")
		}
		if len(signature) != ed25519.SignatureSize {
			return SignedEvent{}, docError(ErrSignature, "signature is %d bytes, not %d", len(signature), ed25519.SignatureSize)
		}
		if !ed25519.Verify(key, signed, signature) {
			return SignedEvent{}, docError(ErrSignature, "signature does not verify with the key of %s", signer)
		}
		return SignedEvent{Event: ev, Signer: signer, Raw: raw}, nil
	}
	return signer, verify, nil
}

func decodePart(part []byte, what string) ([]byte, error) {
	b, err := eventEncoding.DecodeString(string(part))
	if err != nil {
		return nil, docError(ErrEvent, "event %s is not base64url without padding", what)
	}
	return b, nil
}

// strictObject decodes a JSON object of UTF-8 text, no member twice,
// into its members by their exact names (encoding/json would match
// names regardless of case).
func strictObject(b []byte, what string) (map[string]json.RawMessage, error) {
	if !utf8.Valid(b) {
		return nil, docError(ErrEvent, "event %s is not UTF-8", what)
	}
	if err := checkDuplicates(b); err != nil {
		return nil, docError(ErrEvent, "event %s: %s", what, errorMessage(err))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return nil, docError(ErrEvent, "event %s is not a JSON object", what)
	}
	return m, nil
}

// errorMessage returns an error's own message, without its problem's title.
func errorMessage(err error) string {
	var e *tongbao.Error
	if errors.As(err, &e) && e.Message != "" {
		return e.Message
	}
	return err.Error()
}

func parseEventHeader(b []byte) (tongbao.ID, error) {
	m, err := strictObject(b, "header")
	if err != nil {
		return tongbao.ID{}, err
	}
	var h eventHeader
	for k, v := range m {
		var dst *string
		switch k {
		case "alg":
			dst = &h.Alg
		case "kid":
			dst = &h.Kid
		case "typ":
			dst = &h.Typ
		case "crit":
			return tongbao.ID{}, docError(ErrEvent, "event header: crit names extensions tongbao does not know")
		default:
			return tongbao.ID{}, docError(ErrEvent, "event header: unknown member %q", k)
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return tongbao.ID{}, docError(ErrEvent, "event header: %s is not a string", k)
		}
	}
	if h.Alg != eventAlgorithm {
		return tongbao.ID{}, docError(ErrEvent, "event header: alg %q, not %s", h.Alg, eventAlgorithm)
	}
	if _, ok := m["typ"]; ok && h.Typ != EventMediaType {
		return tongbao.ID{}, docError(ErrEvent, "event header: typ %q, not %s", h.Typ, EventMediaType)
	}
	if h.Kid == "" {
		return tongbao.ID{}, docError(ErrEvent, "event header: kid (the signer's id) is missing")
	}
	id, err := tongbao.ParseID(h.Kid)
	if err != nil {
		return tongbao.ID{}, docError(ErrEvent, "event header: kid: %s", errorMessage(err))
	}
	return id, nil
}

func parseEventPayload(b []byte) (Event, error) {
	m, err := strictObject(b, "payload")
	if err != nil {
		return Event{}, err
	}
	var ev Event
	for k, v := range m {
		var dst any
		switch k {
		case "id":
			dst = &ev.ID
		case "type":
			dst = &ev.Type
		case "contract":
			dst = &ev.Contract
		case "iat":
			dst = &ev.IssuedAt
		case "data":
			data, err := eventData(v)
			if err != nil {
				return Event{}, err
			}
			ev.Data = data
			continue
		default:
			return Event{}, docError(ErrEvent, "event: unknown member %q", k)
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return Event{}, docError(ErrEvent, "event: %s: %s", k, errorMessage(err))
		}
	}
	if err := ev.check(); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// eventData decodes an event's data with every number an int64.
func eventData(raw json.RawMessage) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, docError(ErrEvent, "event data: %v", err)
	}
	if v == nil {
		return nil, nil
	}
	data, ok := v.(map[string]any)
	if !ok {
		return nil, docError(ErrEvent, "event data is not an object")
	}
	if len(data) > EventDataMax {
		return nil, docError(ErrEvent, "event data has more than %d members", EventDataMax)
	}
	if len(data) == 0 {
		// No data and empty data are one event: SignEvent omits both.
		return nil, nil
	}
	out, err := integers(data)
	if err != nil {
		return nil, err
	}
	return out.(map[string]any), nil
}

// integers replaces the json.Numbers in v by int64s, refusing any that
// is not an integer of 64 bits: the expressions count fen in int.
func integers(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		if err != nil {
			return nil, docError(ErrEvent, "event data: %s is not an integer of 64 bits; write amounts in fen or as strings", x)
		}
		return n, nil
	case map[string]any:
		for k, e := range x {
			n, err := integers(e)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
	case []any:
		for i, e := range x {
			n, err := integers(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
	}
	return v, nil
}

// check applies the rules of an event's payload.
func (ev Event) check() error {
	if len(ev.ID) < 1 || len(ev.ID) > EventIDMax {
		return docError(ErrEvent, "event id must be 1 to %d characters", EventIDMax)
	}
	for _, c := range []byte(ev.ID) {
		if c <= ' ' || c > '~' {
			return docError(ErrEvent, "event id %q: visible ASCII characters only", ev.ID)
		}
	}
	if !nameRE.MatchString(ev.Type) {
		return docError(ErrEvent, "event type %q: lowercase letters, digits and _", ev.Type)
	}
	if ev.Contract.IsZero() {
		return docError(ErrEvent, "event names no contract")
	}
	if len(ev.Data) > EventDataMax {
		return docError(ErrEvent, "event data has more than %d members", EventDataMax)
	}
	return nil
}

// SignEvent signs an event as signer: the compact JWS ParseEvent reads.
// It returns ErrEvent for an event ParseEvent would refuse (data numbers
// that are not integers among them).
func SignEvent(key ed25519.PrivateKey, signer tongbao.ID, ev Event) ([]byte, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, docError(ErrSignature, "the key is not an Ed25519 private key")
	}
	header, err := json.Marshal(eventHeader{Alg: eventAlgorithm, Kid: signer.String(), Typ: EventMediaType})
	if err != nil {
		return nil, docError(ErrEvent, "%v", err)
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, docError(ErrEvent, "event: %v", err)
	}
	var out []byte
	out = eventEncoding.AppendEncode(out, header)
	out = append(out, '.')
	out = eventEncoding.AppendEncode(out, payload)
	signature := ed25519.Sign(key, out)
	out = append(out, '.')
	out = eventEncoding.AppendEncode(out, signature)
	// What is signed must parse: the same rules on both sides.
	if _, _, err := ParseEvent(out); err != nil {
		return nil, err
	}
	return out, nil
}
