package offline_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/domaintest"
	"github.com/tongbao/tongbao/internal/storetest"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/offline"
	"github.com/tongbao/tongbao/offline/offlinesql"
	"github.com/tongbao/tongbao/postgres"
	"github.com/tongbao/tongbao/sqlite"
	"github.com/tongbao/tongbao/twotier"
	"github.com/tongbao/tongbao/twotier/twotiersql"
)

// The crash test's shape.
const (
	crashPayers    = 24
	crashPayees    = 6
	crashTokens    = 8 // per payer
	crashRuns      = 6
	crashBatchMax  = 24
	crashDirEnv    = "TONGBAO_OFFLINE_CRASH_DIR"
	crashSeedEnv   = "TONGBAO_OFFLINE_CRASH_SEED"
	crashKillDelay = 15 * time.Millisecond
)

// crashSetup is what the parent made and the children upload: the
// tokens, and who is paid what.
type crashSetup struct {
	Tokens [][]byte                      `json:"tokens"`
	Payees map[tongbao.ID]tongbao.Amount `json:"payees"` // wallet → what its tokens pay
	Payers []tongbao.ID                  `json:"payers"` // wallets
}

type crashNode struct {
	ctx      context.Context
	payments *twotier.Service
	svc      *offline.Service
	closers  []func() error
}

func openCrashNode(tb testing.TB, dir string) *crashNode {
	tb.Helper()
	ctx := context.Background()
	n := &crashNode{ctx: ctx}
	clock := tongbao.NewManualClock(start)
	target := func(file string) string { return filepath.Join(dir, file) }
	var lstore ledger.Store
	var err error
	if storetest.Postgres() != "" {
		dsn, err := storetest.CreateSchema(ctx, storetest.SchemaFor(dir))
		domaintest.Must(tb, err)
		target = func(string) string { return dsn }
		lstore, err = postgres.Open(ctx, dsn)
		domaintest.Must(tb, err)
	} else {
		lstore, err = sqlite.Open(ctx, target("ledger.db"))
		domaintest.Must(tb, err)
	}
	n.closers = append(n.closers, lstore.Close)
	l, err := ledger.Open(ctx, ledger.Config{Store: lstore, Clock: clock})
	domaintest.Must(tb, err)
	n.closers = append(n.closers, l.Close)
	tstore, err := twotiersql.Open(ctx, target("twotier.db"))
	domaintest.Must(tb, err)
	n.closers = append(n.closers, tstore.Close)
	n.payments, err = twotier.Open(ctx, twotier.Config{Ledger: l, Store: tstore, Clock: clock})
	domaintest.Must(tb, err)
	ostore, err := offlinesql.Open(ctx, target("offline.db"))
	domaintest.Must(tb, err)
	n.closers = append(n.closers, ostore.Close)
	n.svc, err = offline.New(ctx, offline.Config{Payments: n.payments, Store: ostore, Clock: clock})
	domaintest.Must(tb, err)
	return n
}

func (n *crashNode) close(tb testing.TB) {
	tb.Helper()
	for i := len(n.closers) - 1; i >= 0; i-- {
		if err := n.closers[i](); err != nil {
			tb.Errorf("close: %v", err)
		}
	}
}

