package offline

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/twotier"
)

// Defaults of the service.
const (
	// DefaultCertValidity is how long a device certificate lasts; a sync
	// renews it once half of it has passed.
	DefaultCertValidity = 30 * 24 * time.Hour
	// DefaultArrivalGrace is how long after its certificate expires, or
	// after its device is decommissioned, a token may still arrive and
	// settle: a payee offline that long has lost the race. It is also
	// when a decommissioned device's purse returns to its wallet.
	DefaultArrivalGrace = 14 * 24 * time.Hour
	// UploadMax is the most tokens one sync takes.
	UploadMax = 4096
	// The verified-certificate cache's memory: each certificate costs
	// about certBytes (its bytes, its parsed claims and its key expanded
	// for fast verification, 1.5 KiB), and past certCacheBytesMax the
	// cache is cleared and refills as devices sync.
	certBytes         = 2560
	certCacheBytesMax = 48 << 20
	certCacheMax      = certCacheBytesMax / certBytes
)

// Config configures a Service. Payments and Store are required.
type Config struct {
	Payments *twotier.Service
	Store    Store
	Clock    tongbao.Clock
	// Caps are the caps each operator certifies its devices with;
	// DefaultCaps for an operator not named.
	Caps         map[tongbao.ID]Caps
	CertValidity time.Duration
	ArrivalGrace time.Duration
}

// Service is the ledger's side of offline payments: it certifies devices,
// loads their purses, settles the tokens they upload exactly once, and
// catches a device that double-spends.
type Service struct {
	cfg   Config
	tt    *twotier.Service
	store Store
	clock tongbao.Clock

	// syncMu orders the decisions of syncs, loads and lifecycle changes:
	// each reads a device's purse and counters and writes them back, so
	// one node's writes never race (the version check stops another's).
	syncMu sync.Mutex
	links  linkCache // under syncMu

	markMu sync.Mutex
	toMark []Hash // paid tokens to mark settled (markSettled)

	keysMu  sync.RWMutex
	trust   Trust
	signing map[tongbao.ID]OperatorKey // each operator's newest key
	keys    []OperatorKey

	capsMu sync.RWMutex
	caps   map[tongbao.ID]Caps // the caps operators set (SetCaps)

	certsMu sync.Mutex
	certs   map[Hash]Certificate // certificates whose signature verified
}

// New returns a Service on cfg.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Payments == nil || cfg.Store == nil {
		return nil, errors.New("offline: Payments and Store are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = tongbao.SystemClock{}
	}
	if cfg.CertValidity <= 0 {
		cfg.CertValidity = DefaultCertValidity
	}
	if cfg.ArrivalGrace <= 0 {
		cfg.ArrivalGrace = DefaultArrivalGrace
	}
	for op, c := range cfg.Caps {
		if !c.Valid() {
			return nil, fmt.Errorf("offline: the caps of operator %v are not usable", op)
		}
	}
	s := &Service{cfg: cfg, tt: cfg.Payments, store: cfg.Store, clock: cfg.Clock, trust: Trust{}, signing: map[tongbao.ID]OperatorKey{}, certs: map[Hash]Certificate{}}
	keys, err := cfg.Store.Keys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		s.addKey(k)
	}
	if s.caps, err = cfg.Store.OperatorCaps(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Now returns the service's time.
func (s *Service) Now() time.Time { return s.clock.Now() }

func (s *Service) addKey(k OperatorKey) {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	s.trust.Pin(k)
	s.keys = append(s.keys, k)
	s.signing[k.Operator] = k
}

// CapsOf returns the caps operator certifies devices with: those it set
// (SetCaps), else those of the node's configuration, else DefaultCaps.
func (s *Service) CapsOf(operator tongbao.ID) Caps {
	s.capsMu.RLock()
	c, ok := s.caps[operator]
	s.capsMu.RUnlock()
	if ok {
		return c
	}
	if c, ok := s.cfg.Caps[operator]; ok {
		return c
	}
	return DefaultCaps
}

// ErrCapsInvalid refuses caps a device could not work with.
var ErrCapsInvalid = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "caps need a positive per-payment cap, a purse cap at least that, and 1 to 1,000 payments")

// SetCaps sets the caps an operator certifies its devices with from now
// on: new certificates, and renewed ones at the devices' next sync.
// Certificates already issued keep theirs until then, and a payee checks
// the caps of the payer's certificate.
func (s *Service) SetCaps(ctx context.Context, operator tongbao.ID, c Caps) (Caps, error) {
	if !c.Valid() {
		return Caps{}, ErrCapsInvalid
	}
	in, err := s.tt.Institution(ctx, operator)
	if err != nil {
		return Caps{}, err
	}
	if in.Kind != twotier.KindOperator {
		return Caps{}, twotier.ErrNotOperator
	}
	if err := s.store.SetOperatorCaps(ctx, operator, c, s.clock.Now()); err != nil {
		return Caps{}, err
	}
	s.capsMu.Lock()
	s.caps[operator] = c
	s.capsMu.Unlock()
	return c, nil
}

