package contract

import (
	"bytes"
	_ "embed"
	"encoding/json"
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
	return docError(ErrSchema, "at %s: %s", where, leaf.ErrorKind.LocalizedString(schemaPrinter))
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

// schemaRequirementErrors returns the enum of a requirement's error in
// the schema, for the test that keeps it equal to RequirementErrors.
func schemaRequirementErrors() ([]string, error) {
	var s struct {
		Defs struct {
			Requirement struct {
				Properties struct {
					Error struct {
						Enum []string `json:"enum"`
					} `json:"error"`
				} `json:"properties"`
			} `json:"requirement"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(schemaJSON, &s); err != nil {
		return nil, err
	}
	return s.Defs.Requirement.Properties.Error.Enum, nil
}
