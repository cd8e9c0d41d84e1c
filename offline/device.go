package offline

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// A simulated secure element. A real offline wallet keeps its key, its
// counter and its purse in a secure element (a SIM, an eSE, a smart
// card) or a TEE: the key never leaves it and the counter only goes up.
// Element stands for one on an ordinary computer: its state is sealed
// (AES-256-GCM) under a key kept beside it, and every change is written
// and synced to disk before the token, voucher or answer it allows is
// let out, so a crash never lets a device sign twice with one counter.
//
// The seal keeps a casual edit of the file from changing the purse; it
// does not stop the copy attack: whoever copies both files, pays, and
// restores the copy has a clone that pays again with the same counters.
// The ledger catches that at sync (a double spend), and the loss policy
// decides who bears it. A real secure element refuses to be copied;
// docs/offline.md says what changes with one.

// Files of a device's folder.
const (
	sealKeyFile = "se.key"
	stateFile   = "se.state"
	sealAD      = "tongbao-se-v1"
	// InboxMax bounds the tokens a device keeps received and not yet
	// synced, and OutboxMax those it signed: a device past them must sync.
	InboxMax  = 256
	OutboxMax = 1024
	// SeenMax bounds the payers a device remembers the last counter and
	// token of. Past it, the payer it heard from longest ago is
	// forgotten: its replay or rolled-back counter is then caught by the
	// ledger at sync rather than at the counter.
	SeenMax = 1024
)

// Errors of a device.
var (
	ErrNotCertified   = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-device-not-certified", "the device has no certificate: certify it online first")
	ErrOwnCertExpired = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-certificate-expired", "this device's certificate has expired: sync online to renew it")
	ErrPurseShort     = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-purse-short", "the offline purse holds less than the amount")
	ErrPurseFull      = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-purse-full", "the load would take the offline purse past its cap")
	ErrVoucherOrder   = tongbao.Sentinel(tongbao.ECONFLICT, "offline-voucher-order", "the voucher is not the next one for this device (accepted already, or one is missing)")
	ErrVoucherOther   = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-wrong-payee", "the voucher is for another device")
	ErrInboxFull      = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-inbox-full", "the device holds as many unsynced tokens as it may: sync first")
	ErrPayeeSelf      = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "a device does not pay itself")
	ErrDeviceLocked   = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-device-locked", "the device is revoked or retired")
	errStateCorrupt   = tongbao.Sentinel(tongbao.EINTERNAL, "internal", "the device's sealed state does not open")
	errCertNotThisOne = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-malformed", "the certificate is for another device or key")
	errDeviceExists   = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "a device already lives in this folder")
	ErrNoDevice       = tongbao.Sentinel(tongbao.ENOTFOUND, "offline-device-not-found", "no device in this folder: run device init")
)

// seenMax is SeenMax, lowered by tests.
var seenMax = SeenMax

// seen is what a device remembers of a payer: the highest counter it
// received from it, and that token's hash.
type seen struct {
	Counter uint64 `cbor:"1,keyasint"`
	Hash    []byte `cbor:"2,keyasint"`
	// At orders the entries by the last receipt from the payer, so the
	// oldest is forgotten first (SeenMax).
	At uint64 `cbor:"3,keyasint"`
}

type pinned struct {
	Operator []byte `cbor:"1,keyasint"`
	ID       []byte `cbor:"2,keyasint"`
	Public   []byte `cbor:"3,keyasint"`
}

// deviceState is what the secure element holds.
type deviceState struct {
	ID          []byte          `cbor:"1,keyasint"`
	Seed        []byte          `cbor:"2,keyasint"`
	Counter     uint64          `cbor:"3,keyasint"`
	Last        []byte          `cbor:"4,keyasint,omitempty"`
	Synced      uint64          `cbor:"5,keyasint"`
	Balance     int64           `cbor:"6,keyasint"`
	Vouchers    uint64          `cbor:"7,keyasint"`
	Cert        []byte          `cbor:"8,keyasint,omitempty"`
	Keys        []pinned        `cbor:"9,keyasint,omitempty"`
	Revocations [][]byte        `cbor:"10,keyasint,omitempty"`
	Outbox      [][]byte        `cbor:"11,keyasint,omitempty"`
	Inbox       [][]byte        `cbor:"12,keyasint,omitempty"`
	Seen        map[string]seen `cbor:"13,keyasint,omitempty"`
	Locked      bool            `cbor:"14,keyasint,omitempty"`
	Received    uint64          `cbor:"15,keyasint,omitempty"`
}