// signingKey returns an operator's newest key, making the operator's
// first key (and opening its offline float) if it has none.
func (s *Service) signingKey(ctx context.Context, operator tongbao.ID) (OperatorKey, error) {
	s.keysMu.RLock()
	k, ok := s.signing[operator]
	s.keysMu.RUnlock()
	if ok {
		return k, nil
	}
	return s.RotateKey(ctx, operator)
}

// RotateKey makes a new signing key for an operator: what it signs from
// now on carries the new key id; certificates and vouchers signed with
// older keys still verify, as devices keep every key they were given.
func (s *Service) RotateKey(ctx context.Context, operator tongbao.ID) (OperatorKey, error) {
	if _, err := s.tt.OpenOfflineFloat(ctx, operator); err != nil {
		return OperatorKey{}, err
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return OperatorKey{}, err
	}
	k := OperatorKey{Operator: operator, ID: KeyID(pub), Public: pub, Private: priv, CreatedAt: s.clock.Now()}
	if err := s.store.CreateKey(ctx, k); err != nil {
		return OperatorKey{}, err
	}
	s.addKey(k)
	return k, nil
}

// PublicKeys returns every operator key's public half: what devices pin.
func (s *Service) PublicKeys() []OperatorKey {
	s.keysMu.RLock()
	defer s.keysMu.RUnlock()
	out := make([]OperatorKey, len(s.keys))
	for i, k := range s.keys {
		out[i] = OperatorKey{Operator: k.Operator, ID: k.ID, Public: k.Public, CreatedAt: k.CreatedAt}
	}
	return out
}

// RevocationLists returns every operator's latest signed revocation list.
func (s *Service) RevocationLists(ctx context.Context) ([][]byte, error) {
	ls, err := s.store.Revocations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(ls))
	for i, l := range ls {
		out[i] = l.Raw
	}
	return out, nil
}

// Errors of the service.
var (
	ErrDeviceState   = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-device-state", "the device's state does not allow this")
	ErrKeyMismatch   = tongbao.Sentinel(tongbao.ECONFLICT, "conflict", "the device id is certified with another key or wallet")
	ErrWalletKind    = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-wallet-kind", "only a personal or merchant wallet has offline devices")
	ErrLoadOverCap   = tongbao.Sentinel(tongbao.EUNPROCESSABLE, "offline-purse-full", "the load would take the device's purse past its cap")
	ErrUploadTooMany = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "a sync takes at most %d tokens", UploadMax)
	ErrBadKey        = tongbao.Sentinel(tongbao.EINVALID, "invalid-request", "a device key is an Ed25519 public key of 32 bytes, canonical and not of small order")
)

// CertifyRequest asks for a device's certificate.
type CertifyRequest struct {
	Device tongbao.ID
	Wallet tongbao.ID
	Key    ed25519.PublicKey
}

