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

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/contract"
	"github.com/tongbao/tongbao/contract/contractsql"
	"github.com/tongbao/tongbao/httpapi"
	"github.com/tongbao/tongbao/httpapi/keysql"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/merchant"
	"github.com/tongbao/tongbao/merchant/merchantsql"
	"github.com/tongbao/tongbao/offline"
	"github.com/tongbao/tongbao/offline/offlinesql"
	"github.com/tongbao/tongbao/postgres"
	"github.com/tongbao/tongbao/scenario"
	"github.com/tongbao/tongbao/scenario/scenariosql"
	"github.com/tongbao/tongbao/sqlite"
	"github.com/tongbao/tongbao/twotier"
	"github.com/tongbao/tongbao/twotier/twotiersql"
)

// The files of a node's data folder.
const (
	nodeLedgerFile   = "ledger.db"
	nodeTwotierFile  = "twotier.db"
	nodeMerchantFile = "merchant.db"
	nodeScenarioFile = "scenario.db"
	nodeContractFile = "contract.db"
	nodeOfflineFile  = "offline.db"
	nodeKeysDBFile   = "keys.db"
	// nodeKeysFile is where nodes kept their keys before they moved into
	// the database: imported into a database that has none.
	nodeKeysFile = "keys.json"
	// nodeKeysImporters is how many keys an import puts at once: the key
	// store commits puts made together in one transaction.
	nodeKeysImporters = 64
	// nodeShutdownTimeout bounds how long a stopping server waits for
	// requests in flight.
	nodeShutdownTimeout = 10 * time.Second
	// nodeHousekeepInterval is how often a server applies cap versions
	// that have come into effect, settles stale claims and ends expired
	// scenario sub-wallets.
	nodeHousekeepInterval = time.Minute
	// nodeOfflineInterval is how often the writer returns the purses of
	// decommissioned devices whose arrival grace has passed, and pays
	// again the offline tokens a payee wallet refused for a while.
	nodeOfflineInterval = time.Minute
	// centralBankName names the central bank a node creates on its
	// first start.
	centralBankName = "People's Bank"
)

// node is the whole system in one process: the ledger and the domain (in
// SQLite files of a data folder, or in a PostgreSQL database shared with
// other nodes), the keys, and the HTTP API.
type node struct {
	keys *httpapi.Keys
	srv  *httpapi.Server
	// clock tells the node's time: the machine's, or in sandbox mode
	// sandbox, which the central bank moves forward.
	clock   tongbao.Clock
	sandbox *sandboxClock
	// cbKey is the central bank key made on the first start of a SQLite
	// node, "" after (and on PostgreSQL, where it is made when the node
	// first becomes the writer; see openPostgresNode).
	cbKey string
	// closers are run by close, last first.
	closers []func()

	mu  sync.RWMutex
	cur httpapi.Services // zero while the node does not serve writes
	// changed is closed and replaced whenever cur changes.
	changed chan struct{}
}

func newNode() *node { return &node{changed: make(chan struct{})} }

// openNode opens (creating it if needed) a node's data folder on SQLite,
// in sandbox mode if sandbox is set.
func openNode(ctx context.Context, dir string, log *slog.Logger, sandbox bool) (n *node, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, nodeLedgerFile)); err == nil {
		if _, err := os.Stat(filepath.Join(dir, nodeTwotierFile)); errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s holds a ledger of an older tongbao without the two-tier tables; move it away or use another --data", dir)
		}
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
	lstore, err := sqlite.Open(ctx, filepath.Join(dir, nodeLedgerFile))
	if err != nil {
		return nil, err
	}
	n.closers = append(n.closers, func() { lstore.Close() })
	l, err := ledger.Open(ctx, ledger.Config{Store: lstore, Clock: n.clock})
	if err != nil {
		return nil, err
	}
	n.closers = append(n.closers, func() { l.Close() })
	stores, err := n.openStores(ctx, dir, func(file string) string { return filepath.Join(dir, file) })
	if err != nil {
		return nil, err
	}
	cur, err := openDomain(ctx, l, stores, n.clock)
	if err != nil {
		return nil, err
	}
	if n.cbKey, err = httpapi.Bootstrap(ctx, cur.Payments, n.keys, centralBankName); err != nil {
		return nil, err
	}
	n.set(cur)
	if n.srv, err = httpapi.New(n.apiConfig(log)); err != nil {
		return nil, err
	}
	return n, nil
}

