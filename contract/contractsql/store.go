// Package contractsql keeps the contract domain's tables (contract.Store)
// in SQLite or PostgreSQL, one implementation for both (see internal/sqldb
// for where they differ). On SQLite the tables live in a file of their own
// (contract.db beside the ledger's), in WAL mode with synchronous=FULL; on
// PostgreSQL they may share a schema with the ledger's and the other
// domains', recorded as component "contract" in schema_version.
//
// Every contract-triggered payment creates an invocation and finishes it,
// so CreateInvocation and FinishInvocation made at the same time share one
// transaction (sqldb.Committer): one commit, one fsync on SQLite, makes a
// batch durable. Each call in a batch checks before it writes, so a call
// refused (a version conflict, a missing contract) stores nothing and
// leaves the others to commit.
//
// The compare-and-swap on a contract's version is a conditional UPDATE:
// of two writers on the same version exactly one changes the row (on
// PostgreSQL the condition is evaluated again on the row's latest version
// once a concurrent update commits; on SQLite the transaction holds the
// file's write lock from its BEGIN). A batch takes the locks of its
// contracts in the order of their ids, so two writers on PostgreSQL do
// not deadlock on them.
package contractsql

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/contract"
	"github.com/tongbao/tongbao/internal/sqldb"
)

var _ contract.Store = (*Store)(nil)

// BatchMax is the most invocation writes one transaction commits.
const BatchMax = 256

// sequenceRetriesMax bounds the attempts at numbering an invocation that
// another process numbered the same meanwhile (PostgreSQL only: on SQLite
// the file's write lock orders them).
const sequenceRetriesMax = 8

// Store is a contract.Store in a SQLite file or a PostgreSQL database.
type Store struct {
	db     *sqldb.DB
	writes *sqldb.Committer[*invocationWrite]
}

//go:embed migrations
var migrations embed.FS

// Open opens the store on target: a postgres:// connection string, or
// the path of a SQLite file (created if needed). It brings the tables up
// to date.
func Open(ctx context.Context, target string) (*Store, error) {
	db, err := sqldb.Open(ctx, target, "contract", migrations)
	if err != nil {
		return nil, fmt.Errorf("contractsql: %w", err)
	}
	if err := db.Prepare(ctx, hotQueries...); err != nil {
		db.Close()
		return nil, fmt.Errorf("contractsql: %w", err)
	}
	s := &Store{db: db}
	// SQLite has one connection, so one writer; PostgreSQL's writers
	// each commit batches of their own on connections of the pool.
	writers := 1
	if db.Dialect() == sqldb.Postgres {
		writers = postgresWriters
	}
	s.writes = sqldb.NewCommitter(db, BatchMax, writers, s.write)
	return s, nil
}

// postgresWriters is the number of transactions batching invocation
// writes at once on PostgreSQL.
const postgresWriters = 2

// Close stops the writes and closes the database.
func (s *Store) Close() error {
	s.writes.Close()
	return s.db.Close()
}

func internal(what string, err error) error {
	return &tongbao.Error{Code: tongbao.EINTERNAL, Message: "contract store: " + what, Err: err}
}

func invalid(format string, args ...any) error {
	return &tongbao.Error{Code: tongbao.EINVALID, Message: "contract store: " + fmt.Sprintf(format, args...)}
}

// CreateParty implements contract.Store.
func (s *Store) CreateParty(ctx context.Context, p contract.Party) error {
	_, err := s.db.Exec(ctx, `INSERT INTO contract_parties (id, operator, name, public_key, created_at) VALUES (?, ?, ?, ?, ?)`,
		p.ID[:], p.Operator[:], p.Name, p.PublicKey, tongbao.UnixNanos(p.CreatedAt))
	switch {
	case sqldb.IsUniqueViolation(err):
		return contract.ErrPartyExists
	case err != nil:
		return internal("create party", err)
	}
	return nil
}

// Party implements contract.Store.
func (s *Store) Party(ctx context.Context, id tongbao.ID) (contract.Party, error) {
	var p contract.Party
	var pid, op []byte
	var created int64
	err := s.db.QueryRow(ctx, `SELECT id, operator, name, public_key, created_at FROM contract_parties WHERE id = ?`, id[:]).
		Scan(&pid, &op, &p.Name, &p.PublicKey, &created)
	if sqldb.IsNoRows(err) {
		return p, contract.ErrPartyNotFound
	}
	if err == nil {
		err = ids([]*tongbao.ID{&p.ID, &p.Operator}, [][]byte{pid, op})
	}
	if err != nil {
		return contract.Party{}, internal("read party", err)
	}
	p.CreatedAt = tongbao.FromUnixNanos(created)
	return p, nil
}

