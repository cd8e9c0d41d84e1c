package contract_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/contract"
	"github.com/tongbao/tongbao/contract/contractsql"
	"github.com/tongbao/tongbao/internal/domaintest"
	"github.com/tongbao/tongbao/internal/storetest"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/postgres"
	"github.com/tongbao/tongbao/sqlite"
	"github.com/tongbao/tongbao/twotier"
	"github.com/tongbao/tongbao/twotier/twotiersql"
)

// The crash test's shape: how many contracts, how many killed runs, the
// clock's step and how many goroutines fire timers at each step.
const (
	crashContracts = 200
	crashRuns      = 8
	crashStep      = time.Hour
	crashFirers    = 2
	// crashKillDelayMax bounds the random delay between the child's
	// reaching its kill target and the kill, so that it lands anywhere in
	// a firing: between planning, the ledger's commit and the finish.
	crashKillDelayMax = 20 * time.Millisecond
)

// The environment of the child process: the data folder and the seed of
// the plan.
const (
	crashDirEnv  = "TONGBAO_CONTRACT_CRASH_DIR"
	crashSeedEnv = "TONGBAO_CONTRACT_CRASH_SEED"
)

// crashChildApp names the child's PostgreSQL sessions.
const crashChildApp = "tongbao-contract-crash-child"

// crashContract is one contract of the plan: instalments (a calendar
// trigger, retries when the payer runs short, a default after the last)
// or a two-party lock refunded at its deadline.
type crashContract struct {
	lock          bool
	payer, payee  tongbao.ID
	funds, amount tongbao.Amount
	// Instalments: the day of the month, how many, and how many the
	// payer's funds cover (paid < count: that one fails and defaults).
	day, count, paid int
	retries          int
	retryEvery       time.Duration
	// Lock: when the money returns.
	deadline time.Time
}

// crashPlan is what the test deploys, derived from its seed alone, so the
// parent and every child agree on it.
type crashPlan struct {
	contracts []crashContract
	// end is past every timer of the plan.
	end time.Time
}

func newCrashPlan(seed uint64) crashPlan {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	var p crashPlan
	for i := range crashContracts {
		c := crashContract{payer: tongbao.DeriveID("crash/payer", uint64(i)), payee: tongbao.DeriveID("crash/payee", uint64(i)),
			amount: tongbao.Amount(10_00 + rng.IntN(90)*1_00 + rng.IntN(100))}
		if i%4 == 3 {
			// Deadlines at any minute from the next day to the end of June.
			c.lock = true
			c.funds = c.amount + tongbao.Amount(rng.IntN(50_00))
			c.deadline = start.Add(24*time.Hour + time.Duration(rng.IntN(118*24*60))*time.Minute)
		} else {
			// Days from the 2nd: the 1st at 09:00 is before the start.
			c.day, c.count = 2+rng.IntN(27), 2+rng.IntN(3)
			c.paid = min(c.count, rng.IntN(c.count+2))
			c.retries, c.retryEvery = 1+rng.IntN(2), time.Duration(1+rng.IntN(48))*time.Hour
			c.funds = c.amount*tongbao.Amount(c.paid) + tongbao.Amount(rng.IntN(int(c.amount)))
		}
		p.contracts = append(p.contracts, c)
	}
	// The last instalment is due in June at the latest, its retries two
	// days after at most.
	p.end = time.Date(2027, 7, 5, 9, 30, 0, 0, start.Location())
	return p
}

// firings returns how many timers the plan fires.
func (p crashPlan) firings() int {
	n := 0
	for _, c := range p.contracts {
		switch {
		case c.lock:
			n++
		case c.paid == c.count:
			n += c.count
		default:
			n += c.paid + 1 + c.retries
		}
	}
	return n
}

// instalmentDue is when instalment n (from 1) of c is due: on its day of
// each month from March, at 09:00 in Shanghai.
func instalmentDue(c crashContract, n int) time.Time {
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return time.Date(2027, time.March+time.Month(n-1), c.day, 9, 0, 0, 0, shanghai)
}

