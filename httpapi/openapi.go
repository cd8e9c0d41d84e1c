package httpapi

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// The OpenAPI document is generated from the route table and the wire
// types, so it cannot drift from what is served; the test in
// openapi_test.go checks it against the mux from the outside as well.

// schemaTypes are the named schemas of the document.
var schemaTypes = map[string]any{
	"Problem": wire.Problem{}, "Institution": wire.Institution{}, "InstitutionPage": wire.InstitutionPage{},
	"CreateOperator": wire.CreateOperator{}, "Money": wire.Money{}, "Receipt": wire.Receipt{}, "Limits": wire.Limits{},
	"OpenWallet": wire.OpenWallet{}, "Wallet": wire.Wallet{}, "WalletPage": wire.WalletPage{}, "ResolvedWallet": wire.ResolvedWallet{},
	"SetState": wire.SetState{}, "Freeze": wire.Freeze{}, "ChangeCategory": wire.ChangeCategory{}, "SetCaps": wire.SetCaps{},
	"CapVersion": wire.CapVersion{}, "CapSchedule": wire.CapSchedule{}, "Pay": wire.Pay{}, "Payment": wire.Payment{},
	"PayBatch": wire.PayBatch{}, "PayBatchResult": wire.PayBatchResult{}, "PayBatchResults": wire.PayBatchResults{},
	"Transfer": wire.Transfer{}, "TransferPage": wire.TransferPage{}, "Window": wire.Window{}, "WindowPage": wire.WindowPage{},
	"Settlement": wire.Settlement{}, "OperatorSupply": wire.OperatorSupply{}, "Supply": wire.Supply{}, "SandboxClock": wire.SandboxClock{}, "AdvanceClock": wire.AdvanceClock{}, "Difference": wire.Difference{},
	"Reconciliation": wire.Reconciliation{}, "CreateKey": wire.CreateKey{}, "Key": wire.Key{}, "Health": wire.Health{},
	"CloseWindow":    CloseWindow{},
	"CollectionCode": wire.CollectionCode{}, "CreatePaymentRequest": wire.CreatePaymentRequest{}, "PaymentRequest": wire.PaymentRequest{},
	"PayRequest": wire.PayRequest{}, "PayCollectionCode": wire.PayCollectionCode{}, "IssuePaymentCode": wire.IssuePaymentCode{},
	"PaymentCode": wire.PaymentCode{}, "Charge": wire.Charge{}, "CreateRefund": wire.CreateRefund{}, "Refund": wire.Refund{},
	"RefundList": wire.RefundList{}, "StatementLine": wire.StatementLine{}, "Statement": wire.Statement{},
	"CreateScenarioTemplate": wire.CreateScenarioTemplate{}, "ScenarioTemplate": wire.ScenarioTemplate{}, "ScenarioTemplateList": wire.ScenarioTemplateList{},
	"PushSubWallet": wire.PushSubWallet{}, "SubWallet": wire.SubWallet{}, "SubWalletList": wire.SubWalletList{}, "ScenarioPay": wire.ScenarioPay{},
	"ScenarioCharge": wire.ScenarioCharge{}, "GrantCharge": wire.GrantCharge{},
	"RegisterContractParty": wire.RegisterContractParty{}, "ContractParty": wire.ContractParty{}, "DeployContract": wire.DeployContract{},
	"Contract": wire.Contract{}, "ContractRuntime": wire.ContractRuntime{}, "ContractConsent": wire.ContractConsent{}, "ContractHold": wire.ContractHold{},
	"ContractTimer": wire.ContractTimer{}, "ContractPage": wire.ContractPage{}, "AcceptContract": wire.AcceptContract{}, "ContractDeposit": wire.ContractDeposit{},
	"ContractRequest": wire.ContractRequest{}, "TerminateContract": wire.TerminateContract{}, "ContractInvocation": wire.ContractInvocation{},
	"ContractCondition": wire.ContractCondition{}, "ContractMove": wire.ContractMove{}, "ContractInvocationPage": wire.ContractInvocationPage{},
	"ContractTemplate": wire.ContractTemplate{}, "ContractTemplateParam": wire.ContractTemplateParam{}, "ContractTemplateList": wire.ContractTemplateList{},
	"DryRunContract": wire.DryRunContract{}, "ContractDryStep": wire.ContractDryStep{}, "ContractDryRun": wire.ContractDryRun{},
	"CertifyDevice": wire.CertifyDevice{}, "OfflineCaps": wire.OfflineCaps{}, "OfflineDevice": wire.OfflineDevice{}, "OfflineDevicePage": wire.OfflineDevicePage{},
	"LoadOfflineDevice": wire.LoadOfflineDevice{}, "OfflineLoad": wire.OfflineLoad{}, "OfflineVoucherList": wire.OfflineVoucherList{},
	"OfflineTokens": wire.OfflineTokens{}, "OfflineTokenResult": wire.OfflineTokenResult{}, "OfflineSync": wire.OfflineSync{}, "OfflineUpload": wire.OfflineUpload{},
	"OfflineKey": wire.OfflineKey{}, "OfflineKeyList": wire.OfflineKeyList{}, "OfflineRevocations": wire.OfflineRevocations{},
	"OfflineCase": wire.OfflineCase{}, "OfflineCasePage": wire.OfflineCasePage{}, "CloseOfflineCase": wire.CloseOfflineCase{},
}

