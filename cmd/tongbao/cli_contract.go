package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// contractCommand groups programmable payments: deploying, reading and
// running contracts (cli_contract.go), registering parties and their keys
// (cli_contract_party.go) and signing events (cli_contract_event.go).
func (m *Main) contractCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "contract", Short: "Programmable payments: deploy, accept, deposit, request, post signed events, pause, terminate", Args: cobra.NoArgs}

	var (
		file, template, reference string
		parties, params           []string
	)
	deploy := m.clientCommand("deploy", "Deploy a contract from a document (--file, JSON or YAML) or a template (--template with --party and --param)", 0, false,
		func(cmd *cobra.Command, c *client.Client, _ []string, key string) (any, error) {
			var kinds map[string]string
			if template != "" {
				// A parameter's value is read by its kind: "120.00" is an
				// amount, a string, where JSON would read a number.
				tl, err := c.ContractTemplates(cmd.Context())
				if err != nil {
					return nil, err
				}
				kinds = map[string]string{}
				for _, t := range tl.Items {
					if t.Name == template {
						for _, p := range t.Params {
							kinds[p.Name] = p.Kind
						}
					}
				}
			}
			in, err := deploySpec(file, template, reference, parties, params, kinds)
			if err != nil {
				return nil, err
			}
			return c.DeployContract(cmd.Context(), "", in)
		})
	deploy.Flags().StringVar(&file, "file", "", "a contract document, JSON or YAML")
	deploy.Flags().StringVar(&template, "template", "", "a template's name (tongbao contract templates)")
	deploy.Flags().StringArrayVar(&parties, "party", nil, "a template's party: name=wallet or registered party id (repeatable)")
	deploy.Flags().StringArrayVar(&params, "param", nil, "a template's parameter: name=value; an int or strings (a JSON list, or comma-separated) parameter as such, any other a string (repeatable)")
	deploy.Flags().StringVar(&reference, "reference", "", "tells apart contracts of one template otherwise the same (an order number)")

	templates := m.clientCommand("templates", "List the contract templates and their parameters", 0, false, func(cmd *cobra.Command, c *client.Client, _ []string, _ string) (any, error) {
		return c.ContractTemplates(cmd.Context())
	})
	schema := m.clientCommand("schema", "Print the JSON Schema of a contract document", 0, false, func(cmd *cobra.Command, c *client.Client, _ []string, _ string) (any, error) {
		b, err := c.ContractSchema(cmd.Context())
		return rawOutput(append(b, '\n')), err
	})
	show := m.clientCommand("show CONTRACT", "Read a contract: its document, hash, status, consents, state, holds, money and timers", 1, false,
		func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			return c.Contract(cmd.Context(), id)
		})
	var page client.Page
	list := m.clientCommand("list", "List contracts (central bank: all; operator admin: its operator's)", 0, false, func(cmd *cobra.Command, c *client.Client, _ []string, _ string) (any, error) {
		return c.Contracts(cmd.Context(), page)
	})
	list.Flags().StringVar(&page.Cursor, "cursor", "", "next_cursor of the previous page")
	list.Flags().IntVar(&page.Limit, "limit", 0, "items per page (default the server's)")
	accept := m.clientCommand("accept CONTRACT PARTY HASH", "Accept a contract's hash for a party whose wallet the key speaks for", 3, false,
		func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			return c.AcceptContract(cmd.Context(), id, args[1], args[2])
		})
	deposit := m.clientCommand("deposit CONTRACT PARTY AMOUNT", "Move money from a party's wallet into a contract", 3, true,
		func(cmd *cobra.Command, c *client.Client, args []string, key string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			a, err := parseAmount(args[2])
			if err != nil {
				return nil, err
			}
			return c.DepositContract(cmd.Context(), key, id, args[1], a)
		})
	var requestParty string
	var requestData []string
	request := m.clientCommand("request CONTRACT NAME", "Invoke a contract's request trigger (--party for the key's party; none for a request any wallet may make)", 2, true,
		func(cmd *cobra.Command, c *client.Client, args []string, key string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			data, err := keyValues("--data", requestData)
			if err != nil {
				return nil, err
			}
			return c.RequestContract(cmd.Context(), key, id, wire.ContractRequest{Name: args[1], Party: requestParty, Data: data})
		})
	request.Flags().StringVar(&requestParty, "party", "", "the party the key speaks for")
	request.Flags().StringArrayVar(&requestData, "data", nil, "name=value the request's data, the value as JSON or else a string (repeatable)")
	dryRun := m.clientCommand("dry-run CONTRACT STEPS", `Play hypothetical steps on a contract, moving nothing: STEPS is a JSON list such as '[{"trigger":"activate"},{"trigger":"delivered","at":"2027-03-02T10:00:00+08:00"}]'`, 2, false,
		func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			var in wire.DryRunContract
			if err := json.Unmarshal([]byte(args[1]), &in.Steps); err != nil {
				return nil, fmt.Errorf("STEPS: %w", err)
			}
			return c.DryRunContract(cmd.Context(), id, in)
		})
	var invPage client.Page
	invocations := m.clientCommand("invocations CONTRACT", "List a contract's invocations, oldest first", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		return c.ContractInvocations(cmd.Context(), id, invPage)
	})
	invocations.Flags().StringVar(&invPage.Cursor, "cursor", "", "next_cursor of the previous page")
	invocations.Flags().IntVar(&invPage.Limit, "limit", 0, "items per page (default the server's)")
	pause := m.clientCommand("pause CONTRACT", "Pause a contract: it takes no triggers, its timers wait (operator admin)", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		return c.PauseContract(cmd.Context(), id)
	})
	resume := m.clientCommand("resume CONTRACT", "Resume a paused contract (operator admin)", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		return c.ResumeContract(cmd.Context(), id)
	})
	var reason string
	terminate := m.clientCommand("terminate CONTRACT", "Terminate a contract: what it holds goes back by its rule (operator admin)", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		return c.TerminateContract(cmd.Context(), id, reason)
	})
	terminate.Flags().StringVar(&reason, "reason", "", "why, recorded with the contract")

	cmd.AddCommand(deploy, templates, schema, show, list, accept, deposit, request, dryRun, invocations, pause, resume, terminate, m.contractPartyCommand(), m.contractEventCommand())
	return cmd
}

