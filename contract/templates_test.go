package contract

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// sampleValues gives every parameter kind a value.
func sampleValues(t Template) map[string]any {
	out := map[string]any{}
	for i, p := range t.Params {
		if p.Default != nil {
			continue
		}
		switch p.Kind {
		case "wallet", "signer":
			out[p.Name] = tongbao.IDFromUint64(uint64(100 + i)).String()
		case "amount":
			out[p.Name] = "10.00"
		case "time":
			out[p.Name] = "2027-01-01T00:00:00+08:00"
		case "int":
			out[p.Name] = 3
		case "string":
			out[p.Name] = "0f"
		case "strings":
			out[p.Name] = []string{tongbao.IDFromUint64(7).String()}
		}
	}
	return out
}

func TestTemplatesDecodeAndCompile(t *testing.T) {
	for _, tpl := range Templates() {
		t.Run(tpl.Name, func(t *testing.T) {
			doc, err := FromTemplate(tpl.Name, nil, sampleValues(tpl), "ref-1")
			if err != nil {
				t.Fatal(err)
			}
			d, _, _, err := Decode(doc)
			if err != nil {
				t.Fatalf("%v\n%s", err, doc)
			}
			if err := CheckExpressions(d); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestTemplateParamsChecked(t *testing.T) {
	tpl := Templates()[0]
	vals := sampleValues(tpl)
	delete(vals, "price")
	if _, err := FromTemplate(tpl.Name, nil, vals, ""); !errors.Is(err, ErrSchema) {
		t.Fatalf("missing param: got %v; want ErrSchema", err)
	}
	vals = sampleValues(tpl)
	vals["price"] = 12
	if _, err := FromTemplate(tpl.Name, nil, vals, ""); !errors.Is(err, ErrSchema) {
		t.Fatalf("amount as a number: got %v; want ErrSchema", err)
	}
	vals = sampleValues(tpl)
	vals["nonsense"] = "x"
	if _, err := FromTemplate(tpl.Name, nil, vals, ""); !errors.Is(err, ErrSchema) {
		t.Fatalf("unknown param: got %v; want ErrSchema", err)
	}
	if _, err := FromTemplate("nope", nil, nil, ""); !errors.Is(err, ErrTemplate) {
		t.Fatalf("unknown template: got %v; want ErrTemplate", err)
	}
}

func TestSplitAmountsConserve(t *testing.T) {
	for _, tc := range []struct {
		total   tongbao.Amount
		weights []int64
		rule    string
		want    []tongbao.Amount
	}{
		{100, []int64{1, 1, 1}, "first", []tongbao.Amount{34, 33, 33}},
		{100, []int64{1, 1, 1}, "last", []tongbao.Amount{33, 33, 34}},
		{100, []int64{1, 5, 1}, "largest", []tongbao.Amount{14, 72, 14}},
		{1, []int64{9000, 400, 600}, "first", []tongbao.Amount{1, 0, 0}},
		{9_000_000_000_000_000, []int64{999_999, 1}, "last", []tongbao.Amount{8_999_991_000_000_000, 9_000_000_000}},
	} {
		got := SplitAmounts(tc.total, tc.weights, tc.rule)
		var sum tongbao.Amount
		for i := range got {
			sum += got[i]
			if got[i] != tc.want[i] {
				t.Fatalf("SplitAmounts(%d, %v, %s) = %v; want %v", tc.total, tc.weights, tc.rule, got, tc.want)
			}
		}
		if sum != tc.total {
			t.Fatalf("parts sum to %d; want %d", sum, tc.total)
		}
	}
}

// TestDeepExpressionRefused guards against a past bug: an expression of
// lists nested 200 deep kept the checker busy for seconds at deployment.
func TestDeepExpressionRefused(t *testing.T) {
	expr := strings.Repeat("[", 200) + strings.Repeat("]", 200)
	if _, err := compile("test", expr, expectAny); !errors.Is(err, ErrCondition) {
		t.Fatalf("got %v; want ErrCondition", err)
	}
}

func TestCacheStaysWithinItsBudget(t *testing.T) {
	c := newCache[int](100)
	for i := range 50 {
		c.put(strings.Repeat("k", i+1), i, 30)
		if c.used > c.budget {
			t.Fatalf("after %d puts: %d bytes used; budget %d", i+1, c.used, c.budget)
		}
	}
	if _, ok := c.get(strings.Repeat("k", 50)); !ok {
		t.Fatal("the newest value was dropped")
	}
	if _, ok := c.get("k"); ok {
		t.Fatal("the oldest value was kept past the budget")
	}
	c.put("huge", 1, 101)
	if _, ok := c.get("huge"); ok {
		t.Fatal("a value larger than the budget was kept")
	}
}

func TestJSONValueMakesIntegersInts(t *testing.T) {
	in := map[string]any{"a": float64(3), "b": json.Number("9007199254740993"), "c": 1.5, "d": []any{float64(2), "x"},
		"e": map[string]any{"f": json.Number("-4")}, "g": float64(1 << 60)}
	got := JSONValues(in)
	want := map[string]any{"a": int64(3), "b": int64(9007199254740993), "c": 1.5, "d": []any{int64(2), "x"},
		"e": map[string]any{"f": int64(-4)}, "g": float64(1 << 60)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v; want %#v", got, want)
	}
}

// TestRetryInputAsFirstSeen guards the input a retry or a failure path
// reads back: integers stay ints, the instants of the event stay
// instants, and a member named like one deeper down stays what it was.
func TestRetryInputAsFirstSeen(t *testing.T) {
	due := time.Date(2027, 3, 15, 1, 0, 0, 0, time.UTC)
	first := map[string]any{"due": due, "n": int64(2), "data": map[string]any{"due": "2027-01-01T00:00:00Z", "amount": int64(300)}}
	raw, _ := inputHash(first)
	got, err := decodeInput(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, first) {
		t.Fatalf("got %#v; want %#v", got, first)
	}
}
