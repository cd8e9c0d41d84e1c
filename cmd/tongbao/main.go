// Command tongbao is the one binary of the tongbao digital currency
// platform: it runs the demo, the benchmarks and, later, the nodes.
//
// Usage:
//
//	tongbao demo                 seed a two-tier economy in ./tongbao-data and serve its API
//	tongbao serve                serve the HTTP API on a data folder or a PostgreSQL database
//	tongbao bench ledger --json  measure the ledger engine, durably, on a fresh data folder
//	tongbao bench api --json     measure the HTTP API with 64 clients on loopback
//	tongbao version              print the build's version
//	tongbao chaos --rounds N     kill a server under load N times; check nothing acknowledged is lost
//	tongbao clock show|advance   read or move forward a sandbox node's clock (serve --sandbox)
//	tongbao operator|wallet|pay|settle|windows|check supply|supply|reconcile|key|contract
//	                             speak to a running server ($TONGBAO_ADDR, $TONGBAO_KEY)
//
// Each subcommand lives in its own file. Main holds where the program
// writes, so the tests run the real commands in process.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	// The ledger counts daily and yearly limits in Asia/Shanghai time; the
	// embedded zone database keeps the binary working on machines without
	// one (Windows, minimal containers).
	_ "time/tzdata"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr}
	err := m.Run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tongbao:", err)
		os.Exit(1)
	}
}

// Main is the tongbao program with the streams it writes to. Results go to
// Stdout (with --json, nothing else does); progress and notes go to Stderr.
type Main struct {
	Stdout io.Writer
	Stderr io.Writer
}

// Run runs the command that args name (without the program's own name) and
// returns its error; it prints nothing about the error itself. Cancelling
// ctx stops a long command early.
func (m *Main) Run(ctx context.Context, args []string) error {
	root := m.rootCommand()
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

func (m *Main) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "tongbao",
		Short: "A two-tier digital currency platform: central bank, operators and wallets in one binary",
		Long: `tongbao runs a two-tier digital currency system: a central bank issues
currency to authorised operators, which distribute it to the wallets they
serve. Money moves on a double-entry ledger that commits in groups and
answers only once a transfer is durable.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(m.Stdout)
	root.SetErr(m.Stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w (see '%s --help')", err, cmd.CommandPath())
	})
	root.AddCommand(
		m.benchCommand(),
		m.demoCommand(),
		m.serveCommand(),
		m.versionCommand(),
		m.operatorCommand(),
		m.walletCommand(),
		m.payCommand(),
		m.payCodeCommand(),
		m.paymentCodeCommand(),
		m.merchantCommand(),
		m.scenarioCommand(),
		m.contractCommand(),
		m.deviceCommand(),
		m.settleCommand(),
		m.windowsCommand(),
		m.checkCommand(),
		m.supplyCommand("supply"),
		m.reconcileCommand(),
		m.keyCommand(),
		m.chaosCommand(),
		m.clockCommand(),
	)
	return root
}
