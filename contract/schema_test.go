package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

const (
	walletA = "0190a4f1c2d34e5f8a6b7c8d9e0f1a2b"
	walletB = "0190a4f1-c2d3-4e5f-8a6b-7c8d9e0f1a2c"
	signerC = "0190a4f1c2d34e5f8a6b7c8d9e0f1a2d"
)

// baseDocument uses every kind of trigger and action once.
const baseDocument = `{
  "tongbao_contract": 1,
  "name": "Every kind once",
  "reference": "order-1",
  "template": "escrow",
  "currency": "CNY",
  "params": {"price": "12.00", "n": 3, "on": true, "who": ["a", "b"]},
  "parties": [
    {"name": "buyer", "wallet": "` + walletA + `"},
    {"name": "seller", "wallet": "` + walletB + `"},
    {"name": "carrier", "signer": "` + signerC + `"}
  ],
  "funding": [{"hold": {"from": "buyer", "amount": "amount(params.price)", "timeout": "720h"}}],
  "triggers": [
    {"name": "delivered", "on": {"event": {"type": "delivered", "signer": "carrier"}},
     "when": "event.data.ok == true",
     "require": [{"expr": "now < timestamp('2030-01-01T00:00:00Z')", "error": "deadline-passed"}],
     "actions": [{"release": {"to": "seller"}}, {"notify": {"message": "'released'"}}, {"complete": {}}]},
    {"name": "deposit", "on": {"received": {}}, "actions": [
      {"split": {"from": "contract", "amount": "1.00", "shares": [{"to": "seller", "weight": 9}, {"to": "buyer", "weight": 1}], "remainder": "largest"}}]},
    {"name": "ask", "on": {"request": {"name": "refund", "by": "buyer"}}, "actions": [{"refund": {"to": "buyer", "amount": "1.00"}}]},
    {"name": "once", "on": {"at": "2030-01-01T00:00:00+08:00"}, "actions": [{"transfer": {"from": "buyer", "to": "seller", "amount": "0.01"}}]},
    {"name": "often", "on": {"every": {"interval": "24h", "start": "2030-01-01T00:00:00Z", "count": 1200}}, "actions": [{"set": {"name": "seen", "key": "'x'", "value": "1"}}]},
    {"name": "monthly", "on": {"calendar": {"day": 28, "time": "23:59", "count": 1}}, "actions": [{"transfer": {"from": "buyer", "to_expr": "params.who[0]", "amount": "100"}}],
     "on_failure": {"retry": {"times": 10, "every": "1h"}, "actions": [{"notify": {"message": "'failed'"}}]}}
  ],
  "limits": {"per_action": "100.00", "per_day": "200", "total": "1000.5"},
  "purpose": {"merchants": ["` + walletA + `"], "categories": ["5812"], "regions": ["310000"]},
  "refund_to": "buyer",
  "on_terminate": [{"refund": {}}],
  "expires_at": "2031-01-01T00:00:00Z"
}`

// minimalDocument has only what is required.
const minimalDocument = `{"tongbao_contract": 1, "name": "m", "parties": [{"name": "p", "wallet": "` + walletA + `"}], "triggers": []}`

const yamlDocument = `
tongbao_contract: 1
name: A lock in YAML
parties:
  - {name: payer, wallet: "` + walletA + `"}
  - {name: payee, wallet: "` + walletB + `"}
funding:
  - hold: {from: payer, amount: "5.00"}
triggers:
  - name: release
    on: {request: {name: release, by: payer}}
    actions:
      - release: {to: payee}
`

// mutate returns baseDocument changed by f.
func mutate(tb testing.TB, f func(d map[string]any)) []byte {
	tb.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(baseDocument), &d); err != nil {
		tb.Fatal(err)
	}
	f(d)
	b, err := json.Marshal(d)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func trigger(d map[string]any, i int) map[string]any {
	return d["triggers"].([]any)[i].(map[string]any)
}

func action(d map[string]any, t, i int) map[string]any {
	return trigger(d, t)["actions"].([]any)[i].(map[string]any)
}

