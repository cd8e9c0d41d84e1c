// Package ledger is tongbao's engine: accounts with limits, transfers,
// holds, linked batches and idempotency, behind one writer that commits in
// groups. It knows nothing of wallets, operators or central banks; the
// domain packages express those as accounts and transfers.
//
// Every write goes through one goroutine that owns the in-memory balances.
// Callers' requests queue up; the writer validates them in arrival order
// against memory, gathers them into a batch, and hands the batch to the
// committer, which writes it in one storage transaction (one fsync) and only
// then answers every caller in it. While one batch commits, the writer
// fills the next, so the batch grows with the load and hot accounts cost
// no locks and no retries: a balance is changed in memory, by one goroutine,
// and written once per batch.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// Defaults and limits of the writer.
const (
	// DefaultBatchMax is the most transfers one commit writes.
	DefaultBatchMax = 8190
	// DefaultQueueMax is the most requests that may wait for the writer;
	// callers past it block, which is the back-pressure.
	DefaultQueueMax = 4096
	// DefaultExpiryInterval is how often the writer looks for holds whose
	// timeout has passed when no request wakes it.
	DefaultExpiryInterval = 100 * time.Millisecond
	// DefaultTimeZone is where days and years of the daily and yearly
	// limits begin.
	DefaultTimeZone = "Asia/Shanghai"
	// DefaultBatchWaitRequests is BatchWaitRequests when it is not set.
	DefaultBatchWaitRequests = 8
)

// Config configures a Ledger. Only Store is required.
type Config struct {
	Store Store
	Clock tongbao.Clock
	// Location sets the calendar of the daily and yearly limits.
	Location *time.Location
	// BatchMax bounds the transfers of one commit, and of one request.
	BatchMax int
	// BatchWait is how long the writer may wait for more requests before
	// committing a batch while the store is idle. Zero commits at once:
	// batches still grow under load, because requests queue up while the
	// previous batch commits.
	//
	// As PostgreSQL's commit_delay applies only with commit_siblings
	// other transactions active, the wait applies only after a batch of
	// at least BatchWaitRequests requests: when that many callers are
	// about, holding the batch a little lets more join one commit (one
	// fsync) at a small cost in latency, while a lone or occasional
	// caller is committed at once.
	BatchWait         time.Duration
	BatchWaitRequests int
	QueueMax          int
	ExpiryInterval    time.Duration
}

// Ledger is one ledger: its state in memory and its single writer.
type Ledger struct {
	store        Store
	clock        tongbao.Clock
	batchMax     int
	wait         time.Duration
	waitRequests int
	expiry       time.Duration

	state *state
	queue chan *request
	// The committer says on ready that it is idle; the writer then
	// finishes its batch and sends it on commit.
	ready  chan struct{}
	commit chan *pendingBatch

	closing                   chan struct{}
	closeOnce                 sync.Once
	writerDone, committerDone chan struct{}

	failMu sync.Mutex
	failed error // set when a commit failed: the ledger stops

	committed committed
	stats     Stats
	// skipCheckpoint makes Close leave the balance rows as they are, as a
	// crash would; tests use it to exercise the replay.
	skipCheckpoint atomic.Bool
}

// committed holds every account as of the last commit: what queries read.
// The committer updates it after each commit and before answering, so a
// caller sees its own transfers, and nobody sees a batch that may fail.
// Its slots are the writer's: account i here is account i of the state, and
// index is the state's own map, which the writer only changes under mu.
type committed struct {
	mu       sync.RWMutex
	index    map[tongbao.ID]int32
	accounts []AccountRecord
}

func (c *committed) load(s *state) {
	c.index = s.index
	s.indexMu = &c.mu
	c.accounts = append([]AccountRecord(nil), s.accounts...)
}

func (c *committed) publish(pb *pendingBatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range pb.batch.Accounts {
		if c.index[a.ID] != int32(len(c.accounts)) {
			panic("ledger: accounts committed out of order")
		}
		c.accounts = append(c.accounts, a)
	}
	for _, a := range pb.touched {
		c.accounts[c.index[a.ID]] = a
	}
}

