package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/tongbao/tongbao/httpapi"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/sqlite"
	"github.com/tongbao/tongbao/twotier"
	"github.com/tongbao/tongbao/twotier/twotiersqlite"
)

// The files of a node's data folder.
const (
	nodeLedgerFile  = "ledger.db"
	nodeTwotierFile = "twotier.db"
	nodeKeysFile    = "keys.json"
	// nodeShutdownTimeout bounds how long a stopping server waits for
	// requests in flight.
	nodeShutdownTimeout = 10 * time.Second
	// nodeCapsInterval is how often a server applies cap versions that
	// have come into effect.
	nodeCapsInterval = time.Minute
)

// node is the whole system in one process on one data folder: the ledger
// and the domain in SQLite, the keys, and the HTTP API.
type node struct {
	lstore *sqlite.Store
	ledger *ledger.Ledger
	store  *twotiersqlite.Store
	svc    *twotier.Service
	keys   *httpapi.Keys
	srv    *httpapi.Server
	// cbKey is the central bank key made on the first start, "" after.
	cbKey string
}

// openNode opens (creating it if needed) a node's data folder.
func openNode(ctx context.Context, dir string, log *slog.Logger) (n *node, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, nodeLedgerFile)); err == nil {
		if _, err := os.Stat(filepath.Join(dir, nodeTwotierFile)); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s holds a ledger of an older tongbao without the two-tier tables; move it away or use another --data", dir)
		}
	}
	n = &node{}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	if n.lstore, err = sqlite.Open(ctx, filepath.Join(dir, nodeLedgerFile)); err != nil {
		return nil, err
	}
	if n.ledger, err = ledger.Open(ctx, ledger.Config{Store: n.lstore}); err != nil {
		return nil, err
	}
	if n.store, err = twotiersqlite.Open(ctx, filepath.Join(dir, nodeTwotierFile)); err != nil {
		return nil, err
	}
	if n.svc, err = twotier.Open(ctx, twotier.Config{Ledger: n.ledger, Store: n.store}); err != nil {
		return nil, err
	}
	if n.keys, err = httpapi.OpenKeys(filepath.Join(dir, nodeKeysFile)); err != nil {
		return nil, err
	}
	if n.cbKey, err = httpapi.Bootstrap(ctx, n.svc, n.keys, "People's Bank"); err != nil {
		return nil, err
	}
	if n.srv, err = httpapi.New(httpapi.Config{Service: n.svc, Ledger: n.ledger, Keys: n.keys, Logger: log}); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *node) close() {
	if n.ledger != nil {
		n.ledger.Close()
	}
	if n.lstore != nil {
		n.lstore.Close()
	}
	if n.store != nil {
		n.store.Close()
	}
}

// listen starts serving the API on addr and returns the address it got
// (addr may end in :0) and a function that stops the server gracefully.
func (n *node) listen(addr string, log *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: n.srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("serve", "err", err)
		}
	}()
	stop := func() {
		n.srv.SetClosing()
		ctx, cancel := context.WithTimeout(context.Background(), nodeShutdownTimeout)
		defer cancel()
		hs.Shutdown(ctx)
		<-done
	}
	return ln.Addr().String(), stop, nil
}

// applyCaps applies due cap versions until ctx ends.
func (n *node) applyCaps(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(nodeCapsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if k, err := n.svc.ApplyDueCaps(ctx); err != nil {
				log.Error("apply due caps", "err", err)
			} else if k > 0 {
				log.Info("applied due caps", "wallets", k)
			}
		}
	}
}