func TestDecodeValidDocuments(t *testing.T) {
	for name, doc := range map[string][]byte{
		"every kind": []byte(baseDocument),
		"minimal":    []byte(minimalDocument),
		"yaml":       []byte(yamlDocument),
	} {
		t.Run(name, func(t *testing.T) {
			d, canon, sum, err := Decode(doc)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if len(sum) != 64 || len(d.Parties) == 0 {
				t.Fatalf("got hash %q, %d parties", sum, len(d.Parties))
			}
			// The canonical form is itself a valid document of the same hash.
			_, canon2, sum2, err := Decode(canon)
			if err != nil || sum2 != sum || !bytes.Equal(canon, canon2) {
				t.Fatalf("canonical re-decoded: %v, hash %s; want %s", err, sum2, sum)
			}
		})
	}
}

// refusedBy says which layer refuses a document: the schema, check(),
// or both. Decode runs the schema first, so a document only check()
// refuses states a rule the schema cannot express, and one only the
// schema refuses is where the schema is the stricter of the two.
type refusedBy int

const (
	bySchema refusedBy = iota + 1
	byCheck
	byBoth
)

var invalidDocuments = []struct {
	name string
	doc  func(testing.TB) []byte
	want error
	by   refusedBy
}{
	{"not json", raw(`{"tongbao_contract": 1,`), ErrDocument, 0},
	{"member twice", raw(`{"name": "a", "name": "b"}`), ErrDocument, 0},
	{"empty", raw(` `), ErrDocument, 0},
	{"missing parties", del(func(d map[string]any) { delete(d, "parties") }), ErrSchema, byBoth},
	{"no parties", del(func(d map[string]any) { d["parties"] = []any{} }), ErrSchema, byBoth},
	{"missing parties, none named", raw(`{"tongbao_contract": 1, "name": "m", "triggers": []}`), ErrSchema, bySchema},
	{"no parties, none named", raw(`{"tongbao_contract": 1, "name": "m", "parties": [], "triggers": []}`), ErrSchema, bySchema},
	{"triggers missing", raw(`{"tongbao_contract": 1, "name": "m", "parties": [{"name": "p", "wallet": "` + walletA + `"}]}`), ErrSchema, bySchema},
	{"missing name", del(func(d map[string]any) { delete(d, "name") }), ErrSchema, bySchema},
	{"format 2", del(func(d map[string]any) { d["tongbao_contract"] = 2 }), ErrSchema, byBoth},
	{"format as string", del(func(d map[string]any) { d["tongbao_contract"] = "1" }), ErrSchema, byBoth},
	{"currency USD", del(func(d map[string]any) { d["currency"] = "USD" }), ErrSchema, byBoth},
	{"unknown member", del(func(d map[string]any) { d["colour"] = "red" }), ErrSchema, byBoth},
	{"member in another case", del(func(d map[string]any) { d["Name"] = d["name"]; delete(d, "name") }), ErrSchema, bySchema},
	{"two kinds in on", del(func(d map[string]any) { trigger(d, 1)["on"].(map[string]any)["at"] = "2030-01-01T00:00:00Z" }), ErrSchema, byBoth},
	{"no kind in on", del(func(d map[string]any) { trigger(d, 1)["on"] = map[string]any{} }), ErrSchema, byBoth},
	{"two kinds in an action", del(func(d map[string]any) { action(d, 0, 2)["notify"] = map[string]any{"message": "'x'"} }), ErrSchema, byBoth},
	{"no kind in an action", del(func(d map[string]any) { trigger(d, 0)["actions"].([]any)[2] = map[string]any{} }), ErrSchema, byBoth},
	{"bad trigger name", del(func(d map[string]any) { trigger(d, 0)["name"] = "Delivered" }), ErrSchema, byBoth},
	{"trigger name twice", del(func(d map[string]any) { trigger(d, 1)["name"] = "delivered" }), ErrSchema, byCheck},
	{"party named contract", del(func(d map[string]any) { d["parties"].([]any)[0].(map[string]any)["name"] = "contract" }), ErrSchema, byBoth},
	{"party twice", del(func(d map[string]any) { d["parties"].([]any)[1].(map[string]any)["name"] = "buyer" }), ErrSchema, byCheck},
	{"party with wallet and signer", del(func(d map[string]any) { d["parties"].([]any)[0].(map[string]any)["signer"] = signerC }), ErrSchema, byBoth},
	{"party with neither", del(func(d map[string]any) { delete(d["parties"].([]any)[0].(map[string]any), "wallet") }), ErrSchema, byBoth},
	{"bad wallet id", del(func(d map[string]any) { d["parties"].([]any)[0].(map[string]any)["wallet"] = "alice" }), ErrSchema, byBoth},
	{"unknown party", del(func(d map[string]any) { action(d, 3, 0)["transfer"].(map[string]any)["to"] = "nobody" }), ErrSchema, byCheck},
	{"signer as a wallet", del(func(d map[string]any) { action(d, 3, 0)["transfer"].(map[string]any)["to"] = "carrier" }), ErrSchema, byCheck},
	{"count 0", del(func(d map[string]any) { trigger(d, 4)["on"].(map[string]any)["every"].(map[string]any)["count"] = 0 }), ErrSchema, byBoth},
	{"count 1201", del(func(d map[string]any) { trigger(d, 4)["on"].(map[string]any)["every"].(map[string]any)["count"] = 1201 }), ErrSchema, byBoth},
	{"count 1.5", del(func(d map[string]any) { trigger(d, 4)["on"].(map[string]any)["every"].(map[string]any)["count"] = 1.5 }), ErrSchema, byBoth},
	{"interval under a minute", del(func(d map[string]any) {
		trigger(d, 4)["on"].(map[string]any)["every"].(map[string]any)["interval"] = "30s"
	}), ErrSchema, byCheck},
	{"interval not a duration", del(func(d map[string]any) {
		trigger(d, 4)["on"].(map[string]any)["every"].(map[string]any)["interval"] = "a day"
	}), ErrSchema, byBoth},
	{"day 29", del(func(d map[string]any) { trigger(d, 5)["on"].(map[string]any)["calendar"].(map[string]any)["day"] = 29 }), ErrSchema, byBoth},
	{"time 24:00", del(func(d map[string]any) {
		trigger(d, 5)["on"].(map[string]any)["calendar"].(map[string]any)["time"] = "24:00"
	}), ErrSchema, byBoth},
	{"retry 11 times", del(func(d map[string]any) {
		trigger(d, 5)["on_failure"].(map[string]any)["retry"].(map[string]any)["times"] = 11
	}), ErrSchema, byBoth},
	{"weight 0", del(func(d map[string]any) {
		action(d, 1, 0)["split"].(map[string]any)["shares"].([]any)[0].(map[string]any)["weight"] = 0
	}), ErrSchema, byBoth},
	{"weight over a million", del(func(d map[string]any) {
		action(d, 1, 0)["split"].(map[string]any)["shares"].([]any)[0].(map[string]any)["weight"] = 1_000_001
	}), ErrSchema, byBoth},
	{"no shares", del(func(d map[string]any) { action(d, 1, 0)["split"].(map[string]any)["shares"] = []any{} }), ErrSchema, byBoth},
	{"remainder middle", del(func(d map[string]any) { action(d, 1, 0)["split"].(map[string]any)["remainder"] = "middle" }), ErrSchema, byBoth},
	{"amount as number", del(func(d map[string]any) { action(d, 3, 0)["transfer"].(map[string]any)["amount"] = 1.5 }), ErrSchema, byBoth},
	{"limit not an amount", del(func(d map[string]any) { d["limits"].(map[string]any)["total"] = "1.234" }), ErrSchema, byBoth},
	{"transfer with to and to_expr", del(func(d map[string]any) { action(d, 3, 0)["transfer"].(map[string]any)["to_expr"] = "'x'" }), ErrSchema, byBoth},
	{"transfer without to", del(func(d map[string]any) { delete(action(d, 3, 0)["transfer"].(map[string]any), "to") }), ErrSchema, byBoth},
	{"hold without amount", del(func(d map[string]any) {
		delete(d["funding"].([]any)[0].(map[string]any)["hold"].(map[string]any), "amount")
	}), ErrSchema, byBoth},
	{"requirement error unknown", del(func(d map[string]any) { trigger(d, 0)["require"].([]any)[0].(map[string]any)["error"] = "oops" }), ErrSchema, byBoth},
	{"param float", del(func(d map[string]any) { d["params"].(map[string]any)["n"] = 1.5 }), ErrSchema, byBoth},
	{"param list of numbers", del(func(d map[string]any) { d["params"].(map[string]any)["who"] = []any{1} }), ErrSchema, byBoth},
	{"param name", del(func(d map[string]any) { d["params"].(map[string]any)["Price"] = "1" }), ErrSchema, byBoth},
	{"33 params", del(func(d map[string]any) {
		for i := range 33 {
			d["params"].(map[string]any)["p"+strings.Repeat("x", i)] = true
		}
	}), ErrSchema, byBoth},
	{"17 parties", del(func(d map[string]any) {
		for i := range 14 {
			d["parties"] = append(d["parties"].([]any), map[string]any{"name": "p" + strings.Repeat("x", i), "wallet": walletA})
		}
	}), ErrSchema, byBoth},
	{"33 triggers", del(func(d map[string]any) {
		for i := range 27 {
			d["triggers"] = append(d["triggers"].([]any), map[string]any{"name": "t" + strings.Repeat("x", i), "on": map[string]any{"received": map[string]any{}}, "actions": []any{}})
		}
	}), ErrSchema, byBoth},
	{"17 actions", del(func(d map[string]any) {
		for range 14 {
			trigger(d, 0)["actions"] = append(trigger(d, 0)["actions"].([]any), map[string]any{"notify": map[string]any{"message": "'x'"}})
		}
	}), ErrSchema, byBoth},
	{"expression too long", del(func(d map[string]any) { trigger(d, 0)["when"] = "true" + strings.Repeat(" ", ExprMax) }), ErrSchema, bySchema},
	{"received with a member", del(func(d map[string]any) { trigger(d, 1)["on"] = map[string]any{"received": map[string]any{"x": 1}} }), ErrSchema, byBoth},
	{"at not a moment", del(func(d map[string]any) { trigger(d, 3)["on"] = map[string]any{"at": "tomorrow"} }), ErrSchema, byCheck},
	{"hold timeout too short", del(func(d map[string]any) {
		d["funding"].([]any)[0].(map[string]any)["hold"].(map[string]any)["timeout"] = "10ms"
	}), ErrSchema, byCheck},
	{"refund_to a signer", del(func(d map[string]any) { d["refund_to"] = "carrier" }), ErrSchema, byCheck},
	{"actions missing", del(func(d map[string]any) { delete(trigger(d, 0), "actions") }), ErrSchema, bySchema},
}