// Element is a device's simulated secure element, in a folder: one offline wallet.
// Its methods are safe for concurrent use; two processes must not open
// one folder at once.
type Element struct {
	mu    sync.Mutex
	dir   string
	aead  cipher.AEAD
	clock tongbao.Clock
	st    deviceState
	key   ed25519.PrivateKey
	// Derived from st, refreshed on every change.
	cert  *Certificate
	trust Trust
	lists map[tongbao.ID]RevocationList
}

// InitDevice creates a device in dir: a new Ed25519 key and id, made
// here and never shown, an empty purse and counter 0.
func InitDevice(dir string, clock tongbao.Clock) (*Element, error) {
	if _, err := os.Stat(filepath.Join(dir, stateFile)); err == nil {
		return nil, errDeviceExists
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	sealKey := make([]byte, 32)
	if _, err := rand.Read(sealKey); err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(dir, sealKeyFile), sealKey); err != nil {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	id := tongbao.NewID()
	d, err := newDevice(dir, sealKey, clock)
	if err != nil {
		return nil, err
	}
	d.st = deviceState{ID: id[:], Seed: priv.Seed()}
	if err := d.refresh(); err != nil {
		return nil, err
	}
	return d, d.persist(d.st)
}

// OpenDevice opens the device in dir.
func OpenDevice(dir string, clock tongbao.Clock) (*Element, error) {
	sealKey, err := os.ReadFile(filepath.Join(dir, sealKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoDevice
	} else if err != nil {
		return nil, err
	}
	d, err := newDevice(dir, sealKey, clock)
	if err != nil {
		return nil, err
	}
	sealed, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	ns := d.aead.NonceSize()
	if len(sealed) < ns {
		return nil, errStateCorrupt
	}
	plain, err := d.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(sealAD))
	if err != nil {
		return nil, errStateCorrupt
	}
	if err := decMode.Unmarshal(plain, &d.st); err != nil {
		return nil, fmt.Errorf("%w: %v", errStateCorrupt, err)
	}
	if err := d.refresh(); err != nil {
		return nil, err
	}
	return d, nil
}

func newDevice(dir string, sealKey []byte, clock tongbao.Clock) (*Element, error) {
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, errStateCorrupt
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if clock == nil {
		clock = tongbao.SystemClock{}
	}
	return &Element{dir: dir, aead: aead, clock: clock}, nil
}

// persist seals st and writes it durably; only then does it become the
// device's state.
func (d *Element) persist(st deviceState) error {
	plain, err := encMode.Marshal(st)
	if err != nil {
		return err
	}
	nonce := make([]byte, d.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(d.dir, stateFile), d.aead.Seal(nonce, nonce, plain, []byte(sealAD))); err != nil {
		return err
	}
	d.st = st
	return d.refresh()
}

// refresh derives the key, certificate, pinned keys and lists from st.
func (d *Element) refresh() error {
	if len(d.st.Seed) != ed25519.SeedSize {
		return errStateCorrupt
	}
	d.key = ed25519.NewKeyFromSeed(d.st.Seed)
	d.trust = Trust{}
	for _, k := range d.st.Keys {
		op, _ := tongbao.IDFromBytes(k.Operator)
		d.trust.Pin(OperatorKey{Operator: op, ID: k.ID, Public: k.Public})
	}
	d.cert = nil
	if d.st.Cert != nil {
		c, err := ParseCertificate(d.st.Cert)
		if err != nil {
			return err
		}
		d.cert = &c
	}
	d.lists = map[tongbao.ID]RevocationList{}
	for _, raw := range d.st.Revocations {
		l, err := ParseRevocationList(raw)
		if err != nil {
			return err
		}
		d.lists[l.Operator] = l
	}
	return nil
}

// writeFileSync writes a file through a temporary one, syncing both it
// and the folder, so a crash leaves the old state or the new, whole.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// clone returns a deep enough copy of st to change and persist.
func (st deviceState) clone() deviceState {
	c := st
	c.Keys = append([]pinned(nil), st.Keys...)
	c.Revocations = append([][]byte(nil), st.Revocations...)
	c.Outbox = append([][]byte(nil), st.Outbox...)
	c.Inbox = append([][]byte(nil), st.Inbox...)
	c.Seen = make(map[string]seen, len(st.Seen))
	for k, v := range st.Seen {
		c.Seen[k] = v
	}
	return c
}

// ID returns the device's id.
func (d *Element) ID() tongbao.ID {
	id, _ := tongbao.IDFromBytes(d.st.ID)
	return id
}

// PublicKey returns the device's public key, which the operator
// certifies.
func (d *Element) PublicKey() ed25519.PublicKey { return d.key.Public().(ed25519.PublicKey) }

// Status is what a device shows its holder.
type Status struct {
	ID       tongbao.ID
	Wallet   tongbao.ID // zero until certified
	Operator tongbao.ID
	Balance  tongbao.Amount
	Counter  uint64
	Synced   uint64
	// PaymentsLeft is how many payments it may make before it must
	// reconnect.
	PaymentsLeft int
	Caps         Caps
	CertExpires  time.Time
	Vouchers     uint64
	Inbox        int // tokens received, not yet synced
	InboxAmount  tongbao.Amount
	Outbox       int // tokens signed, not yet acknowledged by the ledger
	Locked       bool
}

// Status returns the device's status.
func (d *Element) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := Status{ID: d.ID(), Balance: tongbao.Amount(d.st.Balance), Counter: d.st.Counter, Synced: d.st.Synced,
		Vouchers: d.st.Vouchers, Inbox: len(d.st.Inbox), Outbox: len(d.st.Outbox), Locked: d.st.Locked}
	for _, raw := range d.st.Inbox {
		if t, err := ParseToken(raw); err == nil {
			s.InboxAmount += t.Amount
		}
	}
	if d.cert != nil {
		s.Wallet, s.Operator, s.Caps, s.CertExpires = d.cert.Wallet, d.cert.Operator, d.cert.Caps, d.cert.Expires
		s.PaymentsLeft = int(uint64(d.cert.Caps.Payments) - min(d.st.Counter-d.st.Synced, uint64(d.cert.Caps.Payments)))
	}
	return s
}

