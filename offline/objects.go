package offline

import (
	"crypto/ed25519"

	"fmt"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// Caps are the limits an operator certifies a device with: what the
// payee's device checks offline and the ledger checks again at sync.
// Counts, not clocks: a card has no clock and a phone's can be set back.
type Caps struct {
	// PerPayment is the most one token may carry.
	PerPayment tongbao.Amount
	// Balance is the most the device's offline purse may hold.
	Balance tongbao.Amount
	// Payments is how many tokens the device may sign past the last
	// counter the ledger acknowledged before it must reconnect.
	Payments uint32
}

// DefaultCaps are the e-CNY app's offline mode: at most 500.00 CNY a
// payment and ten payments before reconnecting; the purse holds at most
// 1,000.00 CNY. An operator may set its own (Config.Caps).
var DefaultCaps = Caps{PerPayment: 50_000, Balance: 100_000, Payments: 10}

// Valid reports whether the caps are usable.
func (c Caps) Valid() bool {
	return c.PerPayment > 0 && c.Balance >= c.PerPayment && c.Payments > 0 && c.Payments <= 1000
}

// Certificate is an operator's statement that a device key belongs to a
// wallet, with the caps the device keeps to, until Expires.
type Certificate struct {
	Device    tongbao.ID
	Wallet    tongbao.ID
	Operator  tongbao.ID
	Key       ed25519.PublicKey
	Caps      Caps
	IssuedAt  time.Time
	Expires   time.Time
	KeyID     []byte // the operator key that signed it
	Raw       []byte
	Hash      Hash
	signature envelope
	// expanded is Key expanded for repeated verification: set on the
	// certificates the ledger caches (Service.verifiedCertificate).
	expanded *voi.ExpandedPublicKey
}

type certClaims struct {
	Device     []byte `cbor:"1,keyasint"`
	Wallet     []byte `cbor:"2,keyasint"`
	Operator   []byte `cbor:"3,keyasint"`
	Key        []byte `cbor:"4,keyasint"`
	PerPayment int64  `cbor:"5,keyasint"`
	Balance    int64  `cbor:"6,keyasint"`
	Payments   uint32 `cbor:"7,keyasint"`
	IssuedAt   int64  `cbor:"8,keyasint"`
	Expires    int64  `cbor:"9,keyasint"`
}

// signCertificate returns c signed by an operator key.
func signCertificate(c Certificate, key OperatorKey) ([]byte, error) {
	return sign(TypeCertificate, key.ID, key.Private, certClaims{
		Device: c.Device[:], Wallet: c.Wallet[:], Operator: c.Operator[:], Key: c.Key,
		PerPayment: int64(c.Caps.PerPayment), Balance: int64(c.Caps.Balance), Payments: c.Caps.Payments,
		IssuedAt: c.IssuedAt.Unix(), Expires: c.Expires.Unix(),
	})
}

// ParseCertificate decodes a device certificate without verifying its
// signature (Keys.VerifyCertificate does).
func ParseCertificate(raw []byte) (Certificate, error) {
	env, err := open(raw, TypeCertificate, CertificateSizeMax)
	if err != nil {
		return Certificate{}, err
	}
	var cl certClaims
	if err := decodeClaims(env.msg.Payload, &cl); err != nil {
		return Certificate{}, err
	}
	c := Certificate{Key: cl.Key, KeyID: env.kid, Raw: raw, Hash: HashOf(raw), signature: env,
		Caps:     Caps{PerPayment: tongbao.Amount(cl.PerPayment), Balance: tongbao.Amount(cl.Balance), Payments: cl.Payments},
		IssuedAt: time.Unix(cl.IssuedAt, 0).UTC(), Expires: time.Unix(cl.Expires, 0).UTC()}
	var ok [3]bool
	c.Device, ok[0] = idOf(cl.Device)
	c.Wallet, ok[1] = idOf(cl.Wallet)
	c.Operator, ok[2] = idOf(cl.Operator)
	if !ok[0] || !ok[1] || !ok[2] || len(cl.Key) != ed25519.PublicKeySize || !c.Caps.Valid() || cl.Expires <= cl.IssuedAt {
		return Certificate{}, errClaimsInvalid
	}
	return c, nil
}

// TokenKind tells a payment from an unload.
type TokenKind uint8

// The kinds of token.
const (
	// KindPayment pays the payee device's wallet.
	KindPayment TokenKind = 0
	// KindUnload returns purse money to the device's own wallet; its
	// payee is the device itself.
	KindUnload TokenKind = 1
)

// Token is a payment signed by the payer's device: the unit of value
// that moves offline and settles at sync.
type Token struct {
	Cert    Certificate
	Payee   tongbao.ID // the payee device
	Amount  tongbao.Amount
	Counter uint64
	// Prev is the hash of the token the device signed before this one
	// (counter-1); zero for counter 1.
	Prev Hash
	// Synced is the last counter the ledger had acknowledged to the
	// device when it signed: Counter-Synced is how many tokens it had
	// signed since it last reconnected.
	Synced uint64
	// DeviceTime is the payer device's clock: information only.
	DeviceTime time.Time
	Kind       TokenKind
	Raw        []byte
	Hash       Hash
	signature  envelope
}

// Payer returns the device that signed the token.
func (t Token) Payer() tongbao.ID { return t.Cert.Device }

type tokenClaims struct {
	Cert    []byte `cbor:"1,keyasint"`
	Payee   []byte `cbor:"2,keyasint"`
	Amount  int64  `cbor:"3,keyasint"`
	Counter uint64 `cbor:"4,keyasint"`
	Prev    []byte `cbor:"5,keyasint,omitempty"`
	Synced  uint64 `cbor:"6,keyasint"`
	Time    int64  `cbor:"7,keyasint"`
	Kind    uint8  `cbor:"8,keyasint"`
}

// ParseToken decodes a token without verifying a signature
// (Trust.VerifyToken does).
func ParseToken(raw []byte) (Token, error) { return parseToken(raw, ParseCertificate) }

// parseToken decodes a token, its certificate by certOf.
func parseToken(raw []byte, certOf func([]byte) (Certificate, error)) (Token, error) {
	env, err := open(raw, TypeToken, TokenSizeMax)
	if err != nil {
		return Token{}, err
	}
	var cl tokenClaims
	if err := decodeClaims(env.msg.Payload, &cl); err != nil {
		return Token{}, err
	}
	cert, err := certOf(cl.Cert)
	if err != nil {
		return Token{}, fmt.Errorf("the token's certificate: %w", err)
	}
	t := Token{Cert: cert, Amount: tongbao.Amount(cl.Amount), Counter: cl.Counter, Synced: cl.Synced,
		DeviceTime: time.Unix(cl.Time, 0).UTC(), Kind: TokenKind(cl.Kind), Raw: raw, Hash: HashOf(raw), signature: env}
	var ok bool
	if t.Payee, ok = idOf(cl.Payee); !ok || t.Amount <= 0 || t.Counter == 0 || t.Synced >= t.Counter || t.Kind > KindUnload {
		return Token{}, errClaimsInvalid
	}
	if string(env.kid) != string(cert.Device[:]) {
		return Token{}, fmt.Errorf("%w: the token's key id is not its certificate's device", errClaimsInvalid)
	}
	switch {
	case t.Counter == 1 && len(cl.Prev) != 0, t.Counter > 1 && len(cl.Prev) != len(t.Prev):
		return Token{}, fmt.Errorf("%w: the previous token's hash", errClaimsInvalid)
	}
	copy(t.Prev[:], cl.Prev)
	if (t.Kind == KindUnload) != (t.Payee == cert.Device) {
		return Token{}, fmt.Errorf("%w: an unload, and only an unload, is paid to the device itself", errClaimsInvalid)
	}
	return t, nil
}

// signToken returns the token's bytes signed with the device key.
func signToken(t Token, key ed25519.PrivateKey) ([]byte, error) {
	cl := tokenClaims{Cert: t.Cert.Raw, Payee: t.Payee[:], Amount: int64(t.Amount), Counter: t.Counter,
		Synced: t.Synced, Time: t.DeviceTime.Unix(), Kind: uint8(t.Kind)}
	if t.Counter > 1 {
		cl.Prev = t.Prev[:]
	}
	return sign(TypeToken, t.Cert.Device[:], key, cl)
}

// Voucher is an operator's statement that a device's purse was loaded:
// the device adds Amount once, for the voucher numbered Seq (1, 2, … per
// device, accepted in order).
type Voucher struct {
	Device   tongbao.ID
	Seq      uint64
	Amount   tongbao.Amount
	Operator tongbao.ID
	IssuedAt time.Time
	KeyID    []byte
	Raw      []byte
	env      envelope
}

type voucherClaims struct {
	Device   []byte `cbor:"1,keyasint"`
	Seq      uint64 `cbor:"2,keyasint"`
	Amount   int64  `cbor:"3,keyasint"`
	Operator []byte `cbor:"4,keyasint"`
	IssuedAt int64  `cbor:"5,keyasint"`
}

func signVoucher(v Voucher, key OperatorKey) ([]byte, error) {
	return sign(TypeVoucher, key.ID, key.Private, voucherClaims{Device: v.Device[:], Seq: v.Seq, Amount: int64(v.Amount), Operator: v.Operator[:], IssuedAt: v.IssuedAt.Unix()})
}

// ParseVoucher decodes a load voucher without verifying it.
func ParseVoucher(raw []byte) (Voucher, error) {
	env, err := open(raw, TypeVoucher, CertificateSizeMax)
	if err != nil {
		return Voucher{}, err
	}
	var cl voucherClaims
	if err := decodeClaims(env.msg.Payload, &cl); err != nil {
		return Voucher{}, err
	}
	v := Voucher{Seq: cl.Seq, Amount: tongbao.Amount(cl.Amount), IssuedAt: time.Unix(cl.IssuedAt, 0).UTC(), KeyID: env.kid, Raw: raw, env: env}
	var ok [2]bool
	v.Device, ok[0] = idOf(cl.Device)
	v.Operator, ok[1] = idOf(cl.Operator)
	if !ok[0] || !ok[1] || v.Seq == 0 || v.Amount <= 0 {
		return Voucher{}, errClaimsInvalid
	}
	return v, nil
}

// Ack is an operator's acknowledgement, at a sync, that the ledger holds
// every token a device signed up to Counter: the device may sign
// Caps.Payments more. Certificate, when set, is a new certificate for the
// device (its old one nearing expiry).
type Ack struct {
	Device      tongbao.ID
	Counter     uint64
	Operator    tongbao.ID
	IssuedAt    time.Time
	Certificate []byte
	KeyID       []byte
	Raw         []byte
	env         envelope
}

type ackClaims struct {
	Device      []byte `cbor:"1,keyasint"`
	Counter     uint64 `cbor:"2,keyasint"`
	Operator    []byte `cbor:"3,keyasint"`
	IssuedAt    int64  `cbor:"4,keyasint"`
	Certificate []byte `cbor:"5,keyasint,omitempty"`
}

func signAck(a Ack, key OperatorKey) ([]byte, error) {
	return sign(TypeAck, key.ID, key.Private, ackClaims{Device: a.Device[:], Counter: a.Counter, Operator: a.Operator[:], IssuedAt: a.IssuedAt.Unix(), Certificate: a.Certificate})
}

// ParseAck decodes a sync acknowledgement without verifying it.
func ParseAck(raw []byte) (Ack, error) {
	env, err := open(raw, TypeAck, 2*CertificateSizeMax)
	if err != nil {
		return Ack{}, err
	}
	var cl ackClaims
	if err := decodeClaims(env.msg.Payload, &cl); err != nil {
		return Ack{}, err
	}
	a := Ack{Counter: cl.Counter, IssuedAt: time.Unix(cl.IssuedAt, 0).UTC(), Certificate: cl.Certificate, KeyID: env.kid, Raw: raw, env: env}
	var ok [2]bool
	a.Device, ok[0] = idOf(cl.Device)
	a.Operator, ok[1] = idOf(cl.Operator)
	if !ok[0] || !ok[1] {
		return Ack{}, errClaimsInvalid
	}
	return a, nil
}

// RevocationList is an operator's signed list of the devices whose
// tokens are no longer accepted, numbered so a device keeps the newest.
type RevocationList struct {
	Operator tongbao.ID
	Seq      uint64
	IssuedAt time.Time
	Devices  []tongbao.ID
	KeyID    []byte
	Raw      []byte
	env      envelope
}

type revocationClaims struct {
	Operator []byte   `cbor:"1,keyasint"`
	Seq      uint64   `cbor:"2,keyasint"`
	IssuedAt int64    `cbor:"3,keyasint"`
	Devices  [][]byte `cbor:"4,keyasint"`
}

func signRevocations(l RevocationList, key OperatorKey) ([]byte, error) {
	cl := revocationClaims{Operator: l.Operator[:], Seq: l.Seq, IssuedAt: l.IssuedAt.Unix(), Devices: make([][]byte, len(l.Devices))}
	for i := range l.Devices {
		cl.Devices[i] = l.Devices[i][:]
	}
	return sign(TypeRevocations, key.ID, key.Private, cl)
}

// ParseRevocationList decodes a revocation list without verifying it.
func ParseRevocationList(raw []byte) (RevocationList, error) {
	env, err := open(raw, TypeRevocations, 64+RevokedMax*20)
	if err != nil {
		return RevocationList{}, err
	}
	var cl revocationClaims
	if err := decodeClaims(env.msg.Payload, &cl); err != nil {
		return RevocationList{}, err
	}
	l := RevocationList{Seq: cl.Seq, IssuedAt: time.Unix(cl.IssuedAt, 0).UTC(), KeyID: env.kid, Raw: raw, env: env}
	var ok bool
	if l.Operator, ok = idOf(cl.Operator); !ok || l.Seq == 0 {
		return RevocationList{}, errClaimsInvalid
	}
	for _, b := range cl.Devices {
		id, ok := idOf(b)
		if !ok {
			return RevocationList{}, errClaimsInvalid
		}
		l.Devices = append(l.Devices, id)
	}
	return l, nil
}

// Has reports whether the list revokes device.
func (l RevocationList) Has(device tongbao.ID) bool {
	for _, d := range l.Devices {
		if d == device {
			return true
		}
	}
	return false
}
