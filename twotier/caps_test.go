package twotier_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/twotier"
)

// TestCategoryCaps checks each category's balance, single and daily caps
// at their edges, with the default schedule.
func TestCategoryCaps(t *testing.T) {
	tests := []struct {
		category               twotier.Category
		balance, single, daily tongbao.Amount
	}{
		{twotier.Category4, 10_000 * yuan, 2_000 * yuan, 5_000 * yuan},
		{twotier.Category3, 20_000 * yuan, 5_000 * yuan, 10_000 * yuan},
		{twotier.Category2, 500_000 * yuan, 50_000 * yuan, 100_000 * yuan},
	}
	e := newEnv(t, time.Date(2026, 5, 1, 10, 0, 0, 0, shanghai))
	e.fund(2_000_000*yuan, 2_000_000*yuan)
	for _, tt := range tests {
		func() { // each category on its own wallets; e's helpers fail t
			w := e.wallet(e.a, tt.category, "")
			sink := e.wallet(e.a, twotier.Category1, "")
			e.topUp(w, tt.balance)
			_, err := e.svc.TopUp(e.ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: w.ID, Amount: 1})
			wantCode(t, "top-up past the balance cap", err, tongbao.EUNPROCESSABLE, ledger.ErrBalanceLimit)
			_, err = e.pay(w, sink, tt.single+1)
			wantCode(t, "payment past the single cap", err, tongbao.EUNPROCESSABLE, ledger.ErrDebitLimit)
			for paid := tongbao.Amount(0); paid < tt.daily; paid += tt.single {
				if _, err := e.pay(w, sink, min(tt.single, tt.daily-paid)); err != nil {
					t.Fatalf("payment within the daily cap: %v", err)
				}
			}
			_, err = e.pay(w, sink, 1)
			wantCode(t, "payment past the daily cap", err, tongbao.EUNPROCESSABLE, ledger.ErrDailyLimit)
			if got := e.balance(w.ID); got != tt.balance-tt.daily {
				t.Fatalf("balance %v; want %v", got, tt.balance-tt.daily)
			}
		}()
	}
	e.supplyOK("the caps")
}

// TestDailyAndYearlyCapsAcrossMidnightAndNewYear moves the clock across
// midnight and New Year in Asia/Shanghai (which are not midnight in UTC)
// and checks that the daily and yearly caps start again exactly there.
func TestDailyAndYearlyCapsAcrossMidnightAndNewYear(t *testing.T) {
	start := time.Date(2026, 12, 30, 23, 59, 0, 0, shanghai)
	e := newEnv(t, start)
	e.fund(1_000_000*yuan, 1_000_000*yuan)
	// A yearly cap of 12,000 for category 3 from now on.
	caps := twotier.DefaultCaps()
	c3 := caps[twotier.Category3]
	c3.YearlyDebitMax = 12_000 * yuan
	caps[twotier.Category3] = c3
	if _, err := e.svc.SetCaps(e.ctx, e.a, start, caps, "risk officer"); err != nil {
		t.Fatal(err)
	}
	w := e.wallet(e.a, twotier.Category3, "")
	sink := e.wallet(e.a, twotier.Category1, "")
	e.topUp(w, 20_000*yuan)

	pay := func(amount tongbao.Amount) error { _, err := e.pay(w, sink, amount); return err }
	// 30 December, 23:59: the whole daily cap.
	must(t, pay(5_000*yuan))
	must(t, pay(5_000*yuan))
	wantCode(t, "daily cap on 30 December", pay(1), tongbao.EUNPROCESSABLE, ledger.ErrDailyLimit)
	// 23:59:59.999999999 is still the same day.
	e.clock.Set(time.Date(2026, 12, 30, 23, 59, 59, 999_999_999, shanghai))
	wantCode(t, "daily cap a nanosecond before midnight", pay(1), tongbao.EUNPROCESSABLE, ledger.ErrDailyLimit)
	// Midnight in Shanghai (16:00 UTC): a new day, the same year.
	e.clock.Set(time.Date(2026, 12, 31, 0, 0, 0, 0, shanghai))
	must(t, pay(2_000*yuan))
	wantCode(t, "yearly cap on 31 December", pay(1), tongbao.EUNPROCESSABLE, ledger.ErrYearlyLimit)
	// 08:00 on 1 January in Shanghai is midnight UTC; the year turned eight
	// hours earlier. At 23:59:59 on 31 December it has not.
	e.clock.Set(time.Date(2026, 12, 31, 23, 59, 59, 0, shanghai))
	wantCode(t, "yearly cap at the last second of the year", pay(1), tongbao.EUNPROCESSABLE, ledger.ErrYearlyLimit)
	e.clock.Set(time.Date(2027, 1, 1, 0, 0, 0, 0, shanghai))
	must(t, pay(5_000*yuan))
	must(t, pay(3_000*yuan))
	if got := e.balance(w.ID); got != 0 {
		t.Fatalf("balance %v; want 0", got)
	}
	e.supplyOK("payments across New Year")
}

