package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/contract"
	"github.com/tongbao/tongbao/contract/contractsql"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/sqlite"
	"github.com/tongbao/tongbao/twotier"
	"github.com/tongbao/tongbao/twotier/twotiersql"
)

// Defaults and limits of `tongbao bench contracts`.
const (
	benchContractsDefault         = 1024
	benchContractsMax             = 100_000
	benchContractsClientsDefault  = 64
	benchContractsClientsMax      = 4096
	benchContractsDurationDefault = 10 * time.Second
	benchContractsDurationMax     = time.Hour
	// benchContractsSetupWorkers open the wallets and deploy the
	// contracts concurrently, so that the setup's commits are grouped.
	benchContractsSetupWorkers = 32
	// benchContractsFunding is what each payer is given: 100,000.00, far
	// more than an hour of one-fen payments takes out, and within a
	// category 2 wallet's balance cap.
	benchContractsFunding = tongbao.Amount(100_000_00)
	// benchContractsPayment is what one invocation moves: 0.01.
	benchContractsPayment = "0.01"
	// benchEvalSampleEvery: one evaluation in this many is timed on its
	// own for the latency figures; the clock read would otherwise weigh
	// on a figure of a few microseconds.
	benchEvalSampleEvery = 8
	// benchEvalCheckEvery is how many evaluations a goroutine runs between
	// looks at the stop flag.
	benchEvalCheckEvery = 64
	// benchBeneficiaries is the length of the subsidy's list of
	// beneficiaries the membership test scans.
	benchBeneficiaries = 64
)

type benchContractsOptions struct {
	dir        string
	contracts  int
	clients    int
	goroutines int
	duration   time.Duration
	json       bool
}

