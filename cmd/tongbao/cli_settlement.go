package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tongbao/tongbao/client"
)

// settleCommand closes the current settlement window (central bank).
func (m *Main) settleCommand() *cobra.Command {
	var window uint64
	cmd := m.clientCommand("settle", "Close the current settlement window and settle the net positions", 0, true,
		func(cmd *cobra.Command, c *client.Client, _ []string, key string) (any, error) {
			return c.CloseWindow(cmd.Context(), key, window)
		})
	cmd.Flags().Uint64Var(&window, "window", 0, "close only if this is the current window (safe to retry)")
	return cmd
}

// windowsCommand lists settlement windows.
func (m *Main) windowsCommand() *cobra.Command {
	return m.clientCommand("windows", "List settlement windows", 0, false, func(cmd *cobra.Command, c *client.Client, _ []string, _ string) (any, error) {
		return c.Windows(cmd.Context(), client.Page{Limit: 1000})
	})
}

// checkCommand groups the checks; `check supply` fails when the supply
// check does not hold.
func (m *Main) checkCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "check", Short: "Check invariants from the books", Args: cobra.NoArgs}
	cmd.AddCommand(m.supplyCommand("supply"))
	return cmd
}

func (m *Main) supplyCommand(use string) *cobra.Command {
	return m.clientCommand(use, "Check issued - redeemed against every operator's liabilities (central bank)", 0, false,
		func(cmd *cobra.Command, c *client.Client, _ []string, _ string) (any, error) {
			s, err := c.Supply(cmd.Context())
			if err != nil {
				return nil, err
			}
			if !s.OK {
				m.print(s, "", nil)
				return nil, errors.New("the supply check does not hold")
			}
			return s, nil
		})
}

// reconcileCommand prints an operator's daily reconciliation.
func (m *Main) reconcileCommand() *cobra.Command {
	var day string
	cmd := m.clientCommand("reconcile OPERATOR", "An operator's daily reconciliation with the central bank's view", 1, false,
		func(cmd *cobra.Command, c *client.Client, args []string, _ string) (any, error) {
			id, err := parseID(args[0])
			if err != nil {
				return nil, err
			}
			r, err := c.Reconcile(cmd.Context(), id, day)
			if err == nil && len(r.Differences) > 0 {
				m.print(r, "", nil)
				return nil, fmt.Errorf("%d differences", len(r.Differences))
			}
			return r, err
		})
	cmd.Flags().StringVar(&day, "day", "", "YYYY-MM-DD in Asia/Shanghai (default today)")
	return cmd
}
