package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/tongbao/tongbao/ledger"
)

// ErrNotWriter is the answer of a process that does not hold a ledger's
// writer lease, and the error of a commit made under a lease that was lost.
// It is retryable: the writer is, or will shortly be, another process.
var ErrNotWriter = ledger.ErrNotWriter

// Fence is the lease a Store's commits are made under: the writer lease
// name, held by owner in epoch.
type Fence struct {
	Name  string
	Owner string
	Epoch int64
}

// fenceSQL checks the lease in the commit's transaction and locks its row
// until the transaction ends, so that another process's takeover, an
// UPDATE of the row, waits for the commit and then loads its batch.
const fenceSQL = `SELECT epoch FROM writer_leases
	WHERE name = $1 AND owner = $2 AND epoch = $3 AND expires_at > clock_timestamp()
	FOR SHARE`

func (f *Fence) queue(b *pgx.Batch) {
	b.Queue(fenceSQL, f.Name, f.Owner, f.Epoch).QueryRow(func(row pgx.Row) error {
		var epoch int64
		err := row.Scan(&epoch)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotWriter
		}
		return err
	})
}

// SetFence makes every later Commit check that the lease f is still held,
// in the commit's own transaction; nil stops the checks.
func (s *Store) SetFence(f *Fence) {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	s.fence = f
}
