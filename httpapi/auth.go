package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/twotier"
)

// The roles a key carries.
const (
	RoleCentralBank   = wire.RoleCentralBank
	RoleOperatorAdmin = wire.RoleOperatorAdmin
	RoleMerchant      = wire.RoleMerchant
	RoleHolder        = wire.RoleHolder
)

// Roles lists every role.
var Roles = []string{RoleCentralBank, RoleOperatorAdmin, RoleMerchant, RoleHolder}

// KeySecretBytes is the randomness in a key's secret.
const KeySecretBytes = 24

// Principal is who a key speaks for: a role and, by role, the central
// bank or operator (Institution) or the wallet it is bound to.
type Principal struct {
	KeyID       string     `json:"key_id"`
	Role        string     `json:"role"`
	Institution tongbao.ID `json:"institution,omitzero"`
	Wallet      tongbao.ID `json:"wallet,omitzero"`
	Name        string     `json:"name,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	// RevokedAt is when the key was revoked (zero while it is valid); a
	// revoked key authenticates nothing.
	RevokedAt    time.Time `json:"revoked_at,omitzero"`
	RevokeReason string    `json:"revoke_reason,omitempty"`
}

// subject names the caller for idempotency: every key of one operator
// admin or one holder shares it, so a retry after a key rotation is still
// recognised.
func (p Principal) subject() string {
	b := make([]byte, 0, 128)
	b = append(b, p.Role...)
	b = p.Institution.Append(append(b, '/'))
	b = p.Wallet.Append(append(b, '/'))
	return string(b)
}

// StoredKey is a key as kept: its hash, never its secret.
type StoredKey struct {
	Hash string `json:"hash"`
	Principal
	// Version is the store's version of the key's last change (see
	// KeyStore); not part of a key file.
	Version int64 `json:"-"`
}

// KeysPageMax is the most keys one read of a KeyStore returns.
const KeysPageMax = 10_000

// KeyStore keeps the keys in the database of the node (httpapi/keysql),
// where every node serving that database finds them. Each change of a key
// gets a version above every change committed before it, so a node keeps
// up by reading the changes since the last it saw, in time independent of
// the number of keys.
type KeyStore interface {
	// Version returns the version of the latest change, 0 when no key is
	// stored.
	Version(ctx context.Context) (int64, error)
	// Since returns up to limit keys whose last change is after version,
	// in version order, each with its Version.
	Since(ctx context.Context, version int64, limit int) ([]StoredKey, error)
	// Put stores a new key, or a changed one in place of the key with its
	// hash, and returns the new version it was stored at.
	Put(ctx context.Context, k StoredKey) (int64, error)
}

// Keys holds the API keys and holder tokens, by the SHA-256 of their
// secret, in memory and (unless it has none) in a KeyStore.
//
// Nodes that serve one database share the store: a lookup that finds no
// key reads the store's changes since it last read them, and a known key
// is checked for a revocation made elsewhere every keysRecheck. Only the
// node that holds the writer makes and revokes keys. Creating a key is one
// insert into the store, whatever the number of keys, and concurrent
// creations do not wait for each other here.
//
// The store's reads and writes run outside mu, so a slow or unreachable
// database never holds up the lookups of keys already known.
type Keys struct {
	store KeyStore // nil: in memory only
	clock tongbao.Clock
	// revokeMu serialises revocations: each reads a key and writes it
	// back.
	revokeMu sync.Mutex
	mu       sync.RWMutex // guards keys, ids and version
	keys     map[string]Principal
	// ids finds a key's hash by its id, for revocations: an operator may
	// hold a million keys.
	ids map[string]string
	// version is the store's version up to which every change is in
	// keys.
	version int64
	// own holds the versions above version of the keys this node put:
	// version moves over them without reading them back.
	own map[int64]struct{}
	// checked is when (Unix nanoseconds) Lookup last looked for changes
	// in the store, so a key revoked at another node stops working here
	// within keysRecheck.
	checked atomic.Int64
	// rechecking is set while one Lookup rechecks the store; the others
	// go on with the keys they know.
	rechecking atomic.Bool
}

// keysRecheck is how often Lookup looks whether the stored keys changed.
const keysRecheck = time.Second

// keysTimeout bounds a read or write of the key store.
const keysTimeout = 10 * time.Second

// errKeyNotFound answers a revocation of a key that does not exist.
var errKeyNotFound = tongbao.Errorf(tongbao.ENOTFOUND, "no such key")

// NewKeys returns the keys kept in store (in memory only when nil),
// telling the time by the system clock.
func NewKeys(ctx context.Context, store KeyStore) (*Keys, error) {
	return NewKeysClock(ctx, store, tongbao.SystemClock{})
}

// NewKeysClock is NewKeys on clock: the time keys are created and revoked
// at, and of the recheck of known keys (every keysRecheck), so a test can
// see a revocation at another node arrive without waiting.
func NewKeysClock(ctx context.Context, store KeyStore, clock tongbao.Clock) (*Keys, error) {
	k := &Keys{store: store, clock: clock, keys: make(map[string]Principal), ids: make(map[string]string), own: make(map[int64]struct{})}
	if err := k.reload(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// reload reads the store's changes since it was last read. Reloads may
// cross each other and a put; keys are only ever added or revoked, and
// keep never undoes a revocation, so none brings back a revoked key.
func (k *Keys) reload(ctx context.Context) error {
	if k.store == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, keysTimeout)
	defer cancel()
	latest, err := k.store.Version(ctx)
	if err != nil {
		return fmt.Errorf("httpapi: keys: %w", err)
	}
	k.mu.RLock()
	from := k.version
	k.mu.RUnlock()
	for from < latest {
		page, err := k.store.Since(ctx, from, KeysPageMax)
		if err != nil {
			return fmt.Errorf("httpapi: keys: %w", err)
		}
		if len(page) == 0 {
			break
		}
		k.mu.Lock()
		for _, s := range page {
			k.keep(s.Hash, s.Principal)
		}
		from = page[len(page)-1].Version
		k.advance(from)
		k.mu.Unlock()
	}
	return nil
}

// keep keeps p under hash h in memory, unless the key kept is revoked and
// p is not (an older read); k.mu must be held for writing.
func (k *Keys) keep(h string, p Principal) {
	if old, ok := k.keys[h]; ok && !old.RevokedAt.IsZero() && p.RevokedAt.IsZero() {
		return
	}
	k.keys[h] = p
	k.ids[p.KeyID] = h
}

// advance records that every change up to version v is in keys, and
// moves over the versions of this node's own puts that follow; k.mu must
// be held for writing.
func (k *Keys) advance(v int64) {
	k.version = max(k.version, v)
	for own := range k.own {
		if own <= k.version {
			delete(k.own, own)
		}
	}
	for {
		if _, ok := k.own[k.version+1]; !ok {
			return
		}
		delete(k.own, k.version+1)
		k.version++
	}
}

// put stores the key under hash h and then keeps it in memory.
func (k *Keys) put(h string, p Principal) error {
	var v int64
	if k.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), keysTimeout)
		defer cancel()
		var err error
		if v, err = k.store.Put(ctx, StoredKey{Hash: h, Principal: p}); err != nil {
			return fmt.Errorf("httpapi: save key: %w", err)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keep(h, p)
	if v == k.version+1 {
		k.advance(v)
	} else if v > k.version {
		k.own[v] = struct{}{}
	}
	return nil
}

// ReadKeyFile returns the keys of the JSON key file at path, where nodes
// kept their keys before the keys moved into the database (none if there
// is no such file): a node imports them into a database that has none.
func ReadKeyFile(path string) ([]StoredKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var stored []StoredKey
	if err := json.Unmarshal(b, &stored); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return stored, nil
}

func hashSecret(secret string) string {
	var h [sha256.Size * 2]byte
	return string(appendHash(h[:0], secret))
}

// appendHash appends the hash hashSecret returns.
func appendHash(b []byte, secret string) []byte {
	var buf [128]byte // a key's secret fits: no allocation per request
	sum := sha256.Sum256(append(buf[:0], secret...))
	return hex.AppendEncode(b, sum[:])
}

// Create makes a key for p and returns its secret, which is not kept.
func (k *Keys) Create(p Principal) (string, Principal, error) {
	if !slices.Contains(Roles, p.Role) {
		return "", Principal{}, tongbao.Errorf(tongbao.EINVALID, "role %q is unknown", p.Role)
	}
	var b [KeySecretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Principal{}, err
	}
	secret := "tb_" + strings.ReplaceAll(p.Role, "_", "") + "_" + base64.RawURLEncoding.EncodeToString(b[:])
	h := hashSecret(secret)
	p.KeyID = h[:16]
	if p.CreatedAt.IsZero() {
		p.CreatedAt = k.clock.Now().UTC()
	}
	if err := k.put(h, p); err != nil {
		return "", Principal{}, err
	}
	return secret, p, nil
}

// Lookup returns the principal of a secret, unless it is unknown or
// revoked.
func (k *Keys) Lookup(secret string) (Principal, bool) {
	var hb [sha256.Size * 2]byte
	h := appendHash(hb[:0], secret)
	now := k.clock.Now().UnixNano()
	stale := k.store != nil && now-k.checked.Load() > int64(keysRecheck)
	k.mu.RLock()
	p, ok := k.keys[string(h)]
	k.mu.RUnlock()
	if (ok && !stale) || k.store == nil {
		return p, ok && p.RevokedAt.IsZero()
	}
	// Another node may have made or revoked the key since the store was
	// read. A known key is rechecked by one lookup at a time; an unknown
	// one by its own.
	if ok {
		if !k.rechecking.CompareAndSwap(false, true) {
			return p, p.RevokedAt.IsZero()
		}
		defer k.rechecking.Store(false)
	}
	k.checked.Store(now)
	if err := k.reload(context.Background()); err != nil {
		return Principal{}, false
	}
	k.mu.RLock()
	p, ok = k.keys[string(h)]
	k.mu.RUnlock()
	return p, ok && p.RevokedAt.IsZero()
}

// List returns up to limit keys (never their secrets) that keep says
// to, oldest first, after the key at cursor (see KeyCursor; nil from the
// first), and whether more follow.
func (k *Keys) List(keep func(Principal) bool, after *KeyCursor, limit int) ([]Principal, bool) {
	k.mu.RLock()
	var out []Principal
	for _, p := range k.keys {
		if keep(p) && (after == nil || after.before(p)) {
			out = append(out, p)
		}
	}
	k.mu.RUnlock()
	slices.SortFunc(out, func(a, b Principal) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.KeyID, b.KeyID)
	})
	if len(out) > limit {
		return out[:limit], true
	}
	return out, false
}

// KeyCursor is where a page of keys ends: the creation time and id of
// its last key, the order List walks them in.
type KeyCursor struct {
	CreatedAt time.Time
	KeyID     string
}

// before reports whether the cursor's key comes before p.
func (c *KeyCursor) before(p Principal) bool {
	if d := c.CreatedAt.Compare(p.CreatedAt); d != 0 {
		return d < 0
	}
	return c.KeyID < p.KeyID
}

// Revoke revokes the key with an id, if may allows its principal:
// errKeyNotFound if there is no such key, errForbidden if may refuses. A
// key revoked already is returned as it is.
func (k *Keys) Revoke(id, reason string, may func(Principal) bool) (Principal, error) {
	if len(reason) > twotier.ReasonMax {
		return Principal{}, tongbao.Errorf(tongbao.EINVALID, "reason is longer than %d bytes", twotier.ReasonMax)
	}
	k.revokeMu.Lock()
	defer k.revokeMu.Unlock()
	if err := k.reload(context.Background()); err != nil {
		return Principal{}, err
	}
	h, p, found := k.byID(id)
	switch {
	case !found:
		return Principal{}, errKeyNotFound
	case !may(p):
		return Principal{}, errForbidden
	case !p.RevokedAt.IsZero():
		return p, nil
	}
	p.RevokedAt, p.RevokeReason = k.clock.Now().UTC(), reason
	if err := k.put(h, p); err != nil {
		return Principal{}, err
	}
	return p, nil
}

// byID returns the key with an id and its hash.
func (k *Keys) byID(id string) (string, Principal, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	h, ok := k.ids[id]
	if !ok {
		return "", Principal{}, false
	}
	return h, k.keys[h], true
}

// Len returns how many keys there are.
func (k *Keys) Len() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.keys)
}

// bearer returns the secret of an Authorization: Bearer header.
func bearer(h string) string {
	const prefix = "Bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return strings.TrimSpace(h[len(prefix):])
	}
	return ""
}

// Bootstrap makes sure the service has a central bank, creating one named
// name if it has none, and a central bank key if the key store has no
// valid one (so revoking every central bank key and restarting is how a
// lost key is replaced).
// It returns the new key's secret, or "" when a key existed: the secret
// is shown once and never kept.
func Bootstrap(ctx context.Context, svc *twotier.Service, keys *Keys, name string) (string, error) {
	cb, err := svc.CentralBank()
	if err != nil {
		cb = tongbao.NewID()
		if err := svc.CreateCentralBank(ctx, cb, name); err != nil {
			return "", err
		}
	}
	keys.mu.RLock()
	for _, p := range keys.keys {
		if p.Role == RoleCentralBank && p.Institution == cb && p.RevokedAt.IsZero() {
			keys.mu.RUnlock()
			return "", nil
		}
	}
	keys.mu.RUnlock()
	secret, _, err := keys.Create(Principal{Role: RoleCentralBank, Institution: cb, Name: "bootstrap"})
	return secret, err
}
