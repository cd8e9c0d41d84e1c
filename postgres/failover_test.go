package postgres_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/postgres"
)

const (
	writerChildEnv = "TONGBAO_WRITER_CHILD_DSN"
	// failoverLeaseTTL is the children's lease: short, so a run is quick,
	// and long enough that a busy machine does not lose it by accident
	// (which the test would survive, but not test what it means to).
	failoverLeaseTTL = 2 * time.Second
	// failoverTakeoverMax bounds how long the standby may take to become
	// the writer after the owner is killed: the TTL, a retry, and the
	// ledger's load, with room for a slow machine.
	failoverTakeoverMax = 20 * time.Second
	failoverWallets     = 20
	failoverClients     = 4
	failoverRequestOf   = 8
	// failoverAcksBefore and failoverAcksAfter are how many transfers the
	// first writer acknowledges before it is killed, and the second after.
	failoverAcksBefore = 300
	failoverAcksAfter  = 300
)

// child is a running TestWriterChild and what it printed.
type child struct {
	name string
	cmd  *exec.Cmd
	// lines carries every line the child prints.
	lines chan string
}

func startChild(t *testing.T, name, dsn string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestWriterChild$", "-test.v")
	cmd.Env = append(os.Environ(), writerChildEnv+"="+dsn, "TONGBAO_WRITER_CHILD_NAME="+name)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{name: name, cmd: cmd, lines: make(chan string, 1<<16)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	})
	return c
}

// failoverState is what the parent learns from the children's lines.
type failoverState struct {
	acked    map[tongbao.ID]bool
	ackedBy  map[string]int
	epochs   map[string]int64 // the latest epoch each child became the writer in
	refusals map[string]int   // "not the writer" answers, per child
}

// read takes one line of c into s.
func (s *failoverState) read(t *testing.T, c *child, line string) {
	t.Helper()
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return
	}
	switch fields[0] {
	case "ack":
		id, err := tongbao.ParseID(fields[1])
		if err != nil {
			t.Fatalf("%s printed %q: %v", c.name, line, err)
		}
		s.acked[id] = true
		s.ackedBy[c.name]++
	case "writer":
		epoch, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			t.Fatalf("%s printed %q: %v", c.name, line, err)
		}
		s.epochs[c.name] = epoch
	case "refused":
		if got := strings.Join(fields[1:], " "); got != tongbao.EUNAVAILABLE+" not the writer" {
			t.Fatalf("%s was refused with %q; want %s not the writer", c.name, got, tongbao.EUNAVAILABLE)
		}
		s.refusals[c.name]++
	}
}

// until reads the children's lines until cond holds, failing after max.
func (s *failoverState) until(t *testing.T, what string, max time.Duration, cond func() bool, children ...*child) {
	t.Helper()
	deadline := time.After(max)
	for !cond() {
		select {
		case line, ok := <-children[0].lines:
			if !ok {
				t.Fatalf("%s: %s exited", what, children[0].name)
			}
			s.read(t, children[0], line)
		case line, ok := <-lineOf(children, 1):
			if !ok {
				t.Fatalf("%s: %s exited", what, children[1].name)
			}
			s.read(t, children[1], line)
		case <-deadline:
			t.Fatalf("%s: not after %v (acks %v, epochs %v, refusals %v)", what, max, s.ackedBy, s.epochs, s.refusals)
		}
	}
}

func lineOf(children []*child, i int) <-chan string {
	if i < len(children) {
		return children[i].lines
	}
	return nil
}

// drain takes in every line c printed before it died.
func (s *failoverState) drain(t *testing.T, c *child) {
	t.Helper()
	for line := range c.lines {
		s.read(t, c, line)
	}
}

// TestWriterFailover runs two processes on one database, each with a
// Writer and clients paying through it. The first holds the lease and
// acknowledges transfers while the second answers "not the writer"; the
// first is killed with SIGKILL under load; the second takes over, rebuilt
// from the database, and acknowledges more. Every acknowledged transfer is
// then in the database, and the money still adds up.
func TestWriterFailover(t *testing.T) {
	needPostgres(t)
	if testing.Short() {
		t.Skip("starts and kills child processes")
	}
	dsn := tempDSN(t)
	s := &failoverState{acked: map[tongbao.ID]bool{}, ackedBy: map[string]int{}, epochs: map[string]int64{}, refusals: map[string]int{}}

	a := startChild(t, "A", dsn)
	s.until(t, "A becomes the writer", failoverTakeoverMax, func() bool { return s.epochs["A"] > 0 }, a)
	b := startChild(t, "B", dsn)
	s.until(t, "A acknowledges and B refuses", failoverTakeoverMax, func() bool {
		return s.ackedBy["A"] >= failoverAcksBefore && s.refusals["B"] > 0
	}, a, b)
	if s.epochs["B"] != 0 {
		t.Fatalf("B became the writer (epoch %d) while A held the lease (epoch %d)", s.epochs["B"], s.epochs["A"])
	}

	// Kill A wherever its writer is, after a random further moment of load.
	delay := time.Duration(rand.IntN(200)) * time.Millisecond
	time.Sleep(delay)
	a.cmd.Process.Signal(syscall.SIGKILL)
	killed := time.Now()
	a.cmd.Wait()
	s.drain(t, a) // A's acknowledgements printed before it died count
	epochA := s.epochs["A"]

	s.until(t, "B takes over", failoverTakeoverMax, func() bool { return s.epochs["B"] > epochA }, b)
	t.Logf("B took over %v after A was killed (epoch %d after %d)", time.Since(killed).Round(time.Millisecond), s.epochs["B"], epochA)
	ackedBefore := s.ackedBy["B"]
	s.until(t, "B acknowledges", failoverTakeoverMax, func() bool { return s.ackedBy["B"] >= ackedBefore+failoverAcksAfter }, b)
	b.cmd.Process.Signal(syscall.SIGKILL)
	b.cmd.Wait()
	s.drain(t, b)

	verifyFailover(t, dsn, s.acked)
}