// setUp makes two operators, the payers' and payees' wallets and devices,
// loads the payers and has each sign its tokens, some to a payee at the
// other operator.
func (n *crashNode) setUp(tb testing.TB, dir string, rng *rand.Rand) crashSetup {
	tb.Helper()
	ctx := n.ctx
	ops := []tongbao.ID{tongbao.IDFromUint64(2), tongbao.IDFromUint64(3)}
	domaintest.Must(tb, n.payments.CreateCentralBank(ctx, tongbao.IDFromUint64(1), "People's Bank"))
	for _, op := range ops {
		domaintest.Must(tb, n.payments.AddOperator(ctx, op, "Operator", domaintest.NetDebitCap))
		_, err := n.payments.DepositReserves(ctx, twotier.Operation{ID: tongbao.NewID(), Operator: op, Amount: domaintest.Reserves})
		domaintest.Must(tb, err)
		_, err = n.payments.Issue(ctx, twotier.Operation{ID: tongbao.NewID(), Operator: op, Amount: domaintest.Issued})
		domaintest.Must(tb, err)
	}
	device := func(name string, op tongbao.ID, funds tongbao.Amount) (*offline.Element, tongbao.ID) {
		w, err := n.payments.OpenWallet(ctx, twotier.WalletSpec{Operator: op, Category: twotier.Category2, HolderName: name})
		domaintest.Must(tb, err)
		if funds > 0 {
			_, err = n.payments.TopUp(ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: w.ID, Amount: funds})
			domaintest.Must(tb, err)
		}
		el, err := offline.InitDevice(filepath.Join(dir, "devices", name), tongbao.NewManualClock(start))
		domaintest.Must(tb, err)
		d, err := n.svc.Certify(ctx, offline.CertifyRequest{Device: el.ID(), Wallet: w.ID, Key: el.PublicKey()})
		domaintest.Must(tb, err)
		domaintest.Must(tb, el.Install(d.Certificate, n.svc.PublicKeys(), nil))
		return el, w.ID
	}
	s := crashSetup{Payees: map[tongbao.ID]tongbao.Amount{}}
	payees := make([]*offline.Element, crashPayees)
	payeeWallets := make([]tongbao.ID, crashPayees)
	for i := range payees {
		payees[i], payeeWallets[i] = device(fmt.Sprintf("payee-%d", i), ops[i%2], 0)
		s.Payees[payeeWallets[i]] = 0
	}
	for i := range crashPayers {
		el, w := device(fmt.Sprintf("payer-%d", i), ops[0], 1000_00)
		s.Payers = append(s.Payers, w)
		l, err := n.svc.Load(ctx, tongbao.NewID(), el.ID(), 500_00)
		domaintest.Must(tb, err)
		_, err = el.AcceptVoucher(l.Voucher)
		domaintest.Must(tb, err)
		for range crashTokens {
			k := rng.IntN(crashPayees)
			amount := tongbao.Amount(1 + rng.IntN(50_00))
			raw, err := el.Pay(payees[k].ID(), amount)
			domaintest.Must(tb, err)
			s.Tokens = append(s.Tokens, raw)
			s.Payees[payeeWallets[k]] += amount
		}
	}
	b, err := json.Marshal(s)
	domaintest.Must(tb, err)
	domaintest.Must(tb, os.WriteFile(filepath.Join(dir, "setup.json"), b, 0o600))
	return s
}