// ids converts the id columns src into dst.
func ids(dst []*tongbao.ID, src [][]byte) error {
	for i := range dst {
		var err error
		if *dst[i], err = tongbao.IDFromBytes(src[i]); err != nil {
			return err
		}
	}
	return nil
}

// contractColumns are the columns of the contracts table, in the order
// scanContract reads them.
const contractColumns = `id, hash, operator, wallet, document, status, version, runtime, deployed_by, deployed_at, updated_at`

func scanContract(sc sqldb.Scanner) (contract.Contract, error) {
	var c contract.Contract
	var id, op, wallet []byte
	var document, status, runtime string
	var deployed, updated int64
	if err := sc.Scan(&id, &c.Hash, &op, &wallet, &document, &status, &c.Version, &runtime, &c.DeployedBy, &deployed, &updated); err != nil {
		return c, err
	}
	if err := ids([]*tongbao.ID{&c.ID, &c.Operator, &c.Wallet}, [][]byte{id, op, wallet}); err != nil {
		return c, err
	}
	var err error
	if c.Runtime, err = decodeRuntime(runtime); err != nil {
		return c, fmt.Errorf("contract %v: runtime: %w", c.ID, err)
	}
	if document != "" {
		c.Document = json.RawMessage(document)
	}
	c.Status = contract.Status(status)
	c.DeployedAt, c.UpdatedAt = tongbao.FromUnixNanos(deployed), tongbao.FromUnixNanos(updated)
	return c, nil
}

// validStatus refuses a status that is none of contract's.
func validStatus(st contract.Status) error {
	switch st {
	case contract.StatusPending, contract.StatusActive, contract.StatusPaused, contract.StatusCompleted, contract.StatusTerminated:
		return nil
	}
	return invalid("unknown contract status %q", st)
}