// crashNode is one process's ledger, two-tier service and contract
// service on the data folder.
type crashNode struct {
	ctx      context.Context
	clock    *tongbao.ManualClock
	payments *twotier.Service
	store    *contractsql.Store
	svc      *contract.Service
	closers  []func() error
}

// openCrashNode opens the stores in dir (or its PostgreSQL schema) on a
// manual clock at the time the clock file holds, or start.
func openCrashNode(tb testing.TB, dir string) *crashNode {
	tb.Helper()
	ctx := context.Background()
	n := &crashNode{ctx: ctx, clock: tongbao.NewManualClock(readCrashClock(tb, dir))}
	var (
		lstore ledger.Store
		target = func(file string) string { return filepath.Join(dir, file) }
		err    error
	)
	if storetest.Postgres() != "" {
		dsn, err := storetest.CreateSchema(ctx, storetest.SchemaFor(dir))
		domaintest.Must(tb, err)
		if os.Getenv(crashDirEnv) != "" {
			dsn = withApplicationName(dsn, crashChildApp)
		}
		target = func(string) string { return dsn }
		lstore, err = postgres.Open(ctx, dsn)
		domaintest.Must(tb, err)
	} else {
		lstore, err = sqlite.Open(ctx, target("ledger.db"))
		domaintest.Must(tb, err)
	}
	n.closers = append(n.closers, lstore.Close)
	l, err := ledger.Open(ctx, ledger.Config{Store: lstore, Clock: n.clock})
	domaintest.Must(tb, err)
	n.closers = append(n.closers, l.Close)
	tstore, err := twotiersql.Open(ctx, target("twotier.db"))
	domaintest.Must(tb, err)
	n.closers = append(n.closers, tstore.Close)
	n.payments, err = twotier.Open(ctx, twotier.Config{Ledger: l, Store: tstore, Clock: n.clock})
	domaintest.Must(tb, err)
	n.store, err = contractsql.Open(ctx, target("contract.db"))
	domaintest.Must(tb, err)
	n.closers = append(n.closers, n.store.Close)
	n.svc, err = contract.New(contract.Config{Payments: n.payments, Store: n.store, Clock: n.clock})
	domaintest.Must(tb, err)
	return n
}

// close closes what openCrashNode opened, last first: the ledger before
// its store.
func (n *crashNode) close(tb testing.TB) {
	tb.Helper()
	for i := len(n.closers) - 1; i >= 0; i-- {
		if err := n.closers[i](); err != nil {
			tb.Errorf("close: %v", err)
		}
	}
}

// readCrashClock returns the time the clock file holds, or start when
// there is none yet.
func readCrashClock(tb testing.TB, dir string) time.Time {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "clock"))
	if os.IsNotExist(err) {
		return start
	}
	domaintest.Must(tb, err)
	ns, err := strconv.ParseInt(string(b), 10, 64)
	domaintest.Must(tb, err)
	return time.Unix(0, ns).In(start.Location())
}