func (c *committed) get(id tongbao.ID) (AccountRecord, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	i, ok := c.index[id]
	if !ok || int(i) >= len(c.accounts) { // created, not yet committed
		return AccountRecord{}, false
	}
	return c.accounts[i], true
}

// Stats counts the writer's work since the ledger opened.
type Stats struct {
	Batches        atomic.Int64
	Transfers      atomic.Int64
	CommitNanos    atomic.Int64
	QueueDepthLast atomic.Int64
}

type request struct {
	accounts    []Account
	accountErrs []error
	updates     []AccountUpdate
	updateErrs  []error
	transfers   []Transfer
	results     []Result
	err         error
	done        chan struct{}
}

type pendingBatch struct {
	batch     *Batch
	requests  []*request
	transfers int
	// touched are the accounts the batch changed, as they stand after it:
	// what queries see once it is committed.
	touched []AccountRecord
}

// Open rebuilds the ledger's state from the store and starts its writer.
func Open(ctx context.Context, cfg Config) (*Ledger, error) {
	if cfg.Store == nil {
		return nil, errors.New("ledger: no store")
	}
	if cfg.Clock == nil {
		cfg.Clock = tongbao.SystemClock{}
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation(DefaultTimeZone)
		if err != nil {
			return nil, fmt.Errorf("ledger: time zone: %w", err)
		}
		cfg.Location = loc
	}
	if cfg.BatchMax <= 0 {
		cfg.BatchMax = DefaultBatchMax
	}
	if cfg.BatchWaitRequests <= 0 {
		cfg.BatchWaitRequests = DefaultBatchWaitRequests
	}
	if cfg.QueueMax <= 0 {
		cfg.QueueMax = DefaultQueueMax
	}
	if cfg.ExpiryInterval <= 0 {
		cfg.ExpiryInterval = DefaultExpiryInterval
	}
	l := &Ledger{
		store:         cfg.Store,
		clock:         cfg.Clock,
		batchMax:      cfg.BatchMax,
		wait:          cfg.BatchWait,
		waitRequests:  cfg.BatchWaitRequests,
		expiry:        cfg.ExpiryInterval,
		state:         newState(cfg.Store, cfg.Location),
		queue:         make(chan *request, cfg.QueueMax),
		ready:         make(chan struct{}),
		commit:        make(chan *pendingBatch),
		closing:       make(chan struct{}),
		writerDone:    make(chan struct{}),
		committerDone: make(chan struct{}),
	}
	if err := l.state.load(ctx); err != nil {
		return nil, fmt.Errorf("ledger: load: %w", err)
	}
	l.committed.load(l.state)
	go l.write()
	go l.commitLoop()
	return l, nil
}

// Close stops accepting requests, commits what was accepted, and waits.
// It does not close the store.
func (l *Ledger) Close() error {
	l.stop()
	<-l.writerDone
	<-l.committerDone
	return l.err()
}

func (l *Ledger) stop() { l.closeOnce.Do(func() { close(l.closing) }) }

func (l *Ledger) err() error {
	l.failMu.Lock()
	defer l.failMu.Unlock()
	return l.failed
}

// Stats returns the writer's counters.
func (l *Ledger) Stats() *Stats { return &l.stats }

// BatchMax returns the most transfers one request may carry.
func (l *Ledger) BatchMax() int { return l.batchMax }

// CreateAccounts creates accounts. Each gets its own error: nil when it was
// created or already existed with the same content, ErrAccountExists when
// its id is taken by a different account, or an EINVALID error. The
// returned error is for the request as a whole.
func (l *Ledger) CreateAccounts(ctx context.Context, accounts []Account) ([]error, error) {
	if len(accounts) > l.batchMax {
		return nil, ErrRequestTooLarge
	}
	req := &request{accounts: accounts, accountErrs: make([]error, len(accounts))}
	if err := l.do(ctx, req); err != nil {
		return nil, err
	}
	return req.accountErrs, nil
}

