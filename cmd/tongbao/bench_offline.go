package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/offline"
	"github.com/tongbao/tongbao/offline/offlinesql"
	"github.com/tongbao/tongbao/twotier"
)

// Defaults and limits of `tongbao bench offline`.
const (
	benchOfflinePayersDefault = 1024
	benchOfflinePayersMax     = 100_000
	benchOfflineTokensDefault = 64
	benchOfflineTokensMax     = 1000
	benchOfflineBatchDefault  = 4096
	benchOfflineClientsMax    = 64
	benchOfflinePayees        = 64
	benchOfflineRawDefault    = 3 * time.Second
	// benchOfflineLoad is what each payer device loads; each token pays
	// 0.01 of it.
	benchOfflineLoad = tongbao.Amount(100_00)
)

// benchOfflineCaps lets a bench device sign all its tokens without a
// sync: the count cap is the only one the bench would otherwise meet.
var benchOfflineCaps = offline.Caps{PerPayment: 500_00, Balance: 1000_00, Payments: benchOfflineTokensMax}

type benchOfflineOptions struct {
	dir     string
	payers  int
	tokens  int
	batch   int
	clients int
	seed    uint64
	raw     time.Duration
	json    bool
}

func (m *Main) benchOfflineCommand() *cobra.Command {
	o := &benchOfflineOptions{}
	cmd := &cobra.Command{
		Use:   "offline",
		Short: "Measure sync: offline tokens verified and settled per second, against raw Ed25519 verifications",
		Long: `offline measures what a node does when devices reconnect: the tokens they
signed offline arrive in batches, and each is verified (its certificate and its
signature), checked against its device's record (counter, chain, purse),
stored, and paid on the ledger, durably, before the batch is answered.

Setup (not measured): a node's stores on SQLite files in a fresh temporary
folder, --payers devices each loaded with 100.00 and ` + fmt.Sprint(benchOfflinePayees) + ` payee devices, all
certified; each payer signs --tokens tokens of 0.01 to random payees (seeded by
--seed), as devices do, through its simulated secure element.

Sync (measured): the tokens are uploaded in the order devices reconnect in:
round after round, every payer's next token, the payers in a new random order
each round; in batches of --batch by --clients concurrent uploaders. Every token must settle once: the payees'
wallets must add up to what was paid, and the supply check must hold, or the
command fails.

Raw (measured in the same run): GOMAXPROCS goroutines verify Ed25519
signatures over messages of a token's size for --raw-duration; the ratio is tokens
settled per second over raw verifications per second (each token needs one:
its certificate's verification is remembered).

With --json, stdout holds exactly one JSON object:
  {"payers", "tokens", "batch", "clients", "seconds", "tokens_per_sec",
   "raw_verifications_per_sec", "ratio", "cpu_us_per_token", "supply_ok"}`,
		Example: `  tongbao bench offline --json
  tongbao bench offline --payers 2048 --tokens 16 --batch 4096`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchOffline(cmd.Context(), o, m.Stdout, m.Stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "folder in which the temporary data folder is made (default: the system's temporary folder)")
	f.IntVar(&o.payers, "payers", benchOfflinePayersDefault, "payer devices")
	f.IntVar(&o.tokens, "tokens", benchOfflineTokensDefault, "tokens each payer signs")
	f.IntVar(&o.batch, "batch", benchOfflineBatchDefault, "tokens per upload")
	f.IntVar(&o.clients, "clients", 4, "concurrent uploaders")
	f.Uint64Var(&o.seed, "seed", 1, "seed of the payees' choice and the upload order")
	f.DurationVar(&o.raw, "raw-duration", benchOfflineRawDefault, "how long the raw verifications are measured")
	f.BoolVar(&o.json, "json", false, "print the figures as one JSON object on stdout")
	return cmd
}

func (o *benchOfflineOptions) check() error {
	switch {
	case o.payers < 1 || o.payers > benchOfflinePayersMax:
		return fmt.Errorf("--payers %d: want 1 to %d", o.payers, benchOfflinePayersMax)
	case o.tokens < 1 || o.tokens > benchOfflineTokensMax:
		return fmt.Errorf("--tokens %d: want 1 to %d", o.tokens, benchOfflineTokensMax)
	case o.batch < 1 || o.batch > offline.UploadMax:
		return fmt.Errorf("--batch %d: want 1 to %d", o.batch, offline.UploadMax)
	case o.clients < 1 || o.clients > benchOfflineClientsMax:
		return fmt.Errorf("--clients %d: want 1 to %d", o.clients, benchOfflineClientsMax)
	case o.raw <= 0:
		return fmt.Errorf("--raw-duration %s: want more than 0", o.raw)
	}
	return nil
}

// benchOfflineResult is what `bench offline --json` prints.
type benchOfflineResult struct {
	Payers       int     `json:"payers"`
	Tokens       int     `json:"tokens"`
	Batch        int     `json:"batch"`
	Clients      int     `json:"clients"`
	Seconds      float64 `json:"seconds"`
	TokensPerSec float64 `json:"tokens_per_sec"`
	// RawPerSec is Ed25519 verifications per second on GOMAXPROCS
	// goroutines, and Ratio TokensPerSec over it.
	RawPerSec      float64 `json:"raw_verifications_per_sec"`
	Ratio          float64 `json:"ratio"`
	CPUUsPerToken  float64 `json:"cpu_us_per_token"`
	SupplyOK       bool    `json:"supply_ok"`
	GOMAXPROCS     int     `json:"gomaxprocs"`
	SetupSeconds   float64 `json:"setup_seconds"`
	VerifySeconds  float64 `json:"raw_seconds"`
	TokensExpected int     `json:"-"`
}

func runBenchOffline(ctx context.Context, o *benchOfflineOptions, stdout, stderr io.Writer) (err error) {
	if err := o.check(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(o.dir, "tongbao-bench-offline-")
	if err != nil {
		return fmt.Errorf("bench offline: data folder: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = fmt.Errorf("bench offline: remove data folder: %w", rerr)
		}
	}()
	// The devices' sealed states are setup, not the figure: they go to
	// memory where the system has a memory file system.
	devDir, err := os.MkdirTemp(benchScratch(), "tongbao-bench-devices-")
	if err != nil {
		return fmt.Errorf("bench offline: devices folder: %w", err)
	}
	defer os.RemoveAll(devDir)

	setupStart := time.Now()
	fmt.Fprintf(stderr, "bench offline: setting up %d payer and %d payee devices, %d tokens each\n", o.payers, benchOfflinePayees, o.tokens)
	n, err := openBenchNode(ctx, dir, benchOfflineLoad*tongbao.Amount(o.payers))
	if err != nil {
		return fmt.Errorf("bench offline: %w", err)
	}
	defer n.close()
	ostore, err := offlinesql.Open(ctx, filepath.Join(dir, "offline.db"))
	if err != nil {
		return fmt.Errorf("bench offline: %w", err)
	}
	n.closers = append(n.closers, ostore.Close)
	svc, err := offline.New(ctx, offline.Config{Payments: n.payments, Store: ostore, Caps: map[tongbao.ID]offline.Caps{n.operator: benchOfflineCaps}})
	if err != nil {
		return fmt.Errorf("bench offline: %w", err)
	}
	rng := mrand.New(mrand.NewPCG(o.seed, o.seed^0x5eed))
	payees := make([]*offline.Element, benchOfflinePayees)
	payeeWallets := make([]tongbao.ID, benchOfflinePayees)
	for i := range payees {
		if payees[i], payeeWallets[i], err = benchOfflineDevice(ctx, n, svc, filepath.Join(devDir, fmt.Sprintf("payee-%d", i)), 0); err != nil {
			return fmt.Errorf("bench offline: payee: %w", err)
		}
	}
	tokens, err := benchOfflineTokens(ctx, n, svc, devDir, o, payees, rng, stderr)
	if err != nil {
		return fmt.Errorf("bench offline: %w", err)
	}
	res := benchOfflineResult{Payers: o.payers, Tokens: len(tokens), Batch: o.batch, Clients: o.clients, GOMAXPROCS: runtime.GOMAXPROCS(0), SetupSeconds: time.Since(setupStart).Seconds()}

	fmt.Fprintf(stderr, "bench offline: uploading %d tokens in batches of %d from %d clients\n", len(tokens), o.batch, o.clients)
	var settled, next atomic.Int64
	stop := benchProgressLines(stderr, "tokens settled", &settled)
	cpu0, t0 := cpuTime(), time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, o.clients)
	for range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(int64(o.batch))) - o.batch
				if lo >= len(tokens) {
					return
				}
				r, err := svc.Sync(ctx, tongbao.ID{}, tokens[lo:min(lo+o.batch, len(tokens))])
				if err != nil {
					errs <- err
					return
				}
				for _, t := range r.Results {
					if t.Result != offline.ResultSettled {
						errs <- fmt.Errorf("token %v: %s (%v)", t.Hash, t.Result, t.Problem)
						return
					}
				}
				settled.Add(int64(len(r.Results)))
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(t0), cpuTime()-cpu0
	stop()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("bench offline: sync: %w", err)
	}
	res.Seconds = elapsed.Seconds()
	res.TokensPerSec = float64(len(tokens)) / elapsed.Seconds()
	res.CPUUsPerToken = float64(cpu.Microseconds()) / float64(len(tokens))

	var credited tongbao.Amount
	for _, w := range payeeWallets {
		b, err := n.payments.Balance(ctx, w)
		if err != nil {
			return fmt.Errorf("bench offline: %w", err)
		}
		credited += b
	}
	if want := tongbao.Amount(len(tokens)); credited != want {
		return fmt.Errorf("bench offline: the payees hold %v; want %v: a token was lost or paid twice", credited, want)
	}
	report, err := n.payments.SupplyReport(ctx)
	if err != nil {
		return fmt.Errorf("bench offline: %w", err)
	}
	if res.SupplyOK = report.OK; !report.OK {
		return fmt.Errorf("bench offline: the supply check failed: %+v", report)
	}

	fmt.Fprintf(stderr, "bench offline: raw Ed25519 verifications for %s on %d goroutines\n", o.raw, runtime.GOMAXPROCS(0))
	raw, secs, err := benchRawVerify(len(tokens[0]), o.raw)
	if err != nil {
		return fmt.Errorf("bench offline: %w", err)
	}
	res.RawPerSec, res.VerifySeconds = raw, secs
	res.Ratio = res.TokensPerSec / res.RawPerSec
	if o.json {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "sync     %10.0f tokens/s verified and settled  %5.1f µs CPU each  (%d tokens, %d payers, batches of %d, %d clients, %.1f s, supply %s)\n",
		res.TokensPerSec, res.CPUUsPerToken, res.Tokens, res.Payers, res.Batch, res.Clients, res.Seconds, okWord(res.SupplyOK))
	fmt.Fprintf(stdout, "raw      %10.0f Ed25519 verifications/s  (%d goroutines)\n", res.RawPerSec, res.GOMAXPROCS)
	fmt.Fprintf(stdout, "ratio    %10.2f\n", res.Ratio)
	return nil
}

