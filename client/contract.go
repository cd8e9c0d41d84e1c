package client

import (
	"bytes"
	"context"
	"net/http"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// RegisterContractParty registers an external party and its Ed25519
// public key at the caller's operator; a retry with the same key
// registers no second one.
func (c *Client) RegisterContractParty(ctx context.Context, key string, in wire.RegisterContractParty) (wire.ContractParty, error) {
	return post[wire.ContractParty](c, ctx, "/v1/contract-parties", key, in)
}

// ContractParty reads a registered party.
func (c *Client) ContractParty(ctx context.Context, id tongbao.ID) (wire.ContractParty, error) {
	return get[wire.ContractParty](c, ctx, "/v1/contract-parties/"+id.String())
}

// ContractSchema returns the JSON Schema of a contract document.
func (c *Client) ContractSchema(ctx context.Context) ([]byte, error) {
	b, _, err := c.GetRaw(ctx, "/v1/contracts/schema")
	return b, err
}

// ContractTemplates lists the contract templates that ship.
func (c *Client) ContractTemplates(ctx context.Context) (wire.ContractTemplateList, error) {
	return get[wire.ContractTemplateList](c, ctx, "/v1/contracts/templates")
}

// DeployContract deploys a contract from a document or a template. The
// same document deployed again answers the contract deployed before.
func (c *Client) DeployContract(ctx context.Context, key string, in wire.DeployContract) (wire.Contract, error) {
	return post[wire.Contract](c, ctx, "/v1/contracts", key, in)
}

// Contracts lists contracts: the central bank's every operator's, an
// operator admin's its own.
func (c *Client) Contracts(ctx context.Context, p Page) (wire.ContractPage, error) {
	return get[wire.ContractPage](c, ctx, "/v1/contracts"+p.query())
}

// Contract reads a contract with its runtime and timers.
func (c *Client) Contract(ctx context.Context, id tongbao.ID) (wire.Contract, error) {
	return get[wire.Contract](c, ctx, "/v1/contracts/"+id.String())
}

// AcceptContract consents, for a party, to the contract's hash.
func (c *Client) AcceptContract(ctx context.Context, id tongbao.ID, party, hash string) (wire.Contract, error) {
	return post[wire.Contract](c, ctx, "/v1/contracts/"+id.String()+"/accept", "", wire.AcceptContract{Party: party, Hash: hash})
}

// DepositContract moves money from a party's wallet into the contract.
func (c *Client) DepositContract(ctx context.Context, key string, id tongbao.ID, party string, amount tongbao.Amount) (wire.ContractInvocation, error) {
	return post[wire.ContractInvocation](c, ctx, "/v1/contracts/"+id.String()+"/deposits", key, wire.ContractDeposit{Party: party, Amount: wire.Amount(amount)})
}

// RequestContract invokes a request trigger of the contract.
func (c *Client) RequestContract(ctx context.Context, key string, id tongbao.ID, in wire.ContractRequest) (wire.ContractInvocation, error) {
	return post[wire.ContractInvocation](c, ctx, "/v1/contracts/"+id.String()+"/requests", key, in)
}

// DryRunContract plays hypothetical steps on a contract: what each would
// record, moving nothing.
func (c *Client) DryRunContract(ctx context.Context, id tongbao.ID, in wire.DryRunContract) (wire.ContractDryRun, error) {
	return post[wire.ContractDryRun](c, ctx, "/v1/contracts/"+id.String()+"/dry-run", "", in)
}

// ContractInvocations lists a contract's invocations, oldest first.
func (c *Client) ContractInvocations(ctx context.Context, id tongbao.ID, p Page) (wire.ContractInvocationPage, error) {
	return get[wire.ContractInvocationPage](c, ctx, "/v1/contracts/"+id.String()+"/invocations"+p.query())
}

// PauseContract pauses a contract.
func (c *Client) PauseContract(ctx context.Context, id tongbao.ID) (wire.Contract, error) {
	return post[wire.Contract](c, ctx, "/v1/contracts/"+id.String()+"/pause", "", nil)
}

// ResumeContract resumes a paused contract.
func (c *Client) ResumeContract(ctx context.Context, id tongbao.ID) (wire.Contract, error) {
	return post[wire.Contract](c, ctx, "/v1/contracts/"+id.String()+"/resume", "", nil)
}

// TerminateContract ends a contract; its last invocation returns what it
// holds by its rule.
func (c *Client) TerminateContract(ctx context.Context, id tongbao.ID, reason string) (wire.ContractInvocation, error) {
	return post[wire.ContractInvocation](c, ctx, "/v1/contracts/"+id.String()+"/terminate", "", wire.TerminateContract{Reason: reason})
}

// PostContractEvent posts a signed event (a compact JWS, as
// contract.SignEvent makes). It needs no key: the signature
// authenticates it.
func (c *Client) PostContractEvent(ctx context.Context, jws []byte) (wire.ContractInvocation, error) {
	var out wire.ContractInvocation
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/contract-events", bytes.NewReader(jws))
	if err != nil {
		return out, err
	}
	req.Header.Set("Content-Type", "application/jose")
	resp, err := c.http.Do(req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	data, err := readAnswer(resp)
	if err != nil {
		return out, err
	}
	if resp.StatusCode >= 300 {
		return out, problemOf(resp, data)
	}
	err = wire.DecodeAnswer(data, &out)
	return out, err
}