// writeCrashClock stores the clock's next time before the clock shows it,
// so that a restarted process never runs its clock back behind what the
// stores recorded. The rename makes the write whole, whatever the moment
// of the kill.
func writeCrashClock(dir string, at time.Time) error {
	tmp := filepath.Join(dir, "clock.tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(at.UnixNano(), 10)), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "clock"))
}

// setUp creates the central bank, operator A, the wallets and the
// contracts of the plan, each accepted by its payer and so active.
func (n *crashNode) setUp(tb testing.TB, p crashPlan) {
	tb.Helper()
	ctx, ps := n.ctx, n.payments
	operator := tongbao.IDFromUint64(2)
	domaintest.Must(tb, ps.CreateCentralBank(ctx, tongbao.IDFromUint64(1), "People's Bank"))
	domaintest.Must(tb, ps.AddOperator(ctx, operator, "Operator A", domaintest.NetDebitCap))
	_, err := ps.DepositReserves(ctx, twotier.Operation{ID: tongbao.NewID(), Operator: operator, Amount: domaintest.Reserves})
	domaintest.Must(tb, err)
	_, err = ps.Issue(ctx, twotier.Operation{ID: tongbao.NewID(), Operator: operator, Amount: domaintest.Issued})
	domaintest.Must(tb, err)
	for i, c := range p.contracts {
		for _, w := range []tongbao.ID{c.payer, c.payee} {
			_, err := ps.OpenWallet(ctx, twotier.WalletSpec{ID: w, Operator: operator, Category: twotier.Category2, HolderName: "张三"})
			domaintest.Must(tb, err)
		}
		if c.funds > 0 {
			_, err := ps.TopUp(ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: c.payer, Amount: c.funds})
			domaintest.Must(tb, err)
		}
		spec := contract.DeploySpec{Operator: operator, By: "test", Reference: fmt.Sprintf("crash-%d", i),
			Params: map[string]any{"payer": c.payer.String(), "payee": c.payee.String()}}
		if c.lock {
			spec.Template = "lock_two_party"
			spec.Params["amount"], spec.Params["deadline"] = c.amount.String(), c.deadline.Format(time.RFC3339)
		} else {
			spec.Template = "instalments"
			spec.Params["instalment"], spec.Params["day"], spec.Params["count"] = c.amount.String(), c.day, c.count
			spec.Params["retries"], spec.Params["retry_every"] = c.retries, c.retryEvery.String()
		}
		d, _, err := n.svc.Deploy(ctx, spec)
		domaintest.Must(tb, err)
		a, err := n.svc.Accept(ctx, d.ID, "payer", d.Hash, "test")
		domaintest.Must(tb, err)
		if a.Status != contract.StatusActive {
			tb.Fatalf("contract %d: status %s after its payer accepted; want active", i, a.Status)
		}
	}
}

// contractOf returns the contract deployed for c: its id derives from its
// document, so the same plan finds the same contract.
func (n *crashNode) contractOf(tb testing.TB, i int, c crashContract) contract.Contract {
	tb.Helper()
	var (
		data []byte
		err  error
	)
	params := map[string]any{"payer": c.payer.String(), "payee": c.payee.String()}
	ref := fmt.Sprintf("crash-%d", i)
	if c.lock {
		params["amount"], params["deadline"] = c.amount.String(), c.deadline.Format(time.RFC3339)
		data, err = contract.FromTemplate("lock_two_party", nil, params, ref)
	} else {
		params["instalment"], params["day"], params["count"] = c.amount.String(), c.day, c.count
		params["retries"], params["retry_every"] = c.retries, c.retryEvery.String()
		data, err = contract.FromTemplate("instalments", nil, params, ref)
	}
	domaintest.Must(tb, err)
	_, _, hash, err := contract.Decode(data)
	domaintest.Must(tb, err)
	got, err := n.svc.Contract(n.ctx, contract.ContractID(hash))
	domaintest.Must(tb, err)
	return got
}

// runSteps advances the clock a step at a time until end, firing the due
// timers from crashFirers goroutines at once at each step, and reports
// how many each step fired.
func (n *crashNode) runSteps(dir string, end time.Time, report func(fired int)) error {
	for now := n.clock.Now(); now.Before(end); {
		now = now.Add(crashStep)
		if err := writeCrashClock(dir, now); err != nil {
			return err
		}
		n.clock.Set(now)
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			fired int
			first error
		)
		for range crashFirers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := n.svc.RunDue(n.ctx)
				mu.Lock()
				defer mu.Unlock()
				fired += k
				if err != nil && first == nil {
					first = err
				}
			}()
		}
		wg.Wait()
		if first != nil {
			return fmt.Errorf("at %s: %w", now, first)
		}
		if fired > 0 {
			report(fired)
		}
	}
	return nil
}

