package main

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// walletCommand groups what an operator admin (and a holder, for its own
// wallet) does with wallets.
func (m *Main) walletCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "wallet", Short: "Open, list, show, load and control wallets", Args: cobra.NoArgs}
	var spec wire.OpenWallet
	open := m.clientCommand("open OPERATOR", "Open a wallet at an operator", 1, true, func(cmd *cobra.Command, c *client.Client, args []string, key string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		if spec.Category == 1 && spec.HolderLimits == nil {
			spec.HolderLimits = &wire.Limits{}
		}
		return c.OpenWallet(cmd.Context(), key, id, spec)
	})
	open.Flags().IntVar(&spec.Category, "category", 4, "KYC category, 1 (strongest) to 4 (phone only)")
	open.Flags().StringVar(&spec.HolderName, "holder", "", "holder's name (stored masked)")
	open.Flags().StringVar(&spec.Phone, "phone", "", "phone number alias")
	open.Flags().BoolVar(&spec.Merchant, "merchant", false, "a merchant wallet")
	open.Flags().StringVar(&spec.MerchantCategory, "mcc", "", "merchant category code")
	open.Flags().StringVar(&spec.Region, "region", "", "merchant region")

	var cursor string
	var limit int
	list := m.clientCommand("list OPERATOR", "List an operator's wallets", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		return c.Wallets(cmd.Context(), id, client.Page{Cursor: cursor, Limit: limit})
	})
	list.Flags().StringVar(&cursor, "cursor", "", "next_cursor of the previous page")
	list.Flags().IntVar(&limit, "limit", 0, "wallets per page")

	var tcursor string
	history := m.clientCommand("history WALLET", "A wallet's transfers, newest first", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		return c.Transfers(cmd.Context(), id, client.Page{Cursor: tcursor})
	})
	history.Flags().StringVar(&tcursor, "cursor", "", "next_cursor of the previous page")

	var reason, until string
	state := m.clientCommand("state WALLET STATE", "Set a wallet's state: active, receive_only, suspended or closed", 2, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		return c.SetState(cmd.Context(), id, args[1], reason)
	})
	state.Flags().StringVar(&reason, "reason", "", "why")
	freeze := m.clientCommand("freeze WALLET", "Freeze a wallet until --until (RFC 3339), or lift a freeze without it", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
		id, err := parseID(args[0])
		if err != nil {
			return nil, err
		}
		t, err := parseTime(until)
		if err != nil {
			return nil, err
		}
		return c.Freeze(cmd.Context(), id, t, reason)
	})
	freeze.Flags().StringVar(&until, "until", "", "when the freeze lifts (RFC 3339)")
	freeze.Flags().StringVar(&reason, "reason", "", "why")

	cmd.AddCommand(open, list, history, state, freeze,
		m.clientCommand("show WALLET", "Show a wallet and its balance", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			return c.Wallet(cmd.Context(), id)
		}),
		m.walletMoney("top-up", "Load a wallet from the holder's bank deposit", (*client.Client).TopUp),
		m.walletMoney("withdraw", "Move money from a wallet to the holder's bank deposit", (*client.Client).Withdraw),
		m.clientCommand("category WALLET CATEGORY", "Upgrade or downgrade a wallet (category 1 gets no caps unless set by the API)", 2, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			var cat int
			switch args[1] {
			case "1", "2", "3", "4":
				cat = int(args[1][0] - '0')
			default:
				return nil, errors.New("category must be 1, 2, 3 or 4")
			}
			in := wire.ChangeCategory{Category: cat}
			if cat == 1 {
				in.HolderLimits = &wire.Limits{}
			}
			return c.ChangeCategory(cmd.Context(), id, in)
		}),
		m.clientCommand("resolve ALIAS", "Find the wallet a phone number or wallet id names", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			return c.Resolve(cmd.Context(), args[0])
		}),
	)
	return cmd
}

func (m *Main) walletMoney(name, short string, f func(*client.Client, context.Context, string, tongbao.ID, tongbao.Amount) (wire.Receipt, error)) *cobra.Command {
	return m.clientCommand(name+" WALLET AMOUNT", short, 2, true, func(cmd *cobra.Command, c *client.Client, args []string, key string) (any, error) {
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
