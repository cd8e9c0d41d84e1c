package ledger

import (
	"context"
	"fmt"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// Balance rows are written lazily. Every commit writes its transfers, which
// are the truth; an account's balance row is rewritten only once its
// changes are CheckpointDelay old, so a busy account costs one row write a
// second instead of one a batch. On start the engine loads the rows and
// replays the transfers after them (from the batch's ReplayFrom, each
// account from its own Checkpoint). Queries read the committed balances
// kept in memory, never a lagging row.
const (
	// CheckpointDelay is how long an account's changes may wait before its
	// balance row is rewritten.
	CheckpointDelay = time.Second
	// CheckpointRowsMax bounds the balance rows one commit writes, so a
	// checkpoint never stalls a batch for long.
	CheckpointRowsMax = 4096
	// DirtyMax is how many accounts may wait; past it rows are written
	// whatever their age, which bounds the replay after a crash.
	DirtyMax = 1 << 18
)

// effect applies a stored transfer to its accounts: balances, the debit
// account's day and year counters, and the history heads. The live path
// and the replay both use it, so they cannot disagree. A nil account is
// left alone (its row already includes the transfer). holdTimestamp is the
// timestamp of the hold that a post, void or expiry resolves.
func (s *state) effect(t *Transfer, dr, cr *AccountRecord, holdTimestamp int64) {
	if t.Flags&(FlagPostPending|FlagVoidPending) != 0 {
		posted := tongbao.Amount(0)
		if t.Flags&FlagPostPending != 0 {
			posted = t.Amount
		}
		if dr != nil {
			dr.DebitsPending -= t.PendingAmount
			dr.DebitsPosted += posted
			if released := t.PendingAmount - posted; released > 0 {
				day, year := s.dayOf(holdTimestamp)
				if dr.Day == day {
					dr.DayDebits = max(0, dr.DayDebits-released)
				}
				if dr.Year == year {
					dr.YearDebits = max(0, dr.YearDebits-released)
				}
			}
			dr.LastTransfer = t.Timestamp
		}
		if cr != nil {
			cr.CreditsPending -= t.PendingAmount
			cr.CreditsPosted += posted
			cr.LastTransfer = t.Timestamp
		}
		return
	}
	pending := t.Flags&FlagPending != 0
	if dr != nil {
		if pending {
			dr.DebitsPending += t.Amount
		} else {
			dr.DebitsPosted += t.Amount
		}
		day, year := s.dayOf(t.Timestamp)
		if dr.Day != day {
			dr.Day, dr.DayDebits = day, 0
		}
		if dr.Year != year {
			dr.Year, dr.YearDebits = year, 0
		}
		dr.DayDebits += t.Amount
		dr.YearDebits += t.Amount
		dr.LastTransfer = t.Timestamp
	}
	if cr != nil {
		if pending {
			cr.CreditsPending += t.Amount
		} else {
			cr.CreditsPosted += t.Amount
		}
		cr.LastTransfer = t.Timestamp
	}
}

// checkpoint adds to the batch the balance rows that are due: the oldest
// changed accounts whose changes are CheckpointDelay old, or any when too
// many wait or the ledger is closing; then the batch's ReplayFrom.
func (s *state) checkpoint(now time.Time) {
	end := s.lastTimestamp
	// The age of a change is measured by the clock, as checkpointDue does:
	// an idle ledger's last timestamp does not move.
	cutoff := max(end, now.UnixNano()) - int64(CheckpointDelay)
	for n := 0; s.dirtyHead < len(s.dirtyQueue) && (n < CheckpointRowsMax || s.flushAll); n++ {
		i := s.dirtyQueue[s.dirtyHead]
		waiting := len(s.dirtyQueue) - s.dirtyHead
		if !s.flushAll && s.dirty[i] > cutoff && waiting <= DirtyMax {
			break
		}
		s.dirtyHead++
		s.dirty[i] = 0
		s.accounts[i].Checkpoint = end
		s.batch.Balances = append(s.batch.Balances, s.accounts[i])
	}
	if s.dirtyHead > 1024 && s.dirtyHead*2 > len(s.dirtyQueue) {
		s.dirtyQueue = append(s.dirtyQueue[:0], s.dirtyQueue[s.dirtyHead:]...)
		s.dirtyHead = 0
	}
	s.batch.ReplayFrom = end + 1
	if s.dirtyHead < len(s.dirtyQueue) {
		s.batch.ReplayFrom = s.dirty[s.dirtyQueue[s.dirtyHead]]
	}
}

// checkpointDue reports whether an idle writer should commit a batch only
// to write balance rows.
func (s *state) checkpointDue(now time.Time) bool {
	if s.dirtyHead >= len(s.dirtyQueue) {
		return false
	}
	return s.flushAll || s.dirty[s.dirtyQueue[s.dirtyHead]] <= now.UnixNano()-int64(CheckpointDelay)
}

// replay brings the loaded balance rows up to date with the transfers
// stored after them. Every account it changes is marked changed again, so
// its row is rewritten and the next start replays no less.
func (s *state) replay(ctx context.Context) error {
	from, err := s.store.ReplayFrom(ctx)
	if err != nil || from == 0 {
		return err
	}
	return s.store.ScanTransfers(ctx, from, func(t Transfer) error {
		di, dok := s.index[t.DebitAccountID]
		ci, cok := s.index[t.CreditAccountID]
		if !dok || !cok {
			return fmt.Errorf("transfer at %d names an unknown account", t.Timestamp)
		}
		var dr, cr *AccountRecord
		if t.Timestamp > s.accounts[di].Checkpoint {
			dr = &s.accounts[di]
			s.markReplayed(di, from)
		}
		if t.Timestamp > s.accounts[ci].Checkpoint {
			cr = &s.accounts[ci]
			s.markReplayed(ci, from)
		}
		var holdTimestamp int64
		if t.Flags&(FlagPostPending|FlagVoidPending) != 0 && dr != nil {
			hold, err := s.store.Transfer(ctx, t.PendingID)
			if err != nil {
				return fmt.Errorf("hold %v of the transfer at %d: %w", t.PendingID, t.Timestamp, err)
			}
			holdTimestamp = hold.Timestamp
		}
		s.effect(&t, dr, cr, holdTimestamp)
		return nil
	})
}

func (s *state) markReplayed(i int32, from int64) {
	if s.dirty[i] == 0 {
		s.dirty[i] = from
		s.dirtyQueue = append(s.dirtyQueue, i)
	}
}
