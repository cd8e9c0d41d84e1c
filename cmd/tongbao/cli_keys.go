package main

import (
	"github.com/spf13/cobra"

	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// keyCommand creates keys and shows the caller's.
func (m *Main) keyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Create, list and revoke API keys and holder tokens, show who a key speaks for", Args: cobra.NoArgs}
	var name string
	create := m.clientCommand("create ROLE ID", "Create a key: operator_admin OPERATOR (central bank), holder or merchant WALLET (operator admin)", 2, false,
		func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			id, err := parseID(args[1])
			if err != nil {
				return nil, err
			}
			in := wire.CreateKey{Role: args[0], Name: name}
			if args[0] == wire.RoleOperatorAdmin {
				in.Operator = &id
			} else {
				in.Wallet = &id
			}
			return c.CreateKey(cmd.Context(), in)
		})
	create.Flags().StringVar(&name, "name", "", "a note on the key")
	var reason string
	revoke := m.clientCommand("revoke KEY_ID", "Revoke a key (the central bank any, an operator admin its operator's, anyone its own)", 1, false,
		func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			return c.RevokeKey(cmd.Context(), args[0], reason)
		})
	revoke.Flags().StringVar(&reason, "reason", "", "why, kept with the key")
	var cursor string
	var limit int
	list := m.clientCommand("list", "List the keys in the caller's part (never their secrets), oldest first, a page at a time", 0, false, func(cmd *cobra.Command, c *client.Client, _ []string, _ string) (any, error) {
		return c.Keys(cmd.Context(), client.Page{Cursor: cursor, Limit: limit})
	})
	list.Flags().StringVar(&cursor, "cursor", "", "next_cursor of the previous page")
	list.Flags().IntVar(&limit, "limit", 0, "keys per page")
	cmd.AddCommand(create, revoke, list, m.clientCommand("whoami", "Show what the key speaks for", 0, false, func(cmd *cobra.Command, c *client.Client, _ []string, _ string) (any, error) {
		return c.Me(cmd.Context())
	}))
	return cmd
}
