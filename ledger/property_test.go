package ledger_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"pgregory.net/rapid"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// model is what the engine's answers imply: balances rebuilt from the
// results alone, the open holds, and every debit that counts towards a
// day's and a year's cap. The engine's stored state must agree with it.
type model struct {
	balances map[tongbao.ID]*ledger.Balance
	holds    map[tongbao.ID]*modelHold
	// debits are authorised debits per account, for the daily and yearly caps.
	debits    map[tongbao.ID][]*modelDebit
	submitted []submitted
	nextID    uint64
}

type modelHold struct {
	t         ledger.Transfer
	expiresAt int64
}

// modelDebit is one authorised debit; a hold released on the day (year) it
// was made gives its released part back to that day's (year's) cap.
type modelDebit struct {
	timestamp  int64
	amount     tongbao.Amount
	dayAmount  tongbao.Amount
	yearAmount tongbao.Amount
}

type submitted struct {
	t ledger.Transfer
	r ledger.Result
}

const propertyAccounts = 6

func propertyAccount(n uint64) ledger.Account {
	a := acct(n, wallet)
	switch n {
	case 1: // the issuer: unbounded, may go negative
		a.Flags = 0
	case 2:
		a.Limits = ledger.Limits{BalanceMax: 5000, DebitMax: 2000, DailyDebitMax: 3000, YearlyDebitMax: 20000}
	case 3:
		a.CreditLine = 500
		a.Limits = ledger.Limits{DailyDebitMax: 4000}
	case 4:
		a.Flags = ledger.FlagCreditsMustNotExceedDebits
		a.CreditLine = 10000
	}
	return a
}