// openStores opens the domain's stores and the keys on the databases
// target names by their SQLite file (the files in the data folder, or one
// PostgreSQL database for all), imports the keys of an older node's key
// file in dir, and sets n.keys.
func (n *node) openStores(ctx context.Context, dir string, target func(file string) string) (domainStores, error) {
	var st domainStores
	store, err := twotiersql.Open(ctx, target(nodeTwotierFile))
	if err != nil {
		return st, err
	}
	n.closers = append(n.closers, func() { store.Close() })
	mstore, err := merchantsql.Open(ctx, target(nodeMerchantFile))
	if err != nil {
		return st, err
	}
	n.closers = append(n.closers, func() { mstore.Close() })
	sstore, err := scenariosql.Open(ctx, target(nodeScenarioFile))
	if err != nil {
		return st, err
	}
	n.closers = append(n.closers, func() { sstore.Close() })
	cstore, err := contractsql.Open(ctx, target(nodeContractFile))
	if err != nil {
		return st, err
	}
	n.closers = append(n.closers, func() { cstore.Close() })
	ostore, err := offlinesql.Open(ctx, target(nodeOfflineFile))
	if err != nil {
		return st, err
	}
	n.closers = append(n.closers, func() { ostore.Close() })
	kstore, err := keysql.Open(ctx, target(nodeKeysDBFile))
	if err != nil {
		return st, err
	}
	n.closers = append(n.closers, func() { kstore.Close() })
	if err := importKeys(ctx, filepath.Join(dir, nodeKeysFile), kstore); err != nil {
		return st, err
	}
	if n.keys, err = httpapi.NewKeys(ctx, kstore); err != nil {
		return st, err
	}
	return domainStores{twotier: store, merchant: mstore, scenario: sstore, contract: cstore, offline: ostore}, nil
}

// importKeys copies the keys of the key file at path into the key store
// when it holds none: the keys of a node that kept them in its data
// folder, before the keys moved into the database.
func importKeys(ctx context.Context, path string, to httpapi.KeyStore) error {
	if v, err := to.Version(ctx); err != nil || v > 0 {
		return err
	}
	old, err := httpapi.ReadKeyFile(path)
	if err != nil {
		return fmt.Errorf("import keys: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	keys := make(chan httpapi.StoredKey)
	errs := make(chan error, nodeKeysImporters)
	var wg sync.WaitGroup
	for range nodeKeysImporters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				if _, err := to.Put(ctx, k); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}()
	}
send:
	for _, k := range old {
		select {
		case keys <- k:
		case <-ctx.Done():
			break send
		}
	}
	close(keys)
	wg.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("import keys: %w", err)
	default:
		return ctx.Err()
	}
}

// apiConfig configures the node's HTTP API.
func (n *node) apiConfig(log *slog.Logger) httpapi.Config {
	// The answers kept under Idempotency-Keys age by the node's clock,
	// the sandbox's when it has one.
	cfg := httpapi.Config{Current: n.current, Keys: n.keys, Logger: log, Clock: n.clock}
	if n.sandbox != nil {
		cfg.Sandbox = n.sandbox
		// An advance runs at once the jobs it made due, as the minute
		// tick would: a request expires as soon as its time has come,
		// and a contract's timer fires before the advance answers.
		n.sandbox.jobs = func(ctx context.Context) {
			n.housekeepOnce(ctx, log)
			n.fireContractTimers(ctx, log)
			n.offlineOnce(ctx, log)
		}
	}
	return cfg
}

// domainStores are the domain's stores, on SQLite or PostgreSQL.
type domainStores struct {
	twotier  twotier.Store
	merchant merchant.Store
	scenario scenario.Store
	contract contract.Store
	offline  offline.Store
}

// openDomain opens the domain services on a ledger, telling the time by
// clock.
func openDomain(ctx context.Context, l *ledger.Ledger, st domainStores, clock tongbao.Clock) (httpapi.Services, error) {
	svc, err := twotier.Open(ctx, twotier.Config{Ledger: l, Store: st.twotier, Clock: clock})
	if err != nil {
		return httpapi.Services{}, err
	}
	m, err := merchant.New(merchant.Config{Payments: svc, Store: st.merchant, Clock: clock})
	if err != nil {
		return httpapi.Services{}, err
	}
	sc, err := scenario.New(scenario.Config{Payments: svc, Store: st.scenario, Clock: clock})
	if err != nil {
		return httpapi.Services{}, err
	}
	cs, err := contract.New(contract.Config{Payments: svc, Store: st.contract, Clock: clock})
	if err != nil {
		return httpapi.Services{}, err
	}
	off, err := offline.New(ctx, offline.Config{Payments: svc, Store: st.offline, Clock: clock})
	if err != nil {
		return httpapi.Services{}, err
	}
	return httpapi.Services{Payments: svc, Ledger: l, Merchant: m, Scenario: sc, Contracts: cs, Offline: off}, nil
}

// current returns what the node serves, or postgres.ErrNotWriter while
// another process holds the writer.
func (n *node) current() (httpapi.Services, error) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.cur.Payments == nil {
		return httpapi.Services{}, postgres.ErrNotWriter
	}
	return n.cur, nil
}

