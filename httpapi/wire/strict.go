package wire

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	tongbao "github.com/tongbao/tongbao"
)

// encoding/json accepts two things that a strict decoder must not: a
// member name given twice in one object (the last one wins, so
// {"amount":"1.00","amount":"900.00"} would pay 900.00), and strings that
// are not valid UTF-8 or hold an unpaired surrogate escape (each becomes
// U+FFFD, so the value stored is not the value sent). checkStrict finds
// both before encoding/json decodes; the fast path never accepts either.

// ErrDuplicateName is in the chain of the error of a body that names a
// member twice in one object.
var ErrDuplicateName = tongbao.Sentinel(tongbao.EINVALID, "malformed-json", "a member is named twice in one object")

// ErrInvalidUTF8 is in the chain of the error of a body with a string that
// is not valid UTF-8, raw or escaped.
var ErrInvalidUTF8 = tongbao.Sentinel(tongbao.EINVALID, "malformed-json", "a string is not valid UTF-8")

// strictDepthMax is how deep checkStrict follows nested values: as deep
// as encoding/json does, which refuses anything deeper.
const strictDepthMax = 10000

// checkStrict returns an error wrapping ErrDuplicateName or
// ErrInvalidUTF8 if data has either. It judges nothing else: at anything
// that is not well-formed JSON it stops and returns nil, leaving the
// error to encoding/json.
func checkStrict(data []byte) error {
	c := checker{scanner{b: data}}
	if err := c.value(0); err != nil && err != errStop {
		return err
	}
	return nil
}

// errStop ends checking at malformed JSON.
var errStop = &tongbao.Error{Code: tongbao.EINVALID, Message: "malformed JSON"}

// checker reads with the fast path's scanner (space, next), and on its
// own.
type checker struct{ scanner }

func (c *checker) value(depth int) error {
	c.space()
	if c.i == len(c.b) {
		return errStop
	}
	switch c.b[c.i] {
	case '{':
		return c.object(depth + 1)
	case '[':
		return c.array(depth + 1)
	case '"':
		_, err := c.str(false)
		return err
	}
	// A number or a literal: encoding/json checks its syntax.
	for c.i < len(c.b) {
		switch c.b[c.i] {
		case ',', ']', '}', ' ', '\t', '\n', '\r':
			return nil
		case '"', '{', '[':
			return errStop
		}
		c.i++
	}
	return nil
}

func (c *checker) object(depth int) error {
	if depth > strictDepthMax {
		return errStop
	}
	c.i++ // {
	c.space()
	if c.i < len(c.b) && c.b[c.i] == '}' {
		c.i++
		return nil
	}
	var names []string // folded; objects are small, a map costs more
	var many map[string]bool
	for {
		c.space()
		if c.i == len(c.b) || c.b[c.i] != '"' {
			return errStop
		}
		name, err := c.str(true)
		if err != nil {
			return err
		}
		folded := foldName(name)
		dup := false
		if many != nil {
			dup = many[folded]
			many[folded] = true
		} else {
			for _, n := range names {
				dup = dup || n == folded
			}
			names = append(names, folded)
			if len(names) > 16 {
				many = make(map[string]bool, 2*len(names))
				for _, n := range names {
					many[n] = true
				}
			}
		}
		if dup {
			return &tongbao.Error{Code: tongbao.EINVALID, Message: fmt.Sprintf("member %q is named twice in one object", name), Err: ErrDuplicateName}
		}
		if !c.next(':') {
			return errStop
		}
		if err := c.value(depth); err != nil {
			return err
		}
		if end, err := c.after('}'); end || err != nil {
			return err
		}
	}
}

// after reads what follows a member or an element: a comma, or the
// closing bracket (end true).
func (c *checker) after(closing byte) (end bool, err error) {
	switch {
	case c.next(','):
		return false, nil
	case c.next(closing):
		return true, nil
	}
	return false, errStop
}

func (c *checker) array(depth int) error {
	if depth > strictDepthMax {
		return errStop
	}
	c.i++ // [
	c.space()
	if c.i < len(c.b) && c.b[c.i] == ']' {
		c.i++
		return nil
	}
	for {
		if err := c.value(depth); err != nil {
			return err
		}
		if end, err := c.after(']'); end || err != nil {
			return err
		}
	}
}

// str reads a string from its opening quote, and returns its value when
// asked to (member names, to compare them).
func (c *checker) str(want bool) (string, error) {
	c.i++ // "
	start := c.i
	var val []byte // the value, once an escape makes it differ from the raw bytes
	escaped := false
	for c.i < len(c.b) {
		switch b := c.b[c.i]; {
		case b == '"':
			raw := c.b[start:c.i]
			c.i++
			if !want {
				return "", nil
			}
			if !escaped {
				return string(raw), nil
			}
			return string(val), nil
		case b < 0x20:
			return "", errStop
		case b < utf8.RuneSelf && b != '\\':
			if escaped {
				val = append(val, b)
			}
			c.i++
		case b >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(c.b[c.i:])
			if r == utf8.RuneError && n == 1 {
				return "", &tongbao.Error{Code: tongbao.EINVALID, Message: fmt.Sprintf("the string at byte %d is not valid UTF-8", start-1), Err: ErrInvalidUTF8}
			}
			if escaped {
				val = append(val, c.b[c.i:c.i+n]...)
			}
			c.i += n
		default: // a backslash
			if !escaped {
				escaped = true
				val = append(val, c.b[start:c.i]...)
			}
			r, n, ok := c.escape(c.b[c.i:])
			if !ok {
				return "", errStop
			}
			if r < 0 {
				return "", &tongbao.Error{Code: tongbao.EINVALID, Message: fmt.Sprintf("the string at byte %d has an unpaired surrogate escape", start-1), Err: ErrInvalidUTF8}
			}
			val = utf8.AppendRune(val, r)
			c.i += n
		}
	}
	return "", errStop
}

// escape reads the escape at the start of b: the rune it stands for, its
// length, and whether it is one. A \u escape of half a surrogate pair
// without its other half gives the rune -1.
func (c *checker) escape(b []byte) (r rune, n int, ok bool) {
	if len(b) < 2 {
		return 0, 0, false
	}
	switch b[1] {
	case '"', '\\', '/':
		return rune(b[1]), 2, true
	case 'b':
		return '\b', 2, true
	case 'f':
		return '\f', 2, true
	case 'n':
		return '\n', 2, true
	case 'r':
		return '\r', 2, true
	case 't':
		return '\t', 2, true
	case 'u':
	default:
		return 0, 0, false
	}
	r1, ok := hex4(b[2:])
	if !ok {
		return 0, 0, false
	}
	switch {
	case r1 < 0xd800 || r1 > 0xdfff:
		return r1, 6, true
	case r1 >= 0xdc00: // a low half first
		return -1, 6, true
	}
	if len(b) < 12 || b[6] != '\\' || b[7] != 'u' {
		return -1, 6, true
	}
	r2, ok := hex4(b[8:])
	if !ok {
		return 0, 0, false
	}
	if r2 < 0xdc00 || r2 > 0xdfff {
		return -1, 6, true
	}
	return 0x10000 + (r1-0xd800)<<10 + (r2 - 0xdc00), 12, true
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// foldName folds a member name as encoding/json does to match it to a
// field: two names with the same fold fill the same field, so they count
// as the same name.
func foldName(s string) string {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || c >= 'a' && c <= 'z' {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			out = append(out, byte(r))
			continue
		}
		out = utf8.AppendRune(out, foldRune(r))
	}
	return string(out)
}

// foldRune returns the smallest rune of r's fold set.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}
