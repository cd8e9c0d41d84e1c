package wire

import (
	"encoding/hex"
	"encoding/json"
	"strconv"

	tongbao "github.com/tongbao/tongbao"
)

// Fast paths for the bodies of payments, the API's hottest: Pay and
// PayBatch (requests), Payment and PayBatchResults (answers). Each handles
// the plain form that clients and the server write (known fields once
// each, strings without escapes or non-ASCII bytes, no null) and reports
// false for anything else, which then goes to encoding/json. Whatever the
// fast path accepts, encoding/json would accept with the same value, and
// whatever it writes, encoding/json would write byte for byte; so answers
// and errors are encoding/json's by construction (fast_test.go and the
// fuzz targets check both).

// paymentBytes is room for a Payment's JSON, and a newline after it.
const paymentBytes = 288

// Encode returns the JSON of v, as json.Marshal does.
func Encode(v any) ([]byte, error) {
	switch v := v.(type) {
	case *Pay:
		if b, ok := appendPay(nil, v); ok {
			return b, nil
		}
	case Pay:
		if b, ok := appendPay(nil, &v); ok {
			return b, nil
		}
	case *PayBatch:
		if b, ok := appendPayBatch(nil, v); ok {
			return b, nil
		}
	case PayBatch:
		if b, ok := appendPayBatch(nil, &v); ok {
			return b, nil
		}
	case *Payment:
		if v != nil {
			return appendPayment(make([]byte, 0, paymentBytes), v), nil
		}
	case Payment:
		return appendPayment(make([]byte, 0, paymentBytes), &v), nil
	case PayBatchResults:
		return appendPayBatchResults(make([]byte, 0, 32+len(v.Results)*(paymentBytes+12)), &v)
	case *PayBatchResults:
		if v != nil {
			return appendPayBatchResults(make([]byte, 0, 32+len(v.Results)*(paymentBytes+12)), v)
		}
	}
	return json.Marshal(v)
}

// Append appends the JSON of v to b, as Encode writes it: for the
// requests of payments, without a buffer of its own.
func Append(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case *Pay:
		if out, ok := appendPay(b, v); ok {
			return out, nil
		}
	case *PayBatch:
		if out, ok := appendPayBatch(b, v); ok {
			return out, nil
		}
	}
	out, err := Encode(v)
	return append(b, out...), err
}

// DecodeAnswer decodes an answer of the server into v as json.Unmarshal
// does: unknown fields are left alone, so a client keeps working when the
// server adds one.
func DecodeAnswer(data []byte, v any) error {
	if decodeFast(data, v) {
		return nil
	}
	return json.Unmarshal(data, v)
}

// decodeFast decodes data into v if v is one of the hot types and data is
// in the plain form; otherwise it leaves v alone and returns false.
func decodeFast(data []byte, v any) bool {
	s := scanner{b: data}
	switch v := v.(type) {
	case *Pay:
		var p Pay
		if s.pay(&p) && s.end() {
			*v = p
			return true
		}
	case *PayBatch:
		var p PayBatch
		if s.payBatch(&p) && s.end() {
			*v = p
			return true
		}
	case *Payment:
		var p Payment
		if s.payment(&p) && s.end() {
			*v = p
			return true
		}
	case *PayBatchResults:
		var r PayBatchResults
		if s.payBatchResults(&r) && s.end() {
			*v = r
			return true
		}
	}
	return false
}

// scanner reads the plain form of JSON. Every method returns false at the
// first thing it does not handle, and the caller gives up.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips white space and consumes c if it comes next.
func (s *scanner) next(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.space()
	return s.i == len(s.b)
}

// str reads a string of printable ASCII without escapes.
func (s *scanner) str() ([]byte, bool) {
	if !s.next('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c < 0x20 || c == '\\' || c >= 0x80:
			return nil, false
		}
	}
	return nil, false
}