func verifyFailover(t *testing.T, dsn string, acked map[tongbao.ID]bool) {
	t.Helper()
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := ledger.Open(ctx, ledger.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for id := range acked {
		if _, err := l.LookupTransfer(ctx, id); err != nil {
			t.Fatalf("acknowledged transfer %v lost: %v", id, err)
		}
	}
	var ids []tongbao.ID
	for n := uint64(1); n <= 1+failoverWallets; n++ {
		ids = append(ids, tongbao.IDFromUint64(n))
	}
	accounts, err := l.Accounts(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	var debits, credits tongbao.Amount
	for _, a := range accounts {
		debits += a.DebitsPosted
		credits += a.CreditsPosted
		// Walking each account's history back to before its first
		// transfer ends at zero: its balance is exactly its transfers.
		b, err := l.BalanceAt(ctx, a.ID, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		if b != (ledger.Balance{}) {
			t.Fatalf("account %v: balance %+v differs from its transfers by %+v", a.ID, a.Balance, b)
		}
	}
	if debits != credits {
		t.Fatalf("debits %v; credits %v", debits, credits)
	}
	t.Logf("%d acknowledged transfers, all stored", len(acked))
}

// TestWriterChild is a process of TestWriterFailover: a Writer on the
// database, and clients that pay through it until the process is killed.
// It prints "writer <epoch>" when it becomes the writer, "ack <id>" for
// every transfer acknowledged, and "refused <code> <message>" for the
// first refusal while it stands by.
func TestWriterChild(t *testing.T) {
	dsn := os.Getenv(writerChildEnv)
	if dsn == "" {
		t.Skip("run by TestWriterFailover")
	}
	ctx := context.Background()
	w, err := postgres.StartWriter(ctx, postgres.WriterConfig{
		DSN:      dsn,
		Owner:    os.Getenv("TONGBAO_WRITER_CHILD_NAME") + ":" + strconv.Itoa(os.Getpid()),
		LeaseTTL: failoverLeaseTTL,
		Ledger:   ledger.Config{BatchMax: 256},
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // one line per write
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
		mu.Unlock()
	}
	issuer := tongbao.IDFromUint64(1)
	wallet := func() tongbao.ID { return tongbao.IDFromUint64(uint64(2 + rand.IntN(failoverWallets))) }

	// Whenever this process becomes the writer: the accounts (creating
	// them again is harmless), then the announcement.
	var ready atomic.Int64 // the epoch whose accounts are created
	go func() {
		for {
			changed := w.Changed()
			if l, err := w.Ledger(); err == nil {
				epoch := w.Epoch()
				accounts := []ledger.Account{{ID: issuer, Currency: tongbao.CNY, Code: 1}}
				for n := uint64(2); n < 2+failoverWallets; n++ {
					accounts = append(accounts, ledger.Account{ID: tongbao.IDFromUint64(n), Currency: tongbao.CNY, Code: 2,
						Flags: ledger.FlagDebitsMustNotExceedCredits})
				}
				if errs, err := l.CreateAccounts(ctx, accounts); err == nil && errors.Join(errs...) == nil {
					ready.Store(epoch)
					say("writer %d", epoch)
				}
			}
			<-changed
		}
	}()

	var refused atomic.Bool
	for range failoverClients {
		go func() {
			for {
				if ready.Load() == 0 {
					if _, err := w.Submit(ctx, nil); errors.Is(err, postgres.ErrNotWriter) && !refused.Swap(true) {
						var te *tongbao.Error
						errors.As(err, &te)
						say("refused %s %s", te.Code, te.Message)
					}
					time.Sleep(10 * time.Millisecond)
					continue
				}
				ts := make([]ledger.Transfer, 0, failoverRequestOf)
				for len(ts) < failoverRequestOf {
					ts = append(ts, ledger.Transfer{ID: tongbao.NewID(), DebitAccountID: issuer, CreditAccountID: wallet(),
						Amount: tongbao.Amount(1 + rand.IntN(100)), Code: 1})
				}
				rs, err := w.Submit(ctx, ts)
				if errors.Is(err, postgres.ErrNotWriter) {
					ready.Store(0)
					continue
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, "submit:", err)
					os.Exit(1)
				}
				for i, r := range rs {
					if r.Err == nil {
						say("ack %v", ts[i].ID)
					}
				}
			}
		}()
	}
	select {}
}
