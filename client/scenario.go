package client

import (
	"context"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// CreateScenarioTemplate defines a scenario template at an operator; a
// retry with the same key makes no second one.
func (c *Client) CreateScenarioTemplate(ctx context.Context, key string, op tongbao.ID, in wire.CreateScenarioTemplate) (wire.ScenarioTemplate, error) {
	return post[wire.ScenarioTemplate](c, ctx, "/v1/operators/"+op.String()+"/scenario-templates", key, in)
}

// ScenarioTemplates lists an operator's scenario templates.
func (c *Client) ScenarioTemplates(ctx context.Context, op tongbao.ID) (wire.ScenarioTemplateList, error) {
	return get[wire.ScenarioTemplateList](c, ctx, "/v1/operators/"+op.String()+"/scenario-templates")
}

// PushSubWallet pushes a sub-wallet of the holder's wallet to a template;
// a retry with the same key pushes no second one.
func (c *Client) PushSubWallet(ctx context.Context, key string, parent tongbao.ID, in wire.PushSubWallet) (wire.SubWallet, error) {
	return post[wire.SubWallet](c, ctx, "/v1/wallets/"+parent.String()+"/sub-wallets", key, in)
}

// SubWallets lists a wallet's sub-wallets.
func (c *Client) SubWallets(ctx context.Context, parent tongbao.ID) (wire.SubWalletList, error) {
	return get[wire.SubWalletList](c, ctx, "/v1/wallets/"+parent.String()+"/sub-wallets")
}

// SubWallet reads a sub-wallet with its balance and what it paid today.
func (c *Client) SubWallet(ctx context.Context, id tongbao.ID) (wire.SubWallet, error) {
	return get[wire.SubWallet](c, ctx, "/v1/sub-wallets/"+id.String())
}

// FundSubWallet moves money from the parent wallet into a sub-wallet.
func (c *Client) FundSubWallet(ctx context.Context, key string, id tongbao.ID, amount tongbao.Amount) (wire.Receipt, error) {
	return post[wire.Receipt](c, ctx, "/v1/sub-wallets/"+id.String()+"/fund", key, money(amount))
}

// SweepSubWallet moves money from a sub-wallet back to its parent.
func (c *Client) SweepSubWallet(ctx context.Context, key string, id tongbao.ID, amount tongbao.Amount) (wire.Receipt, error) {
	return post[wire.Receipt](c, ctx, "/v1/sub-wallets/"+id.String()+"/sweep", key, money(amount))
}

// PayFromSubWallet pays a merchant wallet from a sub-wallet.
func (c *Client) PayFromSubWallet(ctx context.Context, key string, id, merchant tongbao.ID, amount tongbao.Amount) (wire.Payment, error) {
	return post[wire.Payment](c, ctx, "/v1/sub-wallets/"+id.String()+"/payments", key, wire.ScenarioPay{Merchant: merchant, Amount: wire.Amount(amount)})
}

// GrantCharge lets a merchant wallet charge a sub-wallet without a prompt.
func (c *Client) GrantCharge(ctx context.Context, id, merchant tongbao.ID) (wire.SubWallet, error) {
	return post[wire.SubWallet](c, ctx, "/v1/sub-wallets/"+id.String()+"/charge-permission", "", wire.GrantCharge{Merchant: merchant})
}

// RevokeCharge withdraws the merchant's permission to charge a sub-wallet.
func (c *Client) RevokeCharge(ctx context.Context, id tongbao.ID) (wire.SubWallet, error) {
	return post[wire.SubWallet](c, ctx, "/v1/sub-wallets/"+id.String()+"/charge-permission/revoke", "", nil)
}

// ChargeSubWallet charges a sub-wallet from the merchant's wallet under
// the holder's permission (tap to pay).
func (c *Client) ChargeSubWallet(ctx context.Context, key string, id tongbao.ID, amount tongbao.Amount) (wire.Payment, error) {
	return post[wire.Payment](c, ctx, "/v1/sub-wallets/"+id.String()+"/charges", key, wire.ScenarioCharge{Amount: wire.Amount(amount)})
}
