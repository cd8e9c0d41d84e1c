package risk

import (
	"cmp"
	"slices"
	"sync"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// Activity keeps what the rules read of recent payments, in memory: per
// wallet, payments out and in over the last hour and the last 24 hours,
// the distinct counterparties over 24 hours and the time of its last
// payment; per pair of wallets, the payments between them; per operator,
// its outflow to other operators by hour. The node rebuilds it on start
// by observing the ledger's recent history again.
//
// Windows slide by whole buckets: the hour is the current minute and the
// 59 before it, the day the current hour and the 23 before it (so a
// window spans at most a bucket more than its name). Only buckets that
// saw a payment are kept, so a wallet costs a few dozen bytes plus about
// 40 bytes per busy bucket and per counterparty of the day.
//
// Times are the payments' own (Movement.At), so the windows follow the
// node's clock, the sandbox clock included. A payment observed late
// counts in its own bucket while that is still within the window.
type Activity struct {
	mu sync.Mutex
	// nearLow and nearHigh are the band [nearLow, nearHigh) of amounts
	// counted as just below the reporting threshold (structuring).
	nearLow, nearHigh int64
	wallets           map[tongbao.ID]*walletActivity
	pairs             map[[2]tongbao.ID]*Pair
	operators         map[tongbao.ID]*series
}

// Flow is a count of payments and their sum in fen.
type Flow struct {
	Count int64 `cel:"count"`
	Sum   int64 `cel:"sum"`
}

// Pair is what passed from one wallet to another, as long as the node
// has observed (since its start, over the history it replayed).
type Pair struct {
	Payments int64     `cel:"payments"`
	Sum      int64     `cel:"sum"`
	Last     time.Time `cel:"last"`
}

// counterpartiesMax bounds the distinct counterparties a wallet's day
// remembers; past it, the count stops growing (the rules that read it
// fire long before).
const counterpartiesMax = 4096

// bucket is the payments of one minute or one hour.
type bucket struct {
	at               int64 // Unix minutes or hours
	count, sum, near int64
}

// series is a wallet's or an operator's flow in one direction, by minute
// (the last hour) and by hour (the last day).
type series struct {
	minutes, hours []bucket
}

func (s *series) add(at time.Time, amount int64, near bool) {
	s.minutes = addBucket(s.minutes, at.Unix()/60, 60, amount, near)
	s.hours = addBucket(s.hours, at.Unix()/3600, 24, amount, near)
}

// addBucket adds a payment to the bucket of index at, keeping buckets in
// order and dropping those out of the window of the newest. A payment
// observed late counts in its own bucket while that is within the window,
// and not at all after.
func addBucket(bs []bucket, at, span, amount int64, near bool) []bucket {
	n := int64(0)
	if near {
		n = 1
	}
	newest := at
	if k := len(bs); k > 0 && bs[k-1].at > at {
		newest = bs[k-1].at
	}
	if at <= newest-span {
		return bs
	}
	i, found := slices.BinarySearchFunc(bs, at, func(b bucket, t int64) int { return cmp.Compare(b.at, t) })
	if found {
		bs[i].count, bs[i].sum, bs[i].near = bs[i].count+1, bs[i].sum+amount, bs[i].near+n
		return bs
	}
	bs = slices.Insert(bs, i, bucket{at: at, count: 1, sum: amount, near: n})
	drop := 0
	for drop < len(bs) && bs[drop].at <= newest-span {
		drop++
	}
	if drop > 0 {
		bs = append(bs[:0], bs[drop:]...)
	}
	return bs
}

// flow sums the buckets within span of now's bucket.
func flow(bs []bucket, now, span int64) (f Flow, near int64) {
	for _, b := range bs {
		if b.at > now-span && b.at <= now {
			f.Count += b.count
			f.Sum += b.sum
			near += b.near
		}
	}
	return f, near
}

func (s *series) hour(at time.Time) Flow {
	f, _ := flow(s.minutes, at.Unix()/60, 60)
	return f
}

func (s *series) day(at time.Time) (Flow, int64) {
	return flow(s.hours, at.Unix()/3600, 24)
}

// counterparties counts a wallet's distinct counterparties over a day:
// last holds the hour each was last seen, and perHour how many have
// their last sighting in each hour, so the day's count is a sum over 24
// hours rather than a scan of every counterparty.
type counterparties struct {
	last    map[tongbao.ID]int64
	perHour []bucket // count = counterparties last seen in that hour
}

func (c *counterparties) see(id tongbao.ID, hour int64) {
	if c.last == nil {
		c.last = map[tongbao.ID]int64{}
	}
	if prev, ok := c.last[id]; ok {
		if prev == hour {
			return
		}
		for i := range c.perHour {
			if c.perHour[i].at == prev {
				c.perHour[i].count--
			}
		}
	} else if len(c.last) >= counterpartiesMax {
		c.forget(hour)
		if len(c.last) >= counterpartiesMax {
			return
		}
	}
	c.last[id] = hour
	c.perHour = addBucket(c.perHour, hour, 24, 0, false)
}

// forget drops the counterparties not seen within the day.
func (c *counterparties) forget(hour int64) {
	for id, h := range c.last {
		if h <= hour-24 {
			delete(c.last, id)
		}
	}
}

func (c *counterparties) day(hour int64) int64 {
	f, _ := flow(c.perHour, hour, 24)
	return f.Count
}

type walletActivity struct {
	last           time.Time // its last payment, in or out
	out, in        series
	payees, payers counterparties
}

// NewActivity returns an empty Activity counting payments in
// [nearLow, nearHigh) as just below the reporting threshold.
func NewActivity(nearLow, nearHigh tongbao.Amount) *Activity {
	return &Activity{
		nearLow: int64(nearLow), nearHigh: int64(nearHigh),
		wallets:   map[tongbao.ID]*walletActivity{},
		pairs:     map[[2]tongbao.ID]*Pair{},
		operators: map[tongbao.ID]*series{},
	}
}

// Movement is a payment that went through, as Activity records it.
type Movement struct {
	From, To tongbao.ID
	// FromOperator is the payer's operator; CrossOperator whether the
	// payee is at another one.
	FromOperator  tongbao.ID
	CrossOperator bool
	Amount        tongbao.Amount
	At            time.Time
}

// Observe records a payment that went through.
func (a *Activity) Observe(m Movement) {
	amount := int64(m.Amount)
	near := amount >= a.nearLow && amount < a.nearHigh
	hour := m.At.Unix() / 3600
	a.mu.Lock()
	defer a.mu.Unlock()
	from, to := a.wallet(m.From), a.wallet(m.To)
	from.out.add(m.At, amount, near)
	to.in.add(m.At, amount, false)
	from.payees.see(m.To, hour)
	to.payers.see(m.From, hour)
	if m.At.After(from.last) {
		from.last = m.At
	}
	if m.At.After(to.last) {
		to.last = m.At
	}
	p := a.pairs[[2]tongbao.ID{m.From, m.To}]
	if p == nil {
		p = &Pair{}
		a.pairs[[2]tongbao.ID{m.From, m.To}] = p
	}
	p.Payments, p.Sum = p.Payments+1, p.Sum+amount
	if m.At.After(p.Last) {
		p.Last = m.At
	}
	if m.CrossOperator {
		op := a.operators[m.FromOperator]
		if op == nil {
			op = &series{}
			a.operators[m.FromOperator] = op
		}
		op.add(m.At, amount, false)
	}
}

func (a *Activity) wallet(id tongbao.ID) *walletActivity {
	w := a.wallets[id]
	if w == nil {
		w = &walletActivity{}
		a.wallets[id] = w
	}
	return w
}

// Wallet returns the activity part of what the rules read of a wallet
// at a moment (the rest of the view is the caller's), and its last
// payment, in or out: zero when the node has observed none.
func (a *Activity) Wallet(id tongbao.ID, at time.Time) (WalletView, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.wallets[id]
	if w == nil {
		return WalletView{}, time.Time{}
	}
	hour := at.Unix() / 3600
	out24, near := w.out.day(at)
	in24, _ := w.in.day(at)
	return WalletView{
		Out1h: w.out.hour(at), Out24h: out24, In1h: w.in.hour(at), In24h: in24,
		NearThreshold24h: near,
		Payees24h:        w.payees.day(hour), Payers24h: w.payers.day(hour),
	}, w.last
}

// Pair returns what passed from one wallet to another.
func (a *Activity) Pair(from, to tongbao.ID) Pair {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p := a.pairs[[2]tongbao.ID{from, to}]; p != nil {
		return *p
	}
	return Pair{}
}

// OperatorActivity is an operator's outflow to other operators: over the
// current hour, and its hourly average over the 23 hours before.
type OperatorActivity struct {
	CrossOut1h        int64 `cel:"cross_out_1h"`
	CrossOutHourlyAvg int64 `cel:"cross_out_hourly_avg"`
}

// Operator returns an operator's outflow to other operators at a moment.
func (a *Activity) Operator(id tongbao.ID, at time.Time) OperatorActivity {
	a.mu.Lock()
	defer a.mu.Unlock()
	op := a.operators[id]
	if op == nil {
		return OperatorActivity{}
	}
	hour := at.Unix() / 3600
	var cur, before int64
	for _, b := range op.hours {
		switch {
		case b.at == hour:
			cur += b.sum
		case b.at > hour-24 && b.at < hour:
			before += b.sum
		}
	}
	return OperatorActivity{CrossOut1h: cur, CrossOutHourlyAvg: before / 23}
}

// Forget drops what no rule reads any more at a moment: wallets and pairs
// with no payment since before horizon, and counterparties out of their
// day. The node calls it now and then; until it does, memory grows with
// the wallets seen.
func (a *Activity) Forget(at time.Time, horizon time.Duration) {
	cut := at.Add(-horizon)
	hour := at.Unix() / 3600
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, w := range a.wallets {
		if w.last.Before(cut) {
			delete(a.wallets, id)
			continue
		}
		w.payees.forget(hour)
		w.payers.forget(hour)
	}
	for k, p := range a.pairs {
		if p.Last.Before(cut) {
			delete(a.pairs, k)
		}
	}
}