// TestCapScheduleVersions checks that a new cap version takes effect at
// its moment through ApplyDueCaps, that applying is idempotent, that it
// is recorded with who set it, and that wallets opened later get it.
func TestCapScheduleVersions(t *testing.T) {
	start := time.Date(2026, 6, 1, 12, 0, 0, 0, shanghai)
	e := newEnv(t, start)
	e.fund(1_000_000*yuan, 1_000_000*yuan)
	var ws []twotier.Wallet
	for i := 0; i < 5; i++ {
		ws = append(ws, e.wallet(e.a, twotier.Category4, ""))
	}
	other := e.wallet(e.b, twotier.Category4, "")
	// Category 4 single cap lowered to 500 from 18:00.
	caps := twotier.DefaultCaps()
	c4 := caps[twotier.Category4]
	c4.DebitMax = 500 * yuan
	caps[twotier.Category4] = c4
	from := start.Add(6 * time.Hour)
	v, err := e.svc.SetCaps(e.ctx, e.a, from, caps, "central bank notice 2026-17")
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != 2 || v.SetBy != "central bank notice 2026-17" {
		t.Fatalf("cap version %+v", v)
	}
	if n, err := e.svc.ApplyDueCaps(e.ctx); err != nil || n != 0 {
		t.Fatalf("before the moment: applied to %d wallets, %v; want 0", n, err)
	}
	sink := e.wallet(e.a, twotier.Category1, "")
	e.topUp(ws[0], 1_000*yuan)
	if _, err := e.pay(ws[0], sink, 600*yuan); err != nil {
		t.Fatalf("under the old caps: %v", err)
	}
	e.clock.Set(from)
	if n, err := e.svc.ApplyDueCaps(e.ctx); err != nil || n != len(ws) {
		t.Fatalf("at the moment: applied to %d wallets, %v; want %d", n, err, len(ws))
	}
	if n, err := e.svc.ApplyDueCaps(e.ctx); err != nil || n != 0 {
		t.Fatalf("again: applied to %d wallets, %v; want 0", n, err)
	}
	e.topUp(ws[0], 1_000*yuan)
	_, err = e.pay(ws[0], sink, 500*yuan+1)
	wantCode(t, "payment past the new single cap", err, tongbao.EUNPROCESSABLE, ledger.ErrDebitLimit)
	late := e.wallet(e.a, twotier.Category4, "")
	if late.CapVersion != 2 {
		t.Fatalf("wallet opened later on cap version %d; want 2", late.CapVersion)
	}
	// Operator B's schedule is its own.
	e.topUp(other, 1_000*yuan)
	if _, err := e.pay(other, e.wallet(e.b, twotier.Category1, ""), 600*yuan); err != nil {
		t.Fatalf("operator B under its own caps: %v", err)
	}
	sched, err := e.svc.CapSchedule(e.ctx, e.a)
	if err != nil || len(sched) != 2 || !sched[1].EffectiveFrom.Equal(from) {
		t.Fatalf("schedule %+v, %v", sched, err)
	}
	e.supplyOK("cap versions")
}

// TestUpgradeAndDowngrade checks that a downgrade the balance or today's
// payments would break is refused and changes nothing.
func TestUpgradeAndDowngrade(t *testing.T) {
	e := newEnv(t, time.Date(2026, 7, 1, 12, 0, 0, 0, shanghai))
	e.fund(1_000_000*yuan, 1_000_000*yuan)
	w := e.wallet(e.a, twotier.Category4, "13700000001")
	_, err := e.svc.Downgrade(e.ctx, w.ID, twotier.Category3, nil)
	wantCode(t, "downgrade to a stronger category", err, tongbao.EINVALID, twotier.ErrNotDowngrade)
	if w, err = e.svc.Upgrade(e.ctx, w.ID, twotier.Category2, nil); err != nil || w.Category != twotier.Category2 {
		t.Fatalf("upgrade: %+v, %v", w, err)
	}
	e.topUp(w, 15_000*yuan)
	_, err = e.svc.Downgrade(e.ctx, w.ID, twotier.Category4, nil)
	wantCode(t, "downgrade past the balance", err, tongbao.EUNPROCESSABLE, ledger.ErrBalanceLimit)
	if got, _ := e.svc.Wallet(e.ctx, w.ID); got.Category != twotier.Category2 {
		t.Fatalf("refused downgrade left category %d", got.Category)
	}
	// Paid 12,000 today: category 3's daily 10,000 is already passed.
	sink := e.wallet(e.a, twotier.Category1, "")
	must(t, func() error { _, err := e.pay(w, sink, 12_000*yuan); return err }())
	_, err = e.svc.Downgrade(e.ctx, w.ID, twotier.Category3, nil)
	wantCode(t, "downgrade past today's payments", err, tongbao.EUNPROCESSABLE, ledger.ErrDailyLimit)
	e.clock.Advance(24 * time.Hour)
	if w, err = e.svc.Downgrade(e.ctx, w.ID, twotier.Category3, nil); err != nil || w.Category != twotier.Category3 {
		t.Fatalf("downgrade the next day: %+v, %v", w, err)
	}
	_, err = e.svc.Upgrade(e.ctx, w.ID, twotier.Category1, nil)
	wantCode(t, "upgrade to category 1 without holder caps", err, tongbao.EINVALID, twotier.ErrHolderCapsRequired)
	e.supplyOK("category changes")
}