// Certify certifies a device key for a wallet: it records the device
// (active) and returns it with its certificate. The same device and key
// again renews the certificate of an active device.
func (s *Service) Certify(ctx context.Context, r CertifyRequest) (Device, error) {
	if r.Device.IsZero() {
		return Device{}, twotier.ErrIDRequired
	}
	if len(r.Key) != ed25519.PublicKeySize || !keyUsable(r.Key) {
		return Device{}, ErrBadKey
	}
	w, err := s.tt.Wallet(ctx, r.Wallet)
	if err != nil {
		return Device{}, err
	}
	if w.Kind != twotier.WalletPersonal && w.Kind != twotier.WalletMerchant {
		return Device{}, ErrWalletKind
	}
	if w.State == twotier.StateClosed {
		return Device{}, twotier.ErrWalletClosed
	}
	key, err := s.signingKey(ctx, w.Operator)
	if err != nil {
		return Device{}, err
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	now := s.clock.Now()
	d, err := s.store.Device(ctx, r.Device)
	switch {
	case errors.Is(err, ErrDeviceNotFound):
		d = Device{ID: r.Device, Wallet: w.ID, Operator: w.Operator, Key: r.Key, Caps: s.CapsOf(w.Operator), State: DeviceActive, CreatedAt: now}
		if d.Certificate, d.CertExpires, err = s.certificate(d, key, now); err != nil {
			return Device{}, err
		}
		d.UpdatedAt, d.Version = now, 1
		if err := s.store.CreateDevice(ctx, d); err != nil {
			return Device{}, err
		}
		return d, nil
	case err != nil:
		return Device{}, err
	}
	if !bytes.Equal(d.Key, r.Key) || d.Wallet != r.Wallet {
		return Device{}, ErrKeyMismatch
	}
	if d.State != DeviceActive {
		return Device{}, ErrDeviceState
	}
	d.Caps = s.CapsOf(d.Operator)
	if d.Certificate, d.CertExpires, err = s.certificate(d, key, now); err != nil {
		return Device{}, err
	}
	return s.updateDevice(ctx, d)
}

// certificate signs a certificate for d from now.
func (s *Service) certificate(d Device, key OperatorKey, now time.Time) ([]byte, time.Time, error) {
	c := Certificate{Device: d.ID, Wallet: d.Wallet, Operator: d.Operator, Key: d.Key, Caps: d.Caps,
		IssuedAt: now.Truncate(time.Second), Expires: now.Add(s.cfg.CertValidity).Truncate(time.Second)}
	raw, err := signCertificate(c, key)
	return raw, c.Expires, err
}

func (s *Service) updateDevice(ctx context.Context, d Device) (Device, error) {
	d.UpdatedAt = s.clock.Now()
	if err := s.store.UpdateDevice(ctx, d); err != nil {
		return Device{}, err
	}
	d.Version++
	return d, nil
}

// Device returns a device.
func (s *Service) Device(ctx context.Context, id tongbao.ID) (Device, error) {
	return s.store.Device(ctx, id)
}

// Devices lists an operator's devices (zero: every operator's).
func (s *Service) Devices(ctx context.Context, operator, after tongbao.ID, limit int) ([]Device, error) {
	return s.store.Devices(ctx, operator, after, limit)
}

// Load moves amount from the device's wallet to its purse under the
// idempotency id id, and returns the load with its signed voucher. The
// same id again returns the first outcome. A load the ledger refuses (the
// wallet's funds or caps) is recorded failed and answered with the
// ledger's error.
//
// The load is recorded pending before the ledger is asked, and finished
// after: a crash between leaves it pending, and Recover finishes it by
// what the ledger holds under its id.
func (s *Service) Load(ctx context.Context, id, device tongbao.ID, amount tongbao.Amount) (Load, error) {
	if id.IsZero() {
		return Load{}, twotier.ErrIDRequired
	}
	if amount <= 0 {
		return Load{}, tongbao.ErrAmountInvalid
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	d, err := s.store.Device(ctx, device)
	if err != nil {
		return Load{}, err
	}
	l, created, err := s.store.CreateLoad(ctx, Load{ID: id, Device: device, Amount: amount, Status: LoadPending, CreatedAt: s.clock.Now(), UpdatedAt: s.clock.Now()})
	if err != nil {
		return Load{}, err
	}
	if !created {
		if l.Device != device || l.Amount != amount {
			return Load{}, tongbao.ErrIDConflict
		}
		if l.Status != LoadPending {
			return l, loadErr(l)
		}
	} else {
		switch {
		case d.State != DeviceActive:
			err = ErrDeviceState
		case !s.clock.Now().Before(d.CertExpires):
			err = ErrCertExpired
		case d.Purse()+amount > d.Caps.Balance:
			err = ErrLoadOverCap
		}
		if err != nil {
			l.Status, l.Problem = LoadFailed, tongbao.ErrorKind(err)
			if ferr := s.store.FinishLoad(ctx, l, d); ferr != nil {
				return Load{}, ferr
			}
			return l, err
		}
	}
	_, lerr := s.tt.OfflineLoad(ctx, id, d.Wallet, amount)
	return s.finishLoad(ctx, l, d, lerr)
}

// loadErr returns the error a failed load was answered with.
func loadErr(l Load) error {
	if l.Status == LoadFailed {
		return tongbao.Sentinel(tongbao.EUNPROCESSABLE, l.Problem, "the load was refused: %s", l.Problem)
	}
	return nil
}

// finishLoad records a pending load's outcome given the ledger's answer.
func (s *Service) finishLoad(ctx context.Context, l Load, d Device, lerr error) (Load, error) {
	if lerr != nil && tongbao.ErrorCode(lerr) != tongbao.EUNPROCESSABLE && tongbao.ErrorCode(lerr) != tongbao.EINVALID {
		return Load{}, lerr // unknown outcome: it stays pending
	}
	l.UpdatedAt = s.clock.Now()
	if lerr != nil {
		l.Status, l.Problem = LoadFailed, tongbao.ErrorKind(lerr)
		if err := s.store.FinishLoad(ctx, l, d); err != nil {
			return Load{}, err
		}
		return l, lerr
	}
	key, err := s.signingKey(ctx, d.Operator)
	if err != nil {
		return Load{}, err
	}
	d.Vouchers++
	d.Loaded += l.Amount
	l.Seq, l.Status = d.Vouchers, LoadDone
	if l.Voucher, err = signVoucher(Voucher{Device: d.ID, Seq: l.Seq, Amount: l.Amount, Operator: d.Operator, IssuedAt: l.UpdatedAt}, key); err != nil {
		return Load{}, err
	}
	d.UpdatedAt = l.UpdatedAt
	if err := s.store.FinishLoad(ctx, l, d); err != nil {
		return Load{}, err
	}
	return l, nil
}

// Vouchers returns a device's load vouchers after seq: a device that
// missed one fetches it again.
func (s *Service) Vouchers(ctx context.Context, device tongbao.ID, after uint64, limit int) ([]Load, error) {
	return s.store.Vouchers(ctx, device, after, limit)
}

// SetState moves a device through its lifecycle: suspend (active →
// suspended), resume (suspended → active), revoke (any but
// decommissioned → revoked: onto the revocation list), decommission
// (active or suspended → decommissioned: its purse returns after the
// arrival grace). A reason is required.
func (s *Service) SetState(ctx context.Context, id tongbao.ID, to DeviceState, reason string) (Device, error) {
	if reason == "" {
		return Device{}, twotier.ErrReasonRequired
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	d, err := s.store.Device(ctx, id)
	if err != nil {
		return Device{}, err
	}
	if !transitionAllowed(d.State, to) {
		return Device{}, fmt.Errorf("%w: %s to %s", ErrDeviceState, d.State, to)
	}
	d.State, d.Reason = to, reason
	if to == DeviceDecommissioned {
		d.ReturnAt = s.clock.Now().Add(s.cfg.ArrivalGrace)
	}
	if to == DeviceRevoked {
		if err := s.revoke(ctx, d); err != nil {
			return Device{}, err
		}
	}
	return s.updateDevice(ctx, d)
}

func transitionAllowed(from, to DeviceState) bool {
	switch to {
	case DeviceSuspended:
		return from == DeviceActive
	case DeviceActive:
		return from == DeviceSuspended
	case DeviceRevoked:
		return from == DeviceActive || from == DeviceSuspended
	case DeviceDecommissioned:
		return from == DeviceActive || from == DeviceSuspended
	}
	return false
}

// revoke adds d to its operator's revocation list and signs the new list.
func (s *Service) revoke(ctx context.Context, d Device) error {
	key, err := s.signingKey(ctx, d.Operator)
	if err != nil {
		return err
	}
	lists, err := s.store.Revocations(ctx)
	if err != nil {
		return err
	}
	l := RevocationList{Operator: d.Operator}
	for _, old := range lists {
		if old.Operator == d.Operator {
			l = old
		}
	}
	if l.Has(d.ID) {
		return nil
	}
	l.Seq++
	l.IssuedAt = s.clock.Now()
	l.Devices = append(append([]tongbao.ID(nil), l.Devices...), d.ID)
	if l.Raw, err = signRevocations(l, key); err != nil {
		return err
	}
	return s.store.SaveRevocations(ctx, l)
}

// Cases lists fraud cases of an operator (zero: every operator's).
func (s *Service) Cases(ctx context.Context, operator, after tongbao.ID, limit int) ([]Case, error) {
	return s.store.Cases(ctx, operator, after, limit)
}

// Case returns a fraud case.
func (s *Service) Case(ctx context.Context, id tongbao.ID) (Case, error) {
	return s.store.Case(ctx, id)
}

// CloseCase closes a fraud case with a note: the operator's review is
// done. What was advanced and recovered stays as it is.
func (s *Service) CloseCase(ctx context.Context, id tongbao.ID, note string) (Case, error) {
	if note == "" {
		return Case{}, twotier.ErrReasonRequired
	}
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	c, err := s.store.Case(ctx, id)
	if err != nil {
		return Case{}, err
	}
	if c.Status == CaseClosed {
		return c, nil
	}
	c.Status, c.Note, c.UpdatedAt = CaseClosed, note, s.clock.Now()
	if err := s.store.UpdateCase(ctx, c); err != nil {
		return Case{}, err
	}
	c.Version++
	return c, nil
}

// sortIDs sorts ids in place.
func sortIDs(ids []tongbao.ID) {
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
}
