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
	"path/filepath"
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

// storedKey is a key as kept on disk: its hash, never its secret.
type storedKey struct {
	Hash string `json:"hash"`
	Principal
}

// Keys holds the API keys and holder tokens, by the SHA-256 of their
// secret, in memory and (when it has a path) in a JSON file rewritten
// atomically on every change.
//
// Processes that serve one database share the file: a lookup that finds
// no key reads the file again if it changed since, and Create reads it
// before adding to it, so a key made at one process works at the others.
// Only the process that holds the writer makes keys, so two do not write
// the file at once.
type Keys struct {
	path string
	mu   sync.RWMutex
	keys map[string]Principal
	// stamp is the file's as last read or written.
	stamp keysStamp
	// checked is when (Unix nanoseconds) Lookup last looked for changes
	// of the file, so a key revoked at another process stops working
	// here within keysRecheck.
	checked atomic.Int64
}

// keysRecheck is how often Lookup looks whether the key file changed.
const keysRecheck = time.Second

// errKeyNotFound answers a revocation of a key that does not exist.
var errKeyNotFound = tongbao.Errorf(tongbao.ENOTFOUND, "no such key")

// keysStamp tells whether the key file changed.
type keysStamp struct {
	mod  time.Time
	size int64
}

// OpenKeys opens the key file at path (created on the first key); an
// empty path keeps the keys in memory only.
func OpenKeys(path string) (*Keys, error) {
	k := &Keys{path: path, keys: make(map[string]Principal)}
	if err := k.reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// reload reads the key file again if it changed since it was last read or
// written; k.mu must be held for writing.
func (k *Keys) reload() error {
	if k.path == "" {
		return nil
	}
	fi, err := os.Stat(k.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("httpapi: open keys: %w", err)
	}
	stamp := keysStamp{mod: fi.ModTime(), size: fi.Size()}
	if stamp == k.stamp {
		return nil
	}
	b, err := os.ReadFile(k.path)
	if err != nil {
		return fmt.Errorf("httpapi: open keys: %w", err)
	}
	var stored []storedKey
	if err := json.Unmarshal(b, &stored); err != nil {
		return fmt.Errorf("httpapi: open keys %s: %w", k.path, err)
	}
	for _, s := range stored {
		k.keys[s.Hash] = s.Principal
	}
	k.stamp = stamp
	return nil
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
		p.CreatedAt = time.Now().UTC()
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.reload(); err != nil {
		return "", Principal{}, err
	}
	k.keys[h] = p
	if err := k.save(); err != nil {
		delete(k.keys, h)
		return "", Principal{}, err
	}
	return secret, p, nil
}

// Lookup returns the principal of a secret, unless it is unknown or
// revoked.
func (k *Keys) Lookup(secret string) (Principal, bool) {
	var hb [sha256.Size * 2]byte
	h := appendHash(hb[:0], secret)
	now := time.Now().UnixNano()
	stale := k.path != "" && now-k.checked.Load() > int64(keysRecheck)
	k.mu.RLock()
	p, ok := k.keys[string(h)]
	k.mu.RUnlock()
	if (ok && !stale) || k.path == "" {
		return p, ok && p.RevokedAt.IsZero()
	}
	// Another process may have made or revoked the key since the file
	// was read.
	k.mu.Lock()
	defer k.mu.Unlock()
	k.checked.Store(now)
	if err := k.reload(); err != nil {
		return Principal{}, false
	}
	p, ok = k.keys[string(h)]
	return p, ok && p.RevokedAt.IsZero()
}

// List returns the keys (never their secrets) that keep says to, oldest
// first.
func (k *Keys) List(keep func(Principal) bool) []Principal {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var out []Principal
	for _, p := range k.keys {
		if keep(p) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Principal) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.KeyID, b.KeyID)
	})
	return out
}

// Revoke revokes the key with an id, if may allows its principal:
// errKeyNotFound if there is no such key, errForbidden if may refuses. A
// key revoked already is returned as it is.
func (k *Keys) Revoke(id, reason string, may func(Principal) bool) (Principal, error) {
	if len(reason) > twotier.ReasonMax {
		return Principal{}, tongbao.Errorf(tongbao.EINVALID, "reason is longer than %d bytes", twotier.ReasonMax)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.reload(); err != nil {
		return Principal{}, err
	}
	for h, p := range k.keys {
		if p.KeyID != id {
			continue
		}
		if !may(p) {
			return Principal{}, errForbidden
		}
		if !p.RevokedAt.IsZero() {
			return p, nil
		}
		old := p
		p.RevokedAt, p.RevokeReason = time.Now().UTC(), reason
		k.keys[h] = p
		if err := k.save(); err != nil {
			k.keys[h] = old
			return Principal{}, err
		}
		return p, nil
	}
	return Principal{}, errKeyNotFound
}

// Len returns how many keys there are.
func (k *Keys) Len() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.keys)
}

// save writes the file: to a temporary file, synced, then renamed over
// the old one, so a crash leaves either the old or the new keys.
func (k *Keys) save() error {
	if k.path == "" {
		return nil
	}
	stored := make([]storedKey, 0, len(k.keys))
	for h, p := range k.keys {
		stored = append(stored, storedKey{Hash: h, Principal: p})
	}
	slices.SortFunc(stored, func(a, b storedKey) int { return a.CreatedAt.Compare(b.CreatedAt) })
	b, err := json.MarshalIndent(stored, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(k.path), ".keys-*")
	if err != nil {
		return fmt.Errorf("httpapi: save keys: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("httpapi: save keys: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("httpapi: save keys: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("httpapi: save keys: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return fmt.Errorf("httpapi: save keys: %w", err)
	}
	if err := os.Rename(tmp.Name(), k.path); err != nil {
		return fmt.Errorf("httpapi: save keys: %w", err)
	}
	if fi, err := os.Stat(k.path); err == nil {
		k.stamp = keysStamp{mod: fi.ModTime(), size: fi.Size()}
	}
	return nil
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