// id reads an id in either form tongbao.ParseID accepts: 32 hexadecimal
// digits, or 36 with the hyphens of the UUID form.
func (s *scanner) id() (tongbao.ID, bool) {
	b, ok := s.str()
	if !ok {
		return tongbao.ID{}, false
	}
	var digits [32]byte
	switch {
	case len(b) == 32:
		copy(digits[:], b)
	case len(b) == 36 && b[8] == '-' && b[13] == '-' && b[18] == '-' && b[23] == '-':
		n := copy(digits[:], b[0:8])
		n += copy(digits[n:], b[9:13])
		n += copy(digits[n:], b[14:18])
		n += copy(digits[n:], b[19:23])
		copy(digits[n:], b[24:36])
	default:
		return tongbao.ID{}, false
	}
	var id tongbao.ID
	_, err := hex.Decode(id[:], digits[:])
	return id, err == nil
}

func (s *scanner) amount() (Amount, bool) {
	b, ok := s.str()
	if !ok {
		return 0, false
	}
	a, err := tongbao.ParseAmount(string(b))
	return Amount(a), err == nil
}

// integer reads a JSON number without fraction or exponent, with a sign
// only if signed.
func (s *scanner) integer(signed bool) ([]byte, bool) {
	s.space()
	start := s.i
	if signed && s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	digits := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	n := s.i - digits
	if n == 0 || (n > 1 && s.b[digits] == '0') {
		return nil, false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return nil, false
	}
	return s.b[start:s.i], true
}

func (s *scanner) int64() (int64, bool) {
	b, ok := s.integer(true)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	return v, err == nil
}

func (s *scanner) uint64() (uint64, bool) {
	b, ok := s.integer(false)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b), 10, 64)
	return v, err == nil
}

func (s *scanner) bool() (v, ok bool) {
	s.space()
	rest := s.b[s.i:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		s.i += 4
		return true, true
	case len(rest) >= 5 && string(rest[:5]) == "false":
		s.i += 5
		return false, true
	}
	return false, false
}

