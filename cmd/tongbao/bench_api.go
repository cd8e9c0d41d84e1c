package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/ledger"
)

// Defaults and limits of `tongbao bench api`.
const (
	benchAPIClientsDefault  = 64
	benchAPIWalletsDefault  = 1024
	benchAPIDurationDefault = 10 * time.Second
	benchAPIBatchDefault    = 128
	benchAPIClientsMax      = 4096
	benchAPIWalletsMax      = 1_000_000
	// benchAPIFunding is what each wallet is loaded with: far more than
	// the timed payments (0.01 to 1.00 each) take out.
	benchAPIFunding = tongbao.Amount(100_000_00)
	// benchAPITimeout is how long past its end a timed phase waits for
	// the requests in flight.
	benchAPITimeout = time.Minute
)

type benchAPIOptions struct {
	dir      string
	clients  int
	wallets  int
	duration time.Duration
	batch    int
	phase    string
	json     bool
}

func (m *Main) benchAPICommand() *cobra.Command {
	o := &benchAPIOptions{}
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Measure the HTTP API: payments per second and request latency",
		Long: `api starts the whole system and its HTTP API on loopback over a fresh
SQLite data folder, opens wallets at one operator, and runs two timed
phases with concurrent clients, each with one request in flight:

  single   each client is a holder paying from its own wallet, one payment
           per POST /v1/payments
  batched  each client is the operator paying between random wallets,
           --batch payments per POST /v1/payments/batch

Every payment is durable (fsynced) before it is answered. Latencies are
per request. Each phase also reports the ledger's transfers per commit
(mean_batch), the mean commit time (commit_ms) and the CPU time of the
whole process per payment (cpu_us_per_payment), which moves less than the
rate on a shared machine; peak_rss_mb is the peak resident memory of the
whole process over the run. --phase runs one phase, as for a profile
(bench --cpuprofile). With --json, stdout gets one JSON object and nothing
else.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchAPI(cmd.Context(), o, m.Stdout, m.Stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "where to make the temporary data folder (default: the system's temporary folder)")
	f.IntVar(&o.clients, "clients", benchAPIClientsDefault, "concurrent clients")
	f.IntVar(&o.wallets, "wallets", benchAPIWalletsDefault, "wallets to pay between (at least --clients)")
	f.DurationVar(&o.duration, "duration", benchAPIDurationDefault, "length of each timed phase")
	f.IntVar(&o.batch, "batch", benchAPIBatchDefault, "payments per batch request")
	f.StringVar(&o.phase, "phase", "", "run only this phase, single or batched (to profile one)")
	f.BoolVar(&o.json, "json", false, "print the figures as one JSON object on stdout")
	return cmd
}

// benchAPIPhase is one phase's figures.
type benchAPIPhase struct {
	PaymentsPerSec float64 `json:"payments_per_sec"`
	P50Ms          float64 `json:"p50_ms"`
	P99Ms          float64 `json:"p99_ms"`
	BatchSize      int     `json:"batch_size,omitempty"`
	// MeanBatch is the transfers per ledger commit, CommitMs the mean
	// time of one commit (write and fsync).
	MeanBatch float64 `json:"mean_batch"`
	CommitMs  float64 `json:"commit_ms"`
	// CPUUsPerPayment is the CPU time of the whole process (server and
	// clients) per payment: steadier than the rate on a shared machine.
	CPUUsPerPayment float64 `json:"cpu_us_per_payment"`
	// AllocsPerPayment counts the heap allocations of the whole process
	// per payment: what the garbage collector has to clean up after.
	AllocsPerPayment float64 `json:"allocs_per_payment"`
	Payments         int64   `json:"payments"`
	Failed           int64   `json:"failed"`
	Seconds          float64 `json:"seconds"`
}

// benchAPIResult is what `bench api --json` prints.
type benchAPIResult struct {
	Single  benchAPIPhase `json:"single"`
	Batched benchAPIPhase `json:"batched"`
	// PeakRSSMB is the process's (server and clients) peak resident
	// memory in MiB over the run.
	PeakRSSMB float64 `json:"peak_rss_mb"`
}

func runBenchAPI(ctx context.Context, o *benchAPIOptions, stdout, stderr io.Writer) (err error) {
	switch {
	case o.clients < 1 || o.clients > benchAPIClientsMax:
		return fmt.Errorf("--clients %d: want 1 to %d", o.clients, benchAPIClientsMax)
	case o.wallets < o.clients || o.wallets < 2 || o.wallets > benchAPIWalletsMax:
		return fmt.Errorf("--wallets %d: want %d to %d", o.wallets, max(o.clients, 2), benchAPIWalletsMax)
	case o.batch < 1 || o.batch > wire.PayBatchMax:
		return fmt.Errorf("--batch %d: want 1 to %d", o.batch, wire.PayBatchMax)
	case o.duration <= 0:
		return fmt.Errorf("--duration %v: want more than zero", o.duration)
	case o.phase != "" && o.phase != "single" && o.phase != "batched":
		return fmt.Errorf("--phase %q: want single or batched", o.phase)
	}
	srv, err := startBenchServer(ctx, o.dir, "tongbao-bench-api-", stderr)
	if err != nil {
		return err
	}
	defer srv.close()
	n, addr, cb, op := srv.node, srv.addr, srv.cb, srv.op
	total := benchAPIFunding * tongbao.Amount(o.wallets)
	if _, err := cb.DepositReserves(ctx, "bench-reserves", op.ID, total); err != nil {
		return err
	}
	if _, err := cb.Issue(ctx, "bench-issue", op.ID, total); err != nil {
		return err
	}
	k, err := cb.CreateKey(ctx, wire.CreateKey{Role: wire.RoleOperatorAdmin, Operator: &op.ID})
	if err != nil {
		return err
	}
	admin := cb.WithKey(k.Secret)
	fmt.Fprintf(stderr, "opening and loading %d wallets\n", o.wallets)
	wallets := make([]tongbao.ID, o.wallets)
	holderKeys := make([]string, o.clients)
	var setup sync.WaitGroup
	var setupErr atomic.Value
	next := atomic.Int64{}
	for w := 0; w < 16; w++ {
		setup.Add(1)
		go func() {
			defer setup.Done()
			for i := int(next.Add(1) - 1); i < o.wallets; i = int(next.Add(1) - 1) {
				// Category 1 with no caps set: the benchmark measures the
				// path, not the limits.
				wl, err := admin.OpenWallet(ctx, fmt.Sprintf("bench-wallet-%d", i), op.ID, wire.OpenWallet{Category: 1, HolderName: "Bench", HolderLimits: &wire.Limits{}})
				if err == nil {
					_, err = admin.TopUp(ctx, fmt.Sprintf("bench-top-up-%d", i), wl.ID, benchAPIFunding)
				}
				if err == nil && i < o.clients {
					var hk wire.Key
					hk, err = admin.CreateKey(ctx, wire.CreateKey{Role: wire.RoleHolder, Wallet: &wl.ID})
					holderKeys[i] = hk.Secret
				}
				if err != nil {
					setupErr.Store(err)
					return
				}
				wallets[i] = wl.ID
			}
		}()
	}
	setup.Wait()
	if err, ok := setupErr.Load().(error); ok {
		return fmt.Errorf("bench api: setup: %w", err)
	}

	// The timed phases' clients are lean HTTP/1.1 connections (see
	// benchConn), one per client, each with one request in flight.
	ids := make([]string, len(wallets))
	for i, w := range wallets {
		ids[i] = w.String()
	}
	var single, batched benchAPIPhase
	if o.phase != "batched" {
		conns := make([]*benchConn, o.clients)
		for i := range conns {
			conns[i] = newBenchConn(addr, holderKeys[i])
			defer conns[i].close()
		}
		bodies := make([][]byte, o.clients)
		single = benchAPIRun(ctx, o, n.cur.Ledger.Stats(), stderr, "single payments", 1, func(ctx context.Context, c int, rng *rand.Rand) (int, int, error) {
			to := rng.IntN(len(wallets) - 1)
			if to >= c {
				to++
			}
			bodies[c] = benchPayJSON(bodies[c][:0], ids[c], ids[to], tongbao.Amount(1+rng.Int64N(100)))
			status, answer, err := conns[c].post(ctx, "/v1/payments", bodies[c])
			switch {
			case err != nil:
				return 0, 1, err
			case status != http.StatusCreated:
				return 0, 1, benchStatusError(status, answer)
			}
			return 1, 0, nil
		})
	}
	if o.phase != "single" {
		conns := make([]*benchConn, o.clients)
		for i := range conns {
			conns[i] = newBenchConn(addr, k.Secret)
			defer conns[i].close()
		}
		bodies := make([][]byte, o.clients)
		batched = benchAPIRun(ctx, o, n.cur.Ledger.Stats(), stderr, "batched payments", o.batch, func(ctx context.Context, c int, rng *rand.Rand) (int, int, error) {
			b := append(bodies[c][:0], `{"payments":[`...)
			for i := 0; i < o.batch; i++ {
				from := rng.IntN(len(wallets))
				to := rng.IntN(len(wallets) - 1)
				if to >= from {
					to++
				}
				if i > 0 {
					b = append(b, ',')
				}
				b = benchPayJSON(b, ids[from], ids[to], tongbao.Amount(1+rng.Int64N(100)))
			}
			bodies[c] = append(b, "]}"...)
			status, answer, err := conns[c].post(ctx, "/v1/payments/batch", bodies[c])
			switch {
			case err != nil:
				return 0, o.batch, err
			case status != http.StatusOK:
				return 0, o.batch, benchStatusError(status, answer)
			}
			// Each result is {"payment":…} or {"problem":…}.
			ok := bytes.Count(answer, []byte(`{"payment":`))
			return ok, o.batch - ok, nil
		})
		batched.BatchSize = o.batch
	}
	s, err := cb.Supply(ctx)
	if err != nil {
		return err
	}
	if !s.OK {
		return fmt.Errorf("bench api: the supply check failed after the run")
	}
	res := benchAPIResult{Single: single, Batched: batched, PeakRSSMB: round(peakRSSMB(), 1)}
	if o.json {
		b, _ := json.Marshal(res)
		_, err := fmt.Fprintln(stdout, string(b))
		return err
	}
	for _, p := range []struct {
		name string
		ph   benchAPIPhase
	}{{"single", single}, {"batched", batched}} {
		if p.ph.Seconds == 0 { // not run (--phase)
			continue
		}
		fmt.Fprintf(stdout, "%-8s %10.0f payments/s  p50 %6.2f ms  p99 %6.2f ms  %6.1f per commit of %5.2f ms  %5.1f µs CPU and %5.1f allocations each  (%d payments, %d failed, %.1f s)\n",
			p.name, p.ph.PaymentsPerSec, p.ph.P50Ms, p.ph.P99Ms, p.ph.MeanBatch, p.ph.CommitMs, p.ph.CPUUsPerPayment, p.ph.AllocsPerPayment, p.ph.Payments, p.ph.Failed, p.ph.Seconds)
	}
	fmt.Fprintf(stdout, "peak RSS %.1f MiB (server and clients)\n", res.PeakRSSMB)
	return nil
}

// benchServer is a node serving its API on loopback over a temporary
// SQLite data folder, with one operator, for bench api and bench keys.
type benchServer struct {
	node *node
	dir  string // the data folder
	addr string
	cb   *client.Client // the central bank
	op   wire.Institution
	// closers are run by close, last first.
	closers []func()
}

// close stops the server and removes its data folder.
func (s *benchServer) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

func startBenchServer(ctx context.Context, parent, prefix string, stderr io.Writer) (s *benchServer, err error) {
	s = &benchServer{}
	if s.dir, err = os.MkdirTemp(parent, prefix); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { os.RemoveAll(s.dir) })
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	if s.node, err = openNode(ctx, s.dir, log, false); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.node.close)
	addr, stop, err := s.node.listen("127.0.0.1:0", log)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, stop)
	s.addr, s.cb = addr, client.New("http://"+addr, s.node.cbKey, nil)
	s.op, err = s.cb.CreateOperator(ctx, "bench-operator", wire.CreateOperator{Name: "Bench Operator", NetDebitCap: wire.Amount(1_000_000_00)})
	return s, err
}

// benchAPIRun runs one timed phase: o.clients goroutines each call do in
// a loop until the duration is over, timing every call.
func benchAPIRun(ctx context.Context, o *benchAPIOptions, stats *ledger.Stats, stderr io.Writer, what string, per int, do func(ctx context.Context, c int, rng *rand.Rand) (ok, failed int, err error)) benchAPIPhase {
	ctx, cancel := context.WithTimeout(ctx, o.duration+benchAPITimeout)
	defer cancel()
	batchesBefore, transfersBefore, commitBefore := stats.Batches.Load(), stats.Transfers.Load(), stats.CommitNanos.Load()
	var okCount, failCount atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, o.clients)
	cpuStart, allocsStart := cpuTime(), heapAllocs()
	deadline := time.Now().Add(o.duration)
	bar := progressbar.NewOptions64(int64(o.duration/time.Millisecond),
		progressbar.OptionSetWriter(struct{ io.Writer }{stderr}),
		progressbar.OptionSetDescription(what),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }))
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < o.clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), uint64(per)))
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				ok, failed, err := do(ctx, c, rng)
				lat[c] = append(lat[c], time.Since(t0))
				okCount.Add(int64(ok))
				failCount.Add(int64(failed))
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}(c)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case <-done:
			break loop
		case <-tick.C:
			bar.Set64(min(int64(time.Since(start)/time.Millisecond), int64(o.duration/time.Millisecond)))
			bar.Describe(fmt.Sprintf("%s: %d", what, okCount.Load()))
		}
	}
	bar.Finish()
	elapsed := time.Since(start)
	cpu, allocs := cpuTime()-cpuStart, heapAllocs()-allocsStart
	if err, ok := firstErr.Load().(error); ok {
		fmt.Fprintf(stderr, "%s: first failure: %v\n", what, err)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	var meanBatch, commitMs float64
	if batches := stats.Batches.Load() - batchesBefore; batches > 0 {
		meanBatch = round(float64(stats.Transfers.Load()-transfersBefore)/float64(batches), 1)
		commitMs = round(durationMs(time.Duration(stats.CommitNanos.Load()-commitBefore))/float64(batches), 3)
	}
	var cpuPer, allocsPer float64
	if n := okCount.Load(); n > 0 {
		cpuPer = round(float64(cpu.Microseconds())/float64(n), 1)
		allocsPer = round(float64(allocs)/float64(n), 1)
	}
	return benchAPIPhase{
		CPUUsPerPayment:  cpuPer,
		AllocsPerPayment: allocsPer,
		MeanBatch:        meanBatch,
		CommitMs:         commitMs,
		PaymentsPerSec:   float64(okCount.Load()) / elapsed.Seconds(),
		P50Ms:            ms(percentile(all, 0.50)),
		P99Ms:            ms(percentile(all, 0.99)),
		Payments:         okCount.Load(),
		Failed:           failCount.Load(),
		Seconds:          elapsed.Seconds(),
	}
}

// heapAllocs returns how many heap objects the process has allocated.
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