// Install takes what the operator answers when it certifies the device
// (or renews its certificate): the certificate, the operator keys to pin
// and the revocation lists. It refuses a certificate for another device
// or key, or not signed by one of keys.
func (d *Element) Install(cert []byte, keys []OperatorKey, lists [][]byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.st.clone()
	st.Keys = nil
	trust := Trust{}
	for _, k := range keys {
		trust.Pin(k)
		st.Keys = append(st.Keys, pinned{Operator: k.Operator[:], ID: k.ID, Public: k.Public})
	}
	c, err := ParseCertificate(cert)
	if err != nil {
		return err
	}
	if err := trust.VerifyCertificate(c); err != nil {
		return err
	}
	if c.Device != d.ID() || !bytes.Equal(c.Key, d.PublicKey()) {
		return errCertNotThisOne
	}
	st.Cert = cert
	if st.Revocations, err = newerLists(st.Revocations, lists, trust); err != nil {
		return err
	}
	return d.persist(st)
}

// newerLists returns the revocation lists to keep: per operator the
// newest of have and got that verifies with trust.
func newerLists(have, got [][]byte, trust Trust) ([][]byte, error) {
	byOp := map[tongbao.ID]RevocationList{}
	var order []tongbao.ID
	for _, set := range [][][]byte{have, got} {
		for _, raw := range set {
			l, err := ParseRevocationList(raw)
			if err != nil {
				return nil, err
			}
			if err := trust.verifyOperator(l.env, l.Operator); err != nil {
				return nil, fmt.Errorf("revocation list: %w", err)
			}
			old, ok := byOp[l.Operator]
			if !ok {
				order = append(order, l.Operator)
			}
			if !ok || l.Seq > old.Seq {
				byOp[l.Operator] = l
			}
		}
	}
	out := make([][]byte, 0, len(order))
	for _, op := range order {
		out = append(out, byOp[op].Raw)
	}
	return out, nil
}

