package offline

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	tongbao "github.com/tongbao/tongbao"
)

// The signed objects of the protocol. Each is a COSE_Sign1 (RFC 9052,
// tag 18) over a CBOR map with small integer keys (RFC 8949), signed
// with Ed25519 (EdDSA, alg -8). The protected header names the signer
// (kid) and the object's content type, so one kind of object is never
// taken for another: a voucher signed by an operator is not a
// certificate, even if its claims happened to decode as one.
//
// Every object must arrive in the deterministic encoding of RFC 8949
// §4.2.1 (definite lengths, shortest forms, map keys sorted): a decoder
// re-encodes what it read and refuses any difference. So one signed
// statement has exactly one byte string, and its SHA-256 (Hash) is its
// identity: a token re-encoded to slip past the "accepted once" rule is
// refused, not counted twice.

// Content types of the signed objects.
const (
	TypeCertificate = "application/tongbao-device-cert+cbor"
	TypeToken       = "application/tongbao-offline-token+cbor"
	TypeVoucher     = "application/tongbao-load-voucher+cbor"
	TypeAck         = "application/tongbao-sync-ack+cbor"
	TypeRevocations = "application/tongbao-revocations+cbor"
)

// Size bounds: a QR code holds about 2.9 KB of binary, and nothing the
// protocol signs needs more than a few hundred bytes, except a
// revocation list.
const (
	TokenSizeMax       = 1024
	CertificateSizeMax = 512
	RevokedMax         = 100_000
	kidSizeMax         = 32
)

// Errors of decoding and verifying signed objects.
var (
	ErrMalformed      = tongbao.Sentinel(tongbao.EINVALID, "offline-malformed", "not a well-formed signed object")
	ErrNotCanonical   = tongbao.Sentinel(tongbao.EINVALID, "offline-not-canonical", "the object is not in deterministic CBOR: it was re-encoded")
	ErrWrongType      = tongbao.Sentinel(tongbao.EINVALID, "offline-malformed", "the object is of another kind")
	ErrUnknownKey     = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-unknown-key", "signed by a key that is not pinned")
	ErrBadSignature   = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-bad-signature", "the signature does not verify")
	ErrTooLarge       = tongbao.Sentinel(tongbao.EINVALID, "offline-malformed", "the object is larger than the protocol allows")
	errClaimsInvalid  = tongbao.Sentinel(tongbao.EINVALID, "offline-malformed", "the object's claims are incomplete or out of range")
	errUnknownContent = tongbao.Sentinel(tongbao.EINVALID, "offline-malformed", "the object has no content type")
)

// Hash is the SHA-256 of a signed object's bytes: its identity.
type Hash [32]byte

// HashOf returns the hash of a signed object.
func HashOf(raw []byte) Hash { return sha256.Sum256(raw) }

// String returns the hash in hex.
func (h Hash) String() string { return fmt.Sprintf("%x", h[:]) }

// IsZero reports whether h is the zero hash.
func (h Hash) IsZero() bool { return h == Hash{} }

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
	if decMode, err = (cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxNestedLevels:   8,
		MaxArrayElements:  RevokedMax,
		MaxMapPairs:       64,
		UTF8:              cbor.UTF8RejectInvalid,
	}).DecMode(); err != nil {
		panic(err)
	}
}

