package main

import (
	"context"

	"github.com/spf13/cobra"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
)

// operatorCommand groups what the central bank does with operators.
func (m *Main) operatorCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "operator", Short: "Authorise operators, move reserves, issue and redeem (central bank)", Args: cobra.NoArgs}
	cmd.AddCommand(
		m.clientCommand("list", "List operators", 0, false, func(cmd *cobra.Command, c *client.Client, _ []string, _ string) (any, error) {
			return c.Operators(cmd.Context(), client.Page{Limit: 1000})
		}),
		m.clientCommand("show OPERATOR", "Show an operator", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			return c.Operator(cmd.Context(), id)
		}),
		m.clientCommand("add NAME NET_DEBIT_CAP", "Authorise an operator with a net debit cap (CNY)", 2, true, func(cmd *cobra.Command, c *client.Client, args []string, key string) (any, error) {
			cap, err := parseAmount(args[1])
			if err != nil {
				return nil, err
			}
			return c.CreateOperator(cmd.Context(), key, wire.CreateOperator{Name: args[0], NetDebitCap: wire.Amount(cap)})
		}),
		m.operatorMoney("deposit-reserves", "Credit an operator's reserve account", (*client.Client).DepositReserves),
		m.operatorMoney("withdraw-reserves", "Move unissued reserves back", (*client.Client).WithdrawReserves),
		m.operatorMoney("issue", "Issue currency to an operator's vault against its reserves", (*client.Client).Issue),
		m.operatorMoney("redeem", "Redeem currency from an operator's vault", (*client.Client).Redeem),
		m.clientCommand("caps OPERATOR", "Show an operator's cap schedule", 1, false, func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			return c.Caps(cmd.Context(), id)
		}),
	)
	return cmd
}

func (m *Main) operatorMoney(name, short string, f func(*client.Client, context.Context, string, tongbao.ID, tongbao.Amount) (wire.Receipt, error)) *cobra.Command {
	return m.clientCommand(name+" OPERATOR AMOUNT", short, 2, true, func(cmd *cobra.Command, c *client.Client, args []string, key string) (any, error) {
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