// AcceptVoucher adds a load voucher's amount to the purse. Vouchers are
// accepted once each, in order (Seq = the last accepted + 1).
func (d *Element) AcceptVoucher(raw []byte) (tongbao.Amount, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cert == nil {
		return 0, ErrNotCertified
	}
	v, err := ParseVoucher(raw)
	if err != nil {
		return 0, err
	}
	if err := d.trust.verifyOperator(v.env, d.cert.Operator); err != nil {
		return 0, err
	}
	switch {
	case v.Device != d.ID():
		return 0, ErrVoucherOther
	case v.Seq != d.st.Vouchers+1:
		return 0, ErrVoucherOrder
	case tongbao.Amount(d.st.Balance)+v.Amount > d.cert.Caps.Balance:
		// The operator checks the cap before it signs; a voucher past it
		// is refused rather than let the purse exceed its certificate.
		return 0, ErrPurseFull
	}
	st := d.st.clone()
	st.Vouchers = v.Seq
	st.Balance += int64(v.Amount)
	if err := d.persist(st); err != nil {
		return 0, err
	}
	return tongbao.Amount(st.Balance), nil
}

// Pay signs a token paying amount to the payee device and returns its
// bytes. The purse, the counter and the chain are written durably before
// the token is returned.
func (d *Element) Pay(payee tongbao.ID, amount tongbao.Amount) ([]byte, error) {
	if payee == d.ID() {
		return nil, ErrPayeeSelf
	}
	return d.sign(payee, amount, KindPayment)
}

// Unload signs a token returning amount from the purse to the device's
// own wallet; it settles at the next sync like a payment.
func (d *Element) Unload(amount tongbao.Amount) ([]byte, error) {
	return d.sign(d.ID(), amount, KindUnload)
}

func (d *Element) sign(payee tongbao.ID, amount tongbao.Amount, kind TokenKind) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st.Locked {
		return nil, ErrDeviceLocked
	}
	if d.cert == nil {
		return nil, ErrNotCertified
	}
	if amount <= 0 {
		return nil, tongbao.ErrAmountInvalid
	}
	if err := d.cert.expiredAt(d.clock.Now()); err != nil {
		return nil, ErrOwnCertExpired
	}
	if len(d.st.Outbox) >= OutboxMax {
		return nil, ErrCountCap
	}
	tok := Token{Cert: *d.cert, Payee: payee, Amount: amount, Counter: d.st.Counter + 1, Synced: d.st.Synced, DeviceTime: d.clock.Now(), Kind: kind}
	copy(tok.Prev[:], d.st.Last)
	if err := tok.checkCaps(); err != nil {
		return nil, err
	}
	if amount > tongbao.Amount(d.st.Balance) {
		return nil, ErrPurseShort
	}
	raw, err := signToken(tok, d.key)
	if err != nil {
		return nil, err
	}
	h := HashOf(raw)
	st := d.st.clone()
	st.Counter = tok.Counter
	st.Last = h[:]
	st.Balance -= int64(amount)
	st.Outbox = append(st.Outbox, raw)
	if err := d.persist(st); err != nil {
		return nil, err
	}
	return raw, nil
}