// decodeClaims decodes a payload into v and refuses one not in
// deterministic encoding.
func decodeClaims(payload []byte, v any) error {
	if err := decMode.Unmarshal(payload, v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	again, err := encMode.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !bytes.Equal(again, payload) {
		return ErrNotCanonical
	}
	return nil
}

// sign returns a tagged COSE_Sign1 of claims, of content type typ, signed
// by key under kid.
func sign(typ string, kid []byte, key ed25519.PrivateKey, claims any) ([]byte, error) {
	payload, err := encMode.Marshal(claims)
	if err != nil {
		return nil, err
	}
	signer, err := cose.NewSigner(cose.AlgorithmEdDSA, key)
	if err != nil {
		return nil, err
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(cose.AlgorithmEdDSA)
	msg.Headers.Protected[cose.HeaderLabelContentType] = typ
	msg.Headers.Protected[cose.HeaderLabelKeyID] = kid
	msg.Payload = payload
	if err := msg.Sign(rand.Reader, nil, signer); err != nil {
		return nil, err
	}
	return msg.MarshalCBOR()
}

// envelope is a COSE_Sign1 parsed but not yet verified.
type envelope struct {
	msg *cose.Sign1Message
	kid []byte
	raw []byte
}

// open parses a COSE_Sign1 of content type typ, at most sizeMax bytes,
// and refuses one not in deterministic encoding; it does not verify the
// signature.
func open(raw []byte, typ string, sizeMax int) (envelope, error) {
	if len(raw) > sizeMax {
		return envelope{}, ErrTooLarge
	}
	msg := cose.NewSign1Message()
	if err := msg.UnmarshalCBOR(raw); err != nil {
		return envelope{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	// go-cose keeps the protected header's bytes as they came, so the
	// envelope re-encodes to the same bytes only if its own structure was
	// deterministic.
	again, err := msg.MarshalCBOR()
	if err != nil {
		return envelope{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !bytes.Equal(again, raw) {
		return envelope{}, ErrNotCanonical
	}
	if err := canonicalHeader(msg.Headers.RawProtected); err != nil {
		return envelope{}, err
	}
	if len(msg.Headers.Unprotected) != 0 {
		return envelope{}, fmt.Errorf("%w: unprotected headers are not used", ErrMalformed)
	}
	alg, err := msg.Headers.Protected.Algorithm()
	if err != nil || alg != cose.AlgorithmEdDSA {
		return envelope{}, fmt.Errorf("%w: the algorithm must be EdDSA", ErrMalformed)
	}
	ct, ok := msg.Headers.Protected[cose.HeaderLabelContentType].(string)
	if !ok {
		return envelope{}, errUnknownContent
	}
	if ct != typ {
		return envelope{}, fmt.Errorf("%w: %s, not %s", ErrWrongType, ct, typ)
	}
	kid, ok := msg.Headers.Protected[cose.HeaderLabelKeyID].([]byte)
	if !ok || len(kid) == 0 || len(kid) > kidSizeMax {
		return envelope{}, fmt.Errorf("%w: the key id is missing", ErrMalformed)
	}
	if msg.Payload == nil {
		return envelope{}, fmt.Errorf("%w: detached payloads are not used", ErrMalformed)
	}
	return envelope{msg: msg, kid: kid, raw: raw}, nil
}

// canonicalHeader refuses a protected header not in deterministic
// encoding: it is signed, so a re-encoded header breaks the signature
// anyway, but the answer is then the more precise one. raw is the header
// as it sits in the envelope: a byte string wrapping the encoded map.
func canonicalHeader(raw []byte) error {
	var encoded []byte
	if err := decMode.Unmarshal(raw, &encoded); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var m map[int]any
	if err := decMode.Unmarshal(encoded, &m); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	again, err := encMode.Marshal(m)
	if err != nil || !bytes.Equal(again, encoded) {
		return ErrNotCanonical
	}
	// The byte string's own length must be in its shortest form too.
	if wrapped, err := encMode.Marshal(again); err != nil || !bytes.Equal(wrapped, raw) {
		return ErrNotCanonical
	}
	return nil
}

// verify checks the envelope's signature with key.
func (e envelope) verify(key ed25519.PublicKey) error {
	if len(key) != ed25519.PublicKeySize {
		return ErrUnknownKey
	}
	v, err := cose.NewVerifier(cose.AlgorithmEdDSA, key)
	if err != nil {
		return err
	}
	if err := e.msg.Verify(nil, v); err != nil {
		return ErrBadSignature
	}
	return nil
}

// id converts a 16-byte claim to an ID.
func idOf(b []byte) (tongbao.ID, bool) {
	id, err := tongbao.IDFromBytes(b)
	return id, err == nil && !id.IsZero()
}