// benchScratch is where setup files that need no durability go: memory
// when the system has /dev/shm.
func benchScratch() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return ""
}

// benchOfflineDevice makes a device for a new wallet with funds,
// certified and, with load > 0, loaded.
func benchOfflineDevice(ctx context.Context, n *benchNode, svc *offline.Service, dir string, load tongbao.Amount) (*offline.Element, tongbao.ID, error) {
	w, err := n.payments.OpenWallet(ctx, twotier.WalletSpec{Operator: n.operator, Category: twotier.Category2, HolderName: "持有人"})
	if err != nil {
		return nil, tongbao.ID{}, err
	}
	el, err := offline.InitDevice(dir, nil)
	if err != nil {
		return nil, tongbao.ID{}, err
	}
	d, err := svc.Certify(ctx, offline.CertifyRequest{Device: el.ID(), Wallet: w.ID, Key: el.PublicKey()})
	if err != nil {
		return nil, tongbao.ID{}, err
	}
	if err := el.Install(d.Certificate, svc.PublicKeys(), nil); err != nil {
		return nil, tongbao.ID{}, err
	}
	if load > 0 {
		if _, err := n.payments.TopUp(ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: w.ID, Amount: load}); err != nil {
			return nil, tongbao.ID{}, err
		}
		l, err := svc.Load(ctx, tongbao.NewID(), el.ID(), load)
		if err != nil {
			return nil, tongbao.ID{}, err
		}
		if _, err := el.AcceptVoucher(l.Voucher); err != nil {
			return nil, tongbao.ID{}, err
		}
	}
	return el, w.ID, nil
}