// set makes the node serve cur, or nothing when cur is zero.
func (n *node) set(cur httpapi.Services) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cur.Payments == cur.Payments {
		return
	}
	n.cur = cur
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
	n.set(httpapi.Services{})
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

// housekeep runs the writer's periodic work until ctx ends: it applies
// cap versions that came into effect, settles payment-request claims
// whose payer never came back, and ends expired scenario sub-wallets
// (their money back to their parents).
func (n *node) housekeep(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(nodeHousekeepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.housekeepOnce(ctx, log)
		}
	}
}

// housekeepOnce does the writer's periodic work once; a node that does
// not serve writes does none (the writer does it).
func (n *node) housekeepOnce(ctx context.Context, log *slog.Logger) {
	cur, err := n.current()
	if err != nil {
		return
	}
	if k, err := cur.Payments.ApplyDueCaps(ctx); err != nil {
		log.Error("apply due caps", "err", err)
	} else if k > 0 {
		log.Info("applied due caps", "wallets", k)
	}
	if k, err := cur.Merchant.ResolveStaleClaims(ctx); err != nil {
		log.Error("settle stale payment-request claims", "err", err)
	} else if k > 0 {
		log.Info("settled stale payment-request claims", "requests", k)
	}
	if k, err := cur.Scenario.EndExpired(ctx); err != nil {
		log.Error("end expired sub-wallets", "ended", k, "err", err)
	} else if k > 0 {
		log.Info("ended expired sub-wallets", "sub_wallets", k)
	}
}

// runContracts runs the contract scheduler (contract.Service.Run: the
// invocations a crash left pending, then the timers as they come due)
// while the node serves writes, until ctx ends: on PostgreSQL only the
// writer fires timers, and a node that loses the writer stops before
// another takes over.
func (n *node) runContracts(ctx context.Context, log *slog.Logger) {
	for ctx.Err() == nil {
		changed := n.watch()
		cur, err := n.current()
		if err != nil || cur.Contracts == nil {
			select {
			case <-changed:
			case <-ctx.Done():
			}
			continue
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			cur.Contracts.Run(runCtx, contract.DefaultSchedulerInterval, func(err error) { log.Error("contract scheduler", "err", err) })
		}()
		select {
		case <-changed:
		case <-ctx.Done():
		}
		cancel()
		<-done
	}
}

// fireContractTimers fires the contract timers due now, on a node that
// serves writes: after a sandbox clock moved, so that they have fired
// when the advance answers.
func (n *node) fireContractTimers(ctx context.Context, log *slog.Logger) {
	cur, err := n.current()
	if err != nil || cur.Contracts == nil {
		return
	}
	if k, err := cur.Contracts.RunDue(ctx); err != nil {
		log.Error("fire contract timers", "fired", k, "err", err)
	} else if k > 0 {
		log.Info("fired contract timers", "timers", k)
	}
}

// runOffline runs the offline service's work while the node serves
// writes, until ctx ends: each time it becomes the writer, Recover (the
// loads and token payments a crash left pending), then every
// nodeOfflineInterval the purses due back and the tokens left pending. On
// PostgreSQL only the writer does it, and a node that loses the writer
// stops before another takes over.
func (n *node) runOffline(ctx context.Context, log *slog.Logger) {
	for ctx.Err() == nil {
		changed := n.watch()
		cur, err := n.current()
		if err != nil || cur.Offline == nil {
			select {
			case <-changed:
			case <-ctx.Done():
			}
			continue
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := cur.Offline.Recover(runCtx); err != nil && runCtx.Err() == nil {
				log.Error("offline recover", "err", err)
			}
			tick := time.NewTicker(nodeOfflineInterval)
			defer tick.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-tick.C:
					offlineWork(runCtx, cur.Offline, log)
				}
			}
		}()
		select {
		case <-changed:
		case <-ctx.Done():
		}
		cancel()
		<-done
	}
}

// offlineOnce does the offline service's periodic work once, on a node
// that serves writes: after a sandbox clock moved, so that a purse whose
// arrival grace has passed is back when the advance answers.
func (n *node) offlineOnce(ctx context.Context, log *slog.Logger) {
	cur, err := n.current()
	if err != nil || cur.Offline == nil {
		return
	}
	offlineWork(ctx, cur.Offline, log)
}

// offlineWork returns the purses of decommissioned devices whose arrival
// grace has passed, and pays the tokens stored pending.
func offlineWork(ctx context.Context, off *offline.Service, log *slog.Logger) {
	if k, err := off.ReturnDue(ctx); err != nil && ctx.Err() == nil {
		log.Error("return offline purses", "returned", k, "err", err)
	} else if k > 0 {
		log.Info("returned offline purses", "devices", k)
	}
	if err := off.RetryPending(ctx); err != nil && ctx.Err() == nil {
		log.Error("pay pending offline tokens", "err", err)
	}
}