func TestLedgerProperties(t *testing.T) {
	ctx := context.Background()
	rapid.Check(t, func(rt *rapid.T) {
		dir, err := os.MkdirTemp(t.TempDir(), "prop")
		if err != nil {
			rt.Fatalf("temp dir: %v", err)
		}
		h := newHarnessIn(rt, dir)
		defer h.close()
		m := &model{
			balances: map[tongbao.ID]*ledger.Balance{},
			holds:    map[tongbao.ID]*modelHold{},
			debits:   map[tongbao.ID][]*modelDebit{},
			nextID:   1000,
		}
		for n := uint64(1); n <= propertyAccounts; n++ {
			h.accounts(propertyAccount(n))
			m.balances[tongbao.IDFromUint64(n)] = &ledger.Balance{}
		}
		accountID := func(t *rapid.T, label string) tongbao.ID {
			// Account 99 does not exist.
			return tongbao.IDFromUint64(rapid.SampledFrom([]uint64{1, 1, 2, 3, 4, 5, 6, 99}).Draw(t, label))
		}
		amount := func(t *rapid.T) tongbao.Amount {
			return tongbao.Amount(rapid.OneOf(
				rapid.Int64Range(1, 3000),
				rapid.Int64Range(-2, 0),
				rapid.Just(int64(tongbao.AmountMax)),
			).Draw(t, "amount"))
		}
		newTransfer := func(t *rapid.T) ledger.Transfer {
			m.nextID++
			tr := ledger.Transfer{
				ID:              tongbao.IDFromUint64(m.nextID),
				DebitAccountID:  accountID(t, "debit"),
				CreditAccountID: accountID(t, "credit"),
				Amount:          amount(t),
				Code:            1,
			}
			if rapid.IntRange(0, 3).Draw(t, "pending") == 0 {
				tr.Flags |= ledger.FlagPending
				tr.TimeoutSeconds = uint32(rapid.SampledFrom([]int{0, 1, 60, 86400}).Draw(t, "timeout"))
			}
			return tr
		}
		resolution := func(t *rapid.T) ledger.Transfer {
			m.nextID++
			tr := ledger.Transfer{ID: tongbao.IDFromUint64(m.nextID)}
			var pendingIDs []tongbao.ID
			for _, s := range m.submitted {
				if s.t.Flags&ledger.FlagPending != 0 {
					pendingIDs = append(pendingIDs, s.t.ID)
				}
			}
			if len(pendingIDs) > 0 {
				tr.PendingID = rapid.SampledFrom(pendingIDs).Draw(t, "pending id")
			} else {
				tr.PendingID = tongbao.IDFromUint64(1)
			}
			if rapid.Bool().Draw(t, "post") {
				tr.Flags = ledger.FlagPostPending
				tr.Amount = tongbao.Amount(rapid.Int64Range(0, 3000).Draw(t, "post amount"))
			} else {
				tr.Flags = ledger.FlagVoidPending
			}
			return tr
		}
		submit := func(t *rapid.T, ts []ledger.Transfer) {
			rs, err := h.l.Submit(ctx, ts)
			if err != nil {
				t.Fatalf("submit: %v", err)
			}
			for i := range ts {
				m.record(ts[i], rs[i])
			}
			m.expire(h.clock.Now().UnixNano())
		}

		rt.Repeat(map[string]func(*rapid.T){
			"transfer": func(t *rapid.T) { submit(t, []ledger.Transfer{newTransfer(t)}) },
			"resolve":  func(t *rapid.T) { submit(t, []ledger.Transfer{resolution(t)}) },
			"linked": func(t *rapid.T) {
				n := rapid.IntRange(2, 4).Draw(t, "chain length")
				ts := make([]ledger.Transfer, n)
				for i := range ts {
					if rapid.IntRange(0, 4).Draw(t, "resolution in chain") == 0 {
						ts[i] = resolution(t)
					} else {
						ts[i] = newTransfer(t)
					}
					if i < n-1 {
						ts[i].Flags |= ledger.FlagLinked
					}
				}
				submit(t, ts)
			},
			"advance clock": func(t *rapid.T) {
				d := rapid.SampledFrom([]time.Duration{time.Second, time.Minute, 6 * time.Hour, 24 * time.Hour, 200 * 24 * time.Hour}).Draw(t, "advance")
				h.clock.Advance(d)
				if err := h.l.ExpireDue(ctx); err != nil {
					t.Fatalf("expire: %v", err)
				}
				m.expire(h.clock.Now().UnixNano())
			},
			"resubmit": func(t *rapid.T) {
				if len(m.submitted) == 0 {
					t.Skip("nothing submitted yet")
				}
				s := rapid.SampledFrom(m.submitted).Draw(t, "earlier")
				if errors.Is(s.r.Err, ledger.ErrLinkedEventFailed) || errors.Is(s.r.Err, ledger.ErrLinkedChainOpen) || errors.Is(s.r.Err, tongbao.ErrIDConflict) {
					t.Skip("that id was left unused")
				}
				before := h.balances()
				tr := s.t
				tr.Flags &^= ledger.FlagLinked // alone now; the content hash still differs
				if s.t.Flags&ledger.FlagLinked != 0 {
					t.Skip("a chain member resubmitted alone has other flags")
				}
				r := h.submit(tr)[0]
				if r.Err != s.r.Err || r.Timestamp != s.r.Timestamp || !r.Duplicate {
					t.Fatalf("resubmitted %v: got %+v; want %+v again, as a duplicate", tr.ID, r, s.r)
				}
				if !equalBalances(before, h.balances()) {
					t.Fatalf("resubmission changed balances")
				}
			},
			"restart": func(t *rapid.T) { h.reopen() },
			"crash":   func(t *rapid.T) { h.crash() },
			"": func(t *rapid.T) {
				// After every step: the invariants, and the engine agrees with the model.
				accounts := h.balances()
				checkInvariants(t, accounts)
				now := h.clock.Now()
				day, year := calendar(now.UnixNano())
				for id, want := range m.balances {
					got := accounts[id]
					if got.Balance != *want {
						t.Fatalf("account %v: got %+v; want %+v", id, got.Balance, *want)
					}
					// The account's history, walked back, sums to its balance.
					if b, err := h.l.BalanceAt(ctx, id, time.Unix(0, 0)); err != nil || b != (ledger.Balance{}) {
						t.Fatalf("account %v: history does not sum to its balance: %+v left, %v", id, b, err)
					}
					var daySum, yearSum tongbao.Amount
					for _, d := range m.debits[id] {
						dd, yy := calendar(d.timestamp)
						if dd == day {
							daySum += d.dayAmount
						}
						if yy == year {
							yearSum += d.yearAmount
						}
					}
					if max := got.Limits.DailyDebitMax; max > 0 && daySum > max {
						t.Fatalf("account %v spent %v today, past its daily cap %v", id, daySum, max)
					}
					if max := got.Limits.YearlyDebitMax; max > 0 && yearSum > max {
						t.Fatalf("account %v spent %v this year, past its yearly cap %v", id, yearSum, max)
					}
					if max := got.Limits.DebitMax; max > 0 {
						for _, d := range m.debits[id] {
							if d.amount > max {
								t.Fatalf("account %v made a debit of %v past its single cap %v", id, d.amount, max)
							}
						}
					}
				}
			},
		})
	})
}

