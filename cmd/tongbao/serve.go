package main

import (
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"
)

// serveAddrDefault is where `tongbao serve` and the demo listen.
const serveAddrDefault = "127.0.0.1:8080"

func (m *Main) serveCommand() *cobra.Command {
	var addr, data, db string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API: central bank, operators and wallets in one process",
		Long: `serve runs the whole two-tier system in one process on a data folder
(SQLite: ledger.db, twotier.db, and keys.json with the hashes of the API
keys) and serves the HTTP API on --addr until interrupted. On the first
start it creates the central bank and prints its API key once on stderr;
keep it, the server stores only its hash.

The API is described at /openapi.json; /healthz, /readyz and /metrics
serve operations.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if db != "" && db != "sqlite" {
				return fmt.Errorf("--db %q: only sqlite is served yet (PostgreSQL is coming)", db)
			}
			ctx := cmd.Context()
			log := slog.New(slog.NewJSONHandler(m.Stderr, nil))
			n, err := openNode(ctx, data, log)
			if err != nil {
				return err
			}
			defer n.close()
			got, stop, err := n.listen(addr, log)
			if err != nil {
				return err
			}
			if n.cbKey != "" {
				fmt.Fprintf(m.Stderr, "Created the central bank. Its API key, shown once:\n\n  %s\n\n", n.cbKey)
			}
			log.Info("serving", "addr", "http://"+got, "data", data)
			go n.applyCaps(ctx, log)
			<-ctx.Done()
			log.Info("stopping")
			stop()
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", serveAddrDefault, "address to listen on")
	cmd.Flags().StringVar(&data, "data", demoDataDefault, "data folder (created if missing)")
	cmd.Flags().StringVar(&db, "db", "", "database: sqlite (the default; PostgreSQL is not served yet)")
	return cmd
}