func raw(s string) func(testing.TB) []byte { return func(testing.TB) []byte { return []byte(s) } }

func del(f func(map[string]any)) func(testing.TB) []byte {
	return func(tb testing.TB) []byte { return mutate(tb, f) }
}

func TestDecodeInvalidDocuments(t *testing.T) {
	for _, tc := range invalidDocuments {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := Decode(tc.doc(t))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v; want %v", err, tc.want)
			}
		})
	}
}

// checkOnly is Decode without the schema: the Go decoder and check().
func checkOnly(js []byte) error {
	var d Document
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		return docError(ErrSchema, "%v", err)
	}
	if err := d.normalizeParams(); err != nil {
		return err
	}
	return d.check()
}

func schemaOnly(tb testing.TB, js []byte) error {
	tb.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		tb.Fatal(err)
	}
	return validateSchema(v)
}

// TestSchemaAgreesWithCheck runs the schema and check() apart over the
// table: both accept the valid documents, and each invalid one is
// refused by the layer the table names.
func TestSchemaAgreesWithCheck(t *testing.T) {
	for _, doc := range []string{baseDocument, minimalDocument} {
		if err := schemaOnly(t, []byte(doc)); err != nil {
			t.Errorf("schema refuses a valid document: %v", err)
		}
		if err := checkOnly([]byte(doc)); err != nil {
			t.Errorf("check refuses a valid document: %v", err)
		}
	}
	for _, tc := range invalidDocuments {
		if tc.by == 0 {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			js := tc.doc(t)
			schemaErr, checkErr := schemaOnly(t, js), checkOnly(js)
			if got := [2]bool{schemaErr != nil, checkErr != nil}; got != [2]bool{tc.by != byCheck, tc.by != bySchema} {
				t.Fatalf("schema refuses: %v (%v), check refuses: %v (%v); want refused by %d", got[0], schemaErr, got[1], checkErr, tc.by)
			}
			for _, err := range []error{schemaErr, checkErr} {
				if err != nil && !errors.Is(err, ErrSchema) {
					t.Fatalf("got %v; want ErrSchema", err)
				}
			}
		})
	}
}

