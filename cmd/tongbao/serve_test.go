package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi"
	"github.com/tongbao/tongbao/httpapi/keysql"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/internal/storetest"
)

// yuan is one CNY in fen.
const yuan tongbao.Amount = 100

// takeoverMax is how soon a standby must serve writes after the writer
// shut down: it gives its lease up, so the standby need not wait out the
// lease's TTL.
const takeoverMax = 5 * time.Second

func TestServeDB(t *testing.T) {
	const pg = "postgres://u@127.0.0.1:5432/tongbao"
	for _, tc := range []struct {
		name    string
		flag    string
		flagSet bool
		env     string
		want    string // "" for an error
	}{
		{"neither", "", false, "", "sqlite"},
		{"flag", pg, true, "", pg},
		{"env", "", false, pg, pg},
		{"flag wins over env", "sqlite", true, pg, "sqlite"},
		{"empty flag means sqlite", "", true, pg, "sqlite"},
		{"unknown", "mysql://u:secret@h/db", true, "", ""},
		{"typo", "sqllite", false, "sqllite", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := serveDB(tc.flag, tc.flagSet, tc.env)
			switch {
			case tc.want == "" && err == nil:
				t.Fatalf("got %q; want an error", got)
			case tc.want == "" && strings.Contains(err.Error(), "secret"):
				t.Fatalf("error %q shows the credentials", err)
			case tc.want != "" && (err != nil || got != tc.want):
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// pgNode is a node of `tongbao serve --db postgres://…` serving on
// 127.0.0.1:0, with the central bank keys it announced.
type pgNode struct {
	n    *node
	base string
	keys chan string
	stop func()
}

// needPostgres skips the test unless TONGBAO_TEST_POSTGRES names a
// database, and returns a connection string on a schema of the test's own.
func needPostgres(t *testing.T) string {
	t.Helper()
	if storetest.Postgres() == "" {
		t.Skip(storetest.PostgresEnv + ` is not set, so serve on PostgreSQL is not tested. To run it:
	eval "$(.ci/postgres.sh start)"; go test ./cmd/tongbao; .ci/postgres.sh stop`)
	}
	dsn, err := storetest.TempSchema(t)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// startPG opens a node on dsn with its keys in dir and serves it; it is
// closed when the test ends, if not before with stop.
func startPG(t *testing.T, dsn, dir string) *pgNode {
	t.Helper()
	return startPGSandbox(t, dsn, dir, false)
}

// startPGSandbox is startPG, in sandbox mode or not.
func startPGSandbox(t *testing.T, dsn, dir string, sandbox bool) *pgNode {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := &pgNode{keys: make(chan string, 4)}
	n, err := openPostgresNode(t.Context(), dsn, dir, log, func(secret string) { p.keys <- secret }, sandbox)
	if err != nil {
		t.Fatal(err)
	}
	addr, stop, err := n.listen("127.0.0.1:0", log)
	if err != nil {
		n.close()
		t.Fatal(err)
	}
	p.n, p.base = n, "http://"+addr
	stopped := false
	p.stop = func() {
		if !stopped {
			stopped = true
			stop()
			n.close()
		}
	}
	t.Cleanup(p.stop)
	return p
}

// waitWriter waits until the node serves writes and returns how long that
// took.
func (p *pgNode) waitWriter(t *testing.T, max time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.After(max)
	for {
		changed := p.n.watch()
		if _, err := p.n.current(); err == nil {
			return time.Since(start)
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("%s did not become the writer within %v", p.base, max)
		}
	}
}

// centralBankKey returns the central bank key the node announced.
func (p *pgNode) centralBankKey(t *testing.T) string {
	t.Helper()
	select {
	case k := <-p.keys:
		return k
	default:
		t.Fatal("the node announced no central bank key")
		return ""
	}
}

// ready reads /readyz.
func (p *pgNode) ready(t *testing.T) (int, wire.Health) {
	t.Helper()
	resp, err := http.Get(p.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h wire.Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, h
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func supplyOK(t *testing.T, cb *client.Client, issued tongbao.Amount) {
	t.Helper()
	s, err := cb.Supply(t.Context())
	must(t, err)
	if !s.OK || tongbao.Amount(s.Issued) != issued {
		t.Fatalf("supply %+v; want ok with %v issued", s, issued)
	}
}

// TestServePostgresStory serves the API on PostgreSQL in a schema of the
// test's own and tells a short story through the client: operators,
// wallets, a top-up, a payment across operators, the supply check; then
// restarts the node and finds it all again.
func TestServePostgresStory(t *testing.T) {
	dsn := needPostgres(t)
	ctx := t.Context()
	dir := t.TempDir()
	node := startPG(t, dsn, dir)
	node.waitWriter(t, 30*time.Second)
	if status, h := node.ready(t); status != http.StatusOK || h.Writer == nil || !*h.Writer {
		t.Fatalf("/readyz %d %+v; want 200 and writer", status, h)
	}
	cbKey := node.centralBankKey(t)
	cb := client.New(node.base, cbKey, nil)
	operator := func(name string) (tongbao.ID, string) {
		op, admin := fundedOperator(t, cb, name, 100_000*yuan, 100_000*yuan)
		return op.ID, admin.Key()
	}
	a, adminAKey := operator("Operator A")
	b, adminBKey := operator("Operator B")
	adminA, adminB := cb.WithKey(adminAKey), cb.WithKey(adminBKey)
	supplyOK(t, cb, 200_000*yuan)

	w1, err := adminA.OpenWallet(ctx, client.NewKey(), a, wire.OpenWallet{Category: 2, HolderName: "李四", Phone: "13800000002"})
	must(t, err)
	w2, err := adminB.OpenWallet(ctx, client.NewKey(), b, wire.OpenWallet{Category: 4, Phone: "13900000004"})
	must(t, err)
	_, err = adminA.TopUp(ctx, client.NewKey(), w1.ID, 1_000*yuan)
	must(t, err)
	k, err := adminA.CreateKey(ctx, wire.CreateKey{Role: wire.RoleHolder, Wallet: &w1.ID})
	must(t, err)
	holder := cb.WithKey(k.Secret)
	p, err := holder.Pay(ctx, client.NewKey(), wire.Pay{From: w1.ID, To: "139 0000 0004", Amount: wire.Amount(12_34)})
	must(t, err)
	if !p.CrossOperator || p.To != w2.ID {
		t.Fatalf("payment %+v; want across operators to %v", p, w2.ID)
	}
	balance := func(admin *client.Client, id tongbao.ID) tongbao.Amount {
		t.Helper()
		w, err := admin.Wallet(ctx, id)
		must(t, err)
		return tongbao.Amount(*w.Balance)
	}
	if got, want := balance(adminA, w1.ID), 1_000*yuan-12_34; got != want {
		t.Fatalf("payer balance %v; want %v", got, want)
	}
	supplyOK(t, cb, 200_000*yuan)

	// A restart rebuilds everything from the database, and finds the
	// central bank's key in the data folder: none is announced.
	node.stop()
	node = startPG(t, dsn, dir)
	node.waitWriter(t, 30*time.Second)
	if len(node.keys) != 0 {
		t.Fatal("the restarted node announced a new central bank key")
	}
	cb, adminB = client.New(node.base, cbKey, nil), client.New(node.base, adminBKey, nil)
	if got := balance(adminB, w2.ID); got != 12_34 {
		t.Fatalf("payee balance after a restart %v; want 12.34", got)
	}
	supplyOK(t, cb, 200_000*yuan)
}

// TestServePostgresOneWriter runs two servers on one database, each with
// a data folder of its own: the first serves writes, the second answers them with 503
// not-the-writer and a Retry-After until the first shuts down; then it
// takes over within seconds, with everything the first acknowledged, and
// with the keys the first made after the second started.
func TestServePostgresOneWriter(t *testing.T) {
	dsn := needPostgres(t)
	ctx := t.Context()
	// Each node has a data folder of its own, as on two machines: the
	// keys are shared through the database.
	// In sandbox mode, so that the test moves the clock rather than wait.
	first := startPGSandbox(t, dsn, t.TempDir(), true)
	first.waitWriter(t, 30*time.Second)
	cbKey := first.centralBankKey(t)
	second := startPGSandbox(t, dsn, t.TempDir(), true)
	if status, h := second.ready(t); status != http.StatusServiceUnavailable || h.Writer == nil || *h.Writer {
		t.Fatalf("second's /readyz %d %+v; want 503 and not the writer", status, h)
	}

	cb1 := client.New(first.base, cbKey, nil)
	op, admin1 := fundedOperator(t, cb1, "Operator A", 1_000*yuan, 600*yuan)
	w, err := admin1.OpenWallet(ctx, client.NewKey(), op.ID, wire.OpenWallet{Category: 4, Phone: "13800000004"})
	must(t, err)
	_, err = admin1.TopUp(ctx, client.NewKey(), w.ID, 250*yuan)
	must(t, err)

	// The standby refuses to move money, retryably.
	cb2 := client.New(second.base, cbKey, nil)
	deposit := client.NewKey()
	_, err = cb2.DepositReserves(ctx, deposit, op.ID, 1_000*yuan)
	if got := client.ProblemName(err); got != "not-the-writer" {
		t.Fatalf("deposit at the standby: %v; want problem not-the-writer", err)
	}
	body, _ := json.Marshal(wire.Money{Amount: wire.Amount(1_000 * yuan)})
	req, _ := http.NewRequestWithContext(ctx, "POST", second.base+"/v1/operators/"+op.ID.String()+"/reserves/deposit", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+cbKey)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", deposit)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("deposit at the standby: %d, Retry-After %q; want 503 with a Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	// A contract whose deadline comes while the first server is gone:
	// the second, once the writer, fires its timer, once.
	payee, err := admin1.OpenWallet(ctx, client.NewKey(), op.ID, wire.OpenWallet{Category: 4, Phone: "13800000005"})
	must(t, err)
	holderKey, err := admin1.CreateKey(ctx, wire.CreateKey{Role: wire.RoleHolder, Wallet: &w.ID, Name: "payer"})
	must(t, err)
	payer := cb1.WithKey(holderKey.Secret)
	lock, err := payer.DeployContract(ctx, client.NewKey(), wire.DeployContract{Template: "lock_two_party",
		Parties: map[string]string{"payer": w.ID.String(), "payee": payee.ID.String()},
		Params:  map[string]any{"amount": "40.00", "deadline": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}})
	must(t, err)
	_, err = payer.AcceptContract(ctx, lock.ID, "payer", lock.Hash)
	must(t, err)

	first.stop()
	took := second.waitWriter(t, 30*time.Second)
	t.Logf("the second server took over %v after the first shut down", took)
	if took > takeoverMax {
		t.Errorf("takeover took %v; want at most %v", took, takeoverMax)
	}
	if status, h := second.ready(t); status != http.StatusOK || h.Writer == nil || !*h.Writer {
		t.Fatalf("second's /readyz after the takeover %d %+v; want 200 and writer", status, h)
	}
	if len(second.keys) != 0 {
		t.Fatal("the second server announced a central bank key, though the database has one")
	}
	// The refused deposit, retried with its key, now goes through; both
	// deposits back what is issued next.
	_, err = cb2.DepositReserves(ctx, deposit, op.ID, 1_000*yuan)
	must(t, err)
	_, err = cb2.Issue(ctx, client.NewKey(), op.ID, 1_400*yuan)
	must(t, err)
	supplyOK(t, cb2, 2_000*yuan)
	// The operator admin key, made at the first server after the second
	// started, works here too; the top-up made at the first is kept.
	admin := cb2.WithKey(admin1.Key())
	got, err := admin.Wallet(ctx, w.ID)
	must(t, err)
	if tongbao.Amount(*got.Balance) != 250*yuan {
		t.Fatalf("wallet balance at the new writer %v; want 250.00", tongbao.Amount(*got.Balance))
	}
	_, err = admin.TopUp(ctx, client.NewKey(), w.ID, 50*yuan)
	must(t, err)
	supplyOK(t, cb2, 2_000*yuan)

	// The lock's deadline comes at the second server, the writer now: a
	// sandbox advance past it fires its timer before it answers. The hold
	// is back, and exactly one invocation fired it.
	_, err = cb2.AdvanceSandboxClock(ctx, 2*time.Hour)
	must(t, err)
	c, err := admin.Contract(ctx, lock.ID)
	must(t, err)
	if c.Status != "completed" {
		t.Fatalf("the lock is %s after its deadline; want completed by its timer at the new writer", c.Status)
	}
	invs, err := admin.ContractInvocations(ctx, lock.ID, client.Page{Limit: 100})
	must(t, err)
	fired := 0
	for _, inv := range invs.Items {
		if strings.HasPrefix(inv.Key, "timer:deadline@") {
			fired++
		}
	}
	if fired != 1 {
		t.Fatalf("the deadline fired %d times; want once", fired)
	}
	got, err = admin.Wallet(ctx, w.ID)
	must(t, err)
	if tongbao.Amount(*got.Available) != 300*yuan {
		t.Fatalf("payer available %v after the refund; want 300.00", tongbao.Amount(*got.Available))
	}
}

// A node that kept its keys in its data folder before brings them into a
// database that holds none; a database that has keys keeps its own. On
// SQLite, and on PostgreSQL when TONGBAO_TEST_POSTGRES names one.
func TestImportKeys(t *testing.T) {
	targets := []string{filepath.Join(t.TempDir(), nodeKeysDBFile)}
	if dsn := storetest.Postgres(); dsn != "" {
		dsn, err := storetest.TempSchema(t)
		must(t, err)
		targets = append(targets, dsn)
	}
	for _, target := range targets {
		ctx := t.Context()
		dir := t.TempDir()
		// A key file as older nodes wrote it, with more keys than the
		// importers at once and a revoked one.
		const count = 3*nodeKeysImporters + 5
		var file []httpapi.StoredKey
		secrets := make([]string, count)
		mem, err := httpapi.NewKeys(ctx, &recordingStore{put: func(k httpapi.StoredKey) { file = append(file, k) }})
		must(t, err)
		for i := range secrets {
			secrets[i], _, err = mem.Create(httpapi.Principal{Role: httpapi.RoleHolder, Institution: tongbao.NewID(), Wallet: tongbao.NewID()})
			must(t, err)
		}
		revoked, err := mem.Revoke(file[0].KeyID, "lost", func(httpapi.Principal) bool { return true })
		must(t, err)
		file[0].Principal = revoked
		later, _, err := mem.Create(httpapi.Principal{Role: httpapi.RoleCentralBank, Institution: tongbao.NewID()})
		must(t, err)
		writeKeyFile(t, filepath.Join(dir, nodeKeysFile), file[:count])

		st, err := keysql.Open(ctx, target)
		must(t, err)
		defer st.Close()
		must(t, importKeys(ctx, filepath.Join(dir, nodeKeysFile), st))
		keys, err := httpapi.NewKeys(ctx, st)
		must(t, err)
		if _, ok := keys.Lookup(secrets[0]); ok {
			t.Fatal("a key revoked in the file works after the import")
		}
		for _, secret := range secrets[1:] {
			if _, ok := keys.Lookup(secret); !ok {
				t.Fatalf("imported key %.12s… is unknown", secret)
			}
		}
		// Another key file is not imported into a database with keys.
		other := filepath.Join(t.TempDir(), nodeKeysFile)
		writeKeyFile(t, other, file[count+1:]) // the key made after the revocation
		must(t, importKeys(ctx, other, st))
		stored, err := st.Since(ctx, 0, httpapi.KeysPageMax)
		must(t, err)
		if len(stored) != count {
			t.Fatalf("%d keys in the database after a second import; want %d", len(stored), count)
		}
		if _, ok := keys.Lookup(later); ok {
			t.Fatal("a key of a second file was imported into a database that had keys")
		}
	}
}

// recordingStore is a key store that only tells what is put in it.
type recordingStore struct{ put func(httpapi.StoredKey) }

func (recordingStore) Version(context.Context) (int64, error) { return 0, nil }
func (recordingStore) Since(context.Context, int64, int) ([]httpapi.StoredKey, error) {
	return nil, nil
}
func (r *recordingStore) Put(_ context.Context, k httpapi.StoredKey) (int64, error) {
	r.put(k)
	return 0, nil
}

// writeKeyFile writes keys as older nodes kept them in keys.json.
func writeKeyFile(t *testing.T, path string, keys []httpapi.StoredKey) {
	t.Helper()
	b, err := json.MarshalIndent(keys, "", "  ")
	must(t, err)
	must(t, os.WriteFile(path, b, 0o600))
}
