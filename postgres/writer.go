package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// One writer per ledger across processes: the processes that serve a
// ledger share its database, and the one that holds the ledger's lease, a
// row of writer_leases, runs the writer. The others stand by, answer
// ErrNotWriter, and try to take the lease every LeaseRetry.
//
// The lease is kept by the database's clock. Every commit checks it, in
// the commit's own transaction, and locks its row until the commit ends
// (Fence): a writer whose lease expired or was taken can commit nothing,
// and a takeover, which updates the row, waits for a commit in progress
// and then rebuilds the ledger from the database, that commit included.
// So no acknowledged transfer is lost, and no two processes ever both
// accept money on one ledger.

// Defaults of the lease.
const (
	// DefaultLeaseTTL is how long a lease lasts unless renewed: how long
	// a ledger waits for a new writer after its writer dies.
	DefaultLeaseTTL = 3 * time.Second
	// DefaultLeaseName names the lease of a process's one ledger.
	DefaultLeaseName = "ledger"
	// leaseRetryMax is the longest a standby waits between attempts to
	// take the lease (a sixth of the TTL, if shorter).
	leaseRetryMax = 500 * time.Millisecond
	// leaseTimeout bounds each statement on the lease.
	leaseTimeout = 2 * time.Second
)

// WriterConfig configures a Writer. DSN is required.
type WriterConfig struct {
	DSN string
	// Lease names the ledger the processes contend for; DefaultLeaseName
	// if empty.
	Lease string
	// Owner names this process in the lease; if empty, host name, process
	// id and a random suffix, so that a restarted process is a new owner.
	Owner string
	// LeaseTTL is how long the lease lasts unless renewed; it is renewed
	// every third of it. DefaultLeaseTTL if zero.
	LeaseTTL time.Duration
	// Ledger configures the ledger opened while the lease is held; its
	// Store is set by the Writer.
	Ledger ledger.Config
	// Logger receives a line when the process becomes the writer or stops
	// being it; nil logs nothing.
	Logger *slog.Logger
}

// Writer runs a ledger's writer in this process while it holds the
// ledger's lease, and stands by when another process holds it.
type Writer struct {
	cfg    WriterConfig
	pool   *pgxpool.Pool
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.RWMutex
	ledger *ledger.Ledger // nil while standing by
	epoch  int64
	// changed is closed and replaced whenever the process becomes the
	// writer or stops being it.
	changed chan struct{}
}

// StartWriter connects to the database, applies the migrations, and
// starts contending for the lease in the background. It returns at once:
// the process stands by until it holds the lease (see Ledger and Changed).
func StartWriter(ctx context.Context, cfg WriterConfig) (*Writer, error) {
	if cfg.DSN == "" {
		return nil, errors.New("postgres: writer: empty connection string")
	}
	if cfg.Lease == "" {
		cfg.Lease = DefaultLeaseName
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		rand.Read(b[:])
		cfg.Owner = fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres: writer: %w", err)
	}
	pcfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: writer: %w", err)
	}
	err = pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error {
		return Migrate(ctx, c.Conn(), ledgerComponent, ledgerMigrations)
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: writer: %w", err)
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	w := &Writer{cfg: cfg, pool: pool, cancel: cancel, done: make(chan struct{}), changed: make(chan struct{})}
	go w.run(loopCtx)
	return w, nil
}

// Owner returns the name this process holds the lease under.
func (w *Writer) Owner() string { return w.cfg.Owner }

// Ledger returns the ledger while this process is its writer, and
// ErrNotWriter while it stands by. The ledger may stop at any moment (its
// lease lost): its calls then fail with ledger.ErrClosed or an
// EUNAVAILABLE error, both worth retrying, here or at the new writer.
func (w *Writer) Ledger() (*ledger.Ledger, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.ledger == nil {
		return nil, ErrNotWriter
	}
	return w.ledger, nil
}

// Epoch returns the epoch of the lease this process holds, or zero while
// it stands by.
func (w *Writer) Epoch() int64 {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.epoch
}

// Changed returns a channel that is closed the next time this process
// becomes the writer or stops being it.
func (w *Writer) Changed() <-chan struct{} {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.changed
}

// Submit submits transfers to the ledger if this process is its writer.
// It returns ErrNotWriter when it is not, or stops being it before the
// transfers commit: then they may or may not have committed, and a retry
// with the same ids, at the new writer, tells.
func (w *Writer) Submit(ctx context.Context, transfers []ledger.Transfer) ([]ledger.Result, error) {
	l, err := w.Ledger()
	if err != nil {
		return nil, err
	}
	rs, err := l.Submit(ctx, transfers)
	if err != nil && (errors.Is(err, ledger.ErrClosed) || tongbao.ErrorCode(err) == tongbao.EUNAVAILABLE) {
		return nil, ErrNotWriter
	}
	return rs, err
}

// Close stops the writer (committing what it accepted) and gives up the
// lease, so that a standby takes over at once rather than after the TTL.
func (w *Writer) Close() error {
	w.cancel()
	<-w.done
	w.pool.Close()
	return nil
}

