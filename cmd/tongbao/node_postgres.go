package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/tongbao/tongbao/httpapi"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/postgres"
)

// nodeOpenRetry is how long a node that holds the writer but could not
// open the domain on its ledger waits before trying again.
const nodeOpenRetry = time.Second

// openPostgresNode opens a node on the PostgreSQL database of dsn, which
// other nodes may share: the ledger through a postgres.Writer, so that only
// the node holding the database's writer lease writes, and the domain's
// store and the API keys in the same database. The data folder dir is
// only read for a keys.json of an older node, whose keys are imported
// into a database that has none.
//
// The node serves at once. Until it holds the writer, every /v1 request is
// answered with postgres.ErrNotWriter (503, Retry-After) and /readyz says
// it stands by; when it becomes the writer it opens the domain on the
// ledger the Writer rebuilt from the database, makes sure the central bank
// and a central bank key exist (announce gets a new key's secret, shown
// once), and serves writes until it loses the lease.
//
// In sandbox mode the node's clock offset is kept in dir: a sandbox is one
// node (others on the same database would keep clocks of their own).
func openPostgresNode(ctx context.Context, dsn, dir string, log *slog.Logger, announce func(secret string), sandbox bool) (n *node, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	n = newNode()
	// opened, not n: a failed open returns a nil n.
	opened := n
	defer func() {
		if err != nil {
			opened.close()
		}
	}()
	if n.clock, n.sandbox, err = nodeClock(dir, sandbox); err != nil {
		return nil, err
	}
	stores, err := n.openStores(ctx, dir, func(string) string { return dsn })
	if err != nil {
		return nil, err
	}
	if n.srv, err = httpapi.New(n.apiConfig(log)); err != nil {
		return nil, err
	}
	w, err := postgres.StartWriter(ctx, postgres.WriterConfig{DSN: dsn, Logger: log, Ledger: ledger.Config{Clock: n.clock}})
	if err != nil {
		return nil, err
	}
	n.closers = append(n.closers, func() { w.Close() })
	followCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.follow(followCtx, w, stores, log, announce)
	}()
	// Stop following before the Writer closes, so that nothing is served
	// on a ledger being closed for longer than it takes to stop.
	n.closers = append(n.closers, func() { cancel(); <-done })
	return n, nil
}

// follow serves the domain on the Writer's ledger whenever this process
// holds it, and nothing while it does not, until ctx ends.
func (n *node) follow(ctx context.Context, w *postgres.Writer, stores domainStores, log *slog.Logger, announce func(string)) {
	defer n.set(httpapi.Services{})
	var served *ledger.Ledger // the ledger n serves, nil when none
	for {
		changed := w.Changed()
		var retry <-chan time.Time
		l, err := w.Ledger()
		switch {
		case err != nil:
			n.set(httpapi.Services{})
			served = nil
		case l != served:
			n.set(httpapi.Services{})
			served = nil
			cur, err := n.openService(ctx, l, stores, announce)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				log.Error("open the domain on the ledger", "err", err)
				retry = time.After(nodeOpenRetry)
				break
			}
			n.set(cur)
			served = l
		}
		select {
		case <-changed:
		case <-retry:
		case <-ctx.Done():
			return
		}
	}
}

// openService opens the domain on a ledger this process has just become
// the writer of, and bootstraps the central bank and its key if missing.
func (n *node) openService(ctx context.Context, l *ledger.Ledger, stores domainStores, announce func(string)) (httpapi.Services, error) {
	cur, err := openDomain(ctx, l, stores, n.clock)
	if err != nil {
		return httpapi.Services{}, err
	}
	secret, err := httpapi.Bootstrap(ctx, cur.Payments, n.keys, centralBankName)
	if err != nil {
		return httpapi.Services{}, err
	}
	if secret != "" && announce != nil {
		announce(secret)
	}
	return cur, nil
}
