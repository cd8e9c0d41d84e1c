package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// Defaults and limits of `tongbao bench ledger`. The limits keep a typo
// from asking for more memory than the machine has: the wallets' ids, the
// clients' requests and one latency sample per request are all held in
// memory.
const (
	benchAccountsDefault  = 10_000
	benchTransfersDefault = 1_000_000
	benchClientsDefault   = 64
	// benchRequestDefault keeps 64 clients' requests at 2,048 transfers in
	// flight: the writer's batches fill to about a thousand, which
	// amortises the fsync, and a request waits about two commits, which
	// keeps latency low. Full batches per request (TigerBeetle's clients)
	// give more throughput and latencies of seconds: try --request 8190.
	benchRequestDefault = 32
	benchHotDefault     = 0.1

	benchAccountsMax  = 10_000_000
	benchTransfersMax = 100_000_000
	// benchClientsMax is the ledger's queue: more clients than that would
	// only wait to enqueue.
	benchClientsMax = ledger.DefaultQueueMax

	// benchWalletFunding is what each wallet is given before the timed
	// phase: 10,000,000.00, far more than the timed transfers can take out,
	// so that they succeed.
	benchWalletFunding = tongbao.Amount(1_000_000_000)
	// benchAmountMax is the largest amount of a timed transfer: 100.00.
	benchAmountMax = 10_000

	// benchIssuerNumber is the issuer's account number; the wallets follow
	// it, from benchIssuerNumber+1.
	benchIssuerNumber = 1
	// benchProgressInterval is how often the progress bar is redrawn.
	benchProgressInterval = 200 * time.Millisecond
)

// Account and transfer codes of the benchmark's ledger.
const (
	benchCodeIssuer   uint16 = 1
	benchCodeWallet   uint16 = 2
	benchCodeFunding  uint16 = 1
	benchCodeTransfer uint16 = 2
)

// benchLedgerOptions are the flags of `tongbao bench ledger`.
type benchLedgerOptions struct {
	dir       string
	db        string
	accounts  int
	transfers int
	clients   int
	batchMax  int
	request   int
	hot       float64
	json      bool
	// memoryLimitMiB is the Go runtime's soft memory limit (GOMEMLIMIT):
	// the engine keeps every account in memory twice (the writer's and the
	// committed copy), and without a limit the collector lets the heap
	// grow to twice what is live before it runs.
	memoryLimitMiB int
}

