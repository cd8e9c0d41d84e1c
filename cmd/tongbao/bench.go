package main

import (
	"github.com/spf13/cobra"
)

// benchCommand groups the benchmarks. Each measures one layer in process,
// durably, on a fresh data folder, and can print its figures as JSON.
func (m *Main) benchCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput and latency",
		Long: `bench measures one layer of tongbao at a time, in process and durably
(every commit is fsynced), on a fresh temporary data folder that is removed
at the end. Progress goes to stderr; the figures go to stdout.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(m.benchLedgerCommand(), m.benchAPICommand())
	return cmd
}
