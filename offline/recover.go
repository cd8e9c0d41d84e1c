package offline

import (
	"context"
	"fmt"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/twotier"
)

// recoverBatch bounds the records one pass of Recover reads.
const recoverBatch = 256

// Recover finishes what a crash left half done: loads recorded pending
// are finished by what the ledger holds under their id (submitted again
// when it holds nothing: the ledger answers a repeat as a duplicate), and
// tokens accepted but not yet paid are paid. A node runs it on start,
// before it serves.
func (s *Service) Recover(ctx context.Context) error {
	for {
		ls, err := s.store.PendingLoads(ctx, recoverBatch)
		if err != nil {
			return err
		}
		for _, l := range ls {
			if err := s.recoverLoad(ctx, l); err != nil {
				return err
			}
		}
		if len(ls) < recoverBatch {
			break
		}
	}
	return s.RetryPending(ctx)
}

func (s *Service) recoverLoad(ctx context.Context, l Load) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	d, err := s.store.Device(ctx, l.Device)
	if err != nil {
		return err
	}
	_, lerr := s.tt.OfflineLoad(ctx, l.ID, d.Wallet, l.Amount)
	if _, err := s.finishLoad(ctx, l, d, lerr); err != nil && tongbao.ErrorCode(err) != tongbao.EUNPROCESSABLE && tongbao.ErrorCode(err) != tongbao.EINVALID {
		return err
	}
	return nil
}

// RetryPending pays the tokens stored pending: after a crash, or those a
// payee wallet refused for a while (its state or cap). Those the ledger
// still refuses stay pending for the next call.
func (s *Service) RetryPending(ctx context.Context) error {
	if err := s.flushMarks(ctx); err != nil {
		return err
	}
	for {
		ts, err := s.store.PendingTokens(ctx, recoverBatch)
		if err != nil || len(ts) == 0 {
			return err
		}
		ops := map[tongbao.ID]tongbao.ID{}
		pays := make([]payment, 0, len(ts))
		for _, t := range ts {
			op, ok := ops[t.Payer]
			if !ok {
				d, err := s.store.Device(ctx, t.Payer)
				if err != nil {
					return err
				}
				op, ops[t.Payer] = d.Operator, d.Operator
			}
			pays = append(pays, payment{rec: t, operator: op})
		}
		if err := s.settle(ctx, pays, nil); err != nil {
			return err
		}
		left, err := s.store.PendingTokens(ctx, recoverBatch)
		if err != nil || len(left) >= len(ts) {
			return err // no progress: the rest waits for its payee wallets
		}
	}
}

// ReturnDue returns to their wallets the purses of decommissioned devices
// whose arrival grace has passed, and reports how many it returned.
// Every token of the device that arrives later finds the purse empty:
// the loss policy then decides it as a double spend.
func (s *Service) ReturnDue(ctx context.Context) (int, error) {
	n := 0
	for {
		ds, err := s.store.DevicesToReturn(ctx, s.clock.Now(), recoverBatch)
		if err != nil {
			return n, err
		}
		for _, d := range ds {
			if err := s.returnPurse(ctx, d.ID); err != nil {
				return n, err
			}
			n++
		}
		if len(ds) < recoverBatch {
			return n, nil
		}
	}
}

func (s *Service) returnPurse(ctx context.Context, id tongbao.ID) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	d, err := s.store.Device(ctx, id)
	if err != nil {
		return err
	}
	amount := d.Purse()
	if d.State != DeviceDecommissioned || amount <= 0 {
		return nil
	}
	// The id names the device and what it had returned, so a retry after
	// a crash between the payment and the record is a duplicate.
	pid := tongbao.DeriveID("offline-return", d.ID, int64(d.Returned))
	outs, err := s.tt.OfflinePayBatch(ctx, []twotier.Payment{{ID: pid, From: twotier.OfflineFloatID(d.Operator), To: d.Wallet, Amount: amount}})
	if err != nil {
		return err
	}
	if outs[0].Err != nil {
		return fmt.Errorf("offline: the return of device %v: %w", d.ID, outs[0].Err)
	}
	d.Returned += amount
	_, err = s.updateDevice(ctx, d)
	return err
}