func calendar(ts int64) (day, year int) {
	t := time.Unix(0, ts).In(shanghai())
	y, mo, d := t.Date()
	return y*10000 + int(mo)*100 + d, y
}

// record applies a transfer's answered outcome to the model.
func (m *model) record(t ledger.Transfer, r ledger.Result) {
	if r.Duplicate {
		return
	}
	m.submitted = append(m.submitted, submitted{t: t, r: r})
	if r.Err != nil {
		return
	}
	switch {
	case t.Flags&(ledger.FlagPostPending|ledger.FlagVoidPending) != 0:
		h := m.holds[t.PendingID]
		delete(m.holds, t.PendingID)
		posted := tongbao.Amount(0)
		if t.Flags&ledger.FlagPostPending != 0 {
			posted = t.Amount
			if posted == 0 {
				posted = h.t.Amount
			}
		}
		m.release(h, posted, r.Timestamp)
	case t.Flags&ledger.FlagPending != 0:
		m.balances[t.DebitAccountID].DebitsPending += t.Amount
		m.balances[t.CreditAccountID].CreditsPending += t.Amount
		h := &modelHold{t: t}
		h.t.Timestamp = r.Timestamp
		if t.TimeoutSeconds > 0 {
			h.expiresAt = r.Timestamp + int64(t.TimeoutSeconds)*int64(time.Second)
		}
		m.holds[t.ID] = h
		m.debits[t.DebitAccountID] = append(m.debits[t.DebitAccountID], &modelDebit{timestamp: r.Timestamp, amount: t.Amount, dayAmount: t.Amount, yearAmount: t.Amount})
	default:
		m.balances[t.DebitAccountID].DebitsPosted += t.Amount
		m.balances[t.CreditAccountID].CreditsPosted += t.Amount
		m.debits[t.DebitAccountID] = append(m.debits[t.DebitAccountID], &modelDebit{timestamp: r.Timestamp, amount: t.Amount, dayAmount: t.Amount, yearAmount: t.Amount})
	}
}

// release resolves a hold: posted of it is posted, the rest is released,
// and the released part no longer counts towards the hold's day.
func (m *model) release(h *modelHold, posted tongbao.Amount, at int64) {
	dr, cr := m.balances[h.t.DebitAccountID], m.balances[h.t.CreditAccountID]
	dr.DebitsPending -= h.t.Amount
	cr.CreditsPending -= h.t.Amount
	dr.DebitsPosted += posted
	cr.CreditsPosted += posted
	released := h.t.Amount - posted
	for _, d := range m.debits[h.t.DebitAccountID] {
		if d.timestamp == h.t.Timestamp {
			holdDay, holdYear := calendar(h.t.Timestamp)
			nowDay, nowYear := calendar(at)
			if nowDay == holdDay {
				d.dayAmount -= released
			}
			if nowYear == holdYear {
				d.yearAmount -= released
			}
		}
	}
}

// expire resolves the holds the engine must have expired by now.
func (m *model) expire(now int64) {
	for id, h := range m.holds {
		if h.expiresAt != 0 && h.expiresAt <= now {
			delete(m.holds, id)
			m.release(h, 0, now)
		}
	}
}
