package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/postgres"
)

// Defaults and limits of `tongbao chaos`.
const (
	chaosClientsDefault = 64
	chaosRoundsDefault  = 10
	chaosKillMaxDefault = time.Second
	// chaosKillMin is the least time the load runs before a kill, so
	// every round has work in flight when it comes.
	chaosKillMin = 50 * time.Millisecond
	// chaosStartMax bounds how long a server may take to serve writes
	// after a start; on PostgreSQL a restart after SIGKILL waits out
	// the dead process's writer lease first.
	chaosStartMax = time.Minute
	// chaosHolderFunds is what each holder wallet is topped up with at
	// the start; chaosPayMax is the most one payment moves, so holders
	// run dry rarely (a refusal is counted, not a failure).
	chaosHolderFunds = 1_000 * chaosYuan
	chaosPayMax      = 5 * chaosYuan
	chaosMerchants   = 4
	chaosOperators   = 2
	// chaosCloseEvery is how often the settlement closer closes a window
	// while the load runs.
	chaosCloseEvery = 100 * time.Millisecond
	chaosSchemaTag  = "tongbao_chaos_"
	// chaosRetryWait is how long a client waits before it sends again a
	// request answered 503.
	chaosRetryWait = 250 * time.Millisecond
	// chaosYuan is one CNY in fen.
	chaosYuan tongbao.Amount = 100
)

