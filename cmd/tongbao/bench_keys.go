package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/tongbao/tongbao/httpapi/wire"
)

// Defaults and limits of `tongbao bench keys`.
const (
	benchKeysDefault        = 100_000
	benchKeysMax            = 10_000_000
	benchKeysClientsDefault = 64
	benchKeysWalletsDefault = 64
	// benchKeysTimeout bounds the whole run.
	benchKeysTimeout = time.Hour
)

type benchKeysOptions struct {
	dir     string
	keys    int
	clients int
	wallets int
	json    bool
}

func (m *Main) benchKeysCommand() *cobra.Command {
	o := &benchKeysOptions{}
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Measure how fast an operator issues API keys",
		Long: `keys starts the whole system and its HTTP API on loopback over a fresh
SQLite data folder (removed at the end), opens --wallets wallets at one
operator, and has the operator's admin issue --keys holder keys, spread
over the wallets, with --clients concurrent clients, each with one POST
/v1/keys in flight. Every key is durable (fsynced) before it is answered.
It reports the keys per second, the latency of a request and the size of
keys.db. With --json, stdout gets one JSON object and nothing else.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchKeys(cmd.Context(), o, m.Stdout, m.Stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "where to make the temporary data folder (default: the system's temporary folder)")
	f.IntVar(&o.keys, "keys", benchKeysDefault, "keys to issue")
	f.IntVar(&o.clients, "clients", benchKeysClientsDefault, "concurrent clients")
	f.IntVar(&o.wallets, "wallets", benchKeysWalletsDefault, "wallets the keys are for")
	f.BoolVar(&o.json, "json", false, "print the figures as one JSON object on stdout")
	return cmd
}

// benchKeysResult is what `bench keys --json` prints.
type benchKeysResult struct {
	Keys       int64   `json:"keys"`
	Failed     int64   `json:"failed"`
	Seconds    float64 `json:"seconds"`
	KeysPerSec float64 `json:"keys_per_sec"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	// CPUUsPerKey is the CPU time of the whole process per key.
	CPUUsPerKey float64 `json:"cpu_us_per_key"`
	// KeysDBBytes is the size of keys.db (and its WAL) at the end.
	KeysDBBytes int64 `json:"keys_db_bytes"`
}

func runBenchKeys(ctx context.Context, o *benchKeysOptions, stdout, stderr io.Writer) error {
	switch {
	case o.keys < 1 || o.keys > benchKeysMax:
		return fmt.Errorf("--keys %d: want 1 to %d", o.keys, benchKeysMax)
	case o.clients < 1 || o.clients > benchAPIClientsMax:
		return fmt.Errorf("--clients %d: want 1 to %d", o.clients, benchAPIClientsMax)
	case o.wallets < 1 || o.wallets > benchAPIWalletsMax:
		return fmt.Errorf("--wallets %d: want 1 to %d", o.wallets, benchAPIWalletsMax)
	}
	ctx, cancel := context.WithTimeout(ctx, benchKeysTimeout)
	defer cancel()
	srv, err := startBenchServer(ctx, o.dir, "tongbao-bench-keys-", stderr)
	if err != nil {
		return err
	}
	defer srv.close()
	addr, cb, op := srv.addr, srv.cb, srv.op
	k, err := cb.CreateKey(ctx, wire.CreateKey{Role: wire.RoleOperatorAdmin, Operator: &op.ID})
	if err != nil {
		return err
	}
	admin := cb.WithKey(k.Secret)
	fmt.Fprintf(stderr, "opening %d wallets\n", o.wallets)
	bodies := make([][]byte, o.wallets)
	for i := range bodies {
		w, err := admin.OpenWallet(ctx, fmt.Sprintf("bench-wallet-%d", i), op.ID, wire.OpenWallet{Category: 1, HolderName: "Bench", HolderLimits: &wire.Limits{}})
		if err != nil {
			return fmt.Errorf("bench keys: setup: %w", err)
		}
		bodies[i], _ = json.Marshal(wire.CreateKey{Role: wire.RoleHolder, Wallet: &w.ID})
	}

	bar := progressbar.NewOptions64(int64(o.keys),
		progressbar.OptionSetWriter(struct{ io.Writer }{stderr}),
		progressbar.OptionSetDescription("keys"),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }))
	var next, made, failed atomic.Int64
	var firstErr atomic.Value
	lat := make([][]time.Duration, o.clients)
	cpuStart, start := cpuTime(), time.Now()
	var wg sync.WaitGroup
	for c := range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := newBenchConn(addr, k.Secret)
			defer conn.close()
			for i := next.Add(1) - 1; i < int64(o.keys) && ctx.Err() == nil; i = next.Add(1) - 1 {
				t0 := time.Now()
				status, answer, err := conn.post(ctx, "/v1/keys", bodies[i%int64(len(bodies))])
				lat[c] = append(lat[c], time.Since(t0))
				if err == nil && status != http.StatusCreated {
					err = benchStatusError(status, answer)
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				made.Add(1)
			}
		}()
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
			bar.Set64(made.Load() + failed.Load())
		}
	}
	bar.Set64(made.Load() + failed.Load())
	bar.Finish()
	elapsed, cpu := time.Since(start), cpuTime()-cpuStart
	if err, ok := firstErr.Load().(error); ok {
		fmt.Fprintf(stderr, "keys: first failure: %v\n", err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("bench keys: %w", ctx.Err())
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	res := benchKeysResult{
		Keys: made.Load(), Failed: failed.Load(), Seconds: round(elapsed.Seconds(), 2),
		KeysPerSec: round(float64(made.Load())/elapsed.Seconds(), 0),
		P50Ms:      ms(percentile(all, 0.50)), P99Ms: ms(percentile(all, 0.99)),
	}
	if m := made.Load(); m > 0 {
		res.CPUUsPerKey = round(float64(cpu.Microseconds())/float64(m), 1)
	}
	for _, f := range []string{nodeKeysDBFile, nodeKeysDBFile + "-wal"} {
		if fi, err := os.Stat(filepath.Join(srv.dir, f)); err == nil {
			res.KeysDBBytes += fi.Size()
		}
	}
	if o.json {
		b, _ := json.Marshal(res)
		_, err := fmt.Fprintln(stdout, string(b))
		return err
	}
	_, err = fmt.Fprintf(stdout, "keys %10.0f keys/s  p50 %6.2f ms  p99 %6.2f ms  %5.1f µs CPU each  (%d keys, %d failed, %.1f s, keys.db %s)\n",
		res.KeysPerSec, res.P50Ms, res.P99Ms, res.CPUUsPerKey, res.Keys, res.Failed, res.Seconds, byteSize(res.KeysDBBytes))
	return err
}

// byteSize formats a size in bytes for a person.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
