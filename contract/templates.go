package contract

import (
	"embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

//go:embed templates/*.yaml
var templateFiles embed.FS

// Template is a contract document that ships with tongbao, deployable
// with a few parameters: each ${name} in its text is one.
type Template struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Params      []TemplateParam `json:"params"`
}

// TemplateParam is a parameter of a template.
type TemplateParam struct {
	Name string `json:"name"`
	// Kind is wallet, signer (a registered party's id), amount (decimal
	// yuan), time (RFC 3339), duration (Go), int, string or strings.
	Kind        string `json:"kind"`
	Description string `json:"description"`
	// Default is used when the deployer gives none; a parameter without
	// one is required.
	Default any `json:"default,omitempty"`
}

func param(name, kind, description string, def ...any) TemplateParam {
	p := TemplateParam{Name: name, Kind: kind, Description: description}
	if len(def) > 0 {
		p.Default = def[0]
	}
	return p
}

var reference = param("reference", "string", "tells apart contracts otherwise the same (an order number)", "")

// templates lists the templates in the order they are shown.
var templates = []Template{
	{Name: "escrow", Description: "held on the buyer's wallet, released to the seller on the carrier's signed delivery confirmation, refunded at the deadline",
		Params: []TemplateParam{param("buyer", "wallet", "who pays"), param("seller", "wallet", "who is paid on delivery"), param("carrier", "signer", "who confirms the delivery"),
			param("price", "amount", "the price"), param("deadline", "time", "when an undelivered order is refunded"), reference}},
	{Name: "prepaid_custody", Description: "a prepayment held and released lesson by lesson as the school confirms each; the rest refundable on request or at the end",
		Params: []TemplateParam{param("student", "wallet", "who prepays"), param("school", "wallet", "who is paid per lesson"), param("school_signer", "signer", "the school's key that confirms lessons"),
			param("lesson_price", "amount", "the price of one lesson"), param("lessons", "int", "how many lessons are prepaid"), param("end", "time", "when the rest is refunded"), reference}},
	{Name: "instalments", Description: "a fixed amount paid on a day of each month, retried when funds are short, a recorded default after the last retry",
		Params: []TemplateParam{param("payer", "wallet", "who pays"), param("payee", "wallet", "who is paid"), param("instalment", "amount", "each instalment"),
			param("day", "int", "the day of the month (1 to 28)", 1), param("count", "int", "how many instalments", 12),
			param("retries", "int", "retries of a failed instalment", 3), param("retry_every", "duration", "time between retries", "24h"), reference}},
	{Name: "payable", Description: "an invoice paid on its due date, or earlier at a discount the supplier accepts",
		Params: []TemplateParam{param("buyer", "wallet", "who owes the invoice"), param("supplier", "wallet", "who is paid"), param("invoice", "amount", "the invoice amount"),
			param("due", "time", "the due date"), param("discount_bps", "int", "the early-payment discount in basis points", 200), reference}},
	{Name: "split", Description: "a deposit split at once between the merchant, the platform's fee and the tax; rounding fen to the merchant",
		Params: []TemplateParam{param("payer", "wallet", "who pays"), param("merchant", "wallet", "the merchant"), param("platform", "wallet", "the platform"), param("tax", "wallet", "the tax collector's wallet"),
			param("merchant_weight", "int", "the merchant's share", 9000), param("platform_weight", "int", "the platform's share", 400), param("tax_weight", "int", "the tax share", 600), reference}},
	{Name: "subsidy", Description: "purpose-bound money: a programme's budget spendable by its beneficiaries only at merchants of given categories and regions until the expiry; the rest returns to the funder",
		Params: []TemplateParam{param("funder", "wallet", "the institution's wallet that funds the programme"), param("budget", "amount", "the programme's budget"),
			param("per_holder", "amount", "what each beneficiary may spend"), param("beneficiaries", "strings", "the wallets that may spend"),
			param("categories", "strings", "merchant category codes allowed (empty: any)", []string{}), param("regions", "strings", "regions allowed (empty: any)", []string{}),
			param("expires", "time", "when what is unspent returns to the funder"), reference}},
	{Name: "lock_two_party", Description: "held until the payer releases it to the payee, refunded at the deadline",
		Params: []TemplateParam{param("payer", "wallet", "who pays"), param("payee", "wallet", "who is paid"), param("amount", "amount", "the amount locked"), param("deadline", "time", "when it returns"), reference}},
	{Name: "lock_three_party", Description: "held until an arbiter's signed decision releases or refunds it, refunded at the deadline",
		Params: []TemplateParam{param("payer", "wallet", "who pays"), param("payee", "wallet", "who is paid"), param("arbiter", "signer", "who decides"),
			param("amount", "amount", "the amount locked"), param("deadline", "time", "when it returns"), reference}},
	{Name: "htlc", Description: "hash time-locked: released to the payee on the preimage of the hash before the deadline, refunded after it",
		Params: []TemplateParam{param("payer", "wallet", "who pays"), param("payee", "wallet", "who claims"), param("amount", "amount", "the amount locked"),
			param("hash", "string", "hex SHA-256 of the secret preimage"), param("deadline", "time", "when it returns"), reference}},
	{Name: "credit", Description: "dynamic credit: a merchant's payment short of funds draws the shortfall from a credit line within its limit, repaid from later receipts",
		Params: []TemplateParam{param("merchant", "wallet", "the merchant"), param("lender", "wallet", "the credit line's wallet"), param("limit", "amount", "the credit limit"),
			param("repay_every", "duration", "how often receipts repay what is drawn", "1h"), reference}},
}