// TestOfflineSyncSurvivesSIGKILL: child processes upload the tokens in
// random batches, with repeats, and are killed with SIGKILL anywhere in
// a sync (between the decision's commit and the ledger's payment, or
// after it); each starts with Recover. At the end every token is paid
// exactly once: each payee's wallet holds exactly what its tokens pay,
// every float equals its devices' purses, and the
// supply check holds.
func TestOfflineSyncSurvivesSIGKILL(t *testing.T) {
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
	rng := rand.New(rand.NewPCG(seed, 2))
	dir := t.TempDir()
	if storetest.Postgres() != "" {
		t.Cleanup(func() {
			if err := storetest.DropSchema(context.Background(), storetest.SchemaFor(dir)); err != nil {
				t.Errorf("%v", err)
			}
		})
	}
	n := openCrashNode(t, dir)
	setup := n.setUp(t, dir, rng)
	n.close(t)

	for run := range crashRuns {
		target := 1 + rng.IntN(len(setup.Tokens)/crashBatchMax)
		delay := time.Duration(rng.Int64N(int64(crashKillDelay)))
		synced := runOfflineCrashChild(t, dir, seed+uint64(run), target, delay)
		t.Logf("run %d: killed %v after %d syncs", run, delay, synced)
	}

	n = openCrashNode(t, dir)
	defer n.close(t)
	domaintest.Must(t, n.svc.Recover(n.ctx))
	// Every token once more, as payees still holding them would.
	res, err := n.svc.Sync(n.ctx, tongbao.ID{}, setup.Tokens)
	domaintest.Must(t, err)
	for _, r := range res.Results {
		if r.Result != offline.ResultSettled && r.Result != offline.ResultDuplicate {
			t.Fatalf("token %v at the end: %+v", r.Hash, r)
		}
	}
	domaintest.Must(t, n.svc.RetryPending(n.ctx))
	for w, want := range setup.Payees {
		got, err := n.payments.Balance(n.ctx, w)
		domaintest.Must(t, err)
		if got != want {
			t.Fatalf("payee wallet %v holds %v; its tokens pay %v", w, got, want)
		}
	}
	ds, err := n.svc.Devices(n.ctx, tongbao.ID{}, tongbao.ID{}, offline.ListMax)
	domaintest.Must(t, err)
	purses := map[tongbao.ID]tongbao.Amount{}
	for _, d := range ds {
		purses[d.Operator] += d.Purse()
	}
	for _, op := range []tongbao.ID{tongbao.IDFromUint64(2), tongbao.IDFromUint64(3)} {
		got, err := n.payments.Balance(n.ctx, twotier.OfflineFloatID(op))
		domaintest.Must(t, err)
		if got != purses[op] {
			t.Fatalf("float of %v: %v; the purses say %v", op, got, purses[op])
		}
	}
	r, err := n.payments.SupplyReport(n.ctx)
	domaintest.Must(t, err)
	if !r.OK {
		t.Fatalf("supply check: %+v", r)
	}
}

// runOfflineCrashChild starts a child on dir and kills it with SIGKILL
// delay after it has made target syncs; it returns how many it made.
func runOfflineCrashChild(t *testing.T, dir string, seed uint64, target int, delay time.Duration) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOfflineCrashChild$", "-test.v")
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
	synced, killed := 0, false
	var killAt <-chan time.Time
	for lines != nil {
		select {
		case line, ok := <-lines:
			if !ok {
				lines = nil
				continue
			}
			if strings.HasPrefix(line, "synced") {
				synced++
				if synced >= target && killAt == nil && !killed {
					killAt = time.After(delay)
				}
			}
		case <-killAt:
			cmd.Process.Signal(syscall.SIGKILL)
			killAt, killed = nil, true
		}
	}
	if err := cmd.Wait(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("the child ended by %v", err)
		}
	}
	return synced
}

// TestOfflineCrashChild is the process TestOfflineSyncSurvivesSIGKILL
// kills: it recovers, then uploads random batches of the tokens (with
// repeats) until it is killed or has uploaded each several times.
func TestOfflineCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("run by TestOfflineSyncSurvivesSIGKILL")
	}
	seed, err := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	domaintest.Must(t, err)
	b, err := os.ReadFile(filepath.Join(dir, "setup.json"))
	domaintest.Must(t, err)
	var setup crashSetup
	domaintest.Must(t, json.Unmarshal(b, &setup))
	n := openCrashNode(t, dir)
	if err := n.svc.Recover(n.ctx); err != nil {
		fmt.Fprintln(os.Stderr, "recover:", err)
		os.Exit(1)
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	for range 3 * len(setup.Tokens) / crashBatchMax {
		batch := make([][]byte, 1+rng.IntN(crashBatchMax))
		for i := range batch {
			batch[i] = setup.Tokens[rng.IntN(len(setup.Tokens))]
		}
		if _, err := n.svc.Sync(n.ctx, tongbao.ID{}, batch); err != nil {
			fmt.Fprintln(os.Stderr, "sync:", err)
			os.Exit(1)
		}
		fmt.Println("synced")
	}
	n.close(t)
}
