package main

import (
	"context"

	"github.com/spf13/cobra"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// scenarioCommand groups scenario sub-wallets: templates (operator admin
// key); pushing, funding, paying from, sweeping and charge permissions
// (holder token); charging (merchant key).
func (m *Main) scenarioCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "scenario", Short: "Scenario sub-wallets: templates, push, fund, pay, charge (tap to pay), sweep", Args: cobra.NoArgs}

	var (
		balanceMax, paymentMax, dailyMax string
		merchants, categories, regions   []string
		expires                          string
		withdrawable                     bool
	)
	template := m.clientCommand("template OPERATOR NAME", "Define a scenario template at an operator", 2, true,
		func(cmd *cobra.Command, c *client.Client, args []string, key string) (any, error) {
			op, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			in := wire.CreateScenarioTemplate{Name: args[1], Categories: categories, Regions: regions, Withdrawable: withdrawable}
			for _, p := range []struct {
				s   string
				dst *wire.Amount
			}{{balanceMax, &in.BalanceMax}, {paymentMax, &in.PaymentMax}, {dailyMax, &in.DailyMax}} {
				if p.s == "" {
					continue
				}
				a, err := parseAmount(p.s)
				if err != nil {
					return nil, err
				}
				*p.dst = wire.Amount(a)
			}
			for _, s := range merchants {
				id, err := parseID(s)
				if err != nil {
					return nil, err
				}
				in.Merchants = append(in.Merchants, id)
			}
			if expires != "" {
				t, err := parseTime(expires)
				if err != nil {
					return nil, err
				}
				in.ExpiresAt = &t
			}
			return c.CreateScenarioTemplate(cmd.Context(), key, op, in)
		})
	template.Flags().StringVar(&balanceMax, "balance-max", "", "the most a sub-wallet holds (required)")
	template.Flags().StringVar(&paymentMax, "payment-max", "", "the most one payment or charge moves (required)")
	template.Flags().StringVar(&dailyMax, "daily-max", "", "the most paid in a day, Asia/Shanghai (default none)")
	template.Flags().StringSliceVar(&merchants, "merchant", nil, "a merchant wallet id that may be paid (repeatable)")
	template.Flags().StringSliceVar(&categories, "category", nil, "a merchant category code (ISO 18245) that may be paid (repeatable)")
	template.Flags().StringSliceVar(&regions, "region", nil, "a region whose merchants may be paid (repeatable)")
	template.Flags().StringVar(&expires, "expires", "", "expiry, RFC 3339 (default never)")
	template.Flags().BoolVar(&withdrawable, "withdrawable", false, "let the holder sweep money back before the expiry")

	templates := m.clientCommand("templates OPERATOR", "List an operator's scenario templates", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
		op, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		return c.ScenarioTemplates(cmd.Context(), op)
	})

	var pushExpires string
	push := m.clientCommand("push PARENT_WALLET TEMPLATE", "Push a sub-wallet of the holder's wallet to a template", 2, true,
		func(cmd *cobra.Command, c *client.Client, args []string, key string) (any, error) {
			ids, err := parseIDs(args...)
			if err != nil {
				return nil, err
			}
			in := wire.PushSubWallet{Template: ids[1]}
			if pushExpires != "" {
				t, err := parseTime(pushExpires)
				if err != nil {
					return nil, err
				}
				in.ExpiresAt = &t
			}
			return c.PushSubWallet(cmd.Context(), key, ids[0], in)
		})
	push.Flags().StringVar(&pushExpires, "expires", "", "expire the sub-wallet before its template, RFC 3339")

	list := m.clientCommand("list PARENT_WALLET", "A wallet's sub-wallets", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		return c.SubWallets(cmd.Context(), id)
	})
	show := m.clientCommand("show SUB_WALLET", "Read a sub-wallet, its balance and what it paid today", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		return c.SubWallet(cmd.Context(), id)
	})
	move := func(use, short string, f func(*client.Client, context.Context, string, tongbao.ID, tongbao.Amount) (wire.Receipt, error)) *cobra.Command {
		return m.clientCommand(use, short, 2, true, func(cmd *cobra.Command, c *client.Client, args []string, key string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			a, err := parseAmount(args[1])
			if err != nil {
				return nil, err
			}
			return f(c, cmd.Context(), key, id, a)
		})
	}
	fund := move("fund SUB_WALLET AMOUNT", "Move money from the parent wallet into a sub-wallet", (*client.Client).FundSubWallet)
	sweep := move("sweep SUB_WALLET AMOUNT", "Move money from a sub-wallet back to its parent", (*client.Client).SweepSubWallet)
	pay := m.clientCommand("pay SUB_WALLET MERCHANT_WALLET AMOUNT", "Pay a merchant from a sub-wallet", 3, true, func(cmd *cobra.Command, c *client.Client, args []string, key string) (any, error) {
		ids, err := parseIDs(args[:2]...)
		if err != nil {
			return nil, err
		}
		a, err := parseAmount(args[2])
		if err != nil {
			return nil, err
		}
		return c.PayFromSubWallet(cmd.Context(), key, ids[0], ids[1], a)
	})
	grant := m.clientCommand("grant SUB_WALLET MERCHANT_WALLET", "Let a merchant charge a sub-wallet without a prompt (tap to pay)", 2, false,
		func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			ids, err := parseIDs(args...)
			if err != nil {
				return nil, err
			}
			return c.GrantCharge(cmd.Context(), ids[0], ids[1])
		})
	revoke := m.clientCommand("revoke SUB_WALLET", "Revoke the merchant's permission to charge a sub-wallet", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		return c.RevokeCharge(cmd.Context(), id)
	})
	charge := m.clientCommand("charge SUB_WALLET AMOUNT", "Charge a sub-wallet that granted the merchant permission (merchant key)", 2, true,
		func(cmd *cobra.Command, c *client.Client, args []string, key string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			a, err := parseAmount(args[1])
			if err != nil {
				return nil, err
			}
			return c.ChargeSubWallet(cmd.Context(), key, id, a)
		})
	cmd.AddCommand(template, templates, push, list, show, fund, sweep, pay, grant, revoke, charge)
	return cmd
}

// parseIDs parses every argument as an id.
func parseIDs(args ...string) ([]tongbao.ID, error) {
	ids := make([]tongbao.ID, len(args))
	for i, s := range args {
		id, err := parseID(s)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}