// Templates returns the templates that ship.
func Templates() []Template { return slices.Clone(templates) }

var placeholderRE = regexp.MustCompile(`\$\{([a-z_]+)\}`)

// FromTemplate returns the document of a template with its parameters
// (parties' ids among them) filled in: ErrTemplate for an unknown
// template, ErrSchema for a parameter missing, unknown or of the wrong
// kind.
func FromTemplate(name string, parties map[string]string, params map[string]any, ref string) ([]byte, error) {
	i := slices.IndexFunc(templates, func(t Template) bool { return t.Name == name })
	if i < 0 {
		return nil, docError(ErrTemplate, "no contract template %q", name)
	}
	t := templates[i]
	text, err := templateFiles.ReadFile("templates/" + name + ".yaml")
	if err != nil {
		return nil, err
	}
	values := map[string]any{}
	for k, v := range params {
		values[k] = v
	}
	for k, v := range parties {
		if _, dup := values[k]; dup {
			return nil, docError(ErrSchema, "template %s: %s given as a party and a param", name, k)
		}
		values[k] = v
	}
	if ref != "" {
		values["reference"] = ref
	}
	known := map[string]bool{}
	for _, p := range t.Params {
		known[p.Name] = true
		v, ok := values[p.Name]
		if !ok {
			if p.Default == nil {
				return nil, docError(ErrSchema, "template %s needs %s (%s: %s)", name, p.Name, p.Kind, p.Description)
			}
			values[p.Name] = p.Default
			continue
		}
		if err := checkParam(p, v); err != nil {
			return nil, docError(ErrSchema, "template %s: %s: %v", name, p.Name, err)
		}
	}
	for k := range values {
		if !known[k] {
			return nil, docError(ErrSchema, "template %s has no parameter %s", name, k)
		}
	}
	var subErr error
	out := placeholderRE.ReplaceAllFunc(text, func(m []byte) []byte {
		key := string(m[2 : len(m)-1])
		v, ok := values[key]
		if !ok {
			subErr = fmt.Errorf("template %s: placeholder %s has no parameter", name, key)
			return m
		}
		b, err := json.Marshal(v)
		if err != nil {
			subErr = err
		}
		return b
	})
	if subErr != nil {
		return nil, subErr
	}
	return out, nil
}

// checkParam checks a value against its parameter's kind.
func checkParam(p TemplateParam, v any) error {
	str, isString := v.(string)
	switch p.Kind {
	case "wallet", "signer":
		if !isString {
			return fmt.Errorf("an id")
		}
		_, err := tongbao.ParseID(str)
		return err
	case "amount":
		if _, ok := literalAmount(str); !isString || !ok {
			return fmt.Errorf("a decimal amount of yuan as a string, such as \"120.00\"")
		}
	case "time":
		if !isString {
			return fmt.Errorf("an RFC 3339 time")
		}
		_, err := time.Parse(time.RFC3339, str)
		return err
	case "duration":
		if !isString {
			return fmt.Errorf("a duration such as \"24h\"")
		}
		_, err := duration(str, EveryMin)
		return err
	case "int":
		switch n := v.(type) {
		case int, int64:
		case float64:
			if n != float64(int64(n)) {
				return fmt.Errorf("an integer")
			}
		case json.Number:
			if _, err := n.Int64(); err != nil {
				return fmt.Errorf("an integer")
			}
		default:
			return fmt.Errorf("an integer")
		}
	case "string":
		if !isString || strings.ContainsAny(str, "\x00") {
			return fmt.Errorf("a string")
		}
	case "strings":
		switch l := v.(type) {
		case []string:
		case []any:
			for _, e := range l {
				if _, ok := e.(string); !ok {
					return fmt.Errorf("a list of strings")
				}
			}
		default:
			return fmt.Errorf("a list of strings")
		}
	}
	return nil
}