// object reads an object whose members field reads, each name at most
// once; field is given the name and the index of the name in names.
func (s *scanner) object(names []string, field func(i int) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	var seen uint32
	for {
		name, ok := s.str()
		if !ok || !s.next(':') {
			return false
		}
		i := 0
		for i < len(names) && names[i] != string(name) {
			i++
		}
		if i == len(names) || seen&(1<<i) != 0 || !field(i) {
			return false
		}
		seen |= 1 << i
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// array reads an array, element reading each element.
func (s *scanner) array(element func() bool) bool {
	if !s.next('[') {
		return false
	}
	if s.next(']') {
		return true
	}
	for {
		if !element() {
			return false
		}
		if s.next(']') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

var payNames = []string{"from", "to", "amount", "currency"}

func (s *scanner) pay(p *Pay) bool {
	return s.object(payNames, func(i int) (ok bool) {
		var b []byte
		switch i {
		case 0:
			p.From, ok = s.id()
		case 1:
			b, ok = s.str()
			p.To = string(b)
		case 2:
			p.Amount, ok = s.amount()
		case 3:
			b, ok = s.str()
			p.Currency = tongbao.Currency(b)
		}
		return ok
	})
}

var payBatchNames = []string{"payments"}

func (s *scanner) payBatch(p *PayBatch) bool {
	return s.object(payBatchNames, func(int) bool {
		p.Payments = []Pay{} // [] decodes to an empty slice, not nil
		return s.array(func() bool {
			p.Payments = append(p.Payments, Pay{})
			return s.pay(&p.Payments[len(p.Payments)-1])
		})
	})
}

var paymentNames = []string{"id", "from", "to", "amount", "timestamp", "cross_operator", "window", "duplicate"}

func (s *scanner) payment(p *Payment) bool {
	return s.object(paymentNames, func(i int) (ok bool) {
		switch i {
		case 0:
			p.ID, ok = s.id()
		case 1:
			p.From, ok = s.id()
		case 2:
			p.To, ok = s.id()
		case 3:
			p.Amount, ok = s.amount()
		case 4:
			p.Timestamp, ok = s.int64()
		case 5:
			p.CrossOperator, ok = s.bool()
		case 6:
			p.Window, ok = s.uint64()
		case 7:
			p.Duplicate, ok = s.bool()
		}
		return ok
	})
}

var (
	payBatchResultsNames = []string{"results"}
	payBatchResultNames  = []string{"payment"}
)

// payBatchResults reads results that are all payments: a problem, rare,
// is left to encoding/json.
func (s *scanner) payBatchResults(r *PayBatchResults) bool {
	return s.object(payBatchResultsNames, func(int) bool {
		r.Results = []PayBatchResult{}
		return s.array(func() bool {
			r.Results = append(r.Results, PayBatchResult{})
			res := &r.Results[len(r.Results)-1]
			return s.object(payBatchResultNames, func(int) bool {
				res.Payment = &Payment{}
				return s.payment(res.Payment)
			})
		})
	})
}

// plain reports whether json.Marshal writes s as it is between quotes:
// printable ASCII without the characters it escapes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x80, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// appendID writes an id as its MarshalText does, in the UUID form.
func appendID(b []byte, id tongbao.ID) []byte {
	return append(id.Append(append(b, '"')), '"')
}

// appendAmount writes an amount as Amount.MarshalJSON does.
func appendAmount(b []byte, a Amount) []byte {
	v := int64(a)
	u := uint64(v)
	b = append(b, '"')
	if v < 0 {
		b = append(b, '-')
		u = -u
	}
	b = strconv.AppendUint(b, u/100, 10)
	frac := u % 100
	b = append(b, '.', byte('0'+frac/10), byte('0'+frac%10))
	return append(b, '"')
}

func appendPay(b []byte, p *Pay) ([]byte, bool) {
	if !plain(p.To) || !plain(string(p.Currency)) {
		return nil, false
	}
	b = append(b, `{"from":`...)
	b = appendID(b, p.From)
	b = append(b, `,"to":"`...)
	b = append(b, p.To...)
	b = append(b, `","amount":`...)
	b = appendAmount(b, p.Amount)
	if p.Currency != "" {
		b = append(b, `,"currency":"`...)
		b = append(b, p.Currency...)
		b = append(b, '"')
	}
	return append(b, '}'), true
}

func appendPayBatch(b []byte, p *PayBatch) ([]byte, bool) {
	if p.Payments == nil {
		return append(b, `{"payments":null}`...), true
	}
	b = append(b, `{"payments":[`...)
	for i := range p.Payments {
		if i > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = appendPay(b, &p.Payments[i]); !ok {
			return nil, false
		}
	}
	return append(b, "]}"...), true
}

func appendPayment(b []byte, p *Payment) []byte {
	b = append(b, `{"id":`...)
	b = appendID(b, p.ID)
	b = append(b, `,"from":`...)
	b = appendID(b, p.From)
	b = append(b, `,"to":`...)
	b = appendID(b, p.To)
	b = append(b, `,"amount":`...)
	b = appendAmount(b, p.Amount)
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, p.Timestamp, 10)
	b = append(b, `,"cross_operator":`...)
	b = strconv.AppendBool(b, p.CrossOperator)
	if p.Window != 0 {
		b = append(b, `,"window":`...)
		b = strconv.AppendUint(b, p.Window, 10)
	}
	b = append(b, `,"duplicate":`...)
	b = strconv.AppendBool(b, p.Duplicate)
	return append(b, '}')
}

func appendPayBatchResults(b []byte, r *PayBatchResults) ([]byte, error) {
	if r.Results == nil {
		return append(b, `{"results":null}`...), nil
	}
	b = append(b, `{"results":[`...)
	for i, res := range r.Results {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if res.Payment != nil {
			b = append(b, `"payment":`...)
			b = appendPayment(b, res.Payment)
		}
		if res.Problem != nil {
			if res.Payment != nil {
				b = append(b, ',')
			}
			p, err := json.Marshal(res.Problem)
			if err != nil {
				return nil, err
			}
			b = append(b, `"problem":`...)
			b = append(b, p...)
		}
		b = append(b, '}')
	}
	return append(b, "]}"...), nil
}
