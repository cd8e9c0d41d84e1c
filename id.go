package tongbao

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// ID is a 128-bit identifier of an account or a transfer, chosen by the
// client. The zero ID is never valid.
type ID [16]byte

// String formats the ID in the 8-4-4-4-12 hexadecimal form of a UUID.
func (id ID) String() string {
	var b [36]byte
	return string(id.Append(b[:0]))
}

// Append appends the ID as String formats it, without allocating when b
// has room.
func (id ID) Append(b []byte) []byte {
	b = append(b, "00000000-0000-0000-0000-000000000000"...)
	t := b[len(b)-36:]
	hex.Encode(t[0:8], id[0:4])
	hex.Encode(t[9:13], id[4:6])
	hex.Encode(t[14:18], id[6:8])
	hex.Encode(t[19:23], id[8:10])
	hex.Encode(t[24:], id[10:])
	return b
}

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseID.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ParseID reads an ID written as 32 hexadecimal digits, with or without the
// hyphens of the UUID form. It is the decoder for every ID that arrives from
// outside, so it accepts nothing else.
func ParseID(s string) (ID, error) {
	var id ID
	var digits [32]byte
	n := 0
	switch len(s) {
	case 32:
		copy(digits[:], s)
		n = 32
	case 36:
		for i := 0; i < 36; i++ {
			if i == 8 || i == 13 || i == 18 || i == 23 {
				if s[i] != '-' {
					return ID{}, Errorf(EINVALID, "id %q is not 32 hexadecimal digits", s)
				}
				continue
			}
			digits[n] = s[i]
			n++
		}
	default:
		return ID{}, Errorf(EINVALID, "id %q is not 32 hexadecimal digits", s)
	}
	if _, err := hex.Decode(id[:], digits[:n]); err != nil {
		return ID{}, Errorf(EINVALID, "id %q is not 32 hexadecimal digits", s)
	}
	return id, nil
}

// IDFromUint64 returns the ID whose low 64 bits are n: handy for fixtures
// and simulations that number their accounts.
func IDFromUint64(n uint64) ID {
	var id ID
	binary.BigEndian.PutUint64(id[8:], n)
	return id
}

var idGen struct {
	mu   sync.Mutex
	last ID
}

// NewID returns a fresh time-ordered ID laid out as a UUIDv7: 48 bits of
// Unix milliseconds, then random bits, with a counter that keeps IDs made
// in the same millisecond by this process strictly increasing. Time-ordered
// IDs keep the transfers index append-mostly, so prefer them.
func NewID() ID {
	var id ID
	ms := uint64(time.Now().UnixMilli())
	id[0] = byte(ms >> 40)
	id[1] = byte(ms >> 32)
	id[2] = byte(ms >> 24)
	id[3] = byte(ms >> 16)
	id[4] = byte(ms >> 8)
	id[5] = byte(ms)
	if _, err := rand.Read(id[6:]); err != nil {
		panic("tongbao: no randomness: " + err.Error())
	}
	id[6] = 0x70 | id[6]&0x0f // version 7
	id[8] = 0x80 | id[8]&0x3f // variant
	idGen.mu.Lock()
	defer idGen.mu.Unlock()
	if string(id[:6]) == string(idGen.last[:6]) && string(id[:]) <= string(idGen.last[:]) {
		id = idGen.last
		for i := 15; i >= 9; i-- { // bump the random tail, keeping version and variant bits
			id[i]++
			if id[i] != 0 {
				break
			}
		}
	}
	idGen.last = id
	return id
}

// IDFromBytes returns the ID stored as its 16 bytes.
func IDFromBytes(b []byte) (ID, error) {
	var id ID
	if len(b) != len(id) {
		return id, Errorf(EINTERNAL, "stored id has %d bytes, not 16", len(b))
	}
	copy(id[:], b)
	return id, nil
}

// DeriveID returns the id a name and its parts always give: SHA-256 of
// the name, then of each part (an ID's bytes, an int64 or uint64 as eight
// big-endian bytes, a string as its length so, then its bytes), cut to
// 16 bytes. The domain names the accounts and transfer legs it makes by
// it, so a restart or a retry finds the same ones. It panics on a part of
// another type: a bug, not input.
func DeriveID(name string, parts ...any) ID {
	h := sha256.New()
	h.Write([]byte(name))
	var b [8]byte
	for _, p := range parts {
		switch v := p.(type) {
		case ID:
			h.Write(v[:])
		case int64:
			binary.BigEndian.PutUint64(b[:], uint64(v))
			h.Write(b[:])
		case uint64:
			binary.BigEndian.PutUint64(b[:], v)
			h.Write(b[:])
		case string:
			binary.BigEndian.PutUint64(b[:], uint64(len(v)))
			h.Write(b[:])
			h.Write([]byte(v))
		default:
			panic(fmt.Sprintf("tongbao: DeriveID: unsupported part %T", p))
		}
	}
	var id ID
	copy(id[:], h.Sum(nil))
	return id
}