func TestSchemaErrorNamesThePlace(t *testing.T) {
	for _, tc := range []struct {
		doc       []byte
		where     string
		whatWrong string
	}{
		{mutate(t, func(d map[string]any) { trigger(d, 4)["on"].(map[string]any)["every"].(map[string]any)["count"] = 0 }), "/triggers/4/on/every/count", "minimum"},
		{mutate(t, func(d map[string]any) { delete(d, "parties") }), "at /:", "parties"},
		{mutate(t, func(d map[string]any) { action(d, 0, 2)["notify"] = map[string]any{"message": "'x'"} }), "/triggers/0/actions/2", "exactly one of hold"},
		{mutate(t, func(d map[string]any) { action(d, 3, 0)["transfer"].(map[string]any)["amount"] = 1.5 }), "/triggers/3/actions/0/transfer/amount", "string"},
		{mutate(t, func(d map[string]any) { trigger(d, 1)["on"] = map[string]any{} }), "/triggers/1/on", "exactly one of received"},
		{mutate(t, func(d map[string]any) { d["parties"].([]any)[0].(map[string]any)["signer"] = signerC }), "/parties/0", "a wallet or a signer"},
		{mutate(t, func(d map[string]any) { delete(action(d, 3, 0)["transfer"].(map[string]any), "to") }), "/triggers/3/actions/0/transfer", "to or to_expr"},
	} {
		_, _, _, err := Decode(tc.doc)
		msg := err.Error()
		if !strings.Contains(msg, tc.where) || !strings.Contains(msg, tc.whatWrong) || strings.Contains(msg, "\n") {
			t.Errorf("got %q; want one line naming %s and %q", msg, tc.where, tc.whatWrong)
		}
	}
}

func TestSchemaServed(t *testing.T) {
	var s struct {
		Schema string `json:"$schema"`
		ID     string `json:"$id"`
		Title  string `json:"title"`
		Defs   struct {
			Requirement struct {
				Properties struct {
					Error struct {
						Enum []string `json:"enum"`
					} `json:"error"`
				} `json:"properties"`
			} `json:"requirement"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(Schema(), &s); err != nil {
		t.Fatal(err)
	}
	if s.ID != SchemaID || s.Schema != "https://json-schema.org/draft/2020-12/schema" || s.Title == "" {
		t.Fatalf("got $id %q, $schema %q, title %q", s.ID, s.Schema, s.Title)
	}
	if got := s.Defs.Requirement.Properties.Error.Enum; !slices.Equal(got, RequirementErrors) {
		t.Fatalf("schema's requirement errors %v; want RequirementErrors %v", got, RequirementErrors)
	}
	// Schema returns a copy: a caller cannot change what others are served.
	Schema()[0] = 'x'
	if Schema()[0] != '{' {
		t.Fatal("Schema's bytes changed through a caller")
	}
}
