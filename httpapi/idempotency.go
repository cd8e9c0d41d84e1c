package httpapi

import (
	"crypto/sha256"
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// Limits of the idempotency cache.
const (
	// IdempotencyKeyMax is the longest Idempotency-Key accepted, in bytes.
	IdempotencyKeyMax = 255
	// DefaultIdempotencyBytesMax bounds the memory the answers kept under
	// Idempotency-Keys take (Config.IdempotencyBytesMax). An answer
	// evicted (or lost in a restart) is still safe: the transfer ids are
	// derived from the caller and the key, so the ledger recognises the
	// retry and answers it as a duplicate, or as a conflict if the
	// request changed.
	DefaultIdempotencyBytesMax = 64 << 20
	// DefaultIdempotencyRetention is how long an answer is kept under its
	// Idempotency-Key (Config.IdempotencyRetention): a day, as Stripe
	// keeps keys. A retry later than that reaches the domain, as after an
	// eviction.
	DefaultIdempotencyRetention = 24 * time.Hour
	idempotencyShards           = 64
	// answerOverhead is about what an entry costs besides its key and its
	// answer: the map's slot, the answer, its channel, its place in the
	// order, and the rounding of each allocation to its size class (a
	// single payment's entry measured 476 bytes of heap in all).
	answerOverhead = 336
)

// answer is a stored first answer to a request under an Idempotency-Key,
// in a compact form: payments packed (pack.go), refusals as problems (to
// be replayed with the retry's request id), anything else as its JSON.
type answer struct {
	key  string
	hash [32]byte // of what was asked: askedHash
	done chan struct{}
	at   int64 // Unix nanoseconds of the first request, by the cache's clock
	size int64 // bytes counted against the cache's bound
	live bool  // in the map and counted; guarded by the shard's lock

	// Set before done is closed, read only after. status is zero when
	// the first request left no answer to replay (its outcome is
	// unknown, and a retry must run again).
	status  int
	problem *wire.Problem
	packed  []byte
	body    []byte
}

// idempotency keeps the first answer to each (caller, key) for a
// retention time and within a bound of bytes, sharded to keep the lock
// short under many clients, each shard evicting its oldest entries first.
type idempotency struct {
	seed          maphash.Seed
	clock         tongbao.Clock
	retention     int64 // nanoseconds
	shardBytesMax int64
	entries       atomic.Int64
	bytes         atomic.Int64
	sweep         atomic.Uint32 // the shard the next request expires
	shards        [idempotencyShards]idempotencyShard
}

type idempotencyShard struct {
	mu      sync.Mutex
	answers map[string]*answer
	order   []*answer // oldest first from head; removed ones wait their turn
	head    int
	bytes   int64
}

func newIdempotency(clock tongbao.Clock, bytesMax int64, retention time.Duration) *idempotency {
	c := &idempotency{seed: maphash.MakeSeed(), clock: clock, retention: int64(retention), shardBytesMax: bytesMax / idempotencyShards}
	for i := range c.shards {
		c.shards[i].answers = make(map[string]*answer)
	}
	return c
}

func (c *idempotency) shard(key string) *idempotencyShard {
	return &c.shards[maphash.String(c.seed, key)%idempotencyShards]
}

// begin returns the answer under key: either a new one (first true) that
// the caller must finish with finish, or an existing one, which the caller
// waits on with <-a.done before reading.
func (c *idempotency) begin(key string, hash [32]byte) (a *answer, first bool) {
	now := c.clock.Now().UnixNano()
	// Each request also expires another shard's old answers, so that a
	// shard no key falls in does not keep them.
	if o := &c.shards[c.sweep.Add(1)%idempotencyShards]; o.mu.TryLock() {
		c.expire(o, now)
		o.mu.Unlock()
	}
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	c.expire(s, now)
	if a, ok := s.answers[key]; ok {
		if now-a.at < c.retention {
			return a, false
		}
		c.remove(s, a) // the clock went back: it was not first in line
	}
	a = &answer{key: key, hash: hash, done: make(chan struct{}), at: now, size: int64(len(key)) + answerOverhead, live: true}
	s.answers[key] = a
	s.order = append(s.order, a)
	c.count(s, a.size, 1)
	c.shrink(s)
	return a, true
}

// expire drops the shard's answers older than the retention: the oldest
// are first.
func (c *idempotency) expire(s *idempotencyShard, now int64) {
	for s.head < len(s.order) && now-s.order[s.head].at >= c.retention {
		c.pop(s)
	}
}

// finish keeps the answer's fields (set by the caller before) and makes
// it available to the requests waiting on it.
func (c *idempotency) finish(a *answer) {
	n := int64(len(a.packed) + len(a.body))
	if p := a.problem; p != nil {
		n += int64(len(p.Type) + len(p.Title) + len(p.Detail) + len(p.Instance) + 64)
	}
	s := c.shard(a.key)
	s.mu.Lock()
	if a.live {
		a.size += n
		c.count(s, n, 0)
		c.shrink(s)
	}
	s.mu.Unlock()
	close(a.done)
}

// forget drops an answer that must not be replayed (an internal error or
// an unavailable ledger: the outcome is unknown, and the retry must reach
// the ledger, which knows it by the derived id), and releases the
// requests waiting on it to run again.
func (c *idempotency) forget(a *answer) {
	s := c.shard(a.key)
	s.mu.Lock()
	c.remove(s, a)
	s.mu.Unlock()
	close(a.done)
}

// shrink evicts the oldest entries until the shard is within its bound.
// The oldest goes, finished or not: its request keeps its own answer, and
// a retry that misses it reaches the ledger, which knows the transfers by
// their derived ids.
func (c *idempotency) shrink(s *idempotencyShard) {
	for s.bytes > c.shardBytesMax && s.head < len(s.order) {
		c.pop(s)
	}
}

// pop removes the oldest entry of the order, and compacts the order once
// half of it is behind its head.
func (c *idempotency) pop(s *idempotencyShard) {
	a := s.order[s.head]
	s.order[s.head] = nil
	s.head++
	c.remove(s, a)
	if s.head >= 64 && s.head*2 >= len(s.order) {
		n := copy(s.order, s.order[s.head:])
		clear(s.order[n:])
		s.order, s.head = s.order[:n], 0
	}
}

func (c *idempotency) remove(s *idempotencyShard, a *answer) {
	if !a.live {
		return
	}
	a.live = false
	delete(s.answers, a.key)
	c.count(s, -a.size, -1)
}

func (c *idempotency) count(s *idempotencyShard, bytes, entries int64) {
	s.bytes += bytes
	c.bytes.Add(bytes)
	c.entries.Add(entries)
}

// size returns the entries kept and the bytes counted for them, after
// dropping those older than the retention.
func (c *idempotency) size() (entries, bytes int64) {
	now := c.clock.Now().UnixNano()
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		c.expire(s, now)
		s.mu.Unlock()
	}
	return c.entries.Load(), c.bytes.Load()
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
