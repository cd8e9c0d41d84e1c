package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tongbao/tongbao/client"
)

// clockCommand reads and advances a sandbox node's clock (central bank).
func (m *Main) clockCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "clock",
		Short: "Read or move forward the clock of a node in sandbox mode (central bank)",
		Long: `clock speaks to a node started with --sandbox (tongbao serve --sandbox, or
the demo), whose clock the central bank key may move forward to see a
daily cap reset at midnight in Asia/Shanghai or a payment request expire
without waiting. The clock never goes backwards. See docs/sandbox.md.`,
		Args: cobra.NoArgs,
	}
	show := m.clientCommand("show", "Print the node's time and how far it runs ahead of the machine's", 0, false,
		func(cmd *cobra.Command, c *client.Client, _ []string, _ string) (any, error) {
			return c.SandboxClock(cmd.Context())
		})
	var by time.Duration
	var to string
	advance := m.clientCommand("advance", "Move the node's clock forward by --by or to --to", 0, false,
		func(cmd *cobra.Command, c *client.Client, _ []string, _ string) (any, error) {
			switch {
			case (by == 0) == (to == ""):
				return nil, errors.New("give --by (such as 24h) or --to (RFC 3339), one of them")
			case to != "":
				t, err := time.Parse(time.RFC3339, to)
				if err != nil {
					return nil, fmt.Errorf("--to %q: want RFC 3339, such as 2026-12-03T00:00:00+08:00", to)
				}
				return c.AdvanceSandboxClockTo(cmd.Context(), t)
			case by < 0:
				return nil, errors.New("--by must be positive: the clock never goes backwards")
			}
			return c.AdvanceSandboxClock(cmd.Context(), by)
		})
	advance.Flags().DurationVar(&by, "by", 0, "how far to move the clock, such as 24h or 90m (a retry moves it again)")
	advance.Flags().StringVar(&to, "to", "", "the moment to move the clock to, RFC 3339 (a retry moves nothing)")
	cmd.AddCommand(show, advance)
	return cmd
}