// CreateContract implements contract.Store.
func (s *Store) CreateContract(ctx context.Context, c contract.Contract) (contract.Contract, bool, error) {
	if err := validStatus(c.Status); err != nil {
		return contract.Contract{}, false, err
	}
	runtime, err := json.Marshal(c.Runtime)
	if err != nil {
		return contract.Contract{}, false, internal("create contract", err)
	}
	res, err := s.db.Exec(ctx, `INSERT INTO contracts (`+contractColumns+`) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		c.ID[:], c.Hash, c.Operator[:], c.Wallet[:], string(c.Document), string(c.Status), string(runtime), c.DeployedBy,
		tongbao.UnixNanos(c.DeployedAt), tongbao.UnixNanos(c.UpdatedAt))
	if err != nil {
		return contract.Contract{}, false, internal("create contract", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return contract.Contract{}, false, internal("create contract", err)
	} else if n == 0 {
		old, err := s.Contract(ctx, c.ID)
		return old, false, err
	}
	// What is stored, as Contract reads it.
	c.Version = 1
	if c.Runtime, err = decodeRuntime(string(runtime)); err != nil {
		return contract.Contract{}, false, internal("create contract", err)
	}
	if len(c.Document) == 0 {
		c.Document = nil
	}
	c.DeployedAt, c.UpdatedAt = tongbao.FromUnixNanos(tongbao.UnixNanos(c.DeployedAt)), tongbao.FromUnixNanos(tongbao.UnixNanos(c.UpdatedAt))
	return c, true, nil
}

// Contract implements contract.Store.
func (s *Store) Contract(ctx context.Context, id tongbao.ID) (contract.Contract, error) {
	c, err := scanContract(s.db.QueryRow(ctx, `SELECT `+contractColumns+` FROM contracts WHERE id = ?`, id[:]))
	if sqldb.IsNoRows(err) {
		return contract.Contract{}, contract.ErrContractNotFound
	}
	if err != nil {
		return contract.Contract{}, internal("read contract", err)
	}
	return c, nil
}

// listLimit is limit within (0, ListMax]; zero or less is ListMax.
func listLimit(limit int) int {
	if limit <= 0 || limit > contract.ListMax {
		return contract.ListMax
	}
	return limit
}

// Contracts implements contract.Store.
func (s *Store) Contracts(ctx context.Context, operator, after tongbao.ID, limit int) ([]contract.Contract, error) {
	query, args := `SELECT `+contractColumns+` FROM contracts WHERE id > ? ORDER BY id LIMIT ?`, []any{after[:], listLimit(limit)}
	if !operator.IsZero() {
		query, args = `SELECT `+contractColumns+` FROM contracts WHERE operator = ? AND id > ? ORDER BY id LIMIT ?`, []any{operator[:], after[:], listLimit(limit)}
	}
	rs, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, internal("list contracts", err)
	}
	out, err := sqldb.All(rs, scanContract)
	if err != nil {
		return nil, internal("list contracts", err)
	}
	return out, nil
}

// UpdateContract implements contract.Store.
func (s *Store) UpdateContract(ctx context.Context, c contract.Contract, timers []contract.Timer, cancelTimers bool) (int64, error) {
	if err := validStatus(c.Status); err != nil {
		return 0, err
	}
	runtime, err := json.Marshal(c.Runtime)
	if err != nil {
		return 0, internal("update contract", err)
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return 0, internal("update contract", err)
	}
	defer tx.Rollback()
	refused, err := swapContract(ctx, tx, c.ID, c.Version, c.Status, string(runtime), c.UpdatedAt)
	if err != nil {
		return 0, internal("update contract", err)
	}
	if refused != nil {
		return 0, refused
	}
	if cancelTimers {
		if _, err := tx.Exec(ctx, deleteUnfiredTimers, c.ID[:]); err != nil {
			return 0, internal("update contract", err)
		}
	}
	for _, t := range timers {
		if err := addTimer(ctx, tx, c.ID, t); err != nil {
			return 0, internal("update contract", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, internal("update contract", err)
	}
	return c.Version + 1, nil
}

// swapContract sets a contract's status and runtime at version base+1 if
// it is at base: else it returns ErrVersionConflict, or
// ErrContractNotFound, as refused, having changed nothing.
func swapContract(ctx context.Context, tx *sqldb.Tx, id tongbao.ID, base int64, st contract.Status, runtime string, updated time.Time) (refused, err error) {
	res, err := tx.Exec(ctx, swapContractQuery, string(st), runtime, base+1, tongbao.UnixNanos(updated), id[:], base)
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, err
	} else if n == 1 {
		return nil, nil
	}
	var one int
	err = tx.QueryRow(ctx, `SELECT 1 FROM contracts WHERE id = ?`, id[:]).Scan(&one)
	switch {
	case sqldb.IsNoRows(err):
		return contract.ErrContractNotFound, nil
	case err != nil:
		return nil, err
	}
	return contract.ErrVersionConflict, nil
}

// addTimer adds a timer to a contract, unless one with its key is stored
// (waiting or fired: a timer fires once).
func addTimer(ctx context.Context, tx *sqldb.Tx, c tongbao.ID, t contract.Timer) error {
	_, err := tx.Exec(ctx, insertTimer, c[:], t.Key, t.Trigger, tongbao.UnixNanos(t.DueAt), t.N, t.Of)
	return err
}

// The statements of the invocation writes, prepared ahead (hotQueries).
const (
	swapContractQuery   = `UPDATE contracts SET status = ?, runtime = ?, version = ?, updated_at = ? WHERE id = ? AND version = ?`
	deleteUnfiredTimers = `DELETE FROM contract_timers WHERE contract = ? AND fired_at IS NULL`
	insertTimer         = `INSERT INTO contract_timers (contract, key, trigger, due_at, n, of, fired_at) VALUES (?, ?, ?, ?, ?, ?, NULL)
		ON CONFLICT (contract, key) DO NOTHING`
	fireTimer = `UPDATE contract_timers SET fired_at = ? WHERE contract = ? AND key = ? AND fired_at IS NULL`
	// insertInvocation numbers the invocation max + 1 of its contract's,
	// and inserts nothing if the contract is not stored or the key (or,
	// on PostgreSQL, the number, taken meanwhile) is.
	insertInvocation = `INSERT INTO contract_invocations (contract, key, id, sequence, outcome, at, body)
		SELECT ?, ?, ?, coalesce((SELECT sequence FROM contract_invocations WHERE contract = ? ORDER BY sequence DESC LIMIT 1), 0) + 1, 'pending', ?, ?
		FROM contracts WHERE id = ?
		ON CONFLICT DO NOTHING RETURNING sequence`
	invocationOutcome = `SELECT outcome FROM contract_invocations WHERE contract = ? AND key = ?`
	finishInvocation  = `UPDATE contract_invocations SET outcome = ?, body = ? WHERE contract = ? AND key = ?`
	selectInvocation  = `SELECT ` + invocationColumns + ` FROM contract_invocations WHERE contract = ? AND key = ?`
)

var hotQueries = []string{swapContractQuery, deleteUnfiredTimers, insertTimer, fireTimer, insertInvocation, invocationOutcome, finishInvocation, selectInvocation}

// invocationWrite is one CreateInvocation or FinishInvocation for the
// committer: the invocation, its body encoded by the caller (so encoding
// runs in the callers' goroutines, not the writer's), and the result.
type invocationWrite struct {
	inv    contract.Invocation
	finish bool
	body   string
	next   string // FinishInvocation: the runtime JSON
	// Results of CreateInvocation: the invocation stored and whether
	// this call stored it.
	stored  contract.Invocation
	created bool
	seq     int64
}

// write runs a batch of invocation writes in the committer's
// transaction, the calls of one contract together and the contracts in
// the order of their ids (so two writers lock rows in one order), each
// contract's creates before its finishes (they are concurrent calls, so
// any order is one they could have had).
func (s *Store) write(ctx context.Context, tx *sqldb.Tx, batch []*invocationWrite, errs []error) error {
	order := make([]int, len(batch))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := bytes.Compare(batch[a].inv.Contract[:], batch[b].inv.Contract[:]); c != 0 {
			return c
		}
		return boolCompare(batch[a].finish, batch[b].finish)
	})
	for _, i := range order {
		var refused, err error
		if batch[i].finish {
			refused, err = s.finish(ctx, tx, batch[i])
		} else {
			refused, err = s.create(ctx, tx, batch[i])
		}
		if err != nil {
			return internal("write invocations", err)
		}
		errs[i] = refused
	}
	return nil
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// CreateInvocation implements contract.Store. The invocation is stored
// pending, numbered after the contract's latest; ErrContractNotFound if
// its contract is not stored.
func (s *Store) CreateInvocation(ctx context.Context, inv contract.Invocation) (contract.Invocation, bool, error) {
	inv.Outcome, inv.Sequence = contract.OutcomePending, 0
	body, err := encodeBody(inv)
	if err != nil {
		return contract.Invocation{}, false, internal("create invocation", err)
	}
	w := &invocationWrite{inv: inv, body: body}
	if err := s.writes.Do(ctx, w); err != nil {
		return contract.Invocation{}, false, err
	}
	if w.created {
		stored, err := decodeInvocation(inv.Contract[:], inv.Key, inv.ID[:], w.seq, string(inv.Outcome), tongbao.UnixNanos(inv.At), body)
		if err != nil {
			return contract.Invocation{}, false, internal("create invocation", err)
		}
		return stored, true, nil
	}
	return w.stored, false, nil
}

// create stores w's invocation, or reads the one stored under its key.
func (s *Store) create(ctx context.Context, tx *sqldb.Tx, w *invocationWrite) (refused, err error) {
	inv := &w.inv
	for range sequenceRetriesMax {
		var seq int64
		err := tx.QueryRow(ctx, insertInvocation, inv.Contract[:], inv.Key, inv.ID[:], inv.Contract[:], tongbao.UnixNanos(inv.At), w.body, inv.Contract[:]).Scan(&seq)
		if err == nil {
			// Read back as Invocation reads it by the caller, off the
			// one writer goroutine (see CreateInvocation).
			w.created, w.seq = true, seq
			return nil, nil
		}
		if !sqldb.IsNoRows(err) {
			return nil, err
		}
		old, err := scanInvocation(tx.QueryRow(ctx, selectInvocation, inv.Contract[:], inv.Key))
		if err == nil {
			w.stored = old
			return nil, nil
		}
		if !sqldb.IsNoRows(err) {
			return nil, err
		}
		var one int
		err = tx.QueryRow(ctx, `SELECT 1 FROM contracts WHERE id = ?`, inv.Contract[:]).Scan(&one)
		if sqldb.IsNoRows(err) {
			return contract.ErrContractNotFound, nil
		}
		if err != nil {
			return nil, err
		}
		// The number was taken by another process's invocation, now
		// committed: number again.
	}
	return nil, errors.New("numbering an invocation: too many concurrent invocations of the contract")
}

// FinishInvocation implements contract.Store. ErrInvocationNotFound if
// the invocation is not stored; ErrVersionConflict too if it is finished
// already (its finish changed the contract).
func (s *Store) FinishInvocation(ctx context.Context, inv contract.Invocation) error {
	if inv.Outcome == contract.OutcomePending || inv.Outcome == "" {
		return invalid("finish invocation %q: outcome %q is not an end", inv.Key, inv.Outcome)
	}
	if err := validStatus(inv.NextStatus); err != nil {
		return err
	}
	body, err := encodeBody(inv)
	if err != nil {
		return internal("finish invocation", err)
	}
	next, err := json.Marshal(inv.Next)
	if err != nil {
		return internal("finish invocation", err)
	}
	return s.writes.Do(ctx, &invocationWrite{inv: inv, finish: true, body: body, next: string(next)})
}

// finish checks that w's invocation is pending and its contract at its
// base version, then writes the whole finish; a refusal writes nothing.
func (s *Store) finish(ctx context.Context, tx *sqldb.Tx, w *invocationWrite) (refused, err error) {
	inv := &w.inv
	var outcome string
	err = tx.QueryRow(ctx, invocationOutcome, inv.Contract[:], inv.Key).Scan(&outcome)
	switch {
	case sqldb.IsNoRows(err):
		return contract.ErrInvocationNotFound, nil
	case err != nil:
		return nil, err
	case outcome != string(contract.OutcomePending):
		return contract.ErrVersionConflict, nil
	}
	finished := inv.Finished
	if finished.IsZero() {
		finished = inv.At
	}
	if refused, err := swapContract(ctx, tx, inv.Contract, inv.BaseVersion, inv.NextStatus, w.next, finished); refused != nil || err != nil {
		return refused, err
	}
	// Past the checks: every statement below changes what it names.
	if _, err := tx.Exec(ctx, finishInvocation, string(inv.Outcome), w.body, inv.Contract[:], inv.Key); err != nil {
		return nil, err
	}
	for _, t := range inv.Timers {
		if err := addTimer(ctx, tx, inv.Contract, t); err != nil {
			return nil, err
		}
	}
	if inv.Fired != "" {
		if _, err := tx.Exec(ctx, fireTimer, tongbao.UnixNanos(finished), inv.Contract[:], inv.Fired); err != nil {
			return nil, err
		}
	}
	if inv.NextStatus.Ended() {
		if _, err := tx.Exec(ctx, deleteUnfiredTimers, inv.Contract[:]); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// invocationColumns are the columns of the contract_invocations table, in
// the order scanInvocation reads them.
const invocationColumns = `contract, key, id, sequence, outcome, at, body`

func scanInvocation(sc sqldb.Scanner) (contract.Invocation, error) {
	var c, id []byte
	var key, outcome, body string
	var seq, at int64
	if err := sc.Scan(&c, &key, &id, &seq, &outcome, &at, &body); err != nil {
		return contract.Invocation{}, err
	}
	return decodeInvocation(c, key, id, seq, outcome, at, body)
}

// Invocation implements contract.Store.
func (s *Store) Invocation(ctx context.Context, c tongbao.ID, key string) (contract.Invocation, error) {
	inv, err := scanInvocation(s.db.QueryRow(ctx, selectInvocation, c[:], key))
	if sqldb.IsNoRows(err) {
		return contract.Invocation{}, contract.ErrInvocationNotFound
	}
	if err != nil {
		return contract.Invocation{}, internal("read invocation", err)
	}
	return inv, nil
}

func (s *Store) invocations(ctx context.Context, query string, args ...any) ([]contract.Invocation, error) {
	out, err := sqldb.Select(ctx, s.db, scanInvocation, query, args...)
	if err != nil {
		return nil, internal("list invocations", err)
	}
	return out, nil
}

// Invocations implements contract.Store.
func (s *Store) Invocations(ctx context.Context, c tongbao.ID, after int64, limit int) ([]contract.Invocation, error) {
	return s.invocations(ctx, `SELECT `+invocationColumns+` FROM contract_invocations WHERE contract = ? AND sequence > ? ORDER BY sequence LIMIT ?`,
		c[:], after, listLimit(limit))
}

// PendingInvocations implements contract.Store: oldest by At, then by
// contract and sequence.
func (s *Store) PendingInvocations(ctx context.Context, limit int) ([]contract.Invocation, error) {
	return s.invocations(ctx, `SELECT `+invocationColumns+` FROM contract_invocations WHERE outcome = 'pending' ORDER BY at, contract, sequence LIMIT ?`,
		listLimit(limit))
}

// timerColumns are the columns of the contract_timers table that
// scanTimer reads, in its order.
const timerColumns = `t.contract, t.key, t.trigger, t.due_at, t.n, t.of`

func scanTimer(sc sqldb.Scanner) (contract.Timer, error) {
	var t contract.Timer
	var c []byte
	var due int64
	if err := sc.Scan(&c, &t.Key, &t.Trigger, &due, &t.N, &t.Of); err != nil {
		return t, err
	}
	var err error
	t.Contract, err = tongbao.IDFromBytes(c)
	t.DueAt = tongbao.FromUnixNanos(due)
	return t, err
}

func (s *Store) timers(ctx context.Context, query string, args ...any) ([]contract.Timer, error) {
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, internal("list timers", err)
	}
	out, err := sqldb.All(rows, scanTimer)
	if err != nil {
		return nil, internal("list timers", err)
	}
	return out, nil
}

// DueTimers implements contract.Store: earliest first, then by contract
// and key. A limit of zero or less, or above ListMax, is ListMax.
func (s *Store) DueTimers(ctx context.Context, now time.Time, limit int) ([]contract.Timer, error) {
	return s.timers(ctx, `SELECT `+timerColumns+` FROM contract_timers t JOIN contracts c ON c.id = t.contract
		WHERE t.fired_at IS NULL AND t.due_at <= ? AND c.status = ? ORDER BY t.due_at, t.contract, t.key LIMIT ?`,
		now.UnixNano(), string(contract.StatusActive), listLimit(limit))
}

// Timers implements contract.Store: earliest first, then by key.
func (s *Store) Timers(ctx context.Context, c tongbao.ID) ([]contract.Timer, error) {
	return s.timers(ctx, `SELECT `+timerColumns+` FROM contract_timers t WHERE t.contract = ? AND t.fired_at IS NULL ORDER BY t.due_at, t.key`, c[:])
}

// FireTimer implements contract.Store. The timer's row records its due
// time as when it fired, there being no invocation.
func (s *Store) FireTimer(ctx context.Context, t contract.Timer, next *contract.Timer) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return internal("fire timer", err)
	}
	defer tx.Rollback()
	// The contract's row first, as every write of a contract's rows
	// (see write), so that writers on PostgreSQL lock in one order.
	var one int
	if err := tx.QueryRow(ctx, `SELECT 1 FROM contracts WHERE id = ?`+s.db.ForUpdate(), t.Contract[:]).Scan(&one); err != nil && !sqldb.IsNoRows(err) {
		return internal("fire timer", err)
	}
	if _, err := tx.Exec(ctx, fireTimer, tongbao.UnixNanos(t.DueAt), t.Contract[:], t.Key); err != nil {
		return internal("fire timer", err)
	}
	if next != nil {
		if err := addTimer(ctx, tx, t.Contract, *next); err != nil {
			return internal("fire timer", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return internal("fire timer", err)
	}
	return nil
}

// invocationBody is what an invocation's row holds beyond its columns.
// Input is kept as a string, byte for byte; times as Unix nanoseconds.
type invocationBody struct {
	Trigger     string                    `json:"trigger"`
	Input       string                    `json:"input,omitempty"`
	InputHash   string                    `json:"input_hash,omitempty"`
	Conditions  []contract.ConditionValue `json:"conditions,omitempty"`
	Moves       []contract.PlannedMove    `json:"moves,omitempty"`
	Notices     []string                  `json:"notices,omitempty"`
	Error       string                    `json:"error,omitempty"`
	BaseVersion int64                     `json:"base_version"`
	Next        contract.Runtime          `json:"next"`
	NextStatus  contract.Status           `json:"next_status,omitempty"`
	Timers      []timerBody               `json:"timers,omitempty"`
	Fired       string                    `json:"fired,omitempty"`
	Finished    int64                     `json:"finished,omitempty"`
}

type timerBody struct {
	Contract tongbao.ID `json:"contract,omitzero"`
	Key      string     `json:"key"`
	Trigger  string     `json:"trigger"`
	DueAt    int64      `json:"due_at"`
	N        int        `json:"n,omitempty"`
	Of       string     `json:"of,omitempty"`
}

func encodeBody(inv contract.Invocation) (string, error) {
	b := invocationBody{
		Trigger: inv.Trigger, Input: string(inv.Input), InputHash: inv.InputHash, Conditions: inv.Conditions, Moves: inv.Moves,
		Notices: inv.Notices, Error: inv.Error, BaseVersion: inv.BaseVersion, Next: inv.Next, NextStatus: inv.NextStatus,
		Fired: inv.Fired, Finished: tongbao.UnixNanos(inv.Finished),
	}
	for _, t := range inv.Timers {
		b.Timers = append(b.Timers, timerBody{Contract: t.Contract, Key: t.Key, Trigger: t.Trigger, DueAt: tongbao.UnixNanos(t.DueAt), N: t.N, Of: t.Of})
	}
	out, err := json.Marshal(b)
	return string(out), err
}

func decodeInvocation(c []byte, key string, id []byte, seq int64, outcome string, at int64, body string) (contract.Invocation, error) {
	inv := contract.Invocation{Key: key, Sequence: seq, Outcome: contract.Outcome(outcome), At: tongbao.FromUnixNanos(at)}
	if err := ids([]*tongbao.ID{&inv.Contract, &inv.ID}, [][]byte{c, id}); err != nil {
		return inv, err
	}
	var b invocationBody
	if err := decodeJSON(body, &b); err != nil {
		return inv, fmt.Errorf("invocation %q: %w", key, err)
	}
	inv.Trigger, inv.InputHash, inv.Moves, inv.Notices, inv.Error = b.Trigger, b.InputHash, b.Moves, b.Notices, b.Error
	if b.Input != "" {
		inv.Input = json.RawMessage(b.Input)
	}
	inv.Conditions = b.Conditions
	for i := range inv.Conditions {
		inv.Conditions[i].Value = contract.JSONValue(inv.Conditions[i].Value)
	}
	inv.BaseVersion, inv.Next, inv.NextStatus = b.BaseVersion, b.Next, b.NextStatus
	normalizeRuntime(&inv.Next)
	for _, t := range b.Timers {
		inv.Timers = append(inv.Timers, contract.Timer{Contract: t.Contract, Key: t.Key, Trigger: t.Trigger, DueAt: tongbao.FromUnixNanos(t.DueAt), N: t.N, Of: t.Of})
	}
	inv.Fired, inv.Finished = b.Fired, tongbao.FromUnixNanos(b.Finished)
	return inv, nil
}

// decodeJSON decodes s into v with numbers as json.Number, which
// normalize turns into int64 where they are integers.
func decodeJSON(s string, v any) error {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	return d.Decode(v)
}

func decodeRuntime(s string) (contract.Runtime, error) {
	var r contract.Runtime
	if err := decodeJSON(s, &r); err != nil {
		return r, err
	}
	normalizeRuntime(&r)
	return r, nil
}

// normalizeRuntime makes a decoded runtime what the store returns: state
// numbers as int64 (float64 if not integers), times as the store returns
// every time (tongbao.FromUnixNanos: local, to the nanosecond), so a
// runtime comes back equal to the one stored.
func normalizeRuntime(r *contract.Runtime) {
	for k, v := range r.State {
		r.State[k] = contract.JSONValue(v)
	}
	for k, c := range r.Consents {
		c.At = sameInstant(c.At)
		r.Consents[k] = c
	}
	for i := range r.Holds {
		r.Holds[i].ExpiresAt = sameInstant(r.Holds[i].ExpiresAt)
	}
	r.ActivatedAt, r.EndedAt = sameInstant(r.ActivatedAt), sameInstant(r.EndedAt)
}

func sameInstant(t time.Time) time.Time { return tongbao.FromUnixNanos(tongbao.UnixNanos(t)) }
