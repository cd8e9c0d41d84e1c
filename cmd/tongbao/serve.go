package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tongbao/tongbao/postgres"
)

// serveAddrDefault is where `tongbao serve` and the demo listen.
const serveAddrDefault = "127.0.0.1:8080"

// dbEnv names the database `tongbao serve` runs on when --db is not given.
const dbEnv = "TONGBAO_DB"

func (m *Main) serveCommand() *cobra.Command {
	var addr, data, db string
	var sandbox bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API: central bank, operators and wallets in one process",
		Long: `serve runs the whole two-tier system in one process and serves the HTTP
API on --addr until interrupted.

By default it runs on SQLite in the data folder (ledger.db, twotier.db,
merchant.db, scenario.db, contract.db, offline.db, and keys.db with the
hashes of the API keys).
With --db postgres://… (or ` + dbEnv + `; the flag wins) the ledger, the
domain and the API keys live in that PostgreSQL database. Either way, a
keys.json left in the data folder by an older version is imported into a
database that has no keys. Several
processes, on one machine or many, may serve one database: the one
holding the database's writer lease serves every request; the others
answer each /v1 request with 503, problem type not-the-writer and a
Retry-After, until the writer stops or dies and one of them takes over
(within a few seconds). See docs/postgres.md.

On the first start (on PostgreSQL: the first time a process becomes the
writer of a database with no valid central bank key) it creates the
central bank if there is none and prints a central bank API key once on
stderr; keep it, the server stores only its hash.

With --sandbox the central bank key may read and move the node's clock
forward (GET /v1/sandbox/clock, POST /v1/sandbox/clock/advance, or
tongbao clock show|advance), to see a daily cap reset at midnight in
Asia/Shanghai or a payment request expire without waiting. The clock's
offset is kept in the data folder; it never goes backwards, and a folder
whose clock was advanced is refused without --sandbox. See docs/sandbox.md.

The API is described at /openapi.json; /healthz, /readyz (200 only on
the process that serves writes) and /metrics serve operations.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := serveDB(db, cmd.Flags().Changed("db"), os.Getenv(dbEnv))
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			log := slog.New(slog.NewJSONHandler(m.Stderr, nil))
			announce := func(secret string) {
				fmt.Fprintf(m.Stderr, "A central bank API key, shown once:\n\n  %s\n\n", secret)
			}
			n, err := openServeNode(ctx, db, data, log, announce, sandbox)
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
			log.Info("serving", "addr", "http://"+got, "data", data, "db", benchEngine(db), "sandbox", sandbox)
			go n.housekeep(ctx, log)
			contractsDone, offlineDone := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(contractsDone)
				n.runContracts(ctx, log)
			}()
			go func() {
				defer close(offlineDone)
				n.runOffline(ctx, log)
			}()
			<-ctx.Done()
			log.Info("stopping")
			stop()
			<-contractsDone
			<-offlineDone
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", serveAddrDefault, "address to listen on")
	cmd.Flags().StringVar(&data, "data", demoDataDefault, "data folder (created if missing)")
	cmd.Flags().BoolVar(&sandbox, "sandbox", false, "sandbox mode: the central bank key may move the node's clock forward through the API (see docs/sandbox.md)")
	cmd.Flags().StringVar(&db, "db", "", "database: sqlite (the default, in --data) or a URL such as postgres://user@127.0.0.1:5432/tongbao; $"+dbEnv+" when not given")
	return cmd
}

// serveDB chooses the database of `tongbao serve`: the --db flag if it
// was given, else the environment's, else SQLite.
func serveDB(flag string, flagSet bool, env string) (string, error) {
	db := env
	if flagSet {
		db = flag
	}
	if db == "" {
		db = "sqlite"
	}
	if db != "sqlite" && !postgres.IsURL(db) {
		if strings.Contains(db, "://") {
			db = db[:strings.Index(db, "://")+3] + "…" // not the credentials
		}
		return "", fmt.Errorf("database %q: want sqlite or a postgres:// URL (from --db or $%s)", db, dbEnv)
	}
	return db, nil
}

// openServeNode opens the node `tongbao serve` runs: on SQLite in data, or
// on the PostgreSQL database db with its keys in data.
func openServeNode(ctx context.Context, db, data string, log *slog.Logger, announce func(string), sandbox bool) (*node, error) {
	if postgres.IsURL(db) {
		return openPostgresNode(ctx, db, data, log, announce, sandbox)
	}
	return openNode(ctx, data, log, sandbox)
}