// benchOfflineTokens makes the payers, from concurrent workers, and has
// each sign its tokens.
func benchOfflineTokens(ctx context.Context, n *benchNode, svc *offline.Service, devDir string, o *benchOfflineOptions, payees []*offline.Element, rng *mrand.Rand, stderr io.Writer) ([][]byte, error) {
	picks := make([][]int, o.payers)
	for i := range picks {
		picks[i] = make([]int, o.tokens)
		for j := range picks[i] {
			picks[i][j] = rng.IntN(len(payees))
		}
	}
	out := make([][][]byte, o.payers)
	var made atomic.Int64
	stop := benchProgressLines(stderr, "payers ready", &made)
	defer stop()
	var wg sync.WaitGroup
	var next atomic.Int64
	errs := make(chan error, runtime.GOMAXPROCS(0)*2)
	for range cap(errs) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= o.payers {
					return
				}
				el, _, err := benchOfflineDevice(ctx, n, svc, filepath.Join(devDir, fmt.Sprintf("payer-%d", i)), benchOfflineLoad)
				if err != nil {
					errs <- err
					return
				}
				for _, p := range picks[i] {
					raw, err := el.Pay(payees[p].ID(), 1)
					if err != nil {
						errs <- err
						return
					}
					out[i] = append(out[i], raw)
				}
				made.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	// The order devices reconnect in: round after round, every payer's
	// next token, the payers in a new random order each round. So each
	// device's tokens arrive in the order it signed them, mixed with the
	// others', as when payees sync their inboxes over a day.
	var all [][]byte
	order := make([]int, o.payers)
	for i := range order {
		order[i] = i
	}
	for round := range o.tokens {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, p := range order {
			all = append(all, out[p][round])
		}
	}
	return all, nil
}

// benchRawVerify verifies Ed25519 signatures over messages of size bytes
// on GOMAXPROCS goroutines for d, and returns verifications per second.
func benchRawVerify(size int, d time.Duration) (float64, float64, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return 0, 0, err
	}
	msg := make([]byte, size)
	if _, err := rand.Read(msg); err != nil {
		return 0, 0, err
	}
	sig := ed25519.Sign(priv, msg)
	var count atomic.Int64
	var bad atomic.Bool
	deadline := time.Now().Add(d)
	t0 := time.Now()
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				for range 64 {
					if !ed25519.Verify(pub, msg, sig) {
						bad.Store(true)
					}
				}
				count.Add(64)
			}
		}()
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	if bad.Load() {
		return 0, 0, errors.New("a raw verification failed")
	}
	return float64(count.Load()) / secs, secs, nil
}