func (m *Main) benchLedgerCommand() *cobra.Command {
	o := &benchLedgerOptions{}
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Measure the ledger engine: transfers per second and request latency",
		Long: `ledger measures the ledger engine in process, in the shape of TigerBeetle's
benchmark: concurrent clients each submit requests of transfers (by default 32
transfers each) between wallets, some share of them touching one hot account,
until the asked number of transfers has been submitted. Every commit is
durable (fsynced) before its requests are answered.

Before the timed phase, the command creates an issuer account (the hot
account) and the wallets, and funds every wallet from the issuer, so that
the timed transfers succeed. Latency is measured per request, from submit
to answer; p50 and p99 are exact ranks of all samples.

With --json, stdout holds exactly one JSON object:
  {"transfers", "seconds", "transfers_per_sec", "p50_ms", "p99_ms",
   "mean_batch", "peak_rss_mb"}
mean_batch is the transfers committed per storage commit during the timed
phase; peak_rss_mb is the process's peak resident memory in MiB.`,
		Example: `  tongbao bench ledger --json
  tongbao bench ledger --transfers 200000 --clients 16 --request 100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchLedger(cmd.Context(), o, m.Stdout, m.Stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "folder in which the temporary data folder is made (default: the system's temporary folder)")
	f.StringVar(&o.db, "db", "sqlite", benchDBUsage)
	f.IntVar(&o.accounts, "accounts", benchAccountsDefault, "wallets to create (besides the one issuer account)")
	f.IntVar(&o.transfers, "transfers", benchTransfersDefault, "transfers to submit in the timed phase")
	f.IntVar(&o.clients, "clients", benchClientsDefault, "concurrent clients, each with one request in flight")
	f.IntVar(&o.batchMax, "batch-max", ledger.DefaultBatchMax, "most transfers one commit writes (the ledger's BatchMax)")
	f.IntVar(&o.request, "request", benchRequestDefault, "transfers per client request, at most --batch-max")
	f.Float64Var(&o.hot, "hot", benchHotDefault, "share of transfers, 0 to 1, that have the hot (issuer) account on one side")
	f.BoolVar(&o.json, "json", false, "print the figures as one JSON object on stdout")
	f.IntVar(&o.memoryLimitMiB, "memory-limit", 768, "soft memory limit of the Go runtime in MiB, as GOMEMLIMIT (0: none)")
	return cmd
}

// check validates the flags and fills in the request size.
func (o *benchLedgerOptions) check() error {
	if err := checkBenchDB(o.db); err != nil {
		return err
	}
	switch {
	case o.accounts < 2 || o.accounts > benchAccountsMax:
		return fmt.Errorf("--accounts %d: want 2 to %d (a transfer needs two distinct wallets)", o.accounts, benchAccountsMax)
	case o.transfers < 1 || o.transfers > benchTransfersMax:
		return fmt.Errorf("--transfers %d: want 1 to %d", o.transfers, benchTransfersMax)
	case o.clients < 1 || o.clients > benchClientsMax:
		return fmt.Errorf("--clients %d: want 1 to %d", o.clients, benchClientsMax)
	case o.batchMax < 1:
		return fmt.Errorf("--batch-max %d: want at least 1", o.batchMax)
	case o.request < 1:
		return fmt.Errorf("--request %d: want at least 1", o.request)
	case math.IsNaN(o.hot) || o.hot < 0 || o.hot > 1:
		return fmt.Errorf("--hot %v: want a share from 0 to 1", o.hot)
	}
	// A request may not exceed the batch maximum: the ledger would refuse it.
	if o.request > o.batchMax {
		o.request = o.batchMax
	}
	return nil
}

// benchLedgerResult is what `bench ledger --json` prints, and nothing more.
type benchLedgerResult struct {
	Transfers       int64   `json:"transfers"`
	Seconds         float64 `json:"seconds"`
	TransfersPerSec float64 `json:"transfers_per_sec"`
	LatencyP50Ms    float64 `json:"p50_ms"`
	LatencyP99Ms    float64 `json:"p99_ms"`
	MeanBatch       float64 `json:"mean_batch"`
	PeakRSSMB       float64 `json:"peak_rss_mb"`
}

// benchLedger is one run of the ledger benchmark.
type benchLedger struct {
	o       *benchLedgerOptions
	ledger  *ledger.Ledger
	issuer  tongbao.ID
	wallets []tongbao.ID

	// claimed counts the transfers that clients have taken on; done those
	// that have been answered.
	claimed atomic.Int64
	done    atomic.Int64
}

// benchClient is what one client gathers; only its goroutine writes it.
type benchClient struct {
	latencies []time.Duration
	failures  map[string]int64
}

func runBenchLedger(ctx context.Context, o *benchLedgerOptions, stdout, stderr io.Writer) (err error) {
	if o.memoryLimitMiB > 0 {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(o.memoryLimitMiB) << 20))
	}
	if err := o.check(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(o.dir, "tongbao-bench-")
	if err != nil {
		return fmt.Errorf("bench ledger: data folder: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = fmt.Errorf("bench ledger: remove data folder: %w", rerr)
		}
	}()
	store, where, drop, err := openBenchStore(ctx, o.db, dir)
	if err != nil {
		return fmt.Errorf("bench ledger: %w", err)
	}
	defer func() {
		cerr := store.Close()
		if derr := drop(); cerr == nil {
			cerr = derr
		}
		if cerr != nil && err == nil {
			err = fmt.Errorf("bench ledger: %w", cerr)
		}
	}()
	l, err := ledger.Open(ctx, ledger.Config{Store: store, BatchMax: o.batchMax})
	if err != nil {
		return fmt.Errorf("bench ledger: %w", err)
	}
	defer func() {
		if cerr := l.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("bench ledger: close: %w", cerr)
		}
	}()

	b := &benchLedger{o: o, ledger: l, issuer: tongbao.IDFromUint64(benchIssuerNumber)}
	fmt.Fprintf(stderr, "bench ledger: creating and funding %d wallets in %s\n", o.accounts, where)
	if err := b.setup(ctx); err != nil {
		return fmt.Errorf("bench ledger: setup: %w", err)
	}

	statsBefore := snapshotStats(l.Stats())
	start := time.Now()
	clients, err := b.run(ctx, stderr)
	elapsed := time.Since(start)
	if err != nil {
		return fmt.Errorf("bench ledger: %w", err)
	}
	statsAfter := snapshotStats(l.Stats())

	var latencies []time.Duration
	failures := make(map[string]int64)
	for _, c := range clients {
		latencies = append(latencies, c.latencies...)
		for msg, n := range c.failures {
			failures[msg] += n
		}
	}
	slices.Sort(latencies)
	res := benchLedgerResult{
		Transfers:       int64(o.transfers),
		Seconds:         round(elapsed.Seconds(), 3),
		TransfersPerSec: round(float64(o.transfers)/elapsed.Seconds(), 1),
		LatencyP50Ms:    round(durationMs(percentile(latencies, 0.50)), 3),
		LatencyP99Ms:    round(durationMs(percentile(latencies, 0.99)), 3),
		PeakRSSMB:       round(peakRSSMB(), 1),
	}
	if batches := statsAfter.batches - statsBefore.batches; batches > 0 {
		res.MeanBatch = round(float64(statsAfter.transfers-statsBefore.transfers)/float64(batches), 1)
	}
	if o.json {
		if len(failures) > 0 {
			printFailures(stderr, failures)
		}
		enc := json.NewEncoder(stdout)
		return enc.Encode(res)
	}
	printBenchLedger(stdout, o, res, len(latencies), failures)
	return nil
}

// setup creates the issuer and the wallets and funds every wallet from
// the issuer, in requests of at most the batch maximum. It is not timed.
func (b *benchLedger) setup(ctx context.Context) error {
	o := b.o
	b.wallets = make([]tongbao.ID, o.accounts)
	for i := range b.wallets {
		b.wallets[i] = tongbao.IDFromUint64(benchIssuerNumber + 1 + uint64(i))
	}
	accounts := make([]ledger.Account, 0, o.accounts+1)
	accounts = append(accounts, ledger.Account{ID: b.issuer, Currency: tongbao.CNY, Code: benchCodeIssuer})
	for _, id := range b.wallets {
		accounts = append(accounts, ledger.Account{
			ID:       id,
			Currency: tongbao.CNY,
			Code:     benchCodeWallet,
			Flags:    ledger.FlagDebitsMustNotExceedCredits,
		})
	}
	for chunk := range slices.Chunk(accounts, o.batchMax) {
		errs, err := b.ledger.CreateAccounts(ctx, chunk)
		if err != nil {
			return fmt.Errorf("create accounts: %w", err)
		}
		for i, err := range errs {
			if err != nil {
				return fmt.Errorf("create account %s: %w", chunk[i].ID, err)
			}
		}
	}
	funding := make([]ledger.Transfer, 0, o.batchMax)
	for wallets := range slices.Chunk(b.wallets, o.batchMax) {
		funding = funding[:0]
		for _, id := range wallets {
			funding = append(funding, ledger.Transfer{
				ID:              tongbao.NewID(),
				DebitAccountID:  b.issuer,
				CreditAccountID: id,
				Amount:          benchWalletFunding,
				Code:            benchCodeFunding,
			})
		}
		results, err := b.ledger.Submit(ctx, funding)
		if err != nil {
			return fmt.Errorf("fund wallets: %w", err)
		}
		for i, r := range results {
			if r.Err != nil {
				return fmt.Errorf("fund wallet %s: %w", funding[i].CreditAccountID, r.Err)
			}
		}
	}
	return nil
}

// run is the timed phase: the clients submit requests until the transfers
// are all submitted. The first request error stops every client.
func (b *benchLedger) run(ctx context.Context, stderr io.Writer) ([]*benchClient, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		errMu    sync.Mutex
		firstErr error
	)
	stopProgress := b.progress(stderr)
	clients := make([]*benchClient, b.o.clients)
	var wg sync.WaitGroup
	for i := range clients {
		c := &benchClient{failures: make(map[string]int64)}
		clients[i] = c
		wg.Go(func() {
			if err := b.client(ctx, c, uint64(i)); err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				errMu.Unlock()
			}
		})
	}
	wg.Wait()
	stopProgress(firstErr == nil)
	return clients, firstErr
}

// client submits requests, each built before its clock starts, until no
// transfers are left to claim.
func (b *benchLedger) client(ctx context.Context, c *benchClient, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x7467_6261_6f00_0001))
	request := int64(b.o.request)
	total := int64(b.o.transfers)
	transfers := make([]ledger.Transfer, request)
	for {
		first := b.claimed.Add(request) - request
		if first >= total {
			return nil
		}
		n := min(request, total-first)
		batch := transfers[:n]
		for i := range batch {
			batch[i] = b.transfer(rng)
		}
		start := time.Now()
		results, err := b.ledger.Submit(ctx, batch)
		latency := time.Since(start)
		if err != nil {
			return fmt.Errorf("request of %d transfers: %w", n, err)
		}
		c.latencies = append(c.latencies, latency)
		for _, r := range results {
			if r.Err != nil {
				c.failures[r.Err.Error()]++
			}
		}
		b.done.Add(n)
	}
}

// transfer makes one random transfer: with probability --hot between the
// issuer and a wallet (either way), otherwise between two distinct wallets.
func (b *benchLedger) transfer(rng *rand.Rand) ledger.Transfer {
	var debit, credit tongbao.ID
	if rng.Float64() < b.o.hot {
		wallet := b.wallets[rng.IntN(len(b.wallets))]
		if rng.IntN(2) == 0 {
			debit, credit = b.issuer, wallet
		} else {
			debit, credit = wallet, b.issuer
		}
	} else {
		i := rng.IntN(len(b.wallets))
		j := rng.IntN(len(b.wallets) - 1)
		if j >= i {
			j++
		}
		debit, credit = b.wallets[i], b.wallets[j]
	}
	return ledger.Transfer{
		ID:              tongbao.NewID(),
		DebitAccountID:  debit,
		CreditAccountID: credit,
		Amount:          tongbao.Amount(1 + rng.IntN(benchAmountMax)),
		Code:            benchCodeTransfer,
	}
}

// progress draws a progress bar of the answered transfers on w until the
// returned function is called; complete says whether to fill the bar. The
// bar is redrawn from one goroutine on a timer, so the clients never wait
// for it.
func (b *benchLedger) progress(w io.Writer) (stop func(complete bool)) {
	bar := progressbar.NewOptions64(int64(b.o.transfers),
		// Hiding the *os.File keeps the bar from fsyncing stderr at every
		// redraw when it is redirected to a file.
		progressbar.OptionSetWriter(struct{ io.Writer }{w}),
		progressbar.OptionSetDescription("transfers"),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("transfers"),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
	// Starting the clock now, not at the first redraw, keeps the first
	// rate shown honest.
	bar.StartWithoutRender()
	_ = bar.RenderBlank()
	quit := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		ticker := time.NewTicker(benchProgressInterval)
		defer ticker.Stop()
		for {
			select {
			case <-ticker.C:
				_ = bar.Set64(b.done.Load())
			case <-quit:
				return
			}
		}
	}()
	return func(complete bool) {
		close(quit)
		<-finished
		_ = bar.Set64(b.done.Load())
		if complete {
			_ = bar.Finish()
		} else {
			_ = bar.Exit()
		}
	}
}

// statsSnapshot is a reading of the ledger's counters.
type statsSnapshot struct {
	batches, transfers int64
}

func snapshotStats(s *ledger.Stats) statsSnapshot {
	return statsSnapshot{batches: s.Batches.Load(), transfers: s.Transfers.Load()}
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 1) of
// sorted samples: the smallest sample that at least p of them do not
// exceed. It returns zero for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func durationMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// round rounds x to the given number of decimals, for figures that are
// read by people.
func round(x float64, decimals int) float64 {
	scale := math.Pow(10, float64(decimals))
	return math.Round(x*scale) / scale
}

func printBenchLedger(w io.Writer, o *benchLedgerOptions, res benchLedgerResult, requests int, failures map[string]int64) {
	fmt.Fprintf(w, "bench ledger: %d transfers between %d wallets in %.3f s\n", res.Transfers, o.accounts, res.Seconds)
	fmt.Fprintf(w, "  setup        %s, %d clients, %d transfers per request, batch max %d, %.0f%% hot\n",
		benchEngine(o.db), o.clients, o.request, o.batchMax, o.hot*100)
	fmt.Fprintf(w, "  throughput   %.0f transfers/s\n", res.TransfersPerSec)
	fmt.Fprintf(w, "  latency      p50 %.3f ms, p99 %.3f ms per request (%d requests)\n", res.LatencyP50Ms, res.LatencyP99Ms, requests)
	fmt.Fprintf(w, "  mean batch   %.1f transfers per commit\n", res.MeanBatch)
	fmt.Fprintf(w, "  peak RSS     %.1f MB\n", res.PeakRSSMB)
	if len(failures) == 0 {
		fmt.Fprintf(w, "  failures     none\n")
		return
	}
	printFailures(w, failures)
}

func printFailures(w io.Writer, failures map[string]int64) {
	msgs := make([]string, 0, len(failures))
	for msg := range failures {
		msgs = append(msgs, msg)
	}
	sort.Strings(msgs)
	for _, msg := range msgs {
		fmt.Fprintf(w, "  failures     %d: %s\n", failures[msg], msg)
	}
}