// UpdateAccounts changes accounts' state flags, freezes, credit lines and
// limits, in the writer's order with transfers, so a change can never race
// a payment. Each update gets its own error: ErrAccountNotFound,
// ErrAccountNotEmpty (closing an account that holds money),
// ErrAccountReopen, ErrInsufficientFunds or ErrCreditsExceedDebits (a
// credit line cut below what the account uses of it), a limit error
// (WithinLimits), or an EINVALID error.
func (l *Ledger) UpdateAccounts(ctx context.Context, updates []AccountUpdate) ([]error, error) {
	if len(updates) > l.batchMax {
		return nil, ErrRequestTooLarge
	}
	req := &request{updates: updates, updateErrs: make([]error, len(updates))}
	if err := l.do(ctx, req); err != nil {
		return nil, err
	}
	return req.updateErrs, nil
}

// Submit applies transfers in order and returns one result each, once they
// are durable. Transfers flagged FlagLinked form chains with the ones after
// them that succeed or fail together.
//
// Ids: a transfer that succeeded keeps its id forever; submitting the same
// id with the same content returns the first result with Duplicate set,
// and with other content fails with tongbao.ErrIDConflict. A transfer that failed
// is recorded too, and its id keeps returning that failure: a retry can
// never turn an answered failure into a payment. Only failures that say
// nothing about the id (ErrIDZero, tongbao.ErrIDConflict, ErrLinkedEventFailed,
// ErrLinkedChainOpen) leave the id unused.
//
// The returned error concerns the request: ErrRequestTooLarge, ErrClosed,
// a storage failure, or ctx's error. After ctx's error the request may
// still commit; resubmit it with the same ids to learn the outcome.
func (l *Ledger) Submit(ctx context.Context, transfers []Transfer) ([]Result, error) {
	if len(transfers) > l.batchMax {
		return nil, ErrRequestTooLarge
	}
	if len(transfers) == 0 {
		return nil, nil
	}
	req := &request{transfers: transfers, results: make([]Result, len(transfers))}
	if err := l.do(ctx, req); err != nil {
		return nil, err
	}
	return req.results, nil
}

// Transfer submits one transfer and returns its result as an error.
func (l *Ledger) Transfer(ctx context.Context, t Transfer) (Result, error) {
	rs, err := l.Submit(ctx, []Transfer{t})
	if err != nil {
		return Result{}, err
	}
	return rs[0], rs[0].Err
}

// ExpireDue makes the writer void every hold whose timeout has passed by
// the ledger's clock, and returns once that is durable. The writer does
// this by itself every ExpiryInterval; tests that move a manual clock call
// it to not wait.
func (l *Ledger) ExpireDue(ctx context.Context) error {
	return l.do(ctx, &request{})
}

