package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/internal/storetest"
)

// testMainEnv makes the test binary run as tongbao itself: `tongbao
// chaos` starts the binary it runs in (os.Executable) as its server,
// which in a test is this binary.
const testMainEnv = "TONGBAO_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(testMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestChaos runs a few short rounds of `tongbao chaos`: a child server
// killed with SIGKILL under load and restarted, with nothing acknowledged
// lost and no invariant broken, on SQLite and, when
// TONGBAO_TEST_POSTGRES is set, on PostgreSQL.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills child servers")
	}
	t.Setenv(testMainEnv, "1")
	for _, tc := range []struct {
		name   string
		db     string
		rounds string
	}{
		{"sqlite", "sqlite", "3"},
		// Each restart on PostgreSQL waits out the killed writer's lease.
		{"postgres", storetest.Postgres(), "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.db == "" {
				t.Skip(storetest.PostgresEnv + " is not set, so chaos on PostgreSQL is not tested")
			}
			stdout, stderr, err := run(t, "chaos", "--rounds", tc.rounds, "--clients", "8", "--kill-max", "300ms", "--seed", "7", "--db", tc.db)
			if err != nil {
				t.Fatalf("chaos: %v\n%s", err, stderr)
			}
			var res chaosResult
			if err := json.Unmarshal([]byte(stdout), &res); err != nil || strings.Count(stdout, "\n") != 1 {
				t.Fatalf("stdout %q: want one JSON line (%v)", stdout, err)
			}
			if fmt.Sprint(res.Rounds) != tc.rounds {
				t.Fatalf("%d rounds; want %s", res.Rounds, tc.rounds)
			}
			if res.Lost != 0 || res.Violations != 0 {
				t.Fatalf("lost %d, violations %d; want 0 and 0\n%s", res.Lost, res.Violations, stderr)
			}
			if res.Acknowledged+res.Refused+res.InFlight == 0 {
				t.Fatalf("%+v: no operation was sent", res)
			}
			if !strings.Contains(stderr, "round "+tc.rounds+"/"+tc.rounds+":") {
				t.Fatalf("stderr shows no progress of the last round:\n%s", stderr)
			}
		})
	}
}

// TestChaosFindsLoss checks the checker: against a server that never saw
// an acknowledged payment and close, it counts them lost, and a payment
// that went through but was recorded as refused breaks the balances.
func TestChaosFindsLoss(t *testing.T) {
	ctx := t.Context()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	n, err := openNode(ctx, t.TempDir(), log, false)
	must(t, err)
	addr, stop, err := n.listen("127.0.0.1:0", log)
	if err != nil {
		n.close()
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(); n.close() })
	base := "http://" + addr
	var stderr bytes.Buffer
	r := &chaosRun{cfg: chaosConfig{clients: 2}, stderr: &stderr, cbKey: n.cbKey, closes: map[uint64]*chaosOp{}}
	r.res.RefusedBy = map[string]int{}
	must(t, r.setup(ctx, base))

	from, to := r.holders[0], r.holders[1]
	neverSent := &chaosOp{kind: chaosPay, key: client.NewKey(), actor: 0, from: from.id, to: to.id, amount: 3 * yuan, outcome: chaosAcked}
	neverClosed := &chaosOp{kind: chaosClose, key: client.NewKey(), actor: -1, window: 1, outcome: chaosAcked}
	done := &chaosOp{kind: chaosPay, key: client.NewKey(), actor: 1, from: to.id, to: from.id, amount: 2 * yuan}
	cs := r.clients(base)
	r.send(ctx, cs, done)
	if done.outcome != chaosAcked {
		t.Fatalf("payment outcome %v (%s); want acknowledged", done.outcome, done.problem)
	}
	done.outcome = chaosRefused

	must(t, r.verify(ctx, base, []*chaosOp{neverSent, neverClosed, done}))
	if r.res.Lost != 2 {
		t.Errorf("lost %d; want 2 (the payment and the close)\n%s", r.res.Lost, stderr.String())
	}
	// The payment recorded as refused leaves both wallets off by its
	// amount; the close never made leaves window 1 open though
	// acknowledged.
	if r.res.Violations != 3 {
		t.Errorf("violations %d; want 3 (two balances, one window)\n%s", r.res.Violations, stderr.String())
	}
}

// The chaos clients send a request answered 503 again, with the same
// body and Idempotency-Key, as the API asks of its clients.
func TestChaosRetriesUnavailable(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if string(body) != `{"amount":"1.00"}` || r.Header.Get("Idempotency-Key") != "k-1" {
			t.Errorf("attempt %d: body %q, key %q", calls.Load()+1, body, r.Header.Get("Idempotency-Key"))
		}
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	var retries atomic.Int64
	c := client.New(srv.URL, "key", &http.Client{Transport: &retryUnavailable{next: http.DefaultTransport, retries: &retries}})
	if err := c.Do(t.Context(), "POST", "/v1/x", "k-1", []byte(`{"amount":"1.00"}`), nil); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || retries.Load() != 2 {
		t.Fatalf("%d attempts, %d retries; want 3 and 2", calls.Load(), retries.Load())
	}
}
