package tongbao_test

import (
	"regexp"
	"strings"
	"testing"

	tongbao "github.com/tongbao/tongbao"
)

// amountGrammar is the grammar of amounts that docs/api.md states.
var amountGrammar = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]{1,2})?$`)

// FuzzParseAmount checks that every amount the parser accepts is in the
// documented grammar and formats back to a string that parses to the same
// amount, and that rejected input is rejected with an EINVALID error.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"0", "12.34", "-0.05", "1.5", "92233720368547758.07", "92233720368547758.08", "1e3", " 1", "+3", ".5", "5.", "1,000", "00012.30", "+1.00", "01.00", "-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := tongbao.ParseAmount(s)
		if err != nil {
			if tongbao.ErrorCode(err) != tongbao.EINVALID {
				t.Fatalf("ParseAmount(%q): error code %q; want %q", s, tongbao.ErrorCode(err), tongbao.EINVALID)
			}
			// Of the grammar, only what does not fit is refused: at least
			// the 17 whole digits of AmountMax.
			if whole, _, _ := strings.Cut(strings.TrimPrefix(s, "-"), "."); amountGrammar.MatchString(s) && len(whole) < 17 {
				t.Fatalf("ParseAmount(%q) refused an amount of the grammar: %v", s, err)
			}
			return
		}
		if !amountGrammar.MatchString(s) {
			t.Fatalf("ParseAmount(%q) = %d, outside the documented grammar", s, a)
		}
		back, err := tongbao.ParseAmount(a.String())
		if err != nil || back != a {
			t.Fatalf("ParseAmount(%q) = %d, formatted %q, parsed back %d, %v", s, a, a.String(), back, err)
		}
	})
}

// FuzzParseID checks the round trip of every accepted id.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"00000000-0000-0000-0000-000000000001", "0123456789abcdef0123456789ABCDEF", "0000000000000000000000000000000g", "", "01234567-89ab-cdef-0123-456789abcde-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := tongbao.ParseID(s)
		if err != nil {
			return
		}
		back, err := tongbao.ParseID(id.String())
		if err != nil || back != id {
			t.Fatalf("ParseID(%q) = %v, parsed back %v, %v", s, id, back, err)
		}
	})
}
