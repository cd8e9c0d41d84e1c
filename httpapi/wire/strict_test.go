package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestDecodeRefusesDuplicateNames guards against a past bug: a member
// named twice was accepted and the last one won, so
// {"amount":"1.00","amount":"900.00"} paid 900.00.
func TestDecodeRefusesDuplicateNames(t *testing.T) {
	const from = `"from":"0198c5a2-3f00-7000-8000-000000000001"`
	for _, tt := range []struct {
		name string
		v    any
		body string
	}{
		{"amount twice", new(Pay), `{` + from + `,"to":"13800000001","amount":"1.00","amount":"900.00"}`},
		{"to twice", new(Pay), `{` + from + `,"to":"13800000001","to":"13800000002","amount":"1.00"}`},
		{"amount in another case", new(Pay), `{` + from + `,"to":"13800000001","amount":"1.00","AMOUNT":"900.00"}`},
		{"amount escaped", new(Pay), `{` + from + `,"to":"13800000001","amount":"1.00","\u0061mount":"900.00"}`},
		{"in a batch", new(PayBatch), `{"payments":[{` + from + `,"to":"x","amount":"1.00","amount":"2.00"}]}`},
		{"batch twice", new(PayBatch), `{"payments":[],"payments":[{` + from + `,"to":"x","amount":"1.00"}]}`},
		{"money", new(Money), `{"amount":"1.00", "amount":"900.00"}`},
		{"nested", new(OpenWallet), `{"category":1,"holder_limits":{"balance_max":"1","balance_max":"2"}}`},
		{"map key", new(SetCaps), `{"effective_from":"2026-01-01T00:00:00Z","caps":{"1":{},"1":{}}}`},
	} {
		err := Decode([]byte(tt.body), tt.v)
		if !errors.Is(err, ErrDuplicateName) {
			t.Errorf("%s: Decode(%s) = %v; want ErrDuplicateName", tt.name, tt.body, err)
		}
	}
	// Distinct names in objects side by side are no duplicates.
	var b PayBatch
	body := `{"payments":[{` + from + `,"to":"x","amount":"1.00"},{` + from + `,"to":"y","amount":"2.00"}]}`
	if err := Decode([]byte(body), &b); err != nil || len(b.Payments) != 2 {
		t.Errorf("Decode(%s) = %v, %+v; want two payments", body, err, b)
	}
}

// TestDecodeRefusesInvalidUTF8 guards against a past bug: invalid UTF-8
// in a text field was replaced by U+FFFD, so the name stored was not the
// name sent.
func TestDecodeRefusesInvalidUTF8(t *testing.T) {
	for _, body := range []string{
		"{\"category\":1,\"holder_name\":\"\xff\xfe\"}",
		"{\"category\":1,\"holder_name\":\"ab\xc3\"}",
		"{\"category\":1,\"holder_name\":\"\xed\xa0\x80\"}", // an encoded surrogate
		`{"category":1,"holder_name":"\ud800"}`,
		`{"category":1,"holder_name":"\udc00\ud800"}`,
		`{"category":1,"holder_name":"\ud800x"}`,
		"{\"category\":1,\"\xff\":\"x\"}",
	} {
		var w OpenWallet
		if err := Decode([]byte(body), &w); !errors.Is(err, ErrInvalidUTF8) {
			t.Errorf("Decode(%q) = %v, %+v; want ErrInvalidUTF8", body, err, w)
		}
	}
	for body, want := range map[string]string{
		`{"category":1,"holder_name":"张三"}`:           "张三",
		`{"category":1,"holder_name":"\u5f20\u4e09"}`: "张三",
		`{"category":1,"holder_name":"\ud83d\ude00"}`: "😀",
		`{"category":1,"holder_name":"a\"b\\c\/\n"}`:  "a\"b\\c/\n",
		`{"category":1,"holder_name":"\ufffd"}`:       "\ufffd", // sent as such: it is what was meant
	} {
		var w OpenWallet
		if err := Decode([]byte(body), &w); err != nil || w.HolderName != want {
			t.Errorf("Decode(%s) = %v, holder %q; want %q", body, err, w.HolderName, want)
		}
	}
}

// FuzzDecodeStrict checks the strict checks against a reference written
// another way, with encoding/json's tokens: Decode accepts a body (into
// any value) exactly when encoding/json does and the reference finds no
// member named twice (by strings.EqualFold) and no string that is not
// valid UTF-8.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{`{"a":{"b":1,"B":2}}`, `[{"k":1},{"k":1}]`, `{"\u212a":1,"k":2}`, `{"a":"\ud800\udc00"}`, `{"a":"\udbff"}`, `{"a":[1,{"x":"\u00e9","X":0}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var lenient any
		lenientErr := json.Unmarshal(data, &lenient)
		var v any
		err := Decode(data, &v)
		bad := referenceStrict(data)
		switch {
		case err == nil && lenientErr != nil:
			t.Fatalf("Decode accepted %q, which encoding/json refuses: %v", data, lenientErr)
		case err == nil && bad != "":
			t.Fatalf("Decode accepted %q: %s", data, bad)
		case err != nil && lenientErr == nil && bad == "":
			t.Fatalf("Decode refused %q, which encoding/json and the reference accept: %v", data, err)
		}
		if err == nil {
			checkFast[Pay](t, data)
			checkFast[PayBatch](t, data)
		}
	})
}

// referenceStrict says what is wrong with data by the strict rules, ""
// when nothing is (or when it is not JSON at all).
func referenceStrict(data []byte) string {
	if !utf8.Valid(data) {
		return "not valid UTF-8"
	}
	// Without U+FFFD sent, a U+FFFD decoded comes from an unpaired
	// surrogate escape.
	sentFFFD := bytes.Contains(bytes.ToLower(data), []byte(`\ufffd`)) || bytes.ContainsRune(data, utf8.RuneError)
	type frame struct {
		object bool
		key    bool // the next token is a member name
		names  []string
	}
	var stack []*frame
	d := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.Token()
		if err == io.EOF || err != nil {
			return ""
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if s, ok := tok.(string); ok && !sentFFFD && strings.ContainsRune(s, utf8.RuneError) {
			return "an unpaired surrogate"
		}
		if top != nil && top.object && top.key {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			name := tok.(string)
			for _, n := range top.names {
				if strings.EqualFold(n, name) {
					return "member " + name + " twice"
				}
			}
			top.names = append(top.names, name)
			top.key = false
			continue
		}
		if top != nil && top.object {
			top.key = true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, key: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}