// deploySpec makes the body of a deployment from the flags: a document
// read from file, or a template with its parties and params, each param
// read by its kind in kinds.
func deploySpec(file, template, reference string, parties, params []string, kinds map[string]string) (wire.DeployContract, error) {
	if (file == "") == (template == "") {
		return wire.DeployContract{}, fmt.Errorf("give --file or --template, one of them")
	}
	if file != "" {
		if len(parties)+len(params) > 0 || reference != "" {
			return wire.DeployContract{}, fmt.Errorf("--party, --param and --reference go with --template")
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return wire.DeployContract{}, err
		}
		return wire.DeployContract{Document: string(b)}, nil
	}
	in := wire.DeployContract{Template: template, Reference: reference, Parties: map[string]string{}}
	for _, p := range parties {
		name, id, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return wire.DeployContract{}, fmt.Errorf("--party %q: want name=id", p)
		}
		in.Parties[name] = id
	}
	in.Params = map[string]any{}
	for _, kv := range params {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return wire.DeployContract{}, fmt.Errorf("--param %q: want name=value", kv)
		}
		switch kinds[name] {
		case "int":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return wire.DeployContract{}, fmt.Errorf("--param %s: want an integer, not %q", name, value)
			}
			in.Params[name] = n
		case "strings":
			var l []string
			if json.Unmarshal([]byte(value), &l) != nil {
				l = []string{}
				for _, s := range strings.Split(value, ",") {
					if s = strings.TrimSpace(s); s != "" {
						l = append(l, s)
					}
				}
			}
			in.Params[name] = l
		default:
			in.Params[name] = value
		}
	}
	return in, nil
}

// keyValues reads name=value flags: a value that is JSON (a number, a
// list, true) is taken as such, anything else as a string.
func keyValues(flag string, kvs []string) (map[string]any, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("%s %q: want name=value", flag, kv)
		}
		var v any
		if json.Unmarshal([]byte(value), &v) != nil {
			v = value
		}
		out[name] = v
	}
	return out, nil
}