func (m *Main) benchContractsCommand() *cobra.Command {
	o := &benchContractsOptions{}
	cmd := &cobra.Command{
		Use:   "contracts",
		Short: "Measure the contracts: condition evaluations and contract-triggered payments per second",
		Long: `contracts measures the contract engine in process, in two phases of --duration each.

Conditions: the requirements of the shipped templates (the credit line's limit,
the hash time-lock's deadline and preimage, the subsidy's beneficiaries and
per-holder ceiling) are compiled as a deployment compiles them and evaluated,
round robin, on realistic variables by --goroutines goroutines (GOMAXPROCS by
default). One evaluation in 8 is timed for the latency figures.

Payments: a node's stores on SQLite files in a fresh temporary folder (the
ledger, the two-tier domain, the contracts), --contracts contracts each
between its own payer and payee, each with a request trigger that checks the
payer's balance and transfers 0.01 from payer to payee. --clients concurrent
clients then make requests on random contracts, each with a fresh idempotency
key, until --duration has passed. A request is answered once its invocation,
its transfer and its outcome are durable (fsynced) in both the ledger and the
contract store. At the end the payees' balances must add up to the payments
counted and the supply check must hold, or the command fails.

With --json, stdout holds exactly one JSON object:
  {"conditions": {"expressions", "goroutines", "seconds", "evaluations",
     "evaluations_per_sec", "p50_us", "p99_us"},
   "payments": {"contracts", "clients", "seconds", "payments", "failed",
     "payments_per_sec", "p50_ms", "p99_ms", "cpu_us_per_payment", "supply_ok"}}`,
		Example: `  tongbao bench contracts --json
  tongbao bench contracts --duration 30s --clients 128`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchContracts(cmd.Context(), o, m.Stdout, m.Stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", "", "folder in which the temporary data folder is made (default: the system's temporary folder)")
	f.IntVar(&o.contracts, "contracts", benchContractsDefault, "contracts to deploy, each between its own two wallets")
	f.IntVar(&o.clients, "clients", benchContractsClientsDefault, "concurrent clients, each with one request in flight")
	f.IntVar(&o.goroutines, "goroutines", 0, "goroutines evaluating conditions (0: GOMAXPROCS)")
	f.DurationVar(&o.duration, "duration", benchContractsDurationDefault, "how long each phase runs")
	f.BoolVar(&o.json, "json", false, "print the figures as one JSON object on stdout")
	return cmd
}

func (o *benchContractsOptions) check() error {
	switch {
	case o.contracts < 1 || o.contracts > benchContractsMax:
		return fmt.Errorf("--contracts %d: want 1 to %d", o.contracts, benchContractsMax)
	case o.clients < 1 || o.clients > benchContractsClientsMax:
		return fmt.Errorf("--clients %d: want 1 to %d", o.clients, benchContractsClientsMax)
	case o.goroutines < 0 || o.goroutines > benchContractsClientsMax:
		return fmt.Errorf("--goroutines %d: want 0 (GOMAXPROCS) to %d", o.goroutines, benchContractsClientsMax)
	case o.duration <= 0 || o.duration > benchContractsDurationMax:
		return fmt.Errorf("--duration %s: want more than 0 and at most %s", o.duration, benchContractsDurationMax)
	}
	if o.goroutines == 0 {
		o.goroutines = runtime.GOMAXPROCS(0)
	}
	return nil
}

// benchContractsResult is what `bench contracts --json` prints.
type benchContractsResult struct {
	Conditions benchConditionsResult `json:"conditions"`
	Payments   benchPaymentsResult   `json:"payments"`
}

type benchConditionsResult struct {
	Expressions       int     `json:"expressions"`
	Goroutines        int     `json:"goroutines"`
	Seconds           float64 `json:"seconds"`
	Evaluations       int64   `json:"evaluations"`
	EvaluationsPerSec float64 `json:"evaluations_per_sec"`
	P50Us             float64 `json:"p50_us"`
	P99Us             float64 `json:"p99_us"`
}

type benchPaymentsResult struct {
	Contracts      int     `json:"contracts"`
	Clients        int     `json:"clients"`
	Seconds        float64 `json:"seconds"`
	Payments       int64   `json:"payments"`
	Failed         int64   `json:"failed"`
	PaymentsPerSec float64 `json:"payments_per_sec"`
	P50Ms          float64 `json:"p50_ms"`
	P99Ms          float64 `json:"p99_ms"`
	// CPUUsPerPayment is the CPU time of the whole process per payment.
	CPUUsPerPayment float64 `json:"cpu_us_per_payment"`
	// SupplyOK is the supply check after the run.
	SupplyOK bool `json:"supply_ok"`
}

func runBenchContracts(ctx context.Context, o *benchContractsOptions, stdout, stderr io.Writer) (err error) {
	if err := o.check(); err != nil {
		return err
	}
	var res benchContractsResult
	fmt.Fprintf(stderr, "bench contracts: evaluating conditions for %s on %d goroutines\n", o.duration, o.goroutines)
	if res.Conditions, err = benchConditions(o, stderr); err != nil {
		return fmt.Errorf("bench contracts: conditions: %w", err)
	}
	dir, err := os.MkdirTemp(o.dir, "tongbao-bench-contracts-")
	if err != nil {
		return fmt.Errorf("bench contracts: data folder: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = fmt.Errorf("bench contracts: remove data folder: %w", rerr)
		}
	}()
	if res.Payments, err = benchPayments(ctx, o, dir, stderr); err != nil {
		return fmt.Errorf("bench contracts: payments: %w", err)
	}
	if o.json {
		return json.NewEncoder(stdout).Encode(res)
	}
	c, p := res.Conditions, res.Payments
	fmt.Fprintf(stdout, "conditions %10.0f evaluations/s  p50 %6.2f µs  p99 %6.2f µs  (%d expressions, %d goroutines, %.1f s)\n",
		c.EvaluationsPerSec, c.P50Us, c.P99Us, c.Expressions, c.Goroutines, c.Seconds)
	fmt.Fprintf(stdout, "payments   %10.0f payments/s     p50 %6.2f ms  p99 %6.2f ms  %5.1f µs CPU each  (%d contracts, %d clients, %d payments, %d failed, %.1f s, supply %s)\n",
		p.PaymentsPerSec, p.P50Ms, p.P99Ms, p.CPUUsPerPayment, p.Contracts, p.Clients, p.Payments, p.Failed, p.Seconds, okWord(p.SupplyOK))
	return nil
}

// benchCondition is a template's requirement and variables on which it
// holds, as an invocation of that template would see them.
type benchCondition struct {
	name string
	expr string
	vars *contract.Vars
}

// benchConditionSet returns the requirements of the credit, hash
// time-lock and subsidy templates with their variables.
func benchConditionSet() []benchCondition {
	now := time.Date(2027, 3, 1, 9, 30, 0, 0, time.UTC)
	contractVars := map[string]any{"taken_in": int64(0), "paid_out": int64(0), "refunded": int64(0), "balance": int64(0),
		"held": int64(8000), "activated_at": now.Add(-time.Hour), "invocations": int64(1)}
	sum := sha256.Sum256([]byte("open sesame"))
	htlc := &contract.Vars{
		Params:   map[string]any{"amount": "80.00", "hash": hex.EncodeToString(sum[:]), "deadline": now.Add(time.Hour).Format(time.RFC3339)},
		State:    map[string]any{},
		Event:    map[string]any{"name": "claim", "by": "payee", "wallet": tongbao.IDFromUint64(12).String(), "data": map[string]any{"preimage": "open sesame"}},
		Contract: contractVars,
		Balance:  map[string]int64{"payer": 42000, "payee": 0},
		Now:      now,
	}
	credit := &contract.Vars{
		Params:   map[string]any{"limit": "5000.00"},
		State:    map[string]any{"drawn": int64(120_00)},
		Event:    map[string]any{"name": "pay", "by": "merchant", "wallet": tongbao.IDFromUint64(21).String(), "data": map[string]any{"amount": int64(300_00), "to": tongbao.IDFromUint64(23).String()}},
		Contract: contractVars,
		Balance:  map[string]int64{"merchant": 250_00, "lender": 1_000_000_00},
		Now:      now,
	}
	beneficiaries := make([]any, benchBeneficiaries)
	spent := map[string]any{}
	for i := range beneficiaries {
		w := tongbao.IDFromUint64(uint64(1000 + i)).String()
		beneficiaries[i] = w
		if i%2 == 0 {
			spent[w] = int64(10_00 * (i%5 + 1))
		}
	}
	// The wallet that spends is the last of the list: the membership
	// test scans it all.
	spender := beneficiaries[len(beneficiaries)-1].(string)
	spent[spender] = int64(20_00)
	subsidy := &contract.Vars{
		Params: map[string]any{"budget": "100000.00", "per_holder": "200.00", "beneficiaries": beneficiaries},
		State:  map[string]any{"spent": spent},
		Event: map[string]any{"name": "spend", "by": spender, "wallet": spender,
			"data": map[string]any{"amount": int64(35_50), "merchant": tongbao.IDFromUint64(99).String()}},
		Contract: contractVars,
		Balance:  map[string]int64{"funder": 5_000_000_00},
		Now:      now,
	}
	return []benchCondition{
		{"credit: within the limit", "state.?drawn.orValue(0) + math.greatest(0, int(event.data.amount) - balance.merchant) <= amount(params.limit)", credit},
		{"credit: positive amount", "int(event.data.amount) > 0", credit},
		{"htlc: before the deadline", "now < timestamp(params.deadline)", htlc},
		{"htlc: the preimage", "sha256hex(string(event.data.preimage)) == params.hash", htlc},
		{"subsidy: a beneficiary", "event.wallet in params.beneficiaries", subsidy},
		{"subsidy: within the ceiling", "(has(state.spent) && event.wallet in state.spent ? state.spent[event.wallet] : 0) + int(event.data.amount) <= amount(params.per_holder)", subsidy},
	}
}

// benchConditions compiles the condition set and evaluates it from
// o.goroutines goroutines for o.duration. Every evaluation must hold: a
// false or failed one stops the run, since it would measure the wrong
// path.
func benchConditions(o *benchContractsOptions, stderr io.Writer) (benchConditionsResult, error) {
	set := benchConditionSet()
	evals := make([]func(*contract.Vars) (bool, error), len(set))
	for i, c := range set {
		f, err := contract.ConditionBench(c.expr)
		if err != nil {
			return benchConditionsResult{}, fmt.Errorf("%s: %w", c.name, err)
		}
		if ok, err := f(c.vars); err != nil || !ok {
			return benchConditionsResult{}, fmt.Errorf("%s: %v, %v; want true", c.name, ok, err)
		}
		evals[i] = f
	}
	var (
		stop    atomic.Bool
		count   atomic.Int64
		errOnce sync.Once
		first   error
	)
	samples := make([][]time.Duration, o.goroutines)
	stopProgress := benchProgressLines(stderr, "evaluations", &count)
	start := time.Now()
	timer := time.AfterFunc(o.duration, func() { stop.Store(true) })
	defer timer.Stop()
	var wg sync.WaitGroup
	for g := range o.goroutines {
		wg.Go(func() {
			var n int64
			for i := g; !stop.Load(); {
				for range benchEvalCheckEvery {
					k := i % len(set)
					var ok bool
					var err error
					if n%benchEvalSampleEvery == 0 {
						t0 := time.Now()
						ok, err = evals[k](set[k].vars)
						samples[g] = append(samples[g], time.Since(t0))
					} else {
						ok, err = evals[k](set[k].vars)
					}
					if err != nil || !ok {
						errOnce.Do(func() { first = fmt.Errorf("%s: %v, %v; want true", set[k].name, ok, err) })
						stop.Store(true)
						break
					}
					i++
					n++
				}
				count.Add(benchEvalCheckEvery)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	stopProgress()
	if first != nil {
		return benchConditionsResult{}, first
	}
	var all []time.Duration
	for _, s := range samples {
		all = append(all, s...)
	}
	slices.Sort(all)
	us := func(d time.Duration) float64 { return round(float64(d)/float64(time.Microsecond), 2) }
	return benchConditionsResult{
		Expressions:       len(set),
		Goroutines:        o.goroutines,
		Seconds:           round(elapsed.Seconds(), 2),
		Evaluations:       count.Load(),
		EvaluationsPerSec: round(float64(count.Load())/elapsed.Seconds(), 0),
		P50Us:             us(percentile(all, 0.50)),
		P99Us:             us(percentile(all, 0.99)),
	}, nil
}

// benchProgressLines prints a line with the count and its rate over the
// last second to w every second, until the returned function is called.
func benchProgressLines(w io.Writer, what string, count *atomic.Int64) (stop func()) {
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		last, at := count.Load(), time.Now()
		for {
			select {
			case now := <-tick.C:
				n := count.Load()
				fmt.Fprintf(w, "  %d %s, %.0f/s\n", n, what, float64(n-last)/now.Sub(at).Seconds())
				last, at = n, now
			case <-quit:
				return
			}
		}
	}()
	return func() { close(quit); <-finished }
}

// benchNode is a benchmark's node: the ledger and the two-tier domain
// (and the domain measured: see openBenchContracts), on SQLite files in
// one folder.
type benchNode struct {
	payments *twotier.Service
	svc      *contract.Service
	operator tongbao.ID
	closers  []func() error
}

func (n *benchNode) close() error {
	var err error
	for _, c := range slices.Backward(n.closers) {
		err = errors.Join(err, c())
	}
	return err
}

// openBenchContracts opens a bench node with the contract store and
// service.
func openBenchContracts(ctx context.Context, dir string, o *benchContractsOptions) (*benchNode, error) {
	n, err := openBenchNode(ctx, dir, benchContractsFunding*tongbao.Amount(o.contracts))
	if err != nil {
		return nil, err
	}
	cstore, err := contractsql.Open(ctx, filepath.Join(dir, "contract.db"))
	if err != nil {
		n.close()
		return nil, err
	}
	n.closers = append(n.closers, cstore.Close)
	if n.svc, err = contract.New(contract.Config{Payments: n.payments, Store: cstore}); err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

// openBenchNode opens the ledger's and the two-tier domain's stores as a
// node does (cmd/tongbao/node.go) in dir, and a central bank and one
// operator with reserves and issued currency total.
func openBenchNode(ctx context.Context, dir string, total tongbao.Amount) (n *benchNode, err error) {
	n = &benchNode{operator: tongbao.IDFromUint64(2)}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	lstore, err := sqlite.Open(ctx, filepath.Join(dir, "ledger.db"))
	if err != nil {
		return n, err
	}
	n.closers = append(n.closers, lstore.Close)
	l, err := ledger.Open(ctx, ledger.Config{Store: lstore})
	if err != nil {
		return n, err
	}
	n.closers = append(n.closers, l.Close)
	tstore, err := twotiersql.Open(ctx, filepath.Join(dir, nodeTwotierFile))
	if err != nil {
		return n, err
	}
	n.closers = append(n.closers, tstore.Close)
	if n.payments, err = twotier.Open(ctx, twotier.Config{Ledger: l, Store: tstore}); err != nil {
		return n, err
	}
	if err := n.payments.CreateCentralBank(ctx, tongbao.IDFromUint64(1), "People's Bank"); err != nil {
		return n, err
	}
	if err := n.payments.AddOperator(ctx, n.operator, "Bench operator", total); err != nil {
		return n, err
	}
	if _, err := n.payments.DepositReserves(ctx, twotier.Operation{ID: tongbao.NewID(), Operator: n.operator, Amount: total}); err != nil {
		return n, err
	}
	if _, err := n.payments.Issue(ctx, twotier.Operation{ID: tongbao.NewID(), Operator: n.operator, Amount: total}); err != nil {
		return n, err
	}
	return n, nil
}

// benchPayDocument is the contract of the payments phase: one request
// pays a fixed amount from payer to payee, after a requirement on the
// payer's balance (so that every invocation evaluates a condition, as
// the templates' do).
func benchPayDocument(i int, payer, payee tongbao.ID) []byte {
	d := map[string]any{
		"tongbao_contract": 1,
		"name":             "Pay on request",
		"reference":        fmt.Sprintf("bench-%d", i),
		"params":           map[string]any{"amount": benchContractsPayment},
		"parties":          []any{map[string]any{"name": "payer", "wallet": payer.String()}, map[string]any{"name": "payee", "wallet": payee.String()}},
		"triggers": []any{map[string]any{
			"name":    "pay",
			"on":      map[string]any{"request": map[string]any{"name": "pay", "by": "payer"}},
			"require": []any{map[string]any{"expr": "amount(params.amount) <= balance.payer", "error": "requirement-failed"}},
			"actions": []any{map[string]any{"transfer": map[string]any{"from": "payer", "to": "payee", "amount": "amount(params.amount)"}}},
		}},
	}
	b, _ := json.Marshal(d)
	return b
}

// benchPayContract is one deployed contract of the payments phase.
type benchPayContract struct {
	id           tongbao.ID
	payer, payee tongbao.ID
}

// deployAll opens each contract's payer (funded) and payee and deploys and
// accepts its contract, from concurrent workers.
func (n *benchNode) deployAll(ctx context.Context, count int) ([]benchPayContract, error) {
	out := make([]benchPayContract, count)
	var next atomic.Int64
	errs := make(chan error, benchContractsSetupWorkers)
	var wg sync.WaitGroup
	for range benchContractsSetupWorkers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < count; i = int(next.Add(1) - 1) {
				c, err := n.deploy(ctx, i)
				if err != nil {
					errs <- fmt.Errorf("contract %d: %w", i, err)
					return
				}
				out[i] = c
			}
		})
	}
	wg.Wait()
	close(errs)
	return out, <-errs
}

func (n *benchNode) deploy(ctx context.Context, i int) (benchPayContract, error) {
	open := func(name string) (tongbao.ID, error) {
		w, err := n.payments.OpenWallet(ctx, twotier.WalletSpec{Operator: n.operator, Category: twotier.Category2, HolderName: name})
		return w.ID, err
	}
	payer, err := open("Payer")
	if err != nil {
		return benchPayContract{}, err
	}
	payee, err := open("Payee")
	if err != nil {
		return benchPayContract{}, err
	}
	if _, err := n.payments.TopUp(ctx, twotier.WalletOperation{ID: tongbao.NewID(), Wallet: payer, Amount: benchContractsFunding}); err != nil {
		return benchPayContract{}, err
	}
	c, _, err := n.svc.Deploy(ctx, contract.DeploySpec{Operator: n.operator, Document: benchPayDocument(i, payer, payee), By: "bench"})
	if err != nil {
		return benchPayContract{}, err
	}
	if c, err = n.svc.Accept(ctx, c.ID, "payer", c.Hash, "bench"); err != nil {
		return benchPayContract{}, err
	}
	if c.Status != contract.StatusActive {
		return benchPayContract{}, fmt.Errorf("contract %s is %s after consent; want active", c.ID, c.Status)
	}
	return benchPayContract{id: c.ID, payer: payer, payee: payee}, nil
}

// benchPayments is the payments phase.
func benchPayments(ctx context.Context, o *benchContractsOptions, dir string, stderr io.Writer) (res benchPaymentsResult, err error) {
	n, err := openBenchContracts(ctx, dir, o)
	if err != nil {
		return res, err
	}
	defer func() {
		if cerr := n.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	fmt.Fprintf(stderr, "bench contracts: deploying %d contracts in %s\n", o.contracts, dir)
	contracts, err := n.deployAll(ctx, o.contracts)
	if err != nil {
		return res, fmt.Errorf("setup: %w", err)
	}
	fmt.Fprintf(stderr, "bench contracts: %d clients making requests for %s\n", o.clients, o.duration)

	var (
		stop  atomic.Bool
		count atomic.Int64
	)
	type client struct {
		latencies []time.Duration
		failures  map[string]int64
		failed    int64
	}
	clients := make([]*client, o.clients)
	stopProgress := benchProgressLines(stderr, "payments", &count)
	cpuStart, start := cpuTime(), time.Now()
	timer := time.AfterFunc(o.duration, func() { stop.Store(true) })
	defer timer.Stop()
	var wg sync.WaitGroup
	for ci := range clients {
		c := &client{failures: map[string]int64{}}
		clients[ci] = c
		wg.Go(func() {
			// A client's contracts follow from its number with a stride
			// prime to any count of contracts below it, so the clients
			// spread over the contracts without a shared random source.
			k := ci
			for seq := 0; !stop.Load() && ctx.Err() == nil; seq++ {
				pc := contracts[k%len(contracts)]
				k += 7919
				key := fmt.Sprintf("bench-%d-%d", ci, seq)
				t0 := time.Now()
				inv, err := n.svc.Request(ctx, pc.id, "pay", "payer", tongbao.ID{}, key, nil)
				c.latencies = append(c.latencies, time.Since(t0))
				if err == nil && inv.Outcome != contract.OutcomeSucceeded {
					err = fmt.Errorf("outcome %s: %s", inv.Outcome, inv.Error)
				}
				if err != nil {
					c.failed++
					c.failures[err.Error()]++
					continue
				}
				count.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpuStart
	stopProgress()

	var all []time.Duration
	failures := map[string]int64{}
	for _, c := range clients {
		all = append(all, c.latencies...)
		res.Failed += c.failed
		for msg, k := range c.failures {
			failures[msg] += k
		}
	}
	if len(failures) > 0 {
		printFailures(stderr, failures)
	}
	slices.Sort(all)
	paid := count.Load()
	ms := func(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }
	res = benchPaymentsResult{
		Contracts: o.contracts, Clients: o.clients, Seconds: round(elapsed.Seconds(), 2),
		Payments: paid, Failed: res.Failed, PaymentsPerSec: round(float64(paid)/elapsed.Seconds(), 0),
		P50Ms: ms(percentile(all, 0.50)), P99Ms: ms(percentile(all, 0.99)),
	}
	if paid > 0 {
		res.CPUUsPerPayment = round(float64(cpu.Microseconds())/float64(paid), 1)
	}
	if err := n.checkMoved(ctx, contracts, paid); err != nil {
		return res, err
	}
	report, err := n.payments.SupplyReport(ctx)
	if err != nil {
		return res, err
	}
	res.SupplyOK = report.OK
	if !report.OK {
		return res, fmt.Errorf("the supply check failed after the run: %+v", report)
	}
	return res, nil
}

// checkMoved checks that the money that moved is the payments counted:
// each payer and payee together still hold the payer's funding, and the
// payees together received one payment per success.
func (n *benchNode) checkMoved(ctx context.Context, contracts []benchPayContract, paid int64) error {
	payment, err := tongbao.ParseAmount(benchContractsPayment)
	if err != nil {
		return err
	}
	var received tongbao.Amount
	for _, c := range contracts {
		payer, err := n.payments.WalletBalance(ctx, c.payer)
		if err != nil {
			return err
		}
		payee, err := n.payments.WalletBalance(ctx, c.payee)
		if err != nil {
			return err
		}
		if got := payer.Available() + payee.Available(); got != benchContractsFunding {
			return fmt.Errorf("contract %s: payer and payee hold %s; want %s", c.id, got, benchContractsFunding)
		}
		received += payee.Available()
	}
	if want := payment * tongbao.Amount(paid); received != want {
		return fmt.Errorf("the payees received %s; want %s for %d payments", received, want, paid)
	}
	return nil
}
