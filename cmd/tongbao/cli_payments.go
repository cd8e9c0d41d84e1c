package main

import (
	"github.com/spf13/cobra"

	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// payCommand pays from the holder's wallet.
func (m *Main) payCommand() *cobra.Command {
	return m.clientCommand("pay FROM_WALLET TO AMOUNT", "Pay from a wallet (holder token) to a wallet id or phone number", 3, true,
		func(cmd *cobra.Command, c *client.Client, args []string, key string) (any, error) {
			from, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			a, err := parseAmount(args[2])
			if err != nil {
				return nil, err
			}
			return c.Pay(cmd.Context(), key, wire.Pay{From: from, To: args[1], Amount: wire.Amount(a)})
		})
}
