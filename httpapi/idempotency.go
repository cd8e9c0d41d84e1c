package httpapi

import (
	"crypto/sha256"
	"encoding/binary"
	"hash/maphash"
	"sync"

	tongbao "github.com/tongbao/tongbao"
)

// Limits of the idempotency cache.
const (
	// IdempotencyKeyMax is the longest Idempotency-Key accepted, in bytes.
	IdempotencyKeyMax = 255
	// IdempotencyEntriesMax bounds the answers kept in memory. An answer
	// evicted (or lost in a restart) is still safe: the transfer ids are
	// derived from the caller and the key, so the ledger recognises the
	// retry and answers it as a duplicate, or as a conflict if the body
	// changed.
	IdempotencyEntriesMax = 1 << 20
	idempotencyShards     = 64
)

// answer is a stored first answer to a money-moving request.
type answer struct {
	hash   [32]byte // of method, path and body
	done   chan struct{}
	status int
	body   []byte
	ctype  string
}

// idempotency keeps the first answer to each (caller, key), sharded to
// keep the lock short under many clients, each shard evicting its oldest
// entries first.
type idempotency struct {
	seed   maphash.Seed
	shards [idempotencyShards]idempotencyShard
}

type idempotencyShard struct {
	mu      sync.Mutex
	answers map[string]*answer
	order   []string // insertion order, for eviction
	head    int
}

func newIdempotency() *idempotency {
	c := &idempotency{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].answers = make(map[string]*answer)
	}
	return c
}

// begin returns the answer under key: either a new one (first true) that
// the caller must finish with finish, or an existing one, which the caller
// waits on with <-a.done before reading.
func (c *idempotency) begin(key string, hash [32]byte) (a *answer, first bool) {
	s := &c.shards[maphash.String(c.seed, key)%idempotencyShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.answers[key]; ok {
		return a, false
	}
	a = &answer{hash: hash, done: make(chan struct{})}
	s.answers[key] = a
	perShard := IdempotencyEntriesMax / idempotencyShards
	if len(s.order) < perShard {
		s.order = append(s.order, key)
	} else {
		// The oldest goes, finished or not: its request keeps its own
		// answer, and a retry that misses it reaches the ledger, which
		// knows the transfers by their derived ids. (Keeping a running
		// one here would lose its place in the order, and it would never
		// be evicted.)
		delete(s.answers, s.order[s.head])
		s.order[s.head] = key
		s.head = (s.head + 1) % perShard
	}
	return a, true
}

// forget drops an answer that must not be replayed (an internal error or
// an unavailable ledger: the outcome is unknown, and the retry must reach
// the ledger, which knows it by the derived id).
func (c *idempotency) forget(key string) {
	s := &c.shards[maphash.String(c.seed, key)%idempotencyShards]
	s.mu.Lock()
	delete(s.answers, key)
	s.mu.Unlock()
}

// deriveID returns the id of the i-th transfer a caller's request under
// an Idempotency-Key makes: the same caller, key and index always give the
// same id, across restarts.
//
// When the key is a UUIDv7 in the hyphenated form (what client.NewKey
// makes), the id begins with
// the key's 48 bits of Unix milliseconds and the hash fills the other 80.
// Ids then arrive in about the order of time, so the ledger's id index
// grows at its end: a commit writes a few pages of it rather than one page
// for each transfer at a random place. Any other key gives an id that is
// all hash, which works the same, only with more pages written.
func deriveID(subject, key string, i int) tongbao.ID {
	return idPrefix(subject, key).id(key, i)
}

// derivation is what the hash of every id of one request begins with.
type derivation []byte

func idPrefix(subject, key string) derivation {
	b := make([]byte, 0, len(idDomain)+8+len(subject)+8+len(key)+8)
	b = append(b, idDomain...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(subject)))
	b = append(b, subject...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(key)))
	b = append(b, key...)
	return b
}

const idDomain = "tongbao/httpapi/idempotency\x00"

// id returns the i-th id; key is the one the prefix was made with. The
// index goes into the room idPrefix left after the prefix, so one
// derivation is for one goroutine.
func (d derivation) id(key string, i int) tongbao.ID {
	sum := sha256.Sum256(binary.BigEndian.AppendUint64(d, uint64(i)))
	var id tongbao.ID
	if ms, ok := keyMillis(key); ok {
		copy(id[:6], ms[:])
		copy(id[6:], sum[:])
		return id
	}
	copy(id[:], sum[:])
	return id
}

// keyMillis returns the 48-bit big-endian Unix milliseconds of a key that
// is a UUIDv7 (version 7, RFC 9562 variant) in the hyphenated form. Only
// that form: client.NewKey used to make 32 hexadecimal digits at random,
// one in 64 of which reads as a UUIDv7, and a retry of such a key must
// keep deriving the ids it derived before.
func keyMillis(key string) (ms [6]byte, ok bool) {
	if len(key) != 36 {
		return ms, false
	}
	u, err := tongbao.ParseID(key)
	if err != nil || u[6]>>4 != 7 || u[8]>>6 != 2 {
		return ms, false
	}
	copy(ms[:], u[:6])
	return ms, true
}