func (l *Ledger) do(ctx context.Context, req *request) error {
	req.done = make(chan struct{})
	if err := l.err(); err != nil {
		return err
	}
	select {
	case l.queue <- req:
	case <-l.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-req.done:
		return req.err
	case <-l.writerDone:
		// The writer stopped; the committer may still answer this request
		// if it was in the last batch.
		select {
		case <-req.done:
			return req.err
		case <-l.committerDone:
			select {
			case <-req.done:
				return req.err
			default:
			}
			if err := l.err(); err != nil {
				return err
			}
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write is the writer goroutine: it applies requests to the state and
// hands full or ready batches to the committer.
func (l *Ledger) write() {
	defer close(l.writerDone)
	ticker := time.NewTicker(l.expiry)
	defer ticker.Stop()
	cur := l.newBatch()
	var waitTimer <-chan time.Time
	// The requests of the batch handed last: the wait applies after a
	// batch of at least l.waitRequests.
	handed := 0
	for {
		if err := l.err(); err != nil {
			l.drain(cur, err)
			return
		}
		empty := len(cur.requests) == 0 && len(cur.batch.Transfers) == 0 && len(cur.batch.Failures) == 0
		if empty {
			select {
			case req := <-l.queue:
				l.apply(cur, req)
				if l.wait > 0 && handed >= l.waitRequests {
					waitTimer = time.After(l.wait)
				}
			case <-ticker.C:
				l.sweep(cur)
				if len(cur.batch.Transfers) == 0 && l.state.checkpointDue(l.clock.Now()) {
					cur = l.hand(cur) // balance rows only
				}
			case <-l.closing:
				l.state.flushAll = !l.skipCheckpoint.Load() // a clean stop leaves nothing to replay
				l.hand(cur)
				return
			}
			continue
		}
		if cur.transfers >= l.batchMax {
			cur = l.hand(cur)
			continue
		}
		ready := l.ready
		if waitTimer != nil {
			ready = nil // hold the batch until the wait is over
		}
		select {
		case <-ready:
			cur.touched = l.state.finishBatch(l.clock.Now())
			handed = len(cur.requests)
			l.commit <- cur
			cur = l.newBatch()
		case <-waitTimer:
			waitTimer = nil
		case req := <-l.queue:
			if cur.transfers+len(req.transfers) > l.batchMax {
				cur = l.hand(cur)
				waitTimer = nil
			}
			l.apply(cur, req)
		case <-ticker.C:
			l.sweep(cur)
		case <-l.closing:
			l.state.flushAll = !l.skipCheckpoint.Load()
			l.hand(cur)
			return
		}
	}
}

func (l *Ledger) newBatch() *pendingBatch {
	return &pendingBatch{batch: l.state.startBatch()}
}

// hand gives a batch to the committer, waiting until it takes it, and
// returns a new batch.
func (l *Ledger) hand(cur *pendingBatch) *pendingBatch {
	<-l.ready
	cur.touched = l.state.finishBatch(l.clock.Now())
	l.commit <- cur
	return l.newBatch()
}

func (l *Ledger) apply(cur *pendingBatch, req *request) {
	l.stats.QueueDepthLast.Store(int64(len(l.queue)))
	now := l.clock.Now()
	// Holds due before this request are expired first, so the request sees
	// them voided, as it would had the sweep run on time.
	l.state.expireDue(now, l.batchMax)
	cur.requests = append(cur.requests, req)
	for i, a := range req.accounts {
		req.accountErrs[i] = l.state.createAccount(a, now)
	}
	for i, u := range req.updates {
		req.updateErrs[i] = l.state.updateAccount(u, now)
	}
	if err := l.state.transfers(context.Background(), req.transfers, req.results, now); err != nil {
		l.fail(fmt.Errorf("ledger: lookup: %w", err))
	}
	cur.transfers = len(cur.batch.Transfers) + len(cur.batch.Failures)
}

func (l *Ledger) sweep(cur *pendingBatch) {
	l.state.expireDue(l.clock.Now(), l.batchMax)
	cur.transfers = len(cur.batch.Transfers) + len(cur.batch.Failures)
}

// drain answers every request with err after the ledger failed.
func (l *Ledger) drain(cur *pendingBatch, err error) {
	for _, r := range cur.requests {
		r.err = err
		close(r.done)
	}
	for {
		select {
		case r := <-l.queue:
			r.err = err
			close(r.done)
		default:
			return
		}
	}
}

// commitLoop is the committer goroutine: it makes each batch durable and
// then answers its callers.
func (l *Ledger) commitLoop() {
	defer close(l.committerDone)
	for {
		select {
		case l.ready <- struct{}{}:
		case <-l.writerDone:
			return
		}
		pb := <-l.commit
		err := l.err()
		if err == nil {
			start := time.Now()
			if cerr := l.store.Commit(context.Background(), pb.batch); cerr != nil {
				err = fmt.Errorf("ledger: commit: %w", cerr)
				l.fail(err)
			} else {
				l.committed.publish(pb)
			}
			l.stats.CommitNanos.Add(int64(time.Since(start)))
			l.stats.Batches.Add(1)
			l.stats.Transfers.Add(int64(len(pb.batch.Transfers)))
		}
		for _, r := range pb.requests {
			if err != nil {
				r.err = tongbao.Errorf(tongbao.EUNAVAILABLE, "ledger stopped after a storage failure")
			}
			close(r.done)
		}
	}
}

// fail stops the ledger: after a failed commit, memory is ahead of the
// store and no further answer could be trusted. Reopening rebuilds the
// state from the store.
func (l *Ledger) fail(err error) {
	l.failMu.Lock()
	if l.failed == nil {
		l.failed = &tongbao.Error{Code: tongbao.EUNAVAILABLE, Message: "ledger stopped after a storage failure", Err: err}
	}
	l.failMu.Unlock()
	l.stop()
}