// TestContractTimersSurviveSIGKILL runs 200 contracts whose timers come
// due while a child process fires them, and kills the child with SIGKILL
// at a random moment of a firing, several times. After the last kill the
// stores are opened again, the invocations left pending finished and
// every timer still due fired; then every timer that came due fired
// exactly once: each contract has exactly the invocations its document
// and its payer's funds call for, each once, its payee was paid for
// exactly the instalments that succeeded, no timer is left, nothing is
// pending and money is conserved.
func TestContractTimersSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills child processes")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(crashSeedEnv); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		domaintest.Must(t, err)
	}
	t.Logf("seed %d (set %s to run it again)", seed, crashSeedEnv)
	plan := newCrashPlan(seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	if storetest.Postgres() != "" {
		t.Cleanup(func() {
			if err := storetest.DropSchema(context.Background(), storetest.SchemaFor(dir)); err != nil {
				t.Errorf("%v", err)
			}
		})
	}
	n := openCrashNode(t, dir)
	n.setUp(t, plan)
	n.close(t)

	// Each run is killed after firing a random share of what is left to
	// fire, so that every run finds timers due and the last leaves some
	// for the restart below.
	per := plan.firings() / (crashRuns + 1)
	for run := range crashRuns {
		target := 1 + rng.IntN(per)
		delay := time.Duration(rng.Int64N(int64(crashKillDelayMax)))
		fired, finished := runCrashChild(t, dir, seed, target, delay)
		if finished {
			t.Fatalf("run %d: the child fired every timer before it was killed", run)
		}
		t.Logf("run %d: killed %v after %d firings", run, delay, fired)
		waitCrashChildSessions(t)
	}

	n = openCrashNode(t, dir)
	defer n.close(t)
	recovered, err := n.svc.Recover(n.ctx)
	domaintest.Must(t, err)
	t.Logf("%d invocations left pending by the last kill finished", recovered)
	domaintest.Must(t, n.runSteps(dir, plan.end, func(int) {}))
	// A week after the end: nothing is due any more.
	n.clock.Advance(7 * 24 * time.Hour)
	if k, err := n.svc.RunDue(n.ctx); err != nil || k != 0 {
		t.Fatalf("a week after the end, RunDue fired %d (%v); want 0", k, err)
	}
	checkCrashPlan(t, n, plan)
}

// runCrashChild starts a child on dir and kills it with SIGKILL delay
// after it has fired target timers. It returns how many the child said it
// fired, and whether it finished before the kill.
func runCrashChild(t *testing.T, dir string, seed uint64, target int, delay time.Duration) (int, bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestContractCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashSeedEnv+"="+strconv.FormatUint(seed, 10))
	out, err := cmd.StdoutPipe()
	domaintest.Must(t, err)
	cmd.Stderr = os.Stderr
	domaintest.Must(t, cmd.Start())
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var (
		killAt   <-chan time.Time
		fired    int
		finished bool
	)
read:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				break read
			}
			if line == "done" {
				finished = true
			}
			if v, found := strings.CutPrefix(line, "fired "); found {
				k, err := strconv.Atoi(v)
				if err != nil {
					cmd.Process.Kill()
					t.Fatalf("child printed %q: %v", line, err)
				}
				fired += k
				if fired >= target && killAt == nil && !finished {
					killAt = time.After(delay)
				}
			}
		case <-killAt:
			cmd.Process.Signal(syscall.SIGKILL)
			killAt = nil
		}
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !finished && (!ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL) {
		t.Fatalf("the child ended by %v before it was killed", err)
	}
	return fired, finished
}

// TestContractCrashChild is the process TestContractTimersSurviveSIGKILL
// kills: it finishes what the previous one left pending and fires timers
// step by step until it is killed, printing how many each step fired.
func TestContractCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestContractTimersSurviveSIGKILL")
	}
	seed, err := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	domaintest.Must(t, err)
	plan := newCrashPlan(seed)
	n := openCrashNode(t, dir)
	if _, err := n.svc.Recover(n.ctx); err != nil {
		fmt.Fprintln(os.Stderr, "recover:", err)
		os.Exit(1)
	}
	var mu sync.Mutex // one line per write
	err = n.runSteps(dir, plan.end, func(fired int) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, "fired %d\n", fired)
		mu.Unlock()
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(1)
	}
	fmt.Println("done")
	n.close(t)
}