var (
	typeAmount = reflect.TypeOf(wire.Amount(0))
	typeID     = reflect.TypeOf(tongbao.ID{})
	typeTime   = reflect.TypeOf(time.Time{})
	typeRaw    = reflect.TypeOf(json.RawMessage(nil))
)

// schemaNames finds the named schema of a type, so nested types refer to it.
func schemaName(t reflect.Type) string {
	for name, v := range schemaTypes {
		if reflect.TypeOf(v) == t {
			return name
		}
	}
	return ""
}

func schemaOf(t reflect.Type, top bool) map[string]any {
	if t.Kind() == reflect.Pointer {
		return schemaOf(t.Elem(), false)
	}
	switch t {
	case typeAmount:
		return map[string]any{"type": "string", "pattern": `^-?(0|[1-9][0-9]*)(\.[0-9]{1,2})?$`, "description": "an amount in the currency's major unit, at most two decimals"}
	case typeID:
		return map[string]any{"type": "string", "format": "uuid"}
	case typeTime:
		return map[string]any{"type": "string", "format": "date-time"}
	case typeRaw:
		return map[string]any{"description": "any JSON value"}
	}
	if !top {
		if n := schemaName(t); n != "" {
			return map[string]any{"$ref": "#/components/schemas/" + n}
		}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Uint64, reflect.Int32:
		return map[string]any{"type": "integer"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem(), false)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem(), false)}
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = schemaOf(f.Type, false)
			if !strings.Contains(opts, "omit") {
				required = append(required, name)
			}
		}
		s := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	return map[string]any{}
}

// OpenAPI returns the OpenAPI 3.1 document of the server's routes.
func (s *Server) OpenAPI() map[string]any {
	paths := map[string]any{}
	problem := map[string]any{"description": "A problem (RFC 9457)", "content": map[string]any{"application/problem+json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Problem"}}}}
	for _, rt := range s.routes {
		op := map[string]any{"summary": rt.summary, "operationId": strings.ToLower(rt.method) + strings.NewReplacer("/", "_", "{", "", "}", "", "-", "_", ".", "_").Replace(rt.pattern)}
		status := rt.status
		if status == 0 {
			status = http.StatusOK
		}
		resp := map[string]any{"description": http.StatusText(status)}
		if rt.ctype != "" {
			resp["content"] = map[string]any{rt.ctype: map[string]any{"schema": map[string]any{"type": "object"}}}
		}
		if rt.response != "" {
			content := map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + rt.response}}}
			if rt.alt != "" {
				content[rt.alt] = map[string]any{"schema": map[string]any{"type": "string", "format": "binary"}}
			}
			resp["content"] = content
		}
		op["responses"] = map[string]any{itoa(status): resp, "default": problem}
		var params []any
		for _, seg := range strings.Split(rt.pattern, "/") {
			if strings.HasPrefix(seg, "{") {
				name := strings.Trim(seg, "{}")
				schema := map[string]any{"type": "string", "format": "uuid"}
				if name == "key" { // a key's id is hex, not a uuid
					schema = map[string]any{"type": "string", "pattern": "^[0-9a-f]{16}$"}
				}
				params = append(params, map[string]any{"name": name, "in": "path", "required": true, "schema": schema})
			}
		}
		for _, q := range rt.query {
			params = append(params, map[string]any{"name": q, "in": "query", "schema": map[string]any{"type": "string"}})
		}
		if rt.money {
			params = append(params, map[string]any{"name": "Idempotency-Key", "in": "header", "required": true, "schema": map[string]any{"type": "string", "maxLength": IdempotencyKeyMax},
				"description": "A key chosen by the client; a retry with the same key and body returns the first answer"})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if len(rt.bodyTypes) > 0 {
			content := map[string]any{}
			for _, t := range rt.bodyTypes {
				content[t] = map[string]any{"schema": map[string]any{"type": "string"}}
			}
			op["requestBody"] = map[string]any{"required": true, "content": content}
		}
		if rt.request != "" {
			op["requestBody"] = map[string]any{"required": !rt.bodyOptional, "content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/" + rt.request}}}}
		}
		if rt.public {
			op["security"] = []any{}
		} else {
			op["x-roles"] = rt.roles
		}
		item, _ := paths[rt.pattern].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.pattern] = item
		}
		item[strings.ToLower(rt.method)] = op
	}
	schemas := map[string]any{}
	for name, v := range schemaTypes {
		schemas[name] = schemaOf(reflect.TypeOf(v), true)
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "tongbao", "version": "1",
			"description": "The two-tier digital currency API: central bank, operators, wallets, payments and settlement. Amounts are decimal strings; errors are RFC 9457 problem details."},
		"paths": paths,
		"components": map[string]any{
			"schemas":         schemas,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "An API key or holder token"}},
		},
		"security": []any{map[string]any{"bearer": []any{}}},
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.OpenAPI())
}
