package httpapi

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/tongbao/tongbao/httpapi/wire"
)

// The idempotency cache keeps the answers to payments packed: a payment
// takes about 70 bytes instead of the 250 of its JSON, and a batch of a
// hundred 7 KB instead of 25 KB. Replayed, a packed answer is unpacked
// and encoded again, which gives the bytes first sent: wire.Encode writes
// the same value the same way (pack_test.go checks it).

// Tags of a packed answer.
const (
	packPayment = 1 // a wire.Payment
	packResults = 2 // a wire.PayBatchResults
)

// Flags of a packed payment, and of a batch's result.
const (
	flagCrossOperator = 1 << iota
	flagDuplicate
	flagPayment // a result with a payment
	flagProblem // a result with a problem
)

var errPacked = errors.New("httpapi: a packed answer is corrupt")

// packAnswer returns v packed, or false if v is not an answer that packs.
func packAnswer(v any) ([]byte, bool) {
	switch v := v.(type) {
	case *wire.Payment:
		if v != nil {
			return packPaymentTo(append(make([]byte, 0, 72), packPayment), 0, v), true
		}
	case wire.Payment:
		return packPaymentTo(append(make([]byte, 0, 72), packPayment), 0, &v), true
	case wire.PayBatchResults:
		return packResultsTo(&v)
	case *wire.PayBatchResults:
		if v != nil {
			return packResultsTo(v)
		}
	}
	return nil, false
}

func packPaymentTo(b []byte, flags byte, p *wire.Payment) []byte {
	if p.CrossOperator {
		flags |= flagCrossOperator
	}
	if p.Duplicate {
		flags |= flagDuplicate
	}
	b = append(b, flags)
	b = append(b, p.ID[:]...)
	b = append(b, p.From[:]...)
	b = append(b, p.To[:]...)
	b = binary.AppendVarint(b, int64(p.Amount))
	b = binary.AppendVarint(b, p.Timestamp)
	return binary.AppendUvarint(b, p.Window)
}

func packResultsTo(r *wire.PayBatchResults) ([]byte, bool) {
	if r.Results == nil {
		return nil, false // null, not []: rare, kept as JSON
	}
	b := make([]byte, 0, 16+len(r.Results)*72)
	b = append(b, packResults)
	b = binary.AppendUvarint(b, uint64(len(r.Results)))
	for i := range r.Results {
		res := &r.Results[i]
		var flags byte
		if res.Problem != nil {
			flags |= flagProblem
		}
		if res.Payment != nil {
			b = packPaymentTo(b, flags|flagPayment, res.Payment)
		} else {
			b = append(b, flags)
		}
		if res.Problem != nil {
			p, err := json.Marshal(res.Problem)
			if err != nil || !plainProblem(res.Problem) {
				return nil, false
			}
			b = binary.AppendUvarint(b, uint64(len(p)))
			b = append(b, p...)
		}
	}
	return b, true
}

// plainProblem reports whether a problem survives a round trip through
// JSON unchanged: its strings are valid UTF-8.
func plainProblem(p *wire.Problem) bool {
	return utf8.ValidString(p.Type) && utf8.ValidString(p.Title) && utf8.ValidString(p.Detail) && utf8.ValidString(p.Instance) && utf8.ValidString(p.RequestID)
}

// unpackAnswer returns what packAnswer packed, as a value wire.Encode
// writes as it wrote the original.
func unpackAnswer(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, errPacked
	}
	switch b[0] {
	case packPayment:
		p, rest, err := unpackPayment(b[1:])
		if err != nil || len(rest) != 0 {
			return nil, errPacked
		}
		return p, nil
	case packResults:
		n, k := binary.Uvarint(b[1:])
		if k <= 0 || n > uint64(len(b)) {
			return nil, errPacked
		}
		b = b[1+k:]
		r := wire.PayBatchResults{Results: make([]wire.PayBatchResult, n)}
		for i := range r.Results {
			if len(b) == 0 {
				return nil, errPacked
			}
			flags := b[0]
			if flags&flagPayment != 0 {
				p, rest, err := unpackPayment(b)
				if err != nil {
					return nil, err
				}
				r.Results[i].Payment, b = p, rest
			} else {
				b = b[1:]
			}
			if flags&flagProblem != 0 {
				n, k := binary.Uvarint(b)
				if k <= 0 || n > uint64(len(b)-k) {
					return nil, errPacked
				}
				p := &wire.Problem{}
				if err := json.Unmarshal(b[k:k+int(n)], p); err != nil {
					return nil, errPacked
				}
				r.Results[i].Problem, b = p, b[k+int(n):]
			}
		}
		if len(b) != 0 {
			return nil, errPacked
		}
		return r, nil
	}
	return nil, errPacked
}

func unpackPayment(b []byte) (*wire.Payment, []byte, error) {
	if len(b) < 1+48 {
		return nil, nil, errPacked
	}
	flags := b[0]
	p := &wire.Payment{CrossOperator: flags&flagCrossOperator != 0, Duplicate: flags&flagDuplicate != 0}
	copy(p.ID[:], b[1:17])
	copy(p.From[:], b[17:33])
	copy(p.To[:], b[33:49])
	b = b[49:]
	amount, k := binary.Varint(b)
	if k <= 0 {
		return nil, nil, errPacked
	}
	b = b[k:]
	ts, k := binary.Varint(b)
	if k <= 0 {
		return nil, nil, errPacked
	}
	b = b[k:]
	window, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, nil, errPacked
	}
	p.Amount, p.Timestamp, p.Window = wire.Amount(amount), ts, window
	return p, b[k:], nil
}
