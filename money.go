package tongbao

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Amount is a count of a currency's smallest unit (fen for CNY). Money is
// never a float: every sum is exact and overflow is an error, never a wrap.
type Amount int64

// AmountMax is the largest amount any balance or transfer may hold.
const AmountMax = Amount(math.MaxInt64)

// ErrOverflow is returned when a sum of amounts would not fit in an Amount.
var ErrOverflow = Sentinel(EINVALID, "invalid-amount", "amount overflow")

// AddAmounts returns a+b, or ErrOverflow if the sum does not fit.
func AddAmounts(a, b Amount) (Amount, error) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, ErrOverflow
	}
	return s, nil
}

// String formats the amount with two decimal places: 12345 is "123.45".
func (a Amount) String() string {
	neg := a < 0
	u := uint64(a)
	if neg {
		u = uint64(-(a + 1)) + 1 // works for math.MinInt64 too
	}
	s := fmt.Sprintf("%d.%02d", u/100, u%100)
	if neg {
		return "-" + s
	}
	return s
}

// ParseAmount reads a decimal string with at most two fraction digits, such
// as "12", "12.3" or "-0.05", as an Amount of fen. It is the decoder for every
// amount typed by a person or sent by a client, so it refuses anything
// ambiguous: exponents, separators, spaces, more than two decimals, a plus
// sign, a leading zero ("01.00"). The grammar, in docs/api.md, is JSON's
// for numbers without an exponent, in a string:
//
//	-?(0|[1-9][0-9]*)(\.[0-9]{1,2})?
func ParseAmount(s string) (Amount, error) {
	if s == "" {
		return 0, Errorf(EINVALID, "amount is empty")
	}
	neg := s[0] == '-'
	body := s
	if neg {
		body = body[1:]
	}
	whole, frac, hasDot := strings.Cut(body, ".")
	if whole == "" || !allDigits(whole) || (len(whole) > 1 && whole[0] == '0') || (hasDot && (frac == "" || len(frac) > 2 || !allDigits(frac))) {
		return 0, Errorf(EINVALID, "amount %q is not a decimal such as 12.34: no sign but a minus, no leading zero, at most two fraction digits", s)
	}
	w, err := strconv.ParseUint(whole, 10, 64)
	if err != nil || w > uint64(AmountMax)/100 {
		return 0, Errorf(EINVALID, "amount %q is too large", s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	f, _ := strconv.ParseUint(frac, 10, 64)
	v := w*100 + f
	if v > uint64(AmountMax) {
		return 0, Errorf(EINVALID, "amount %q is too large", s)
	}
	if neg {
		return -Amount(v), nil
	}
	return Amount(v), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Currency is an ISO 4217 alphabetic code such as "CNY".
type Currency string

// CNY is the renminbi, the currency tongbao issues by default.
const CNY Currency = "CNY"

// Validate reports whether c is three upper-case ASCII letters.
func (c Currency) Validate() error {
	if len(c) != 3 {
		return Errorf(EINVALID, "currency %q is not a three-letter code", string(c))
	}
	for i := 0; i < 3; i++ {
		if c[i] < 'A' || c[i] > 'Z' {
			return Errorf(EINVALID, "currency %q is not a three-letter code", string(c))
		}
	}
	return nil
}
