package httpapi_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tongbao/tongbao/httpapi/wire"
)

// fuzzDecode checks that a request decoder never panics, that what it
// accepts is valid UTF-8 (a past bug replaced invalid bytes), and that it
// survives a round trip: encoded and decoded again, it is equal. Every
// target also gets seeds with a member named twice (a past bug let the
// last one win) and strings that are not UTF-8.
func fuzzDecode[T any](f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
		if i := strings.IndexByte(s, ':'); strings.HasPrefix(s, `{"`) && i > 0 {
			if j := strings.IndexAny(s[i:], ",}"); j > 0 {
				member := s[1 : i+j]
				f.Add([]byte("{" + member + "," + s[1:]))                                   // the first member twice
				f.Add([]byte("{" + strings.ToUpper(member[:2]) + member[2:] + "," + s[1:])) // again, in another case
			}
		}
		f.Add([]byte(strings.Replace(s, `":"`, "\":\"\xff", 1)))
		f.Add([]byte(strings.Replace(s, `":"`, `":"\udc00`, 1)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v T
		if err := wire.Decode(data, &v); err != nil {
			return
		}
		if !utf8.Valid(data) {
			t.Fatalf("accepted %q, which is not UTF-8", data)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", data, err)
		}
		var w T
		if err := wire.Decode(b, &w); err != nil {
			t.Fatalf("accepted %q, encoded as %s, which does not decode: %v", data, b, err)
		}
		// Equal, or encoded alike: an instant given as +00:00 decodes in
		// the machine's zone and its encoding ("Z") in UTC, the same
		// instant (found by FuzzDecodeScenario and FuzzDecodeControl).
		if !reflect.DeepEqual(v, w) {
			b2, _ := json.Marshal(w)
			if string(b) != string(b2) {
				t.Fatalf("round trip of %q: %+v became %+v", data, v, w)
			}
		}
	})
}

func FuzzDecodePay(f *testing.F) {
	fuzzDecode[wire.Pay](f,
		`{"from":"0198c5a2-3f00-7000-8000-000000000001","to":"13800000001","amount":"12.34"}`,
		`{"from":"0198c5a23f0070008000000000000001","to":"x","amount":"-0.05","currency":"CNY"}`,
		`{"amount":"92233720368547758.07"}`, `{"amount":"1e5"}`, `{"amount":12}`, `{"from":`, `{}{}`, `null`)
}

func FuzzDecodePayBatch(f *testing.F) {
	fuzzDecode[wire.PayBatch](f,
		`{"payments":[{"from":"0198c5a2-3f00-7000-8000-000000000001","to":"13800000001","amount":"1"}]}`,
		`{"payments":[]}`, `{"payments":null}`, `[]`)
}

func FuzzDecodeMoney(f *testing.F) {
	fuzzDecode[wire.Money](f, `{"amount":"100.00"}`, `{"amount":"0.1","currency":"USD"}`, `{"amount":"+1"}`, `{"amount":"1.","currency":""}`)
}

func FuzzDecodeOpenWallet(f *testing.F) {
	fuzzDecode[wire.OpenWallet](f,
		`{"category":4,"phone":"13800000001"}`,
		`{"category":1,"holder_name":"张三","holder_limits":{"balance_max":"1000","debit_max":"10","daily_debit_max":"0","yearly_debit_max":"0"}}`,
		`{"category":2,"merchant":true,"merchant_category":"5812","region":"310000"}`)
}

func FuzzDecodeCreateOperator(f *testing.F) {
	fuzzDecode[wire.CreateOperator](f, `{"name":"A","net_debit_cap":"50000"}`, `{"id":"00000000000000000000000000000001","name":"","net_debit_cap":"0"}`)
}

func FuzzDecodeControl(f *testing.F) {
	fuzzDecode[wire.Freeze](f, `{"until":"2026-01-01T00:00:00+08:00","reason":"x"}`, `{}`, `{"until":null}`)
}

func FuzzDecodeScenario(f *testing.F) {
	fuzzDecode[wire.CreateScenarioTemplate](f,
		`{"name":"Metro","balance_max":"500","payment_max":"50","daily_max":"120","merchant_categories":["4111"],"expires_at":"2026-04-01T00:00:00+08:00"}`,
		`{"name":"x","balance_max":"1","payment_max":"1","merchants":["0198c5a2-3f00-7000-8000-000000000001"],"regions":[],"withdrawable":true}`,
		`{"merchants":null}`, `{"merchant_categories":[""]}`, `{"balance_max":"-1"}`)
}

func FuzzDecodePushSubWallet(f *testing.F) {
	fuzzDecode[wire.PushSubWallet](f,
		`{"template":"0198c5a2-3f00-7000-8000-000000000001"}`,
		`{"id":"0198c5a23f0070008000000000000002","template":"0198c5a2-3f00-7000-8000-000000000001","expires_at":"2026-04-01T00:00:00Z"}`,
		`{"template":"nope"}`, `{}`)
}

func FuzzDecodeCreatePaymentRequest(f *testing.F) {
	fuzzDecode[wire.CreatePaymentRequest](f,
		`{"order_id":"T-1","amount":"36.00","merchant_name":"Noodle Shop","merchant_city":"Shanghai","local_name":"兰州拉面"}`,
		`{"order_id":"","amount":"0","expires_in_seconds":-1}`, `{"expires_at":"2026-03-10T09:15:00+08:00","amount":"1"}`, `{"id":null}`)
}

func FuzzDecodePayCollectionCode(f *testing.F) {
	fuzzDecode[wire.PayCollectionCode](f,
		`{"from":"0198c5a2-3f00-7000-8000-000000000001","payload":"000201010211","amount":"12.50"}`,
		`{"payload":"","amount":null}`, `{"amount":"99999999999999999999"}`)
}

func FuzzDecodeCharge(f *testing.F) {
	fuzzDecode[wire.Charge](f, `{"code":"010000000000000009","amount":"58.00","order_id":"TILL-7"}`, `{"code":123}`, `{"amount":"-1"}`)
}

func FuzzDecodeRefund(f *testing.F) {
	fuzzDecode[wire.CreateRefund](f, `{"amount":"10.00","reason":"cold"}`, `{"reason":""}`, `{"amount":"0.001"}`)
}
