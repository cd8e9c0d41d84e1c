package ledger

import (
	"encoding/binary"

	tongbao "github.com/tongbao/tongbao"
)

// idSet remembers every transfer id ever used, so that a new id can be
// accepted without a storage lookup. It is a scalable Bloom filter: a
// "maybe" costs one store lookup, a "no" costs nothing. Each layer holds
// twice the ids of the one before, so memory stays about 1.2 bytes per id
// at a false-positive rate under 1%.
type idSet struct {
	layers []*bloom
}

const (
	idSetFirstLayer = 1 << 16 // ids in the first layer
	bloomHashes     = 7       // probes per id; with 10 bits per id: ~0.8% false positives
	bloomBitsPerID  = 10
)

type bloom struct {
	bits     []uint64
	mask     uint64
	count    int
	capacity int
}

func newBloom(capacity int) *bloom {
	n := uint64(1)
	for n < uint64(capacity*bloomBitsPerID) {
		n <<= 1
	}
	return &bloom{bits: make([]uint64, n/64), mask: n - 1, capacity: capacity}
}

// idHashes derives the two probe hashes from all 128 bits of an id with a
// full-avalanche mixer: time-ordered ids made in one millisecond differ only
// in their last bytes, and a weaker hash maps them onto the same bits.
func idHashes(id tongbao.ID) (uint64, uint64) {
	a := binary.LittleEndian.Uint64(id[0:8])
	b := binary.LittleEndian.Uint64(id[8:16])
	h1 := mix64(a ^ mix64(b))
	h2 := mix64(h1 ^ b ^ 0x9E3779B97F4A7C15)
	return h1, h2 | 1
}

// mix64 is the splitmix64 finalizer: every input bit flips each output bit
// with probability one half.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	x ^= x >> 31
	return x
}

func (f *bloom) add(h1, h2 uint64) {
	for i := uint64(0); i < bloomHashes; i++ {
		bit := (h1 + i*h2) & f.mask
		f.bits[bit/64] |= 1 << (bit % 64)
	}
	f.count++
}

func (f *bloom) has(h1, h2 uint64) bool {
	for i := uint64(0); i < bloomHashes; i++ {
		bit := (h1 + i*h2) & f.mask
		if f.bits[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

func (s *idSet) add(id tongbao.ID) {
	if len(s.layers) == 0 || s.layers[len(s.layers)-1].count >= s.layers[len(s.layers)-1].capacity {
		capacity := idSetFirstLayer
		if len(s.layers) > 0 {
			capacity = s.layers[len(s.layers)-1].capacity * 2
		}
		s.layers = append(s.layers, newBloom(capacity))
	}
	h1, h2 := idHashes(id)
	s.layers[len(s.layers)-1].add(h1, h2)
}

// mayHave reports false only for an id that was never added.
func (s *idSet) mayHave(id tongbao.ID) bool {
	h1, h2 := idHashes(id)
	for _, l := range s.layers {
		if l.has(h1, h2) {
			return true
		}
	}
	return false
}
