package wire

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	tongbao "github.com/tongbao/tongbao"
)

var fastSeeds = []string{
	`{"from":"0198c5a2-3f00-7000-8000-000000000001","to":"13800000001","amount":"12.34"}`,
	`{"from":"0198c5a23f0070008000000000000001","to":"x","amount":"-0.05","currency":"CNY"}`,
	` { "to" : "a" , "amount" : "1" } `, `{"from":"0198C5A2-3F00-7000-8000-00000000000A"}`, `{"from":"0198c5a2+3f00-7000-8000-000000000001"}`,
	`{"from":"0198c5a2-3f0070008000000000000001"}`, `{"from":"0198c5a23f00700080000000000000zz"}`, `{"To":"a"}`, `{"to":"a","to":"b"}`, `{"to":"\u0041"}`, `{"to":"é"}`,
	`{"amount":"92233720368547758.07"}`, `{"amount":"1e5"}`, `{"amount":12}`, `{"amount":null}`, `{"from":`, `{}{}`, `null`, `{}`,
	`{"payments":[{"from":"0198c5a2-3f00-7000-8000-000000000001","to":"13800000001","amount":"1"},{}]}`,
	`{"payments":[]}`, `{"payments":null}`, `[]`,
	`{"id":"0198c5a2-3f00-7000-8000-000000000001","from":"0198c5a2-3f00-7000-8000-000000000002","to":"0198c5a2-3f00-7000-8000-000000000003","amount":"0.01","timestamp":1764201600000000000,"cross_operator":false,"window":3,"duplicate":true}`,
	`{"timestamp":-0}`, `{"timestamp":01}`, `{"timestamp":1.0}`, `{"timestamp":1e3}`, `{"window":-1}`, `{"window":18446744073709551616}`, `{"duplicate":null}`, `{"duplicate":tru}`,
	`{"results":[{"payment":{"id":"0198c5a2-3f00-7000-8000-000000000001","amount":"1.00","timestamp":5,"cross_operator":false,"duplicate":false}},{"problem":{"type":"x","title":"y","status":422}}]}`,
	`{"results":[{"payment":{"amount":"1.00"}},{}]}`, `{"results":[]}`,
	`{"from":"0198c5a2-3f00-7000-8000-000000000001","to":"13800000001","amount":"1.00","amount":"900.00"}`,
	`{"amount":"1.00","AMOUNT":"2.00"}`, `{"amount":"1.00","\u0061mount":"2.00"}`, `{"payments":[{"to":"a","to":"b"}]}`,
	"{\"to\":\"\xff\xfe\"}", `{"to":"\ud800"}`, `{"to":"\ud83d\ude00"}`, `{"amount":"+1.00"}`, `{"amount":"01.00"}`,
}

// FuzzDecodeFast checks that what the fast path accepts, the strict
// decoder (encoding/json with the checks of strict.go) accepts with the
// same value, and so does json.Unmarshal (answers).
func FuzzDecodeFast(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFast[Pay](t, data)
		checkFast[PayBatch](t, data)
		checkFast[Payment](t, data)
		checkFast[PayBatchResults](t, data)
	})
}

func TestDecodeFastSeeds(t *testing.T) {
	for _, s := range fastSeeds {
		checkFast[Pay](t, []byte(s))
		checkFast[PayBatch](t, []byte(s))
		checkFast[Payment](t, []byte(s))
		checkFast[PayBatchResults](t, []byte(s))
	}
	// The plain forms must take the fast path, or it is not one.
	for _, s := range []string{
		fastSeeds[0], fastSeeds[1], `{"from":"0198C5A2-3F00-7000-8000-00000000000A"}`,
		`{"payments":[{"from":"0198c5a2-3f00-7000-8000-000000000001","to":"13800000001","amount":"1"},{}]}`,
		`{"id":"0198c5a2-3f00-7000-8000-000000000001","amount":"0.01","timestamp":17,"cross_operator":false,"window":3,"duplicate":true}`,
		`{"results":[{"payment":{"amount":"1.00"}},{}]}`,
	} {
		if !decodeFast([]byte(s), new(Pay)) && !decodeFast([]byte(s), new(PayBatch)) && !decodeFast([]byte(s), new(Payment)) && !decodeFast([]byte(s), new(PayBatchResults)) {
			t.Errorf("%s: no fast path took it", s)
		}
	}
}

func checkFast[T any](t *testing.T, data []byte) {
	t.Helper()
	var fast T
	if !decodeFast(data, &fast) {
		return
	}
	var strict T
	if err := decodeStrict(data, &strict); err != nil {
		t.Fatalf("%T: fast path took %q, the strict decoder refuses it: %v", fast, data, err)
	}
	if !reflect.DeepEqual(fast, strict) {
		t.Fatalf("%T: %q: fast path %+v; encoding/json %+v", fast, data, fast, strict)
	}
	var lenient T
	if err := json.Unmarshal(data, &lenient); err != nil || !reflect.DeepEqual(fast, lenient) {
		t.Fatalf("%T: %q: fast path %+v; json.Unmarshal %+v, %v", fast, data, fast, lenient, err)
	}
}

// FuzzEncode checks that Encode writes what json.Marshal writes.
func FuzzEncode(f *testing.F) {
	f.Add([]byte{1, 2, 3}, "13800000001", int64(1234), "CNY", int64(1764201600000000000), uint64(0), true)
	f.Add([]byte{}, "<a&b>\"é\n", int64(-5), "", int64(-1), uint64(1<<63), false)
	f.Add([]byte{9}, "x", int64(-1<<63), "C\\", int64(0), uint64(7), false)
	f.Fuzz(func(t *testing.T, idBytes []byte, to string, amount int64, currency string, ts int64, window uint64, flag bool) {
		var id tongbao.ID
		copy(id[:], idBytes)
		pay := Pay{From: id, To: to, Amount: Amount(amount), Currency: tongbao.Currency(currency)}
		payment := &Payment{ID: id, From: id, To: id, Amount: Amount(amount), Timestamp: ts, CrossOperator: flag, Window: window, Duplicate: !flag}
		problem := &Problem{Type: "https://tongbao.dev/problems/x", Title: to, Status: 422, Detail: currency}
		for _, v := range []any{
			pay, &pay, PayBatch{}, PayBatch{Payments: []Pay{}}, PayBatch{Payments: []Pay{pay, {}}}, &PayBatch{Payments: []Pay{pay}},
			*payment, payment, (*Payment)(nil),
			PayBatchResults{}, PayBatchResults{Results: []PayBatchResult{}},
			PayBatchResults{Results: []PayBatchResult{{Payment: payment}, {Problem: problem}, {}, {Payment: payment, Problem: problem}}},
			&PayBatchResults{Results: []PayBatchResult{{Payment: payment}}},
		} {
			got, gerr := Encode(v)
			want, werr := json.Marshal(v)
			if string(got) != string(want) || (gerr == nil) != (werr == nil) {
				t.Fatalf("Encode(%#v) = %s, %v; json.Marshal: %s, %v", v, got, gerr, want, werr)
			}
			appended, aerr := Append([]byte(currency), v)
			if werr == nil && (aerr != nil || string(appended) != currency+string(want)) {
				t.Fatalf("Append(%q, %#v) = %s, %v; want %s", currency, v, appended, aerr, currency+string(want))
			}
		}
	})
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