func (w *Writer) set(l *ledger.Ledger, epoch int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ledger, w.epoch = l, epoch
	close(w.changed)
	w.changed = make(chan struct{})
}

// run contends for the lease, and holds it while it can, until ctx ends.
func (w *Writer) run(ctx context.Context) {
	defer close(w.done)
	retry := min(w.cfg.LeaseTTL/6, leaseRetryMax)
	for ctx.Err() == nil {
		epoch, ok, err := w.acquire(ctx)
		if err != nil && ctx.Err() == nil {
			w.cfg.Logger.Warn("writer lease: acquire", "lease", w.cfg.Lease, "err", err)
		}
		if ok {
			w.hold(ctx, &Fence{Name: w.cfg.Lease, Owner: w.cfg.Owner, Epoch: epoch})
			continue
		}
		select {
		case <-time.After(retry):
		case <-ctx.Done():
		}
	}
}

// hold opens the ledger under the fence, serves it while the lease is
// renewed, and closes it when the lease is lost or ctx ends.
func (w *Writer) hold(ctx context.Context, f *Fence) {
	log := w.cfg.Logger.With("lease", f.Name, "owner", f.Owner, "epoch", f.Epoch)
	// Our acquisition has committed: any commit of the previous writer has
	// ended, and what it wrote is what the ledger loads.
	store, l, err := w.open(ctx, f)
	if err != nil {
		log.Error("writer lease: open the ledger", "err", err)
		w.release(f)
		return
	}
	log.Info("writer lease: this process is the writer")
	w.set(l, f.Epoch)
	defer func() {
		w.set(nil, 0)
		if err := l.Close(); err != nil && !errors.Is(err, ErrNotWriter) {
			log.Warn("writer lease: close the ledger", "err", err)
		}
		store.Close()
		w.release(f)
		log.Info("writer lease: this process stopped being the writer")
	}()

	renew := time.NewTicker(w.cfg.LeaseTTL / 3)
	defer renew.Stop()
	renewed := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-renew.C:
		}
		ok, err := w.renew(ctx, f)
		switch {
		case err == nil && !ok:
			log.Warn("writer lease: lost")
			return
		case err != nil:
			// A lease the database could not renew may still be ours; once
			// it has surely expired it is not, and every commit fails.
			if time.Since(renewed) > w.cfg.LeaseTTL {
				log.Warn("writer lease: not renewed in time", "err", err)
				return
			}
			continue
		}
		renewed = time.Now()
		// A ledger that stopped (a commit failed) is rebuilt from the
		// database: give the lease up, then contend again.
		probe, cancel := context.WithTimeout(ctx, w.cfg.LeaseTTL)
		err = l.ExpireDue(probe)
		cancel()
		if err != nil && ctx.Err() == nil {
			log.Warn("writer lease: the ledger stopped", "err", err)
			return
		}
	}
}

func (w *Writer) open(ctx context.Context, f *Fence) (*Store, *ledger.Ledger, error) {
	store, err := Open(ctx, w.cfg.DSN)
	if err != nil {
		return nil, nil, err
	}
	store.SetFence(f)
	cfg := w.cfg.Ledger
	cfg.Store = store
	l, err := ledger.Open(ctx, cfg)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return store, l, nil
}

// acquire takes the lease if it is free, expired, or already this
// owner's, and returns its new epoch. Every acquisition bumps the epoch,
// which fences out the commits of any earlier holder.
func (w *Writer) acquire(ctx context.Context) (epoch int64, ok bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, leaseTimeout)
	defer cancel()
	err = w.pool.QueryRow(ctx, `INSERT INTO writer_leases AS l (name, owner, epoch, expires_at)
		VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 millisecond')
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, epoch = l.epoch + 1, expires_at = excluded.expires_at
			WHERE l.expires_at <= clock_timestamp() OR l.owner = excluded.owner
		RETURNING epoch`, w.cfg.Lease, w.cfg.Owner, w.cfg.LeaseTTL.Milliseconds()).Scan(&epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return epoch, true, nil
}

// renew extends the lease by its TTL if it is still held, unexpired.
func (w *Writer) renew(ctx context.Context, f *Fence) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, leaseTimeout)
	defer cancel()
	tag, err := w.pool.Exec(ctx, `UPDATE writer_leases SET expires_at = clock_timestamp() + $4 * interval '1 millisecond'
		WHERE name = $1 AND owner = $2 AND epoch = $3 AND expires_at > clock_timestamp()`,
		f.Name, f.Owner, f.Epoch, w.cfg.LeaseTTL.Milliseconds())
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// release ends the lease now, if it is still held, so that a standby need
// not wait for it to expire.
func (w *Writer) release(f *Fence) {
	ctx, cancel := context.WithTimeout(context.Background(), leaseTimeout)
	defer cancel()
	_, err := w.pool.Exec(ctx, `UPDATE writer_leases SET expires_at = clock_timestamp()
		WHERE name = $1 AND owner = $2 AND epoch = $3`, f.Name, f.Owner, f.Epoch)
	if err != nil {
		w.cfg.Logger.Warn("writer lease: release", "lease", f.Name, "err", err)
	}
}