func (m *Main) chaosCommand() *cobra.Command {
	var cfg chaosConfig
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Kill a server under load again and again and check that nothing acknowledged is lost",
		Long: `chaos runs ` + "`tongbao serve`" + ` as a child process on a fresh data folder (or a
fresh schema of the PostgreSQL database --db names), drives it with
--clients concurrent clients through the HTTP API (payments between
wallets, payment requests paid and refunded, settlement windows closed),
and kills it with SIGKILL at a random moment of each of --rounds rounds,
restarting it each time.

After each restart it checks, through the API, that:
  - every operation acknowledged before the kill is present: a payment
    retried with its Idempotency-Key is answered as a duplicate, a paid
    request is paid, a refund is posted, a closed window is settled;
  - an operation whose answer was lost in the kill is present once or not
    at all: retried with its key it is then present exactly once;
  - each wallet's balance is its top-up plus the sum of the operations
    acknowledged on it, each once, and every closed window was closed
    by one acknowledged close;
  - the supply check holds.

Progress goes to stderr; one JSON line to stdout at the end. It exits
non-zero if anything acknowledged was lost or an invariant was broken.
The moments of the kills and the clients' choices follow --seed; the
interleaving of the clients does not.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := serveDB(cfg.db, cmd.Flags().Changed("db"), os.Getenv(dbEnv))
			if err != nil {
				return err
			}
			cfg.db = db
			if cfg.rounds < 1 || cfg.clients < 1 || cfg.killMax < chaosKillMin {
				return fmt.Errorf("want --rounds and --clients of at least 1 and --kill-max of at least %v", chaosKillMin)
			}
			res, err := m.chaos(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if err := json.NewEncoder(m.Stdout).Encode(res); err != nil {
				return err
			}
			if res.Lost != 0 || res.Violations != 0 {
				return fmt.Errorf("chaos: %d acknowledged operations lost, %d invariant violations (details above)", res.Lost, res.Violations)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&cfg.rounds, "rounds", chaosRoundsDefault, "how many times to kill and restart the server")
	cmd.Flags().IntVar(&cfg.clients, "clients", chaosClientsDefault, "concurrent clients")
	cmd.Flags().Uint64Var(&cfg.seed, "seed", 1, "seed of the kills' moments and the clients' choices")
	cmd.Flags().DurationVar(&cfg.killMax, "kill-max", chaosKillMaxDefault, "longest the load runs before a kill (the moment is drawn from "+chaosKillMin.String()+" to this)")
	cmd.Flags().StringVar(&cfg.data, "data", "", "data folder of the server (default: a temporary folder, removed at the end unless --keep)")
	cmd.Flags().StringVar(&cfg.db, "db", "", "database: sqlite (the default, in the data folder) or a postgres:// URL, in a fresh schema of which the server runs; $"+dbEnv+" when not given")
	cmd.Flags().BoolVar(&cfg.keep, "keep", false, "keep the data folder (and the PostgreSQL schema) for a look afterwards")
	return cmd
}

// chaosConfig is what `tongbao chaos` was asked.
type chaosConfig struct {
	rounds, clients int
	seed            uint64
	killMax         time.Duration
	data, db        string
	keep            bool
}

// chaosResult is the JSON line `tongbao chaos` prints.
type chaosResult struct {
	DB     string `json:"db"`
	Seed   uint64 `json:"seed"`
	Rounds int    `json:"rounds"`
	// Acknowledged counts the operations answered with success, in the
	// load or when retried after a restart; by kind in the fields after.
	Acknowledged int `json:"acknowledged"`
	Payments     int `json:"payments"`
	Requests     int `json:"payment_requests"`
	RequestsPaid int `json:"payment_requests_paid"`
	Refunds      int `json:"refunds"`
	Settlements  int `json:"settlements"`
	// Refused counts operations the server refused (insufficient funds,
	// say): nothing moved, as the balances check.
	Refused int `json:"refused"`
	// RefusedBy counts the refusals by operation and problem type.
	RefusedBy map[string]int `json:"refused_by,omitempty"`
	// InFlight counts the operations whose answer the kill cut off;
	// InFlightPresent of them were found done on retry, the rest were
	// done (or refused) by the retry.
	InFlight        int `json:"in_flight"`
	InFlightPresent int `json:"in_flight_present"`
	// Unavailable counts the 503 answers (the PostgreSQL writer
	// stepping down for a moment) that the clients retried.
	Unavailable int64 `json:"unavailable_retried"`
	// ServerWarnings counts the warnings and errors the server logged
	// (each is printed on stderr).
	ServerWarnings int64 `json:"server_warnings"`
	// Lost counts acknowledged operations not found after a restart;
	// Violations every other broken invariant. Both must be 0.
	Lost         int     `json:"lost"`
	Violations   int     `json:"violations"`
	Seconds      float64 `json:"seconds"`
	RestartMsP50 int64   `json:"restart_ms_p50"`
	RestartMsMax int64   `json:"restart_ms_max"`
}

// chaosKind is what an operation of the load does.
type chaosKind int

const (
	chaosPay        chaosKind = iota // a holder pays a wallet
	chaosRequest                     // a merchant creates a payment request
	chaosPayRequest                  // a holder pays a payment request
	chaosRefund                      // a merchant refunds part of a paid request
	chaosClose                       // the central bank closes the current settlement window
)

var chaosKindNames = [...]string{"payment", "payment request", "payment of a request", "refund", "window close"}

func (k chaosKind) String() string { return chaosKindNames[k] }

// chaosOutcome is what became of an operation.
type chaosOutcome int

const (
	chaosAcked   chaosOutcome = iota // answered with success
	chaosRefused                     // answered with a problem: nothing happened
	chaosUnknown                     // no answer: it may or may not have happened
)

// chaosOp is one operation with everything needed to send it again
// exactly as the first time.
type chaosOp struct {
	kind chaosKind
	key  string // its Idempotency-Key
	// actor is the key index of whom it is sent as: a holder's or a
	// merchant's wallet index, or -1 for the central bank.
	actor int
	// from and to are the wallets money moves between, to by amount.
	from, to tongbao.ID
	amount   tongbao.Amount
	request  tongbao.ID // the payment request (request, pay, refund)
	expires  time.Time  // of a request, fixed so a retry is the same request
	window   uint64     // the window a close closes

	outcome chaosOutcome
	problem string     // the problem a refusal named
	note    string     // an answer that breaks an invariant by itself
	id      tongbao.ID // the payment's or refund's id, from the answer
	// positions is what an acknowledged close settled.
	positions map[string]wire.Amount
}

// chaosWallet is a wallet of the run with its key and its expected
// balance.
type chaosWallet struct {
	id       tongbao.ID
	operator int
	secret   string
	// balance is its top-up plus every acknowledged operation on it.
	balance tongbao.Amount
}

// chaosRun is one run of `tongbao chaos`.
type chaosRun struct {
	cfg    chaosConfig
	stderr io.Writer
	dir    string
	dsn    string // the server's --db, in a schema of the run's own on PostgreSQL
	log    *os.File

	cbKey     string
	admins    []string // operator admin keys, by operator
	operators []tongbao.ID
	holders   []*chaosWallet
	merchants []*chaosWallet
	// closes is every acknowledged close, by window.
	closes map[uint64]*chaosOp

	res      chaosResult
	restarts []time.Duration
	// unavailable counts the 503 answers the clients retried; warnings
	// the warnings and errors the server logged.
	unavailable, warnings atomic.Int64
}

// retryUnavailable sends a request again, unchanged (the same
// Idempotency-Key), while the server answers 503, as the API asks: on
// PostgreSQL a node that is slow to renew its writer lease steps down
// for a moment. After chaosStartMax it gives the 503 up to the caller.
type retryUnavailable struct {
	next    http.RoundTripper
	retries *atomic.Int64
}

func (t *retryUnavailable) RoundTrip(req *http.Request) (*http.Response, error) {
	deadline := time.Now().Add(chaosStartMax)
	for {
		resp, err := t.next.RoundTrip(req)
		if err != nil || resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) || (req.Body != nil && req.GetBody == nil) {
			return resp, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.retries.Add(1)
		select {
		case <-req.Context().Done():
			return nil, req.Context().Err()
		case <-time.After(chaosRetryWait):
		}
		again := req.Clone(req.Context())
		if req.GetBody != nil {
			if again.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		req = again
	}
}

// chaos runs the whole campaign and returns its figures.
func (m *Main) chaos(ctx context.Context, cfg chaosConfig) (_ chaosResult, err error) {
	r := &chaosRun{cfg: cfg, stderr: m.Stderr, closes: map[uint64]*chaosOp{}}
	r.res.Seed, r.res.DB, r.res.RefusedBy = cfg.seed, benchEngine(cfg.db), map[string]int{}
	start := time.Now()
	cleanup, err := r.prepare(ctx)
	if err != nil {
		return r.res, err
	}
	defer func() {
		// A run that failed keeps its data and the server's log.
		cleanup(err != nil || r.res.Lost+r.res.Violations > 0)
	}()
	rng := mathrand.New(mathrand.NewPCG(cfg.seed, 0x6368616f73)) // "chaos"

	srv, err := r.start(ctx, true)
	if err != nil {
		return r.res, err
	}
	defer func() { srv.kill() }()
	if err := r.setup(ctx, srv.base); err != nil {
		return r.res, fmt.Errorf("set up the wallets: %w", err)
	}
	fmt.Fprintf(r.stderr, "chaos: %s server %s, %d operators, %d holders, %d merchants, %d clients, seed %d\n",
		r.res.DB, srv.base, chaosOperators, len(r.holders), len(r.merchants), cfg.clients, cfg.seed)

	for round := 1; round <= cfg.rounds; round++ {
		if err := ctx.Err(); err != nil {
			return r.res, err
		}
		killAfter := chaosKillMin + time.Duration(rng.Int64N(int64(cfg.killMax-chaosKillMin)+1))
		ops, err := r.load(ctx, srv, round, killAfter)
		if err != nil {
			return r.res, err
		}
		inFlight := 0
		for _, op := range ops {
			if op.outcome == chaosUnknown {
				inFlight++
			}
		}
		began := time.Now()
		if srv, err = r.start(ctx, false); err != nil {
			return r.res, err
		}
		r.restarts = append(r.restarts, time.Since(began))
		before := r.res.Lost + r.res.Violations
		if err := r.verify(ctx, srv.base, ops); err != nil {
			return r.res, fmt.Errorf("round %d: %w", round, err)
		}
		r.res.Rounds = round
		verdict := "ok"
		if bad := r.res.Lost + r.res.Violations - before; bad > 0 {
			verdict = fmt.Sprintf("%d PROBLEMS", bad)
		}
		if n := r.unavailable.Load(); n > 0 {
			verdict += fmt.Sprintf(" (%d answers 503 retried so far)", n)
		}
		fmt.Fprintf(r.stderr, "round %d/%d: killed after %v with %d operations, %d in flight; restarted in %v; %d acknowledged in all; %s\n",
			round, cfg.rounds, killAfter.Round(time.Millisecond), len(ops), inFlight, r.restarts[len(r.restarts)-1].Round(time.Millisecond), r.res.Acknowledged, verdict)
	}
	if err := srv.stop(); err != nil {
		return r.res, err
	}
	r.res.Seconds = time.Since(start).Seconds()
	r.res.Unavailable, r.res.ServerWarnings = r.unavailable.Load(), r.warnings.Load()
	if n := len(r.restarts); n > 0 {
		ds := slices.Clone(r.restarts)
		slices.Sort(ds)
		r.res.RestartMsP50, r.res.RestartMsMax = ds[n/2].Milliseconds(), ds[n-1].Milliseconds()
	}
	return r.res, nil
}

// prepare makes the data folder, and on PostgreSQL a schema of the run's
// own, and returns what removes them, unless --keep or failed says to
// keep them (it then says where they are).
func (r *chaosRun) prepare(ctx context.Context) (func(failed bool), error) {
	var undo []func()
	var kept []string
	keep := r.cfg.keep
	cleanup := func(failed bool) {
		keep = keep || failed
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		if failed && !r.cfg.keep && len(kept) > 0 {
			fmt.Fprintf(r.stderr, "chaos: kept for a look: %s\n", strings.Join(kept, ", "))
		}
	}
	r.dir = r.cfg.data
	if r.dir == "" {
		dir, err := os.MkdirTemp("", "tongbao-chaos-")
		if err != nil {
			return nil, err
		}
		r.dir = dir
		kept = append(kept, "data folder "+dir)
		undo = append(undo, func() {
			if !keep {
				os.RemoveAll(dir)
			}
		})
	} else if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(r.dir); err != nil {
		return nil, err
	} else if len(entries) > 0 {
		return nil, fmt.Errorf("data folder %s is not empty: chaos needs a fresh one", r.dir)
	}
	log, err := os.Create(filepath.Join(r.dir, "chaos-server.log"))
	if err != nil {
		cleanup(false)
		return nil, err
	}
	r.log = log
	undo = append(undo, func() { log.Close() })
	r.dsn = r.cfg.db
	if postgres.IsURL(r.cfg.db) {
		var b [6]byte
		rand.Read(b[:])
		schema := chaosSchemaTag + hex.EncodeToString(b[:])
		dsn, err := postgres.CreateSchema(ctx, r.cfg.db, schema)
		if err != nil {
			cleanup(false)
			return nil, fmt.Errorf("create a schema for the run: %w", err)
		}
		r.dsn = dsn
		kept = append(kept, "PostgreSQL schema "+schema)
		if r.cfg.keep {
			fmt.Fprintf(r.stderr, "chaos: PostgreSQL schema %s\n", schema)
		}
		undo = append(undo, func() {
			if !keep {
				postgres.DropSchema(context.Background(), r.cfg.db, schema)
			}
		})
	}
	if r.cfg.keep {
		fmt.Fprintf(r.stderr, "chaos: data folder %s\n", r.dir)
	}
	return cleanup, nil
}

// chaosServer is a running child server.
type chaosServer struct {
	cmd  *exec.Cmd
	base string
	done chan struct{} // closed when it has exited
	err  error         // its exit, once done
}

// kill kills the server with SIGKILL and waits until it is gone.
func (s *chaosServer) kill() {
	s.cmd.Process.Kill()
	<-s.done
}

// stop asks the server to stop and waits until it has.
func (s *chaosServer) stop() error {
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		return err
	}
	select {
	case <-s.done:
	case <-time.After(nodeShutdownTimeout + 5*time.Second):
		s.kill()
		return errors.New("the server did not stop when asked")
	}
	if s.err != nil {
		return fmt.Errorf("the server stopped with %v", s.err)
	}
	return nil
}

// start starts `tongbao serve` on the run's data and waits until it
// serves writes; on the first start it also takes the central bank key
// the server announces.
func (r *chaosRun) start(ctx context.Context, first bool) (*chaosServer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "serve", "--addr", "127.0.0.1:0", "--data", r.dir, "--db", r.dsn)
	cmd.Stdout = r.log
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &chaosServer{cmd: cmd, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		pw.Close()
		close(s.done)
	}()
	addrs, keys := make(chan string, 1), make(chan string, 1)
	go r.readServerLog(pr, addrs, keys)
	deadline := time.NewTimer(chaosStartMax)
	defer deadline.Stop()
	// Wait for the address it serves on, then poll /readyz: on PostgreSQL
	// a restarted server waits out the killed one's writer lease before
	// it serves writes.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var c *client.Client
	for {
		select {
		case a := <-addrs:
			s.base, c = a, client.New(a, "", nil)
		case <-tick.C:
		case <-s.done:
			return nil, fmt.Errorf("the server exited on start (%v); see %s", s.err, r.log.Name())
		case <-deadline.C:
			s.kill()
			return nil, fmt.Errorf("the server did not serve writes within %v; see %s", chaosStartMax, r.log.Name())
		case <-ctx.Done():
			s.kill()
			return nil, ctx.Err()
		}
		if c == nil {
			continue
		}
		if _, err := c.Ready(ctx); err == nil {
			break
		}
	}
	if first {
		select {
		case r.cbKey = <-keys:
		case <-deadline.C:
			s.kill()
			return nil, fmt.Errorf("the server announced no central bank key; see %s", r.log.Name())
		}
	}
	return s, nil
}

// readServerLog copies the server's stderr to the run's log and picks
// out the address it serves on and the central bank key it announces.
func (r *chaosRun) readServerLog(in io.Reader, addrs, keys chan<- string) {
	sc := bufio.NewScanner(in)
	keyNext := false
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(r.log, line)
		switch {
		case strings.Contains(line, "API key, shown once:"):
			keyNext = true
		case keyNext && strings.TrimSpace(line) != "":
			keyNext = false
			select {
			case keys <- strings.TrimSpace(line):
			default:
			}
		case strings.HasPrefix(line, "{"):
			var entry struct{ Level, Msg, Addr string }
			if json.Unmarshal([]byte(line), &entry) != nil {
				break
			}
			switch {
			case entry.Msg == "serving":
				select {
				case addrs <- entry.Addr:
				default:
				}
			case (entry.Level == "WARN" || entry.Level == "ERROR") && entry.Msg != "request":
				// Such as a PostgreSQL writer that stepped down: shown,
				// and counted, though the clients' retries hide them.
				r.warnings.Add(1)
				fmt.Fprintf(r.stderr, "server: %s\n", line)
			}
		}
	}
	io.Copy(io.Discard, in)
}

// setup creates the operators, their admins, the holders and the
// merchants with their keys, and tops the holders up.
func (r *chaosRun) setup(ctx context.Context, base string) error {
	cb := client.New(base, r.cbKey, nil)
	for i := range chaosOperators {
		op, err := cb.CreateOperator(ctx, client.NewKey(), wire.CreateOperator{Name: fmt.Sprintf("Chaos Operator %d", i+1), NetDebitCap: wire.Amount(10_000_000 * chaosYuan)})
		if err != nil {
			return err
		}
		funds := tongbao.Amount(r.cfg.clients) * chaosHolderFunds
		if _, err := cb.DepositReserves(ctx, client.NewKey(), op.ID, funds); err != nil {
			return err
		}
		if _, err := cb.Issue(ctx, client.NewKey(), op.ID, funds); err != nil {
			return err
		}
		k, err := cb.CreateKey(ctx, wire.CreateKey{Role: wire.RoleOperatorAdmin, Operator: &op.ID})
		if err != nil {
			return err
		}
		r.operators = append(r.operators, op.ID)
		r.admins = append(r.admins, k.Secret)
	}
	open := func(i int, merchant bool) (*chaosWallet, error) {
		opIndex := i % chaosOperators
		admin := cb.WithKey(r.admins[opIndex])
		in := wire.OpenWallet{Category: 2, HolderName: fmt.Sprintf("Chaos Holder %d", i+1), Phone: fmt.Sprintf("137%08d", i+1)}
		role := wire.RoleHolder
		if merchant {
			in = wire.OpenWallet{Category: 2, HolderName: fmt.Sprintf("Chaos Shop %d", i+1), Merchant: true, MerchantCategory: "5411", Region: "310000"}
			role = wire.RoleMerchant
		}
		w, err := admin.OpenWallet(ctx, client.NewKey(), r.operators[opIndex], in)
		if err != nil {
			return nil, err
		}
		k, err := admin.CreateKey(ctx, wire.CreateKey{Role: role, Wallet: &w.ID})
		if err != nil {
			return nil, err
		}
		cw := &chaosWallet{id: w.ID, operator: opIndex, secret: k.Secret}
		if !merchant {
			if _, err := admin.TopUp(ctx, client.NewKey(), w.ID, chaosHolderFunds); err != nil {
				return nil, err
			}
			cw.balance = chaosHolderFunds
		}
		return cw, nil
	}
	for i := range r.cfg.clients {
		w, err := open(i, false)
		if err != nil {
			return err
		}
		r.holders = append(r.holders, w)
	}
	for i := range chaosMerchants {
		w, err := open(i, true)
		if err != nil {
			return err
		}
		r.merchants = append(r.merchants, w)
	}
	return nil
}

// chaosClients are the clients of one server start.
type chaosClients struct {
	hc        *http.Client
	cb        *client.Client
	admins    []*client.Client
	holders   []*client.Client
	merchants []*client.Client
}

func (r *chaosRun) clients(base string) *chaosClients {
	// A transport of its own per start: the connections to a killed
	// server are dead.
	hc := &http.Client{Timeout: 2 * chaosStartMax, Transport: &retryUnavailable{
		next: &http.Transport{
			MaxIdleConns: 2 * r.cfg.clients, MaxIdleConnsPerHost: 2 * r.cfg.clients, IdleConnTimeout: time.Minute,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		},
		retries: &r.unavailable,
	}}
	cb := client.New(base, r.cbKey, hc)
	cs := &chaosClients{hc: hc, cb: cb}
	for _, k := range r.admins {
		cs.admins = append(cs.admins, cb.WithKey(k))
	}
	for _, w := range r.holders {
		cs.holders = append(cs.holders, cb.WithKey(w.secret))
	}
	for _, w := range r.merchants {
		cs.merchants = append(cs.merchants, cb.WithKey(w.secret))
	}
	return cs
}

// load runs the clients against srv, kills srv after killAfter, and
// returns every operation sent, each with its outcome as the client saw it.
func (r *chaosRun) load(ctx context.Context, srv *chaosServer, round int, killAfter time.Duration) ([]*chaosOp, error) {
	cs := r.clients(srv.base)
	window, err := r.currentWindow(ctx, cs)
	if err != nil {
		return nil, err
	}
	var killed atomic.Bool
	var wg sync.WaitGroup
	perWorker := make([][]*chaosOp, r.cfg.clients+1)
	for w := range r.cfg.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mathrand.New(mathrand.NewPCG(r.cfg.seed, uint64(round)<<32|uint64(w)))
			perWorker[w] = r.worker(ctx, cs, w, rng, &killed)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		perWorker[r.cfg.clients] = r.closer(ctx, cs, window, &killed)
	}()
	select {
	case <-time.After(killAfter):
	case <-srv.done:
		killed.Store(true)
		wg.Wait()
		return nil, fmt.Errorf("round %d: the server exited by itself (%v); see %s", round, srv.err, r.log.Name())
	case <-ctx.Done():
	}
	killed.Store(true)
	srv.kill()
	wg.Wait()
	cs.hc.CloseIdleConnections()
	var ops []*chaosOp
	for _, w := range perWorker {
		ops = append(ops, w...)
	}
	return ops, ctx.Err()
}

// worker is one client: it sends operations one after another until the
// server is killed, stopping at its first operation without an answer.
func (r *chaosRun) worker(ctx context.Context, cs *chaosClients, w int, rng *mathrand.Rand, killed *atomic.Bool) []*chaosOp {
	var ops []*chaosOp
	send := func(op *chaosOp) bool {
		ops = append(ops, op)
		r.send(ctx, cs, op)
		return op.outcome == chaosAcked
	}
	holder := r.holders[w]
	for !killed.Load() {
		if rng.IntN(4) != 0 {
			to := r.holders[rng.IntN(len(r.holders))]
			if to == holder {
				to = r.merchants[rng.IntN(len(r.merchants))]
			}
			op := &chaosOp{kind: chaosPay, key: client.NewKey(), actor: w, from: holder.id, to: to.id, amount: 1 + tongbao.Amount(rng.Int64N(int64(chaosPayMax)))}
			if !send(op) && op.outcome == chaosUnknown {
				return ops
			}
			continue
		}
		// A merchant's payment request, paid, and half the time refunded
		// in part: each step only after the one before was acknowledged.
		mi := rng.IntN(len(r.merchants))
		merchant := r.merchants[mi]
		amount := 1 + tongbao.Amount(rng.Int64N(int64(chaosPayMax)))
		req := &chaosOp{kind: chaosRequest, key: client.NewKey(), actor: mi, to: merchant.id, amount: amount, request: tongbao.NewID(),
			expires: time.Now().Add(time.Hour).Truncate(time.Second)}
		if !send(req) {
			if req.outcome == chaosUnknown {
				return ops
			}
			continue
		}
		pay := &chaosOp{kind: chaosPayRequest, key: client.NewKey(), actor: w, from: holder.id, to: merchant.id, amount: amount, request: req.request}
		if !send(pay) {
			if pay.outcome == chaosUnknown {
				return ops
			}
			continue
		}
		if rng.IntN(2) == 0 {
			refund := &chaosOp{kind: chaosRefund, key: client.NewKey(), actor: mi, from: merchant.id, to: holder.id, amount: 1 + tongbao.Amount(rng.Int64N(int64(amount))), request: req.request}
			if !send(refund) && refund.outcome == chaosUnknown {
				return ops
			}
		}
	}
	return ops
}

// closer closes the current settlement window every chaosCloseEvery
// until the server is killed. It is alone in closing, so window is the
// current window whenever a close of it was acknowledged.
func (r *chaosRun) closer(ctx context.Context, cs *chaosClients, window uint64, killed *atomic.Bool) []*chaosOp {
	var ops []*chaosOp
	tick := time.NewTicker(chaosCloseEvery)
	defer tick.Stop()
	for !killed.Load() {
		<-tick.C
		if killed.Load() {
			break
		}
		op := &chaosOp{kind: chaosClose, key: client.NewKey(), actor: -1, window: window}
		ops = append(ops, op)
		r.send(ctx, cs, op)
		if op.outcome != chaosAcked {
			break // the next round starts from the window the server says is open
		}
		window++
	}
	return ops
}

// currentWindow asks the server which settlement window is open.
func (r *chaosRun) currentWindow(ctx context.Context, cs *chaosClients) (uint64, error) {
	ws, err := r.windows(ctx, cs)
	if err != nil {
		return 0, err
	}
	for _, w := range ws {
		if w.Status == "open" {
			return w.Number, nil
		}
	}
	return 0, errors.New("no settlement window is open")
}

// windows lists every settlement window.
func (r *chaosRun) windows(ctx context.Context, cs *chaosClients) ([]wire.Window, error) {
	var all []wire.Window
	p := client.Page{Limit: 100}
	for {
		page, err := cs.cb.Windows(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("list the settlement windows: %w", err)
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all, nil
		}
		p.Cursor = page.NextCursor
	}
}

// send sends op (again, with the same key and content, if it was sent
// before) and records its outcome. An answer that is no problem, or a
// problem of the server's (5xx), leaves the outcome unknown.
func (r *chaosRun) send(ctx context.Context, cs *chaosClients, op *chaosOp) {
	var err error
	switch op.kind {
	case chaosPay:
		var p wire.Payment
		p, err = cs.holders[op.actor].Pay(ctx, op.key, wire.Pay{From: op.from, To: op.to.String(), Amount: wire.Amount(op.amount)})
		op.id = p.ID
	case chaosRequest:
		id := op.request
		_, err = cs.merchants[op.actor].CreatePaymentRequest(ctx, op.key, wire.CreatePaymentRequest{
			ID: &id, OrderID: chaosOrderID(op.key), Amount: wire.Amount(op.amount), ExpiresAt: &op.expires, MerchantName: "Chaos Shop", MerchantCity: "Shanghai"})
	case chaosPayRequest:
		_, err = cs.holders[op.actor].PayPaymentRequest(ctx, op.key, op.request, op.from)
	case chaosRefund:
		var f wire.Refund
		f, err = cs.merchants[op.actor].Refund(ctx, op.key, op.request, op.amount, "chaos")
		op.id = f.ID
		if err == nil && f.Status != "posted" {
			err = fmt.Errorf("refund answered %s", f.Status)
		}
	case chaosClose:
		var st wire.Settlement
		st, err = cs.cb.CloseWindow(ctx, op.key, op.window)
		op.positions = st.Positions
		if err == nil && st.Window != op.window {
			op.note = fmt.Sprintf("closing window %d (%s) closed window %d", op.window, op.key, st.Window)
			op.window = st.Window
		}
	}
	var p *wire.Problem
	switch {
	case err == nil:
		op.outcome = chaosAcked
	case errors.As(err, &p) && p.Status < 500:
		op.outcome, op.problem = chaosRefused, client.ProblemName(err)
	default:
		// No answer (the server was killed), or the server's failure:
		// either way it may or may not have happened.
		op.outcome = chaosUnknown
		if p != nil {
			op.note = fmt.Sprintf("%s %s answered %d %s", op.kind, op.key, p.Status, p.Error())
		}
	}
}

// verify checks the restarted server at base against what the run knows:
// ops are the last round's.
func (r *chaosRun) verify(ctx context.Context, base string, ops []*chaosOp) error {
	cs := r.clients(base)
	defer cs.hc.CloseIdleConnections()
	violation := func(format string, args ...any) {
		r.res.Violations++
		fmt.Fprintf(r.stderr, "VIOLATION: "+format+"\n", args...)
	}
	lost := func(op *chaosOp, why string) {
		r.res.Lost++
		fmt.Fprintf(r.stderr, "LOST: acknowledged %s %s (%v → %v, %v): %s\n", op.kind, op.key, op.from, op.to, op.amount, why)
	}
	windows, err := r.windows(ctx, cs)
	if err != nil {
		return err
	}
	byNumber := map[uint64]wire.Window{}
	for _, w := range windows {
		byNumber[w.Number] = w
	}

	// Every acknowledged operation is present, found without changing
	// anything, except a payment: retried with its key it must be
	// answered as the duplicate of the first, with the same id.
	for _, op := range ops {
		if op.outcome != chaosAcked {
			continue
		}
		switch op.kind {
		case chaosPay:
			p, err := cs.holders[op.actor].Pay(ctx, op.key, wire.Pay{From: op.from, To: op.to.String(), Amount: wire.Amount(op.amount)})
			switch {
			case err != nil:
				violation("retrying acknowledged payment %s: %v", op.key, err)
			case !p.Duplicate:
				lost(op, "its retry was applied anew")
			case p.ID != op.id:
				violation("payment %s retried answered id %v; first %v", op.key, p.ID, op.id)
			}
		case chaosRequest:
			if _, err := cs.merchants[op.actor].PaymentRequest(ctx, op.request); client.IsProblem(err, "payment-request-not-found") {
				lost(op, "not found")
			} else if err != nil {
				return err
			}
		case chaosPayRequest:
			q, err := cs.merchants[r.merchantIndex(op.to)].PaymentRequest(ctx, op.request)
			switch {
			case client.IsProblem(err, "payment-request-not-found"):
				lost(op, "its request is not found")
			case err != nil:
				return err
			case q.Status != "paid" || q.Payer != op.from:
				lost(op, fmt.Sprintf("the request is %s by %v", q.Status, q.Payer))
			}
		case chaosRefund:
			rs, err := cs.merchants[op.actor].Refunds(ctx, op.request)
			if err != nil {
				return err
			}
			i := slices.IndexFunc(rs.Items, func(f wire.Refund) bool { return f.ID == op.id })
			switch {
			case i < 0:
				lost(op, "not among the request's refunds")
			case rs.Items[i].Status != "posted":
				lost(op, "it is "+rs.Items[i].Status)
			}
		case chaosClose:
			if w, ok := byNumber[op.window]; !ok || w.Status != "settled" {
				lost(op, fmt.Sprintf("window %d is %q", op.window, w.Status))
			}
		}
	}

	// An operation whose answer was lost is present once or not at all:
	// retried with its key, it is then present once (answered as a
	// duplicate if it was there) or refused.
	for _, op := range ops {
		if op.outcome != chaosUnknown {
			continue
		}
		r.res.InFlight++
		switch op.kind {
		case chaosPay:
			p, err := cs.holders[op.actor].Pay(ctx, op.key, wire.Pay{From: op.from, To: op.to.String(), Amount: wire.Amount(op.amount)})
			var problem *wire.Problem
			switch {
			case err == nil:
				op.outcome, op.id = chaosAcked, p.ID
				if p.Duplicate {
					r.res.InFlightPresent++
				}
			case errors.As(err, &problem) && problem.Status < 500:
				op.outcome, op.problem = chaosRefused, client.ProblemName(err)
			default:
				return fmt.Errorf("retry payment %s: %w", op.key, err)
			}
		case chaosClose:
			// If the window is no longer open, this close closed it: no
			// one else closes.
			if w, ok := byNumber[op.window]; ok && w.Status != "open" {
				op.outcome, op.positions = chaosAcked, w.Positions
				r.res.InFlightPresent++
				break
			}
			r.send(ctx, cs, op)
		default:
			present := false
			switch op.kind {
			case chaosRequest:
				_, err := cs.merchants[op.actor].PaymentRequest(ctx, op.request)
				present = err == nil
			case chaosPayRequest:
				q, err := cs.merchants[r.merchantIndex(op.to)].PaymentRequest(ctx, op.request)
				present = err == nil && q.Status == "paid"
			case chaosRefund:
				rs, err := cs.merchants[op.actor].Refunds(ctx, op.request)
				present = err == nil && slices.ContainsFunc(rs.Items, func(f wire.Refund) bool { return f.Status == "posted" })
			}
			if present {
				r.res.InFlightPresent++
			}
			r.send(ctx, cs, op)
			if present && op.outcome == chaosRefused {
				// Its retry must get the first answer: count it as done
				// (it is), so the balances stay comparable.
				violation("in-flight %s %s is present, but its retry was refused: %s", op.kind, op.key, op.problem)
				op.outcome = chaosAcked
			}
		}
		if op.outcome == chaosUnknown {
			return fmt.Errorf("retry %s %s after the restart: no answer", op.kind, op.key)
		}
	}

	// Count and apply what is now known.
	for _, op := range ops {
		if op.note != "" {
			violation("%s", op.note)
		}
		switch op.outcome {
		case chaosRefused:
			r.res.Refused++
			r.res.RefusedBy[op.kind.String()+": "+op.problem]++
			continue
		case chaosUnknown:
			continue
		}
		r.res.Acknowledged++
		switch op.kind {
		case chaosPay:
			r.res.Payments++
		case chaosRequest:
			r.res.Requests++
		case chaosPayRequest:
			r.res.RequestsPaid++
		case chaosRefund:
			r.res.Refunds++
		case chaosClose:
			r.res.Settlements++
			if prev, dup := r.closes[op.window]; dup {
				violation("window %d acknowledged closed twice (%s and %s)", op.window, prev.key, op.key)
			}
			r.closes[op.window] = op
		}
		if op.amount != 0 && op.from != (tongbao.ID{}) {
			r.wallet(op.from).balance -= op.amount
			r.wallet(op.to).balance += op.amount
		}
	}

	// Each wallet holds its top-up and every acknowledged operation
	// on it, each once.
	for _, w := range append(slices.Clone(r.holders), r.merchants...) {
		got, err := cs.admins[w.operator].Wallet(ctx, w.id)
		if err != nil {
			return err
		}
		if got.Balance == nil {
			return fmt.Errorf("wallet %v read without its balance", w.id)
		}
		if tongbao.Amount(*got.Balance) != w.balance {
			violation("wallet %v holds %v; its top-up and the acknowledged operations on it sum to %v", w.id, tongbao.Amount(*got.Balance), w.balance)
			w.balance = tongbao.Amount(*got.Balance) // report each difference once
		}
	}
	// Every window that is not open was closed by one acknowledged close,
	// and settled what that close answered.
	if windows, err = r.windows(ctx, cs); err != nil {
		return err
	}
	for _, w := range windows {
		op, ok := r.closes[w.Number]
		switch {
		case w.Status == "open":
			if ok {
				violation("window %d is open, though its close was acknowledged", w.Number)
			}
		case !ok:
			violation("window %d is %s, though no close of it was acknowledged", w.Number, w.Status)
		case w.Status != "settled":
			violation("window %d is %s after a restart; want settled", w.Number, w.Status)
		case !samePositions(w.Positions, op.positions):
			violation("window %d settled %v; its close answered %v", w.Number, w.Positions, op.positions)
		}
	}
	s, err := cs.cb.Supply(ctx)
	if err != nil {
		return err
	}
	if !s.OK {
		violation("the supply check fails: %+v", s)
	}
	return nil
}

func samePositions(a, b map[string]wire.Amount) bool {
	nonzero := func(m map[string]wire.Amount) map[string]wire.Amount {
		out := map[string]wire.Amount{}
		for k, v := range m {
			if v != 0 {
				out[k] = v
			}
		}
		return out
	}
	x, y := nonzero(a), nonzero(b)
	if len(x) != len(y) {
		return false
	}
	for k, v := range x {
		if y[k] != v {
			return false
		}
	}
	return true
}

func (r *chaosRun) wallet(id tongbao.ID) *chaosWallet {
	for _, w := range r.holders {
		if w.id == id {
			return w
		}
	}
	for _, w := range r.merchants {
		if w.id == id {
			return w
		}
	}
	panic(fmt.Sprintf("chaos: wallet %v is none of the run's", id))
}

func (r *chaosRun) merchantIndex(id tongbao.ID) int {
	for i, w := range r.merchants {
		if w.id == id {
			return i
		}
	}
	panic(fmt.Sprintf("chaos: wallet %v is no merchant of the run's", id))
}

// chaosOrderID is the order id of the payment request made under the
// Idempotency-Key key: its random end, as order ids are at most 25
// characters.
func chaosOrderID(key string) string {
	k := strings.ReplaceAll(key, "-", "")
	return k[len(k)-24:]
}