// Receive checks a token offline and keeps it for the next sync: the
// certificate signed by a pinned operator key and valid by this device's
// clock, the payer not on the last known revocation list, the token
// signed by the certified key, for this device, within the payer's caps,
// and its counter and chain consistent with what this device received
// from the payer before. It returns the token.
func (d *Element) Receive(raw []byte) (Token, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cert == nil {
		return Token{}, ErrNotCertified
	}
	tok, err := ParseToken(raw)
	if err != nil {
		return Token{}, err
	}
	if err := d.trust.VerifyToken(tok); err != nil {
		return Token{}, err
	}
	if err := tok.Cert.expiredAt(d.clock.Now()); err != nil {
		return Token{}, err
	}
	if l, ok := d.lists[tok.Cert.Operator]; ok && l.Has(tok.Payer()) {
		return Token{}, ErrRevoked
	}
	if tok.Payee != d.ID() || tok.Kind != KindPayment {
		return Token{}, ErrWrongPayee
	}
	if err := tok.checkCaps(); err != nil {
		return Token{}, err
	}
	key := string(tok.Payer().Append(nil))
	if s, ok := d.st.Seen[key]; ok {
		switch {
		case tok.Counter == s.Counter && bytes.Equal(tok.Hash[:], s.Hash):
			return Token{}, ErrReplayed
		case tok.Counter <= s.Counter:
			if d.inInbox(tok.Hash) {
				return Token{}, ErrReplayed
			}
			return Token{}, ErrRolledBack
		case tok.Counter == s.Counter+1 && !bytes.Equal(tok.Prev[:], s.Hash):
			return Token{}, ErrChainBroken
		}
	}
	if len(d.st.Inbox) >= InboxMax {
		return Token{}, ErrInboxFull
	}
	st := d.st.clone()
	st.Received++
	st.Seen[key] = seen{Counter: tok.Counter, Hash: tok.Hash[:], At: st.Received}
	if len(st.Seen) > seenMax {
		oldest := key
		for k, v := range st.Seen {
			if v.At < st.Seen[oldest].At {
				oldest = k
			}
		}
		delete(st.Seen, oldest)
	}
	st.Inbox = append(st.Inbox, raw)
	if err := d.persist(st); err != nil {
		return Token{}, err
	}
	return tok, nil
}

func (d *Element) inInbox(h Hash) bool {
	for _, raw := range d.st.Inbox {
		if HashOf(raw) == h {
			return true
		}
	}
	return false
}

// Pending returns what the device uploads at a sync: the tokens it
// signed that the ledger has not acknowledged, then those it received.
func (d *Element) Pending() (signed, received [][]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([][]byte(nil), d.st.Outbox...), append([][]byte(nil), d.st.Inbox...)
}

// Synced takes the ledger's answer to a sync: its signed acknowledgement
// of the device's own tokens (with a renewed certificate, if one was
// issued), the hashes of the received tokens the ledger has decided (it
// keeps the others to upload again), and the revocation lists and
// operator keys of the moment. A device the lists revoke locks itself.
func (d *Element) Synced(ack []byte, decided []Hash, keys []OperatorKey, lists [][]byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cert == nil {
		return ErrNotCertified
	}
	st := d.st.clone()
	trust := d.trust
	if len(keys) > 0 {
		trust = Trust{}
		st.Keys = nil
		for _, k := range keys {
			trust.Pin(k)
			st.Keys = append(st.Keys, pinned{Operator: k.Operator[:], ID: k.ID, Public: k.Public})
		}
	}
	a, err := ParseAck(ack)
	if err != nil {
		return err
	}
	if err := trust.verifyOperator(a.env, d.cert.Operator); err != nil {
		return err
	}
	if a.Device != d.ID() {
		return ErrVoucherOther
	}
	if a.Counter > st.Counter {
		return fmt.Errorf("%w: the acknowledgement is past this device's counter", errClaimsInvalid)
	}
	if a.Counter > st.Synced {
		st.Synced = a.Counter
	}
	kept := st.Outbox[:0]
	for _, raw := range st.Outbox {
		if t, err := ParseToken(raw); err == nil && t.Counter > st.Synced {
			kept = append(kept, raw)
		}
	}
	st.Outbox = kept
	done := map[Hash]bool{}
	for _, h := range decided {
		done[h] = true
	}
	inbox := st.Inbox[:0]
	for _, raw := range st.Inbox {
		if !done[HashOf(raw)] {
			inbox = append(inbox, raw)
		}
	}
	st.Inbox = inbox
	if a.Certificate != nil {
		c, err := ParseCertificate(a.Certificate)
		if err != nil {
			return err
		}
		if err := trust.VerifyCertificate(c); err != nil {
			return err
		}
		if c.Device != d.ID() || !bytes.Equal(c.Key, d.PublicKey()) {
			return errCertNotThisOne
		}
		st.Cert = a.Certificate
	}
	if st.Revocations, err = newerLists(st.Revocations, lists, trust); err != nil {
		return err
	}
	for _, raw := range st.Revocations {
		if l, err := ParseRevocationList(raw); err == nil && l.Has(d.ID()) {
			st.Locked = true
		}
	}
	return d.persist(st)
}
