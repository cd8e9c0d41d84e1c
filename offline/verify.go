package offline

import (
	"crypto/ed25519"
	"crypto/sha256"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// Errors of the checks a payee's device and the ledger make on a token.
var (
	ErrCertExpired = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-certificate-expired", "the payer device's certificate has expired")
	ErrCertNotYet  = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-certificate-expired", "the payer device's certificate is not valid yet")
	ErrRevoked     = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-device-revoked", "the payer device is revoked")
	ErrOverCap     = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-cap-exceeded", "the token is over the payer device's per-payment cap")
	ErrCountCap    = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-count-cap", "the payer device has made its most payments since it last reconnected: it must sync first")
	ErrWrongPayee  = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-wrong-payee", "the token pays another device")
	ErrReplayed    = tongbao.Sentinel(tongbao.ECONFLICT, "offline-token-replayed", "this token was received already")
	ErrRolledBack  = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-counter-rolled-back", "the payer device's counter went back: its state was restored from an old copy")
	ErrChainBroken = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-chain-broken", "the token does not follow the payer device's previous token")
	ErrKeyOperator = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-unknown-key", "the certificate's operator is not the key's")
)

// KeyID returns the key id of an operator's public key: the first eight
// bytes of its SHA-256.
func KeyID(pub ed25519.PublicKey) []byte {
	h := sha256.Sum256(pub)
	return h[:8]
}

// OperatorKey is an operator's signing key for the offline protocol.
// Private is nil where only the public half is known (on a device).
type OperatorKey struct {
	Operator  tongbao.ID
	ID        []byte
	Public    ed25519.PublicKey
	Private   ed25519.PrivateKey
	CreatedAt time.Time
}

// Trust is the set of operator keys a verifier pins: a device holds the
// ones it fetched when it was last online, the ledger all of them.
type Trust map[string]OperatorKey

// Pin adds keys (their public halves) to the set.
func (t Trust) Pin(keys ...OperatorKey) {
	for _, k := range keys {
		t[string(k.ID)] = OperatorKey{Operator: k.Operator, ID: k.ID, Public: k.Public, CreatedAt: k.CreatedAt}
	}
}

// key returns the pinned key kid of operator.
func (t Trust) key(kid []byte, operator tongbao.ID) (OperatorKey, error) {
	k, ok := t[string(kid)]
	if !ok {
		return OperatorKey{}, ErrUnknownKey
	}
	if k.Operator != operator {
		return OperatorKey{}, ErrKeyOperator
	}
	return k, nil
}

// VerifyCertificate checks a certificate's signature by a pinned key of
// its operator. Its validity in time is the caller's to check (validAt).
func (t Trust) VerifyCertificate(c Certificate) error {
	k, err := t.key(c.KeyID, c.Operator)
	if err != nil {
		return err
	}
	return c.signature.verify(k.Public)
}

// VerifyToken checks a token's certificate and the token's signature by
// the certified device key.
func (t Trust) VerifyToken(tok Token) error {
	if err := t.VerifyCertificate(tok.Cert); err != nil {
		return err
	}
	return tok.signature.verify(tok.Cert.Key)
}

// verifyOperator checks an object an operator signed.
func (t Trust) verifyOperator(env envelope, operator tongbao.ID) error {
	k, err := t.key(env.kid, operator)
	if err != nil {
		return err
	}
	return env.verify(k.Public)
}

// expiredAt checks a certificate's expiry by a device's clock. A device
// does not refuse a certificate issued after its own clock says now: a
// device's clock may lag the operator's (or the operator's run ahead, on
// a sandbox node), and the operator's signature is what makes the
// certificate good. The ledger checks both ends on its own clock.
func (c Certificate) expiredAt(t time.Time) error {
	if !t.Before(c.Expires) {
		return ErrCertExpired
	}
	return nil
}

// checkCaps checks a token against its certificate's caps: the amount per
// payment and the count of tokens since the last acknowledged sync.
func (tok Token) checkCaps() error {
	if tok.Amount > tok.Cert.Caps.PerPayment && tok.Kind == KindPayment {
		return ErrOverCap
	}
	if tok.Counter-tok.Synced > uint64(tok.Cert.Caps.Payments) && tok.Kind == KindPayment {
		return ErrCountCap
	}
	return nil
}
