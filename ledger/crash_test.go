package ledger_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/storetest"
	"github.com/tongbao/tongbao/ledger"
)

const (
	crashChildEnv  = "TONGBAO_CRASH_CHILD_DIR"
	crashWallets   = 20
	crashRuns      = 6
	crashClients   = 8
	crashRequestOf = 6
)

// TestCrashRecovery kills a process that is applying transfers with
// SIGKILL at random moments. After each kill, the ledger reopened from its
// data folder holds every transfer that was acknowledged, no linked chain
// in part, balances equal to the sum of the stored transfers, and its
// holds still expire.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills child processes")
	}
	dir := t.TempDir()
	acked := map[tongbao.ID]bool{}
	for run := 0; run < crashRuns; run++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill once the child has acknowledged some transfers, after a
		// random further delay, wherever the writer is.
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		var killAt <-chan time.Time
		n := 0
	read:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					break read
				}
				if id, found := strings.CutPrefix(line, "ack "); found {
					v, err := tongbao.ParseID(id)
					if err != nil {
						t.Fatalf("child printed %q: %v", line, err)
					}
					acked[v] = true
					n++
					if n == 1 {
						killAt = time.After(time.Duration(rand.IntN(400)) * time.Millisecond)
					}
				}
			case <-killAt:
				cmd.Process.Signal(syscall.SIGKILL)
				killAt = nil
			}
		}
		cmd.Wait()
		if n == 0 {
			t.Fatalf("run %d: the child acknowledged nothing", run)
		}
		waitChildSessions(t)
		verifyAfterCrash(t, dir, acked, run)
	}
}

// crashChildApp names the child's PostgreSQL sessions.
const crashChildApp = "tongbao-crash-child"

// waitChildSessions waits, on PostgreSQL, until the killed child's
// sessions are gone. A COMMIT the child sent before it died still runs to
// its end at the server, and a check that read the state before it lands
// would find it later. (A process that serves writes holds the writer
// lease, which every commit locks, so a successor cannot start until such
// a commit is over; this test opens the store without one.)
func waitChildSessions(t *testing.T) {
	t.Helper()
	if storetest.Postgres() == "" {
		return
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, storetest.Postgres())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, crashChildApp).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions of the killed child still at the server", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func verifyAfterCrash(t *testing.T, dir string, acked map[tongbao.ID]bool, run int) {
	t.Helper()
	ctx := context.Background()
	st, err := openStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// A day later every hold of the child (1 s timeout) is due. Each check
	// writes expiry records a day ahead and timestamps never go back, so the
	// next child's timestamps run ahead too: each check goes a day further.
	clock := tongbao.NewManualClock(time.Now().Add(time.Duration(run+1) * 24 * time.Hour))
	l, err := ledger.Open(ctx, ledger.Config{Store: st, Clock: clock, ExpiryInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for id := range acked {
		if _, err := l.LookupTransfer(ctx, id); err != nil {
			t.Fatalf("acknowledged transfer %v lost: %v", id, err)
		}
	}
	// Linked pairs: the second half of every stored pair is stored too.
	err = st.LoadIDs(ctx, func(id tongbao.ID) error {
		if id[0] != 'L' {
			return nil
		}
		other := id
		other[1] ^= 1
		if _, err := l.LookupTransfer(ctx, other); err != nil {
			return fmt.Errorf("linked transfer %v stored without its partner %v: %w", id, other, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	open := 0
	st.LoadHolds(ctx, func(ledger.Transfer, int64) error { open++; return nil })
	if open != 0 {
		t.Fatalf("%d holds still open after their timeout", open)
	}
	var ids []tongbao.ID
	st.LoadAccounts(ctx, func(a ledger.AccountRecord) error { ids = append(ids, a.ID); return nil })
	list, err := l.Accounts(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	accounts := map[tongbao.ID]ledger.AccountRecord{}
	for _, a := range list {
		accounts[a.ID] = a
	}
	checkInvariants(t, accounts)
	// Walking each account's history back from its stored balance to
	// before its first transfer must end at zero: the balance is exactly
	// the sum of the transfers stored, none missing, none extra.
	for id, a := range accounts {
		b, err := l.BalanceAt(ctx, id, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		if b != (ledger.Balance{}) {
			t.Fatalf("account %v: stored balance %+v differs from its transfers by %+v", id, a.Balance, b)
		}
	}
}

// TestCrashChild is the process TestCrashRecovery kills. It pays between
// wallets until it is killed, printing the id of each acknowledged transfer.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("run by TestCrashRecovery")
	}
	ctx := context.Background()
	st, err := openStore(t, dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ctx, ledger.Config{Store: st, BatchMax: 64})
	if err != nil {
		t.Fatal(err)
	}
	accounts := []ledger.Account{acct(1, 0)}
	for i := uint64(2); i < 2+crashWallets; i++ {
		accounts = append(accounts, acct(i, wallet))
	}
	if _, err := l.CreateAccounts(ctx, accounts); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // one line per write
	ack := func(id tongbao.ID) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, "ack %v\n", id)
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for c := 0; c < crashClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				wallet := func() tongbao.ID { return tongbao.IDFromUint64(uint64(2 + rand.IntN(crashWallets))) }
				// A linked pair: issue to a wallet and pay it on. Its ids
				// start with 'L' and differ in one bit, so the check can
				// find the partner.
				pair := tongbao.NewID()
				pair[0], pair[1] = 'L', pair[1]&^1
				second := pair
				second[1] |= 1
				a, b := wallet(), wallet()
				for a == b {
					b = wallet()
				}
				ts := []ledger.Transfer{
					{ID: pair, DebitAccountID: tongbao.IDFromUint64(1), CreditAccountID: a, Amount: 500, Code: 1, Flags: ledger.FlagLinked},
					{ID: second, DebitAccountID: a, CreditAccountID: b, Amount: 500, Code: 1},
					{ID: tongbao.NewID(), DebitAccountID: b, CreditAccountID: a, Amount: 100, Code: 1, Flags: ledger.FlagPending, TimeoutSeconds: 1},
				}
				for len(ts) < crashRequestOf {
					ts = append(ts, ledger.Transfer{ID: tongbao.NewID(), DebitAccountID: wallet(), CreditAccountID: wallet(), Amount: tongbao.Amount(1 + rand.IntN(300)), Code: 1})
				}
				rs, err := l.Submit(ctx, ts)
				if err != nil {
					fmt.Fprintln(os.Stderr, "submit:", err)
					os.Exit(1)
				}
				for i, r := range rs {
					if r.Err == nil {
						ack(ts[i].ID)
					}
				}
			}
		}()
	}
	wg.Wait()
}
