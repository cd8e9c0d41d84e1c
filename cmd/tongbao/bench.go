package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// benchCommand groups the benchmarks. Each measures one layer in process,
// durably, on a fresh data folder, and can print its figures as JSON.
func (m *Main) benchCommand() *cobra.Command {
	var cpuProfile, memProfile string
	var profile *os.File
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput and latency",
		Long: `bench measures one layer of tongbao at a time, in process and durably
(every commit is fsynced), on a fresh temporary data folder that is removed
at the end. Progress goes to stderr; the figures go to stdout.`,
		Args: cobra.NoArgs,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if cpuProfile == "" {
				return nil
			}
			f, err := os.Create(cpuProfile)
			if err != nil {
				return fmt.Errorf("cpu profile: %w", err)
			}
			profile = f
			return pprof.StartCPUProfile(f)
		},
		PersistentPostRunE: func(*cobra.Command, []string) error {
			if memProfile != "" {
				f, err := os.Create(memProfile)
				if err != nil {
					return fmt.Errorf("memory profile: %w", err)
				}
				if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
					f.Close()
					return fmt.Errorf("memory profile: %w", err)
				}
				if err := f.Close(); err != nil {
					return fmt.Errorf("memory profile: %w", err)
				}
			}
			if profile == nil {
				return nil
			}
			pprof.StopCPUProfile()
			return profile.Close()
		},
	}
	cmd.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	cmd.PersistentFlags().StringVar(&memProfile, "memprofile", "", "write a profile of the run's allocations to this file (go tool pprof)")
	cmd.AddCommand(m.benchLedgerCommand(), m.benchAPICommand(), m.benchKeysCommand(), m.benchContractsCommand(), m.benchOfflineCommand())
	return cmd
}