// checkCrashPlan checks every contract of the plan against what its
// document and its payer's funds call for.
func checkCrashPlan(t *testing.T, n *crashNode, p crashPlan) {
	t.Helper()
	ctx := n.ctx
	balance := func(id tongbao.ID) tongbao.Amount {
		t.Helper()
		b, err := n.payments.WalletBalance(ctx, id)
		domaintest.Must(t, err)
		return b.Available()
	}
	for i, pc := range p.contracts {
		c := n.contractOf(t, i, pc)
		invs, err := n.svc.Invocations(ctx, c.ID, 0, contract.ListMax)
		domaintest.Must(t, err)
		got := map[string]contract.Outcome{}
		for _, inv := range invs {
			if _, twice := got[inv.Key]; twice {
				t.Fatalf("contract %d: invocation %s recorded twice", i, inv.Key)
			}
			got[inv.Key] = inv.Outcome
		}
		want := map[string]contract.Outcome{"activate:0": contract.OutcomeSucceeded}
		var payerWant, payeeWant tongbao.Amount
		switch {
		case pc.lock:
			want[fmt.Sprintf("timer:deadline@%d", pc.deadline.Unix())] = contract.OutcomeSucceeded
			payerWant = pc.funds
		default:
			for k := 1; k <= pc.paid; k++ {
				want[fmt.Sprintf("timer:instalment@%d", instalmentDue(pc, k).Unix())] = contract.OutcomeSucceeded
			}
			if pc.paid < pc.count {
				key := fmt.Sprintf("timer:instalment@%d", instalmentDue(pc, pc.paid+1).Unix())
				want[key] = contract.OutcomeFailed
				for r := 1; r <= pc.retries; r++ {
					want[fmt.Sprintf("retry:%d:%s", r, key)] = contract.OutcomeFailed
				}
				want["failure:"+key] = contract.OutcomeSucceeded
			}
			payeeWant = pc.amount * tongbao.Amount(pc.paid)
			payerWant = pc.funds - payeeWant
		}
		if len(got) != len(want) {
			t.Errorf("contract %d (%+v): invocations %v; want %v", i, pc, got, want)
			continue
		}
		for k, o := range want {
			if got[k] != o {
				t.Errorf("contract %d (%+v): invocation %s %q; want %q (all: %v)", i, pc, k, got[k], o, got)
			}
		}
		if b := balance(pc.payer); b != payerWant {
			t.Errorf("contract %d: payer has %s; want %s", i, b, payerWant)
		}
		if b := balance(pc.payee); b != payeeWant {
			t.Errorf("contract %d: payee has %s; want %s (%d instalments of %s)", i, b, payeeWant, pc.paid, pc.amount)
		}
		if b := balance(c.Wallet); b != 0 {
			t.Errorf("contract %d: its wallet keeps %s", i, b)
		}
		timers, err := n.svc.Timers(ctx, c.ID)
		domaintest.Must(t, err)
		if len(timers) != 0 {
			t.Errorf("contract %d: timers %+v left after every due time", i, timers)
		}
	}
	pending, err := n.store.PendingInvocations(ctx, contract.ListMax)
	domaintest.Must(t, err)
	if len(pending) != 0 {
		t.Errorf("%d invocations still pending: %+v", len(pending), pending)
	}
	r, err := n.payments.SupplyReport(ctx)
	domaintest.Must(t, err)
	if !r.OK {
		t.Errorf("supply check failed: %+v", r)
	}
}

// waitCrashChildSessions waits, on PostgreSQL, until the killed child's
// sessions are gone: a COMMIT it sent before it died still runs to its
// end at the server, and the next process must find it done.
func waitCrashChildSessions(t *testing.T) {
	t.Helper()
	if storetest.Postgres() == "" {
		return
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, storetest.Postgres())
	domaintest.Must(t, err)
	defer conn.Close(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		domaintest.Must(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, crashChildApp).Scan(&n))
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions of the killed child still at the server", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// withApplicationName names the sessions of a connection string, so that
// pg_stat_activity tells them apart.
func withApplicationName(dsn, name string) string {
	if postgres.IsURL(dsn) {
		if u, err := url.Parse(dsn); err == nil {
			q := u.Query()
			q.Set("application_name", name)
			u.RawQuery = q.Encode()
			return u.String()
		}
	}
	return dsn + " application_name=" + name
}
