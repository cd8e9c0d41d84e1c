package sqldb

import (
	"context"
	"sync"

	tongbao "github.com/tongbao/tongbao"
)

// ErrClosed answers a call made to a Committer after Close.
var ErrClosed = tongbao.Sentinel(tongbao.EUNAVAILABLE, "unavailable", "the store is closing")

// Committer writes the calls made at the same time in one transaction
// (group commit): on SQLite, whose synchronous=FULL commit is one fsync,
// one commit makes a whole batch durable, so a store's write rate is that
// of its statements, not of the disk's flushes. A call returns once the
// transaction holding it is committed.
//
// Calls are values of C, usually pointers whose results the write
// function fills in. A call it refuses (a version conflict, a missing
// row) gets its own error and must leave the transaction as it found it,
// so the others in the batch still commit: the write function checks
// before it writes. An error of the write function itself, or of the
// commit, is every call's: nothing of the batch is stored.
type Committer[C any] struct {
	db    *DB
	calls chan committerCall[C]
	write func(ctx context.Context, tx *Tx, batch []C, errs []error) error
	max   int
	quit  chan struct{} // closed by Close
	wg    sync.WaitGroup
	once  sync.Once
}

type committerCall[C any] struct {
	call   C
	answer chan error // buffered: the writer never waits for the caller
}

// NewCommitter starts writers goroutines (at least one; one is all SQLite
// can use, with its single connection) that each gather up to batchMax
// calls, those waiting when the first arrives, and write them with write
// in one transaction. write sets errs[i] to refuse batch[i] alone.
func NewCommitter[C any](db *DB, batchMax, writers int, write func(ctx context.Context, tx *Tx, batch []C, errs []error) error) *Committer[C] {
	c := &Committer[C]{db: db, calls: make(chan committerCall[C]), write: write, max: max(1, batchMax), quit: make(chan struct{})}
	for range max(1, writers) {
		c.wg.Add(1)
		go c.run()
	}
	return c
}

// Do makes a call and returns its error once its transaction is
// committed or rolled back, or ctx's error; a call abandoned that way may
// still be committed.
func (c *Committer[C]) Do(ctx context.Context, call C) error {
	cc := committerCall[C]{call: call, answer: make(chan error, 1)}
	select {
	case c.calls <- cc:
	case <-c.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-cc.answer:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the writers once they have answered the calls they took;
// closing twice is harmless. It does not close the DB.
func (c *Committer[C]) Close() {
	c.once.Do(func() { close(c.quit) })
	c.wg.Wait()
}

// run is one writer: it writes batches until Close.
func (c *Committer[C]) run() {
	defer c.wg.Done()
	pending := make([]committerCall[C], 0, c.max)
	batch := make([]C, 0, c.max)
	errs := make([]error, 0, c.max)
	for {
		pending = pending[:0]
		select {
		case cc := <-c.calls:
			pending = append(pending, cc)
		case <-c.quit:
			return
		}
	more:
		for len(pending) < c.max {
			select {
			case cc := <-c.calls:
				pending = append(pending, cc)
			default:
				break more
			}
		}
		batch, errs = batch[:0], errs[:0]
		for _, cc := range pending {
			batch = append(batch, cc.call)
			errs = append(errs, nil)
		}
		err := c.commit(batch, errs)
		for i, cc := range pending {
			if err != nil {
				cc.answer <- err
			} else {
				cc.answer <- errs[i]
			}
		}
		clear(batch) // let the calls be collected
	}
}

// commit writes a batch in one transaction. The calls' own contexts are
// not its: a caller that gives up does not roll back the others.
func (c *Committer[C]) commit(batch []C, errs []error) error {
	ctx := context.Background()
	tx, err := c.db.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := c.write(ctx, tx, batch, errs); err != nil {
		return err
	}
	return tx.Commit()
}
