package ledger

import (
	"container/heap"
	"context"
	"sync"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// state is the writer's in-memory picture of the ledger: every account's
// balances and counters, the open holds and the ids in use. Only the writer
// goroutine touches it. It may run one batch ahead of the store: the batch
// being committed is already applied here.
type state struct {
	store Store
	loc   *time.Location

	accounts []AccountRecord
	index    map[tongbao.ID]int32
	// indexMu guards the writer's changes to index, which queries read.
	indexMu *sync.RWMutex
	// touched[i] is the number of the batch that last changed account i;
	// touchedList lists those accounts once each.
	touched     []uint64
	touchedList []int32

	holds    map[tongbao.ID]*openHold
	expiries holdHeap

	ids idSet
	// recent[0] holds the ids of the batch being built, recent[1] those of
	// the batch being committed: the store cannot answer for either yet.
	recent [2]map[tongbao.ID]recentID
	// resolved does the same for the holds that those batches resolved.
	resolved [2]map[tongbao.ID]TransferFlags

	lastTimestamp int64
	day           dayRange

	batchSeq uint64
	batch    *Batch
	undo     []undoEntry

	// Balance rows are written lazily (see checkpoint.go): dirty[i] is the
	// timestamp from which account i has changes its stored row lacks (zero
	// when none), and dirtyQueue lists such accounts in that order.
	dirty      []int64
	dirtyQueue []int32
	dirtyHead  int
	flushAll   bool
}

type openHold struct {
	Transfer
	expiresAt int64
}

type recentID struct {
	hash      uint64
	timestamp int64
	flags     TransferFlags
	result    ResultCode
	stored    bool // read from the store, which does not return flags
}

// undoEntry restores one change when a linked chain fails.
type undoEntry struct {
	account   int32 // -1 when the entry is about a hold
	balance   Balance
	counters  Counters
	last      int64
	holdID    tongbao.ID
	hold      *openHold // the hold to put back; nil to delete holdID
	recentID  tongbao.ID
	hasRecent bool
}

// dayRange caches the bounds of the current calendar day, so that most
// transfers find their day key without a time zone conversion.
type dayRange struct {
	start, end int64
	day, year  int32
}

func newState(store Store, loc *time.Location) *state {
	s := &state{
		store: store,
		loc:   loc,
		index: make(map[tongbao.ID]int32),
		holds: make(map[tongbao.ID]*openHold),
	}
	s.recent[0] = make(map[tongbao.ID]recentID)
	s.recent[1] = make(map[tongbao.ID]recentID)
	s.resolved[0] = make(map[tongbao.ID]TransferFlags)
	s.resolved[1] = make(map[tongbao.ID]TransferFlags)
	return s
}

// load rebuilds the state from the store.
func (s *state) load(ctx context.Context) error {
	err := s.store.LoadAccounts(ctx, func(a AccountRecord) error {
		s.index[a.ID] = int32(len(s.accounts))
		s.accounts = append(s.accounts, a)
		s.touched = append(s.touched, 0)
		s.dirty = append(s.dirty, 0)
		return nil
	})
	if err != nil {
		return err
	}
	err = s.store.LoadHolds(ctx, func(t Transfer, expiresAt int64) error {
		h := &openHold{Transfer: t, expiresAt: expiresAt}
		s.holds[t.ID] = h
		if expiresAt != 0 {
			heap.Push(&s.expiries, holdExpiry{id: t.ID, at: expiresAt})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.store.LoadIDs(ctx, func(id tongbao.ID) error { s.ids.add(id); return nil }); err != nil {
		return err
	}
	if s.lastTimestamp, err = s.store.LastTimestamp(ctx); err != nil {
		return err
	}
	// A balance row's checkpoint may be a timestamp that was handed out
	// but never stored (a linked chain rolled back): the next transfers
	// must come after it, or the replay would take them as included.
	for i := range s.accounts {
		s.lastTimestamp = max(s.lastTimestamp, s.accounts[i].Checkpoint)
	}
	return s.replay(ctx)
}

// startBatch begins a new batch. The batch before the previous one has
// been committed by now, so its ids can be left to the store.
func (s *state) startBatch() *Batch {
	s.batchSeq++
	s.recent[0], s.recent[1] = s.recent[1], s.recent[0]
	clear(s.recent[0])
	s.resolved[0], s.resolved[1] = s.resolved[1], s.resolved[0]
	clear(s.resolved[0])
	s.batch = &Batch{}
	return s.batch
}

// finishBatch returns the touched accounts as they stand at the end of the
// batch, and adds the balance rows due for writing to the batch.
func (s *state) finishBatch(now time.Time) []AccountRecord {
	touched := make([]AccountRecord, 0, len(s.touchedList))
	for _, i := range s.touchedList {
		touched = append(touched, s.accounts[i])
	}
	s.touchedList = s.touchedList[:0]
	s.checkpoint(now)
	return touched
}

// touch marks account i as changed in this batch and, inside a linked
// chain, remembers how to undo the change.
func (s *state) touch(i int32, chained bool) *AccountRecord {
	if s.touched[i] != s.batchSeq {
		s.touched[i] = s.batchSeq
		s.touchedList = append(s.touchedList, i)
	}
	if s.dirty[i] == 0 {
		// The transfer about to change the account already has its
		// timestamp, so replay from here includes it.
		s.dirty[i] = s.lastTimestamp
		s.dirtyQueue = append(s.dirtyQueue, i)
	}
	a := &s.accounts[i]
	if chained {
		s.undo = append(s.undo, undoEntry{account: i, balance: a.Balance, counters: a.Counters, last: a.LastTransfer})
	}
	return a
}

// dayOf returns the calendar day (yyyymmdd) and year of a timestamp in the
// ledger's time zone.
func (s *state) dayOf(ts int64) (day, year int32) {
	if ts >= s.day.start && ts < s.day.end {
		return s.day.day, s.day.year
	}
	t := time.Unix(0, ts).In(s.loc)
	y, m, d := t.Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, s.loc)
	day = int32(y*10000 + int(m)*100 + d)
	if ts >= s.day.end { // keep the cache on today, not on an old hold's day
		s.day = dayRange{start: start.UnixNano(), end: start.AddDate(0, 0, 1).UnixNano(), day: day, year: int32(y)}
	}
	return day, int32(y)
}

// nextTimestamp returns a timestamp after every one handed out before.
func (s *state) nextTimestamp(now time.Time) int64 {
	ts := now.UnixNano()
	if ts <= s.lastTimestamp {
		ts = s.lastTimestamp + 1
	}
	s.lastTimestamp = ts
	return ts
}

// createAccount validates and adds one account.
func (s *state) createAccount(a Account, now time.Time) error {
	if a.ID.IsZero() {
		return tongbao.Errorf(tongbao.EINVALID, "account id must not be zero")
	}
	if err := a.Currency.Validate(); err != nil {
		return err
	}
	if a.Flags&^accountFlagsAll != 0 || a.Flags&accountFlagsBalance == accountFlagsBalance || a.Flags&FlagClosed != 0 {
		return tongbao.Errorf(tongbao.EINVALID, "account flags %#x are invalid", a.Flags)
	}
	if err := checkLimits(a.CreditLine, a.Limits); err != nil {
		return err
	}
	if i, ok := s.index[a.ID]; ok {
		old := s.accounts[i].Account
		a.Timestamp = old.Timestamp
		if old != a {
			return ErrAccountExists
		}
		return nil
	}
	a.Timestamp = s.nextTimestamp(now)
	rec := AccountRecord{Account: a, Checkpoint: a.Timestamp}
	s.indexMu.Lock()
	s.index[a.ID] = int32(len(s.accounts))
	s.indexMu.Unlock()
	s.accounts = append(s.accounts, rec)
	s.touched = append(s.touched, 0)
	s.dirty = append(s.dirty, 0)
	s.batch.Accounts = append(s.batch.Accounts, rec)
	return nil
}

func checkLimits(creditLine tongbao.Amount, l Limits) error {
	if creditLine < 0 || l.BalanceMax < 0 || l.DebitMax < 0 || l.DailyDebitMax < 0 || l.YearlyDebitMax < 0 {
		return tongbao.Errorf(tongbao.EINVALID, "credit line and limits must not be negative")
	}
	return nil
}

// updateAccount applies one AccountUpdate whole, or returns why not.
func (s *state) updateAccount(u AccountUpdate, now time.Time) error {
	i, ok := s.index[u.ID]
	if !ok {
		return ErrAccountNotFound
	}
	if (u.SetFlags|u.ClearFlags)&^accountFlagsState != 0 {
		return tongbao.Errorf(tongbao.EINVALID, "only the state flags of an account can change")
	}
	a := s.accounts[i] // a copy: nothing changes until every check passed
	if a.Flags&FlagClosed != 0 && u.ClearFlags&FlagClosed != 0 {
		return ErrAccountReopen
	}
	a.Flags = a.Flags&^u.ClearFlags | u.SetFlags
	if u.FrozenUntil != nil {
		a.FrozenUntil = *u.FrozenUntil
	}
	if u.CreditLine != nil {
		a.CreditLine = *u.CreditLine
	}
	if u.Limits != nil {
		a.Limits = *u.Limits
	}
	if err := checkLimits(a.CreditLine, a.Limits); err != nil {
		return err
	}
	if u.SetFlags&FlagClosed != 0 && s.accounts[i].Flags&FlagClosed == 0 &&
		(a.DebitsPosted != a.CreditsPosted || a.DebitsPending != 0 || a.CreditsPending != 0) {
		return ErrAccountNotEmpty
	}
	// A floor is never left behind, whatever WithinLimits says: a credit
	// line may shrink only down to what the account already uses of it.
	if a.Flags&FlagDebitsMustNotExceedCredits != 0 && a.DebitsPosted+a.DebitsPending-a.CreditsPosted > a.CreditLine {
		return ErrInsufficientFunds
	}
	if a.Flags&FlagCreditsMustNotExceedDebits != 0 && a.CreditsPosted+a.CreditsPending-a.DebitsPosted > a.CreditLine {
		return ErrCreditsExceedDebits
	}
	if u.WithinLimits {
		day, year := s.dayOf(now.UnixNano())
		switch {
		case a.Limits.BalanceMax > 0 && a.creditNormal() && a.CreditsPosted+a.CreditsPending-a.DebitsPosted > a.Limits.BalanceMax,
			a.Limits.BalanceMax > 0 && !a.creditNormal() && a.DebitsPosted+a.DebitsPending-a.CreditsPosted > a.Limits.BalanceMax:
			return ErrBalanceLimit
		case a.Limits.DailyDebitMax > 0 && a.Day == day && a.DayDebits > a.Limits.DailyDebitMax:
			return ErrDailyLimit
		case a.Limits.YearlyDebitMax > 0 && a.Year == year && a.YearDebits > a.Limits.YearlyDebitMax:
			return ErrYearlyLimit
		}
	}
	s.touch(i, false)
	s.accounts[i] = a
	s.batch.Updated = append(s.batch.Updated, a)
	return nil
}

// usable says whether an account's state lets it pay (debit) or receive.
func usable(a *AccountRecord, debit bool, now int64) ResultCode {
	switch {
	case a.Flags&FlagClosed != 0:
		return ResultAccountClosed
	case a.FrozenUntil > now:
		return ResultAccountFrozen
	case debit && a.Flags&FlagDebitsDisabled != 0:
		return ResultDebitsDisabled
	case !debit && a.Flags&FlagCreditsDisabled != 0:
		return ResultCreditsDisabled
	}
	return ResultOK
}

// known looks up an id already used, in the batches in flight and then,
// when the Bloom filter cannot rule it out, in the store.
func (s *state) known(ctx context.Context, id tongbao.ID) (recentID, bool, error) {
	for _, m := range s.recent {
		if r, ok := m[id]; ok {
			return r, true, nil
		}
	}
	if !s.ids.mayHave(id) {
		return recentID{}, false, nil
	}
	rec, ok, err := s.store.LookupID(ctx, id)
	if err != nil || !ok {
		return recentID{}, false, err
	}
	return recentID{hash: rec.Hash, timestamp: rec.Timestamp, result: rec.Result, stored: true}, true, nil
}

// remember records an id as used by this batch.
func (s *state) remember(id tongbao.ID, r recentID, chained bool) {
	s.recent[0][id] = r
	s.ids.add(id)
	if chained {
		s.undo = append(s.undo, undoEntry{account: -1, recentID: id, hasRecent: true})
	}
}

// chainMark is where a linked chain started, to roll back to.
type chainMark struct {
	undo, transfers, holdsOpened, holdsClosed int
}

func (s *state) mark() chainMark {
	return chainMark{len(s.undo), len(s.batch.Transfers), len(s.batch.HoldsOpened), len(s.batch.HoldsClosed)}
}

// rollback undoes every change made since m, newest first.
func (s *state) rollback(m chainMark) {
	for k := len(s.undo) - 1; k >= m.undo; k-- {
		u := s.undo[k]
		switch {
		case u.hasRecent:
			delete(s.recent[0], u.recentID)
		case u.account >= 0:
			s.accounts[u.account].Balance = u.balance
			s.accounts[u.account].Counters = u.counters
			s.accounts[u.account].LastTransfer = u.last
		case u.hold != nil:
			s.holds[u.holdID] = u.hold
			delete(s.resolved[0], u.holdID)
		default:
			delete(s.holds, u.holdID)
		}
	}
	s.undo = s.undo[:m.undo]
	s.batch.Transfers = s.batch.Transfers[:m.transfers]
	s.batch.HoldsOpened = s.batch.HoldsOpened[:m.holdsOpened]
	s.batch.HoldsClosed = s.batch.HoldsClosed[:m.holdsClosed]
}

// transfers applies one request's transfers in order, linked chains all
// or nothing, and fills in their results.
func (s *state) transfers(ctx context.Context, ts []Transfer, results []Result, now time.Time) error {
	for i := 0; i < len(ts); {
		end := i
		for end < len(ts) && ts[end].Flags&FlagLinked != 0 {
			end++
		}
		if end == len(ts) { // the chain is never closed
			for k := i; k < len(ts); k++ {
				results[k] = Result{Err: ErrLinkedEventFailed}
			}
			results[len(ts)-1] = Result{Err: ErrLinkedChainOpen}
			return nil
		}
		if i == end {
			r, err := s.transfer(ctx, &ts[i], now, false)
			if err != nil {
				return err
			}
			results[i] = r
			i++
			continue
		}
		m := s.mark()
		failed := -1
		for k := i; k <= end; k++ {
			r, err := s.transfer(ctx, &ts[k], now, true)
			if err != nil {
				return err
			}
			results[k] = r
			if r.Err != nil {
				failed = k
				break
			}
		}
		if failed >= 0 {
			s.rollback(m)
			for k := i; k <= end; k++ {
				if k != failed {
					results[k] = Result{Err: ErrLinkedEventFailed}
				}
			}
			if !results[failed].Duplicate {
				s.recordFailure(&ts[failed], results[failed].Err, now)
			}
		}
		s.undo = s.undo[:m.undo]
		i = end + 1
	}
	return nil
}

// recordFailure stores a failed transfer so its id keeps that answer.
// Failures that say nothing about the id's content are not recorded.
func (s *state) recordFailure(t *Transfer, err error, now time.Time) {
	code := resultCodeOf(err)
	switch code {
	case ResultIDZero, ResultIDConflict, ResultLinkedEventFailed, ResultLinkedChainOpen, ResultOK:
		return
	}
	if _, dup := s.recent[0][t.ID]; dup {
		return // a duplicate answered from its first result
	}
	ts := s.nextTimestamp(now)
	hash := t.contentHash()
	s.batch.Failures = append(s.batch.Failures, Failure{Transfer: *t, Hash: hash, Result: code, Timestamp: ts})
	s.remember(t.ID, recentID{hash: hash, timestamp: ts, result: code}, false)
}

func resultCodeOf(err error) ResultCode {
	for c := ResultCode(1); c < resultCodeCount; c++ {
		if resultErrors[c] == err {
			return c
		}
	}
	return ResultOK
}

// transfer applies one transfer. A non-nil error is a storage failure, not
// the transfer's: the transfer's own outcome is in the Result. Outside a
// chain, a failure is recorded here; inside one, by the caller after the
// rollback.
func (s *state) transfer(ctx context.Context, in *Transfer, now time.Time, chained bool) (Result, error) {
	copied := *in // the caller's transfer stays as sent, so it can be resubmitted
	t := &copied
	t.Timestamp, t.PendingAmount = 0, 0
	if t.ID.IsZero() {
		return Result{Err: ErrIDZero}, nil
	}
	hash := t.contentHash()
	prev, ok, err := s.known(ctx, t.ID)
	if err != nil {
		return Result{}, err
	}
	if ok {
		if prev.hash != hash {
			return Result{Err: tongbao.ErrIDConflict}, nil
		}
		if prev.result != ResultOK {
			return Result{Err: prev.result.Err(), Duplicate: true}, nil
		}
		return Result{Timestamp: prev.timestamp, Duplicate: true}, nil
	}
	var code ResultCode
	if t.Flags&(FlagPostPending|FlagVoidPending) != 0 {
		code, err = s.resolve(ctx, t, hash, now, chained)
	} else {
		code = s.post(t, hash, now, chained)
	}
	if err != nil {
		return Result{}, err
	}
	if code != ResultOK {
		if !chained {
			s.recordFailure(t, code.Err(), now)
		}
		return Result{Err: code.Err()}, nil
	}
	return Result{Timestamp: t.Timestamp}, nil
}

// checkShape validates what can be checked without looking at any account.
func checkShape(t *Transfer) ResultCode {
	kinds := t.Flags & (FlagPending | FlagPostPending | FlagVoidPending)
	if t.Flags&^transferFlagsClient != 0 || kinds&(kinds-1) != 0 {
		return ResultFlagsInvalid
	}
	if len(t.Metadata) > MetadataMax {
		return ResultMetadataTooLong
	}
	if t.TimeoutSeconds != 0 && t.Flags&FlagPending == 0 {
		return ResultTimeoutInvalid
	}
	if t.Amount < 0 || (t.Amount == 0 && kinds&(FlagPostPending|FlagVoidPending) == 0) {
		return ResultAmountInvalid
	}
	return ResultOK
}

// post applies a single-phase transfer or opens a hold.
func (s *state) post(t *Transfer, hash uint64, now time.Time, chained bool) ResultCode {
	if c := checkShape(t); c != ResultOK {
		return c
	}
	if !t.PendingID.IsZero() {
		return ResultFlagsInvalid
	}
	if t.DebitAccountID == t.CreditAccountID {
		return ResultSameAccount
	}
	di, ok := s.index[t.DebitAccountID]
	if !ok {
		return ResultDebitAccountNotFound
	}
	ci, ok := s.index[t.CreditAccountID]
	if !ok {
		return ResultCreditAccountNotFound
	}
	dr, cr := &s.accounts[di], &s.accounts[ci]
	if dr.Currency != cr.Currency {
		return ResultCurrencyMismatch
	}
	if c := usable(dr, true, now.UnixNano()); c != ResultOK {
		return c
	}
	if c := usable(cr, false, now.UnixNano()); c != ResultOK {
		return c
	}
	amount := t.Amount
	pending := t.Flags&FlagPending != 0

	// The debit side: single cap, floor, daily and yearly caps, balance cap.
	if dr.Limits.DebitMax > 0 && amount > dr.Limits.DebitMax {
		return ResultDebitLimit
	}
	debits, err1 := tongbao.AddAmounts(dr.DebitsPosted, dr.DebitsPending)
	debits, err2 := tongbao.AddAmounts(debits, amount)
	if err1 != nil || err2 != nil {
		return ResultOverflow
	}
	if dr.Flags&FlagDebitsMustNotExceedCredits != 0 {
		floor, err := tongbao.AddAmounts(dr.CreditsPosted, dr.CreditLine)
		if err != nil {
			floor = tongbao.AmountMax
		}
		if debits > floor {
			return ResultInsufficientFunds
		}
	}
	ts := s.lastTimestamp + 1 // the timestamp this transfer will get, at least
	if nowTS := now.UnixNano(); nowTS > ts {
		ts = nowTS
	}
	day, year := s.dayOf(ts)
	dayDebits, yearDebits := dr.DayDebits, dr.YearDebits
	if dr.Day != day {
		dayDebits = 0
	}
	if dr.Year != year {
		yearDebits = 0
	}
	dayDebits, err1 = tongbao.AddAmounts(dayDebits, amount)
	yearDebits, err2 = tongbao.AddAmounts(yearDebits, amount)
	if err1 != nil || err2 != nil {
		return ResultOverflow
	}
	if dr.Limits.DailyDebitMax > 0 && dayDebits > dr.Limits.DailyDebitMax {
		return ResultDailyLimit
	}
	if dr.Limits.YearlyDebitMax > 0 && yearDebits > dr.Limits.YearlyDebitMax {
		return ResultYearlyLimit
	}
	if !dr.creditNormal() && dr.Limits.BalanceMax > 0 && debits-dr.CreditsPosted > dr.Limits.BalanceMax {
		return ResultBalanceLimit
	}

	// The credit side: the mirror floor and the balance cap.
	credits, err1 := tongbao.AddAmounts(cr.CreditsPosted, cr.CreditsPending)
	credits, err2 = tongbao.AddAmounts(credits, amount)
	if err1 != nil || err2 != nil {
		return ResultOverflow
	}
	if cr.Flags&FlagCreditsMustNotExceedDebits != 0 {
		floor, err := tongbao.AddAmounts(cr.DebitsPosted, cr.CreditLine)
		if err != nil {
			floor = tongbao.AmountMax
		}
		if credits > floor {
			return ResultCreditsExceedDebits
		}
	}
	if cr.creditNormal() && cr.Limits.BalanceMax > 0 && credits-cr.DebitsPosted > cr.Limits.BalanceMax {
		return ResultBalanceLimit
	}

	// Every check passed: apply.
	t.Timestamp = s.nextTimestamp(now)
	if t.Timestamp != ts {
		panic("ledger: timestamp moved between check and apply")
	}
	dr = s.touch(di, chained)
	cr = s.touch(ci, chained)
	t.PendingAmount = 0
	s.link(t, dr, cr)
	s.effect(t, dr, cr, 0)
	if dr.Day != day || dr.DayDebits != dayDebits || dr.YearDebits != yearDebits {
		panic("ledger: counters differ from the ones checked")
	}
	s.batch.Transfers = append(s.batch.Transfers, PostedTransfer{Transfer: *t, Hash: hash})
	s.remember(t.ID, recentID{hash: hash, timestamp: t.Timestamp, flags: t.Flags}, chained)
	if pending {
		h := &openHold{Transfer: *t}
		if t.TimeoutSeconds > 0 {
			h.expiresAt = t.Timestamp + int64(t.TimeoutSeconds)*int64(time.Second)
			heap.Push(&s.expiries, holdExpiry{id: t.ID, at: h.expiresAt})
		}
		s.holds[t.ID] = h
		s.batch.HoldsOpened = append(s.batch.HoldsOpened, Hold{Timestamp: t.Timestamp, ExpiresAt: h.expiresAt})
		if chained {
			s.undo = append(s.undo, undoEntry{account: -1, holdID: t.ID})
		}
	}
	return ResultOK
}

// link records in a transfer each account's previous transfer; effect then
// makes it the accounts' new head.
func (s *state) link(t *Transfer, dr, cr *AccountRecord) {
	t.DebitPrevious, t.CreditPrevious = dr.LastTransfer, cr.LastTransfer
}

// resolve posts or voids a hold.
func (s *state) resolve(ctx context.Context, t *Transfer, hash uint64, now time.Time, chained bool) (ResultCode, error) {
	if c := checkShape(t); c != ResultOK {
		return c, nil
	}
	if t.PendingID.IsZero() {
		return ResultPendingIDZero, nil
	}
	h, ok := s.holds[t.PendingID]
	if !ok {
		return s.whyNoHold(ctx, t.PendingID)
	}
	if h.expiresAt != 0 && now.UnixNano() >= h.expiresAt {
		s.expire(h, now, chained)
		return ResultPendingExpired, nil
	}
	if (!t.DebitAccountID.IsZero() && t.DebitAccountID != h.DebitAccountID) ||
		(!t.CreditAccountID.IsZero() && t.CreditAccountID != h.CreditAccountID) {
		return ResultPendingAccountMismatch, nil
	}
	amount := t.Amount
	if t.Flags&FlagVoidPending != 0 {
		if amount != 0 && amount != h.Amount {
			return ResultAmountInvalid, nil
		}
		amount = 0
	} else if amount == 0 {
		amount = h.Amount
	} else if amount > h.Amount {
		return ResultPostExceedsPending, nil
	}
	dr := &s.accounts[s.index[h.DebitAccountID]]
	cr := &s.accounts[s.index[h.CreditAccountID]]
	if t.Flags&FlagPostPending != 0 { // a void is always allowed: it only gives back
		if c := usable(dr, true, now.UnixNano()); c != ResultOK {
			return c, nil
		}
		if c := usable(cr, false, now.UnixNano()); c != ResultOK {
			return c, nil
		}
	}
	if _, err := tongbao.AddAmounts(dr.DebitsPosted, amount); err != nil {
		return ResultOverflow, nil
	}
	if _, err := tongbao.AddAmounts(cr.CreditsPosted, amount); err != nil {
		return ResultOverflow, nil
	}
	t.Timestamp = s.nextTimestamp(now)
	t.DebitAccountID, t.CreditAccountID = h.DebitAccountID, h.CreditAccountID
	t.PendingAmount = h.Amount
	rec := *t
	if t.Flags&FlagVoidPending != 0 {
		rec.Amount = h.Amount
	} else {
		rec.Amount = amount
	}
	s.settleHold(h, &rec, chained)
	s.batch.Transfers = append(s.batch.Transfers, PostedTransfer{Transfer: rec, Hash: hash})
	s.remember(t.ID, recentID{hash: hash, timestamp: t.Timestamp, flags: t.Flags}, chained)
	s.resolved[0][h.ID] = t.Flags
	return ResultOK, nil
}

// settleHold applies rec, the record of a post, void or expiry of the hold,
// and closes the hold.
func (s *state) settleHold(h *openHold, rec *Transfer, chained bool) {
	dr := s.touch(s.index[h.DebitAccountID], chained)
	cr := s.touch(s.index[h.CreditAccountID], chained)
	s.link(rec, dr, cr)
	s.effect(rec, dr, cr, h.Timestamp)
	if dr.DebitsPending < 0 || cr.CreditsPending < 0 {
		panic("ledger: pending amount below zero")
	}
	if chained {
		s.undo = append(s.undo, undoEntry{account: -1, holdID: h.ID, hold: h})
	}
	delete(s.holds, h.ID)
	s.batch.HoldsClosed = append(s.batch.HoldsClosed, h.Timestamp)
}

// expire voids a hold whose timeout has passed, with a record of its own.
func (s *state) expire(h *openHold, now time.Time, chained bool) {
	rec := Transfer{
		DebitAccountID:  h.DebitAccountID,
		CreditAccountID: h.CreditAccountID,
		Amount:          h.Amount,
		PendingID:       h.ID,
		Code:            h.Code,
		Flags:           FlagVoidPending | FlagExpired,
		Timestamp:       s.nextTimestamp(now),
		PendingAmount:   h.Amount,
	}
	s.settleHold(h, &rec, chained)
	s.batch.Transfers = append(s.batch.Transfers, PostedTransfer{Transfer: rec})
	s.resolved[0][h.ID] = rec.Flags
}

// expireDue expires up to limit holds whose timeout has passed.
func (s *state) expireDue(now time.Time, limit int) int {
	// Resolved holds leave their entries behind until their time comes,
	// which may be years away: drop them once they are most of the queue.
	if len(s.expiries) > 2*len(s.holds)+1024 {
		kept := s.expiries[:0]
		for _, e := range s.expiries {
			if h, ok := s.holds[e.id]; ok && h.expiresAt == e.at {
				kept = append(kept, e)
			}
		}
		clear(s.expiries[len(kept):])
		s.expiries = kept
		heap.Init(&s.expiries)
	}
	n := 0
	for n < limit && len(s.expiries) > 0 && s.expiries[0].at <= now.UnixNano() {
		e := heap.Pop(&s.expiries).(holdExpiry)
		h, ok := s.holds[e.id]
		if !ok || h.expiresAt != e.at {
			continue // resolved already
		}
		s.expire(h, now, false)
		n++
	}
	return n
}

// whyNoHold explains why a post or void found no open hold.
func (s *state) whyNoHold(ctx context.Context, pendingID tongbao.ID) (ResultCode, error) {
	flags, ok := s.resolved[0][pendingID]
	if !ok {
		flags, ok = s.resolved[1][pendingID]
	}
	if !ok {
		var err error
		flags, ok, err = s.store.Resolution(ctx, pendingID)
		if err != nil {
			return 0, err
		}
	}
	if ok {
		switch {
		case flags&FlagExpired != 0:
			return ResultPendingExpired, nil
		case flags&FlagPostPending != 0:
			return ResultPendingAlreadyPosted, nil
		default:
			return ResultPendingAlreadyVoided, nil
		}
	}
	prev, known, err := s.known(ctx, pendingID)
	if err != nil {
		return 0, err
	}
	if known && prev.result == ResultOK {
		if prev.stored {
			t, err := s.store.Transfer(ctx, pendingID)
			if err != nil {
				return 0, err
			}
			prev.flags = t.Flags
		}
		if prev.flags&FlagPending == 0 {
			return ResultPendingNotPending, nil
		}
	}
	return ResultPendingNotFound, nil
}

// holdExpiry is an entry of the expiry queue; resolved holds are skipped
// when they reach the front rather than removed.
type holdExpiry struct {
	id tongbao.ID
	at int64
}

type holdHeap []holdExpiry

func (h holdHeap) Len() int           { return len(h) }
func (h holdHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h holdHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *holdHeap) Push(x any)        { *h = append(*h, x.(holdExpiry)) }
func (h *holdHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
