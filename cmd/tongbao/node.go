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
	"sync"
	"time"

	"github.com/tongbao/tongbao/httpapi"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/postgres"
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
	// centralBankName names the central bank a node creates on its
	// first start.
	centralBankName = "People's Bank"
	// nodeBatchWait is the ledger's BatchWait on SQLite. Every commit
	// costs an fsync, which on a virtual disk takes about a tenth of a
	// millisecond of CPU; with many callers at once (at least
	// ledger.DefaultBatchWaitRequests in a batch), holding a batch up to a
	// millisecond lets about twice as many payments share one, which
	// leaves more CPU for the requests themselves. A lone caller does
	// not wait.
	nodeBatchWait = time.Millisecond
)

// node is the whole system in one process: the ledger and the domain (in
// SQLite files of a data folder, or in a PostgreSQL database shared with
// other nodes), the keys, and the HTTP API.
type node struct {
	keys *httpapi.Keys
	srv  *httpapi.Server
	// cbKey is the central bank key made on the first start of a SQLite
	// node, "" after (and on PostgreSQL, where it is made when the node
	// first becomes the writer; see openPostgresNode).
	cbKey string
	// closers are run by close, last first.
	closers []func()

	mu     sync.RWMutex
	svc    *twotier.Service // nil while the node does not serve writes
	ledger *ledger.Ledger
	// changed is closed and replaced whenever svc changes.
	changed chan struct{}
}

func newNode() *node { return &node{changed: make(chan struct{})} }

// openNode opens (creating it if needed) a node's data folder on SQLite.
func openNode(ctx context.Context, dir string, log *slog.Logger) (n *node, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, nodeLedgerFile)); err == nil {
		if _, err := os.Stat(filepath.Join(dir, nodeTwotierFile)); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s holds a ledger of an older tongbao without the two-tier tables; move it away or use another --data", dir)
		}
	}
	n = newNode()
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	lstore, err := sqlite.Open(ctx, filepath.Join(dir, nodeLedgerFile))
	if err != nil {
		return nil, err
	}
	n.closers = append(n.closers, func() { lstore.Close() })
	l, err := ledger.Open(ctx, ledger.Config{Store: lstore, BatchWait: nodeBatchWait})
	if err != nil {
		return nil, err
	}
	n.closers = append(n.closers, func() { l.Close() })
	store, err := twotiersqlite.Open(ctx, filepath.Join(dir, nodeTwotierFile))
	if err != nil {
		return nil, err
	}
	n.closers = append(n.closers, func() { store.Close() })
	svc, err := twotier.Open(ctx, twotier.Config{Ledger: l, Store: store})
	if err != nil {
		return nil, err
	}
	if n.keys, err = httpapi.OpenKeys(filepath.Join(dir, nodeKeysFile)); err != nil {
		return nil, err
	}
	if n.cbKey, err = httpapi.Bootstrap(ctx, svc, n.keys, centralBankName); err != nil {
		return nil, err
	}
	n.set(svc, l)
	if n.srv, err = httpapi.New(httpapi.Config{Current: n.current, Keys: n.keys, Logger: log}); err != nil {
		return nil, err
	}
	return n, nil
}

// current returns what the node serves: its service and ledger, or
// postgres.ErrNotWriter while another process holds the writer.
func (n *node) current() (*twotier.Service, *ledger.Ledger, error) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.svc == nil {
		return nil, nil, postgres.ErrNotWriter
	}
	return n.svc, n.ledger, nil
}

// set makes the node serve svc on l, or nothing when svc is nil.
func (n *node) set(svc *twotier.Service, l *ledger.Ledger) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.svc == svc {
		return
	}
	n.svc, n.ledger = svc, l
	close(n.changed)
	n.changed = make(chan struct{})
}

// watch returns a channel that is closed the next time the node starts or
// stops serving writes.
func (n *node) watch() <-chan struct{} {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.changed
}

func (n *node) close() {
	n.set(nil, nil)
	for i := len(n.closers) - 1; i >= 0; i-- {
		n.closers[i]()
	}
	n.closers = nil
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
			svc, _, err := n.current()
			if err != nil {
				continue // the writer applies them
			}
			if k, err := svc.ApplyDueCaps(ctx); err != nil {
				log.Error("apply due caps", "err", err)
			} else if k > 0 {
				log.Info("applied due caps", "wallets", k)
			}
		}
	}
}
