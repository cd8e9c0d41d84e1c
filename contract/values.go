package contract

import (
	"bytes"
	"encoding/json"
	"math"
	"time"
)

// JSONValue returns a value decoded from JSON as the expressions see it:
// integers as int64 (from a json.Number, or a float64 with no fraction
// within ±2^53, where it is exact), other numbers as float64, maps and
// lists converted in place. The decoders of the API, the store and the
// engine all go through it, so an integer is an int wherever it came from.
func JSONValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case float64:
		if x == math.Trunc(x) && math.Abs(x) <= 1<<53 {
			return int64(x)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = JSONValue(e)
		}
	case []any:
		for i, e := range x {
			x[i] = JSONValue(e)
		}
	}
	return v
}

// JSONValues is JSONValue for an object.
func JSONValues(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return JSONValue(m).(map[string]any)
}

// eventTimes are the members of an input that hold instants.
var eventTimes = []string{"due", "issued_at"}

// decodeInput reads back an input recorded with an invocation (for a
// retry or a failure path) as its expressions first saw it.
func decodeInput(input json.RawMessage) (map[string]any, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(input))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	m = JSONValues(m)
	if m == nil {
		m = map[string]any{}
	}
	for _, k := range eventTimes {
		if s, ok := m[k].(string); ok {
			if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
				m[k] = t
			}
		}
	}
	return m, nil
}