// TestCapsInEffectAtOnce checks that a cap version effective now reaches
// the open wallets when it is set, without a separate ApplyDueCaps (the
// HTTP layer used to make that second call itself).
func TestCapsInEffectAtOnce(t *testing.T) {
	start := time.Date(2026, 6, 1, 12, 0, 0, 0, shanghai)
	e := newEnv(t, start)
	e.fund(1_000_000*yuan, 1_000_000*yuan)
	w := e.wallet(e.a, twotier.Category4, "")
	sink := e.wallet(e.a, twotier.Category1, "")
	e.topUp(w, 1_000*yuan)
	caps := twotier.DefaultCaps()
	c4 := caps[twotier.Category4]
	c4.DebitMax = 300 * yuan
	caps[twotier.Category4] = c4
	if _, err := e.svc.SetCaps(e.ctx, e.a, start, caps, "risk officer"); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.svc.Wallet(e.ctx, w.ID); got.CapVersion != 2 {
		t.Fatalf("open wallet on cap version %d after setting caps in effect now; want 2", got.CapVersion)
	}
	_, err := e.pay(w, sink, 300*yuan+1)
	wantCode(t, "payment past the cap set now", err, tongbao.EUNPROCESSABLE, ledger.ErrDebitLimit)
	e.supplyOK("caps in effect at once")
}

// TestChangeCategory checks that ChangeCategory upgrades to a stronger
// category and downgrades to a weaker one, each with its rules.
func TestChangeCategory(t *testing.T) {
	e := newEnv(t, time.Date(2026, 7, 1, 12, 0, 0, 0, shanghai))
	e.fund(1_000_000*yuan, 1_000_000*yuan)
	w := e.wallet(e.a, twotier.Category3, "13700000002")
	w, err := e.svc.ChangeCategory(e.ctx, w.ID, twotier.Category2, nil)
	if err != nil || w.Category != twotier.Category2 {
		t.Fatalf("to a stronger category: %+v, %v", w, err)
	}
	e.topUp(w, 15_000*yuan)
	_, err = e.svc.ChangeCategory(e.ctx, w.ID, twotier.Category4, nil)
	wantCode(t, "to a weaker category past the balance", err, tongbao.EUNPROCESSABLE, ledger.ErrBalanceLimit)
	if w, err = e.svc.ChangeCategory(e.ctx, w.ID, twotier.Category3, nil); err != nil || w.Category != twotier.Category3 {
		t.Fatalf("to a weaker category: %+v, %v", w, err)
	}
	_, err = e.svc.ChangeCategory(e.ctx, w.ID, twotier.Category(7), nil)
	wantCode(t, "to no category", err, tongbao.EINVALID, twotier.ErrCategoryInvalid)
	e.supplyOK("category changes")
}

// TestCapsUnderConcurrentPayments fires payments from many goroutines at
// one wallet and checks the engine let exactly the daily cap through, and
// fires cross-operator payments at the net debit cap.
func TestCapsUnderConcurrentPayments(t *testing.T) {
	e := newEnv(t, time.Date(2026, 8, 8, 8, 0, 0, 0, shanghai))
	e.fund(1_000_000*yuan, 1_000_000*yuan)
	w := e.wallet(e.a, twotier.Category4, "")
	sink := e.wallet(e.a, twotier.Category1, "")
	e.topUp(w, 10_000*yuan)
	const goroutines, each = 64, 200 * yuan
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < goroutines; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.pay(w, sink, each); err == nil {
				ok.Add(1)
			} else if !isLimit(err) {
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	if got := ok.Load() * int64(each); got != int64(5_000*yuan) {
		t.Fatalf("paid %v concurrently; want the daily cap 5000.00", tongbao.Amount(got))
	}
	if got := e.balance(w.ID); got != 5_000*yuan {
		t.Fatalf("balance %v; want 5000.00", got)
	}

	// Across operators, against A's net debit cap (50,000).
	rich := e.wallet(e.a, twotier.Category1, "")
	e.topUp(rich, 100_000*yuan)
	payee := e.wallet(e.b, twotier.Category1, "")
	ok.Store(0)
	const crossEach = 1_000 * yuan
	for i := 0; i < goroutines; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.pay(rich, payee, crossEach); err == nil {
				ok.Add(1)
			} else if tongbao.ErrorCode(err) != tongbao.EUNPROCESSABLE {
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	if got := tongbao.Amount(ok.Load()) * crossEach; got != netDebitCap {
		t.Fatalf("paid %v across concurrently; want the net debit cap %v", got, netDebitCap)
	}
	if got := e.balance(twotier.ClearingAccount(e.a, e.svc.CurrentWindow())); got != netDebitCap {
		t.Fatalf("A's position %v; want %v", got, netDebitCap)
	}
	e.supplyOK("concurrent payments")
}

func isLimit(err error) bool { return tongbao.ErrorCode(err) == tongbao.EUNPROCESSABLE }
