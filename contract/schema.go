package contract

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// SchemaID is the $id of the contract document's JSON Schema.
const SchemaID = "https://tongbao.dev/schemas/contract-v1.json"

//go:embed schema.json
var schemaJSON []byte

// compiledSchema is compiled once, on first use: a schema that does not
// compile is a bug of the build, so it panics (a test compiles it too).
var compiledSchema = sync.OnceValue(func() *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		panic(fmt.Sprintf("contract: schema.json: %v", err))
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(SchemaID, doc); err != nil {
		panic(fmt.Sprintf("contract: schema.json: %v", err))
	}
	sch, err := c.Compile(SchemaID)
	if err != nil {
		panic(fmt.Sprintf("contract: schema.json: %v", err))
	}
	return sch
})

var schemaPrinter = message.NewPrinter(language.English)

// validateSchema checks a decoded document (numbers as json.Number)
// against Schema. The error is ErrSchema naming the first place that
// fails and why, in one line: the validator's whole tree of causes is
// for the schema's authors, not for the document's.
func validateSchema(doc any) error {
	err := compiledSchema().Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return docError(ErrSchema, "%v", err)
	}
	leaf := firstLeaf(ve)
	where := "/" + strings.Join(leaf.InstanceLocation, "/")
	reason := leaf.ErrorKind.LocalizedString(schemaPrinter)
	switch leaf.ErrorKind.(type) {
	case *kind.OneOf, *kind.MinProperties, *kind.MaxProperties:
		// The validator's words for a choice ("'oneOf' failed, none
		// matched") do not say what the choice is.
		_, def, _ := strings.Cut(leaf.SchemaURL, "#")
		if m, ok := choices[def]; ok {
			reason = m
		}
	}
	return docError(ErrSchema, "at %s: %s", where, reason)
}

// choices says, for each place of the schema that is a choice, what to
// choose.
var choices = map[string]string{
	"/$defs/on":                         "on names exactly one of received, event, request, at, every, calendar",
	"/$defs/action":                     "an action names exactly one of hold, release, refund, transfer, split, notify, set, complete",
	"/$defs/party":                      "a party has a wallet or a signer, not both",
	"/$defs/action/properties/transfer": "a transfer has to or to_expr, not both",
}

// firstLeaf returns the error that says what is wrong: it descends
// through the grouping errors (a $ref, allOf, the schema as a whole) to
// the first concrete one. For oneOf and anyOf it stops at the
// alternative itself, whose own message names the choice.
func firstLeaf(e *jsonschema.ValidationError) *jsonschema.ValidationError {
	for len(e.Causes) > 0 {
		switch e.ErrorKind.(type) {
		case *kind.OneOf, *kind.AnyOf:
			return e
		}
		e = e.Causes[0]
	}
	return e
}

// Schema returns the JSON Schema (draft 2020-12) of a contract document,
// as served to users.
func Schema() []byte { return bytes.Clone(schemaJSON) }
