// Package offlinesql keeps the offline domain's tables (offline.Store) in
// SQLite or PostgreSQL, one implementation for both (see internal/sqldb
// for where they differ). On SQLite the tables live in a file of their own
// (offline.db beside the ledger's), in WAL mode with synchronous=FULL; on
// PostgreSQL they may share a schema with the ledger's and the other
// domains', recorded as component "offline" in schema_version.
//
// The compare-and-swap on a device's or a case's version is a conditional
// UPDATE: of two writers on the same version exactly one changes the row
// (on PostgreSQL the condition is evaluated again on the row's latest
// version once a concurrent update commits; on SQLite the transaction
// holds the file's write lock from its BEGIN). A batch writes its devices
// in the order of their ids, then its cases, then its tokens by hash, so
// two batches on PostgreSQL wait for each other's rows in one order and
// do not deadlock.
//
// Counters and sequence numbers are uint64 in Go; the tables keep them as
// 8-byte big-endian byte strings, which both databases compare as the
// numbers compare over the whole range (a device that signs a counter
// past 2^63 is the ledger's to judge, not the store's to refuse).
package offlinesql

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/sqldb"
	"github.com/tongbao/tongbao/offline"
)

var _ offline.Store = (*Store)(nil)

// Store is an offline.Store in a SQLite file or a PostgreSQL database.
type Store struct {
	db *sqldb.DB
}

//go:embed migrations
var migrations embed.FS

// Open opens the store on target: a postgres:// connection string, or
// the path of a SQLite file (created if needed). It brings the tables up
// to date.
func Open(ctx context.Context, target string) (*Store, error) {
	db, err := sqldb.Open(ctx, target, "offline", migrations)
	if err != nil {
		return nil, fmt.Errorf("offlinesql: %w", err)
	}
	if err := db.Prepare(ctx, batchQueries...); err != nil {
		db.Close()
		return nil, fmt.Errorf("offlinesql: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func internal(what string, err error) error {
	return &tongbao.Error{Code: tongbao.EINTERNAL, Message: "offline store: " + what, Err: err}
}

func invalid(format string, args ...any) error {
	return &tongbao.Error{Code: tongbao.EINVALID, Message: "offline store: " + fmt.Sprintf(format, args...)}
}

// listLimit is limit within (0, ListMax]; zero or less is ListMax.
func listLimit(limit int) int {
	if limit <= 0 || limit > offline.ListMax {
		return offline.ListMax
	}
	return limit
}

// u64 is the column of a uint64: 8 bytes big-endian (see the package
// comment).
func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v) }

// fromU64 reads a uint64 column.
func fromU64(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("stored number has %d bytes, not 8", len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// blob is the column of a byte field: the empty byte string for nil,
// which both drivers would store as NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// fromBlob reads a byte field: nil when empty, as the records hold an
// absent one.
func fromBlob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
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

// hashOf converts a hash column.
func hashOf(b []byte) (offline.Hash, error) {
	var h offline.Hash
	if len(b) != len(h) {
		return h, fmt.Errorf("stored hash has %d bytes, not %d", len(b), len(h))
	}
	copy(h[:], b)
	return h, nil
}

// The lists a column holds end to end: a case's token hashes, a
// revocation list's devices.

func joinHashes(hs []offline.Hash) []byte {
	out := make([]byte, 0, len(hs)*len(offline.Hash{}))
	for _, h := range hs {
		out = append(out, h[:]...)
	}
	return out
}

func splitHashes(b []byte) ([]offline.Hash, error) {
	const size = len(offline.Hash{})
	if len(b)%size != 0 {
		return nil, fmt.Errorf("stored hashes have %d bytes, not a multiple of %d", len(b), size)
	}
	var out []offline.Hash
	for i := 0; i < len(b); i += size {
		out = append(out, offline.Hash(b[i:i+size]))
	}
	return out, nil
}

func joinIDs(list []tongbao.ID) []byte {
	out := make([]byte, 0, len(list)*len(tongbao.ID{}))
	for _, id := range list {
		out = append(out, id[:]...)
	}
	return out
}

func splitIDs(b []byte) ([]tongbao.ID, error) {
	const size = len(tongbao.ID{})
	if len(b)%size != 0 {
		return nil, fmt.Errorf("stored ids have %d bytes, not a multiple of %d", len(b), size)
	}
	var out []tongbao.ID
	for i := 0; i < len(b); i += size {
		out = append(out, tongbao.ID(b[i:i+size]))
	}
	return out, nil
}

// inChunk is the number of placeholders of every IN (…) list the store
// sends: a longer list goes in several queries, and a shorter one is
// padded with its first member. So each such query has one text, and
// SQLite's cache of prepared statements (one per text) stays small.
const inChunk = 64

// inList is the placeholders of an IN list of inChunk members.
var inList = "(" + strings.TrimSuffix(strings.Repeat("?, ", inChunk), ", ") + ")"

// chunks calls fn with the keys in lists of exactly inChunk, padded.
func chunks(keys [][]byte, fn func(args []any) error) error {
	for start := 0; start < len(keys); start += inChunk {
		part := keys[start:min(start+inChunk, len(keys))]
		args := make([]any, inChunk)
		for i := range args {
			args[i] = part[0]
			if i < len(part) {
				args[i] = part[i]
			}
		}
		if err := fn(args); err != nil {
			return err
		}
	}
	return nil
}

// The enumerations a record's text columns hold: a value outside them is
// a caller's bug, refused before it is stored.

func validDeviceState(st offline.DeviceState) error {
	switch st {
	case offline.DeviceActive, offline.DeviceSuspended, offline.DeviceRevoked, offline.DeviceDecommissioned:
		return nil
	}
	return invalid("unknown device state %q", st)
}

func validCaseStatus(st offline.CaseStatus) error {
	switch st {
	case offline.CaseOpen, offline.CaseClosed:
		return nil
	}
	return invalid("unknown case status %q", st)
}

func validToken(t offline.TokenRecord) error {
	switch t.Status {
	case offline.TokenPending, offline.TokenSettled, offline.TokenRejected:
	default:
		return invalid("token %v: unknown status %q", t.Hash, t.Status)
	}
	switch t.Source {
	case "", offline.SourcePurse, offline.SourceOperator:
	default:
		return invalid("token %v: unknown source %q", t.Hash, t.Source)
	}
	return nil
}

// CreateKey implements offline.Store.
func (s *Store) CreateKey(ctx context.Context, k offline.OperatorKey) error {
	_, err := s.db.Exec(ctx, `INSERT INTO offline_keys (id, operator, public, private, created_at) VALUES (?, ?, ?, ?, ?)`,
		blob(k.ID), k.Operator[:], blob(k.Public), blob(k.Private), tongbao.UnixNanos(k.CreatedAt))
	switch {
	case sqldb.IsUniqueViolation(err):
		return offline.ErrKeyExists
	case err != nil:
		return internal("create key", err)
	}
	return nil
}

// Keys implements offline.Store: by CreatedAt, then by id.
func (s *Store) Keys(ctx context.Context) ([]offline.OperatorKey, error) {
	rows, err := s.db.Query(ctx, `SELECT id, operator, public, private, created_at FROM offline_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, internal("list keys", err)
	}
	out, err := sqldb.All(rows, func(sc sqldb.Scanner) (offline.OperatorKey, error) {
		var k offline.OperatorKey
		var id, op, public, private []byte
		var created int64
		if err := sc.Scan(&id, &op, &public, &private, &created); err != nil {
			return k, err
		}
		k.ID, k.Public, k.Private = fromBlob(id), fromBlob(public), fromBlob(private)
		k.CreatedAt = tongbao.FromUnixNanos(created)
		var err error
		k.Operator, err = tongbao.IDFromBytes(op)
		return k, err
	})
	if err != nil {
		return nil, internal("list keys", err)
	}
	return out, nil
}

// deviceColumns are the columns of the devices table, in the order
// scanDevice reads them and deviceArgs writes them.
const deviceColumns = `id, wallet, operator, key, per_payment, balance, payments, state, reason, certificate, cert_expires,
	loaded, unloaded, spent, returned, advanced, vouchers, acked, return_at, created_at, updated_at, version`

// deviceArgs are d's columns (deviceColumns but the version).
func deviceArgs(d offline.Device) []any {
	return []any{d.ID[:], d.Wallet[:], d.Operator[:], blob(d.Key), int64(d.Caps.PerPayment), int64(d.Caps.Balance), int64(d.Caps.Payments),
		string(d.State), d.Reason, blob(d.Certificate), tongbao.UnixNanos(d.CertExpires),
		int64(d.Loaded), int64(d.Unloaded), int64(d.Spent), int64(d.Returned), int64(d.Advanced), u64(d.Vouchers), u64(d.Acked),
		tongbao.UnixNanos(d.ReturnAt), tongbao.UnixNanos(d.CreatedAt), tongbao.UnixNanos(d.UpdatedAt)}
}

func scanDevice(sc sqldb.Scanner) (offline.Device, error) {
	var d offline.Device
	var id, wallet, op, key, cert, vouchers, acked []byte
	var perPayment, balance, payments, loaded, unloaded, spent, returned, advanced int64
	var expires, returnAt, created, updated int64
	var state string
	if err := sc.Scan(&id, &wallet, &op, &key, &perPayment, &balance, &payments, &state, &d.Reason, &cert, &expires,
		&loaded, &unloaded, &spent, &returned, &advanced, &vouchers, &acked, &returnAt, &created, &updated, &d.Version); err != nil {
		return d, err
	}
	if err := ids([]*tongbao.ID{&d.ID, &d.Wallet, &d.Operator}, [][]byte{id, wallet, op}); err != nil {
		return d, err
	}
	var err error
	if d.Vouchers, err = fromU64(vouchers); err != nil {
		return d, err
	}
	if d.Acked, err = fromU64(acked); err != nil {
		return d, err
	}
	d.Key, d.Certificate, d.State = fromBlob(key), fromBlob(cert), offline.DeviceState(state)
	d.Caps = offline.Caps{PerPayment: tongbao.Amount(perPayment), Balance: tongbao.Amount(balance), Payments: uint32(payments)}
	d.Loaded, d.Unloaded, d.Spent, d.Returned, d.Advanced = tongbao.Amount(loaded), tongbao.Amount(unloaded), tongbao.Amount(spent), tongbao.Amount(returned), tongbao.Amount(advanced)
	d.CertExpires, d.ReturnAt = tongbao.FromUnixNanos(expires), tongbao.FromUnixNanos(returnAt)
	d.CreatedAt, d.UpdatedAt = tongbao.FromUnixNanos(created), tongbao.FromUnixNanos(updated)
	return d, nil
}

// CreateDevice implements offline.Store.
func (s *Store) CreateDevice(ctx context.Context, d offline.Device) error {
	if err := validDeviceState(d.State); err != nil {
		return err
	}
	_, err := s.db.Exec(ctx, `INSERT INTO offline_devices (`+deviceColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
		deviceArgs(d)...)
	switch {
	case sqldb.IsUniqueViolation(err):
		return offline.ErrDeviceExists
	case err != nil:
		return internal("create device", err)
	}
	return nil
}

// Device implements offline.Store.
func (s *Store) Device(ctx context.Context, id tongbao.ID) (offline.Device, error) {
	d, err := scanDevice(s.db.QueryRow(ctx, `SELECT `+deviceColumns+` FROM offline_devices WHERE id = ?`, id[:]))
	if sqldb.IsNoRows(err) {
		return offline.Device{}, offline.ErrDeviceNotFound
	}
	if err != nil {
		return offline.Device{}, internal("read device", err)
	}
	return d, nil
}

// DevicesByID implements offline.Store.
func (s *Store) DevicesByID(ctx context.Context, list []tongbao.ID) (map[tongbao.ID]offline.Device, error) {
	keys := make([][]byte, len(list))
	for i := range list {
		keys[i] = list[i][:]
	}
	out := make(map[tongbao.ID]offline.Device, len(list))
	err := chunks(keys, func(args []any) error {
		rows, err := s.db.Query(ctx, `SELECT `+deviceColumns+` FROM offline_devices WHERE id IN `+inList, args...)
		if err != nil {
			return err
		}
		found, err := sqldb.All(rows, scanDevice)
		for _, d := range found {
			out[d.ID] = d
		}
		return err
	})
	if err != nil {
		return nil, internal("read devices", err)
	}
	return out, nil
}

func (s *Store) devices(ctx context.Context, query string, args ...any) ([]offline.Device, error) {
	out, err := sqldb.Select(ctx, s.db, scanDevice, query, args...)
	if err != nil {
		return nil, internal("list devices", err)
	}
	return out, nil
}

// Devices implements offline.Store.
func (s *Store) Devices(ctx context.Context, operator, after tongbao.ID, limit int) ([]offline.Device, error) {
	if operator.IsZero() {
		return s.devices(ctx, `SELECT `+deviceColumns+` FROM offline_devices WHERE id > ? ORDER BY id LIMIT ?`, after[:], listLimit(limit))
	}
	return s.devices(ctx, `SELECT `+deviceColumns+` FROM offline_devices WHERE operator = ? AND id > ? ORDER BY id LIMIT ?`,
		operator[:], after[:], listLimit(limit))
}

// DevicesToReturn implements offline.Store: earliest ReturnAt first, then
// by id. A purse not yet returned is one the float still holds money of.
func (s *Store) DevicesToReturn(ctx context.Context, t time.Time, limit int) ([]offline.Device, error) {
	return s.devices(ctx, `SELECT `+deviceColumns+` FROM offline_devices
		WHERE state = ? AND return_at <= ? AND loaded - unloaded - spent - returned > 0 ORDER BY return_at, id LIMIT ?`,
		string(offline.DeviceDecommissioned), t.UnixNano(), listLimit(limit))
}

// The statements of a batch, prepared ahead on SQLite (batchQueries).
const (
	swapDevice = `UPDATE offline_devices SET wallet = ?, operator = ?, key = ?, per_payment = ?, balance = ?, payments = ?, state = ?, reason = ?,
		certificate = ?, cert_expires = ?, loaded = ?, unloaded = ?, spent = ?, returned = ?, advanced = ?, vouchers = ?, acked = ?,
		return_at = ?, created_at = ?, updated_at = ?, version = ? WHERE id = ? AND version = ?`
	insertCase = `INSERT INTO offline_cases (` + caseColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (id) DO NOTHING`
	swapCase   = `UPDATE offline_cases SET device = ?, operator = ?, wallet = ?, findings = ?, tokens = ?, advanced = ?, recovered = ?, refused = ?,
		status = ?, note = ?, opened_at = ?, updated_at = ?, version = ? WHERE id = ? AND version = ?`
	tokenValues = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	insertBatch = `INSERT INTO offline_batches (settled_at) VALUES (0) RETURNING id`
)

// tokensPerInsert is the rows of one multi-row INSERT of tokens: a
// batch's rows go tokensPerInsert at a time, the rest one by one, so
// there are two statement texts and a batch pays a statement's overhead
// per tokensPerInsert rows rather than per row.
const tokensPerInsert = 64

var (
	insertToken  = insertTokens(1)
	insertTokenN = insertTokens(tokensPerInsert)
)

func insertTokens(n int) string {
	return `INSERT INTO offline_tokens (` + tokenColumns + `) VALUES ` +
		strings.TrimSuffix(strings.Repeat(tokenValues+", ", n), ", ") + ` ON CONFLICT (hash) DO NOTHING`
}

var batchQueries = []string{swapDevice, insertCase, swapCase, insertBatch, insertToken, insertTokenN}

// swap runs a compare-and-swap UPDATE; when it changes no row it tells
// why, by whether the row exists: conflict, or missing.
func swap(ctx context.Context, tx *sqldb.Tx, table string, id tongbao.ID, missing error, query string, args ...any) (refused, err error) {
	res, err := tx.Exec(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, err
	} else if n == 1 {
		return nil, nil
	}
	var one int
	err = tx.QueryRow(ctx, `SELECT 1 FROM `+table+` WHERE id = ?`, id[:]).Scan(&one)
	switch {
	case sqldb.IsNoRows(err):
		return missing, nil
	case err != nil:
		return nil, err
	}
	return offline.ErrVersionConflict, nil
}

// swapDeviceTx stores d at d.Version+1 if it is at d.Version.
func swapDeviceTx(ctx context.Context, tx *sqldb.Tx, d offline.Device) (refused, err error) {
	args := append(deviceArgs(d)[1:], d.Version+1, d.ID[:], d.Version)
	return swap(ctx, tx, "offline_devices", d.ID, offline.ErrDeviceNotFound, swapDevice, args...)
}

// UpdateDevice implements offline.Store.
func (s *Store) UpdateDevice(ctx context.Context, d offline.Device) error {
	if err := validDeviceState(d.State); err != nil {
		return err
	}
	return s.inTx(ctx, "update device", func(tx *sqldb.Tx) (refused, err error) { return swapDeviceTx(ctx, tx, d) })
}

// inTx runs fn in a transaction, committed if fn neither fails (err) nor
// refuses the call (refused, returned as is).
func (s *Store) inTx(ctx context.Context, what string, fn func(tx *sqldb.Tx) (refused, err error)) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return internal(what, err)
	}
	defer tx.Rollback()
	refused, err := fn(tx)
	switch {
	case err != nil:
		return internal(what, err)
	case refused != nil:
		return refused
	}
	if err := tx.Commit(); err != nil {
		return internal(what, err)
	}
	return nil
}

// loadColumns are the columns of the loads table, in the order scanLoad
// reads them.
const loadColumns = `id, device, amount, status, problem, seq, voucher, created_at, updated_at`

func scanLoad(sc sqldb.Scanner) (offline.Load, error) {
	var l offline.Load
	var id, device, seq, voucher []byte
	var amount, created, updated int64
	var status string
	if err := sc.Scan(&id, &device, &amount, &status, &l.Problem, &seq, &voucher, &created, &updated); err != nil {
		return l, err
	}
	if err := ids([]*tongbao.ID{&l.ID, &l.Device}, [][]byte{id, device}); err != nil {
		return l, err
	}
	var err error
	l.Seq, err = fromU64(seq)
	l.Amount, l.Status, l.Voucher = tongbao.Amount(amount), offline.LoadStatus(status), fromBlob(voucher)
	l.CreatedAt, l.UpdatedAt = tongbao.FromUnixNanos(created), tongbao.FromUnixNanos(updated)
	return l, err
}

// CreateLoad implements offline.Store. The load is stored pending, with
// no outcome (Problem, Seq and Voucher empty) whatever l says.
func (s *Store) CreateLoad(ctx context.Context, l offline.Load) (offline.Load, bool, error) {
	l.Status, l.Problem, l.Seq, l.Voucher = offline.LoadPending, "", 0, nil
	res, err := s.db.Exec(ctx, `INSERT INTO offline_loads (`+loadColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		l.ID[:], l.Device[:], int64(l.Amount), string(l.Status), l.Problem, u64(l.Seq), blob(l.Voucher),
		tongbao.UnixNanos(l.CreatedAt), tongbao.UnixNanos(l.UpdatedAt))
	if err != nil {
		return offline.Load{}, false, internal("create load", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return offline.Load{}, false, internal("create load", err)
	} else if n == 0 {
		old, err := scanLoad(s.db.QueryRow(ctx, `SELECT `+loadColumns+` FROM offline_loads WHERE id = ?`, l.ID[:]))
		if err != nil {
			return offline.Load{}, false, internal("create load", err)
		}
		return old, false, nil
	}
	// What is stored, as a read returns it.
	l.CreatedAt, l.UpdatedAt = sameInstant(l.CreatedAt), sameInstant(l.UpdatedAt)
	return l, true, nil
}

func sameInstant(t time.Time) time.Time { return tongbao.FromUnixNanos(tongbao.UnixNanos(t)) }

// FinishLoad implements offline.Store. The load keeps its device, amount
// and creation time; l gives its status (done or failed), problem, Seq,
// voucher and update time.
func (s *Store) FinishLoad(ctx context.Context, l offline.Load, d offline.Device) error {
	if l.Status != offline.LoadDone && l.Status != offline.LoadFailed {
		return invalid("load %v: finished as %q, not done or failed", l.ID, l.Status)
	}
	if err := validDeviceState(d.State); err != nil {
		return err
	}
	return s.inTx(ctx, "finish load", func(tx *sqldb.Tx) (refused, err error) {
		// The device first, as a batch does, so writers lock in one order.
		if refused, err := swapDeviceTx(ctx, tx, d); refused != nil || err != nil {
			return refused, err
		}
		res, err := tx.Exec(ctx, `UPDATE offline_loads SET status = ?, problem = ?, seq = ?, voucher = ?, updated_at = ? WHERE id = ? AND status = ?`,
			string(l.Status), l.Problem, u64(l.Seq), blob(l.Voucher), tongbao.UnixNanos(l.UpdatedAt), l.ID[:], string(offline.LoadPending))
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if n != 1 {
			return offline.ErrVersionConflict, nil
		}
		return nil, nil
	})
}

func (s *Store) loads(ctx context.Context, query string, args ...any) ([]offline.Load, error) {
	out, err := sqldb.Select(ctx, s.db, scanLoad, query, args...)
	if err != nil {
		return nil, internal("list loads", err)
	}
	return out, nil
}

// Vouchers implements offline.Store.
func (s *Store) Vouchers(ctx context.Context, device tongbao.ID, after uint64, limit int) ([]offline.Load, error) {
	return s.loads(ctx, `SELECT `+loadColumns+` FROM offline_loads WHERE device = ? AND status = ? AND seq > ? ORDER BY seq LIMIT ?`,
		device[:], string(offline.LoadDone), u64(after), listLimit(limit))
}

// PendingLoads implements offline.Store: by CreatedAt, then by id.
func (s *Store) PendingLoads(ctx context.Context, limit int) ([]offline.Load, error) {
	return s.loads(ctx, `SELECT `+loadColumns+` FROM offline_loads WHERE status = ? ORDER BY created_at, id LIMIT ?`,
		string(offline.LoadPending), listLimit(limit))
}

// tokenColumns are the columns of the tokens table a batch inserts
// (with its batch); tokenSelect reads them, in the order scanToken does,
// from tokenFrom. A pending token of a settled batch is settled, at the
// batch's time (see the migration 0002).
const (
	tokenColumns = `hash, payer, counter, prev, payee, payee_wallet, amount, kind, status, source, fraud_case, problem, raw, uploaded_at, settled_at, batch`
	tokenSelect  = `t.hash, t.payer, t.counter, t.prev, t.payee, t.payee_wallet, t.amount, t.kind,
		CASE WHEN t.status = '` + string(offline.TokenPending) + `' AND b.settled_at > 0 THEN '` + string(offline.TokenSettled) + `' ELSE t.status END,
		t.source, t.fraud_case, t.problem, t.raw, t.uploaded_at,
		CASE WHEN t.status = '` + string(offline.TokenPending) + `' AND b.settled_at > 0 THEN b.settled_at ELSE t.settled_at END`
	tokenFrom = `offline_tokens t LEFT JOIN offline_batches b ON b.id = t.batch`
)

func scanToken(sc sqldb.Scanner) (offline.TokenRecord, error) {
	var t offline.TokenRecord
	var hash, payer, counter, prev, payee, payeeWallet, fraudCase, raw []byte
	var amount, kind, uploaded, settled int64
	var status, source string
	if err := sc.Scan(&hash, &payer, &counter, &prev, &payee, &payeeWallet, &amount, &kind, &status, &source, &fraudCase, &t.Problem, &raw, &uploaded, &settled); err != nil {
		return t, err
	}
	if err := ids([]*tongbao.ID{&t.Payer, &t.Payee, &t.PayeeWallet, &t.Case}, [][]byte{payer, payee, payeeWallet, fraudCase}); err != nil {
		return t, err
	}
	var err error
	if t.Hash, err = hashOf(hash); err != nil {
		return t, err
	}
	if t.Prev, err = hashOf(prev); err != nil {
		return t, err
	}
	if t.Counter, err = fromU64(counter); err != nil {
		return t, err
	}
	t.Amount, t.Kind, t.Status, t.Source = tongbao.Amount(amount), offline.TokenKind(kind), offline.TokenStatus(status), offline.Source(source)
	t.Raw, t.UploadedAt, t.SettledAt = fromBlob(raw), tongbao.FromUnixNanos(uploaded), tongbao.FromUnixNanos(settled)
	return t, nil
}

// caseColumns are the columns of the cases table, in the order scanCase
// reads them and caseArgs writes them.
const caseColumns = `id, device, operator, wallet, findings, tokens, advanced, recovered, refused, status, note, opened_at, updated_at, version`

// caseArgs are c's columns (caseColumns but the version).
func caseArgs(c offline.Case) ([]any, error) {
	findings := "[]"
	if len(c.Findings) > 0 {
		b, err := json.Marshal(c.Findings)
		if err != nil {
			return nil, err
		}
		findings = string(b)
	}
	return []any{c.ID[:], c.Device[:], c.Operator[:], c.Wallet[:], findings, joinHashes(c.Tokens),
		int64(c.Advanced), int64(c.Recovered), int64(c.Refused), string(c.Status), c.Note,
		tongbao.UnixNanos(c.OpenedAt), tongbao.UnixNanos(c.UpdatedAt)}, nil
}

func scanCase(sc sqldb.Scanner) (offline.Case, error) {
	var c offline.Case
	var id, device, op, wallet, tokens []byte
	var findings, status string
	var advanced, recovered, refused, opened, updated int64
	if err := sc.Scan(&id, &device, &op, &wallet, &findings, &tokens, &advanced, &recovered, &refused, &status, &c.Note, &opened, &updated, &c.Version); err != nil {
		return c, err
	}
	if err := ids([]*tongbao.ID{&c.ID, &c.Device, &c.Operator, &c.Wallet}, [][]byte{id, device, op, wallet}); err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(findings), &c.Findings); err != nil {
		return c, fmt.Errorf("case %v: findings: %w", c.ID, err)
	}
	if len(c.Findings) == 0 {
		c.Findings = nil
	}
	var err error
	if c.Tokens, err = splitHashes(tokens); err != nil {
		return c, fmt.Errorf("case %v: %w", c.ID, err)
	}
	c.Advanced, c.Recovered, c.Refused, c.Status = tongbao.Amount(advanced), tongbao.Amount(recovered), tongbao.Amount(refused), offline.CaseStatus(status)
	c.OpenedAt, c.UpdatedAt = tongbao.FromUnixNanos(opened), tongbao.FromUnixNanos(updated)
	return c, nil
}

// swapCaseTx stores c at c.Version+1 if it is at c.Version.
func swapCaseTx(ctx context.Context, tx *sqldb.Tx, c offline.Case) (refused, err error) {
	args, err := caseArgs(c)
	if err != nil {
		return nil, err
	}
	args = append(args[1:], c.Version+1, c.ID[:], c.Version)
	return swap(ctx, tx, "offline_cases", c.ID, offline.ErrCaseNotFound, swapCase, args...)
}

// WriteBatch implements offline.Store.
func (s *Store) WriteBatch(ctx context.Context, b offline.Batch) error {
	for _, d := range b.Devices {
		if err := validDeviceState(d.State); err != nil {
			return err
		}
	}
	for _, c := range b.Cases {
		if err := validCaseStatus(c.Status); err != nil {
			return err
		}
	}
	for _, t := range b.Tokens {
		if err := validToken(t); err != nil {
			return err
		}
	}
	// Sorted copies: the order in which rows are locked (see the
	// package comment); the caller's slices stay as they are.
	devices := slices.SortedFunc(slices.Values(b.Devices), func(x, y offline.Device) int { return bytes.Compare(x.ID[:], y.ID[:]) })
	cases := slices.SortedFunc(slices.Values(b.Cases), func(x, y offline.Case) int { return bytes.Compare(x.ID[:], y.ID[:]) })
	tokens := slices.SortedFunc(slices.Values(b.Tokens), func(x, y offline.TokenRecord) int { return bytes.Compare(x.Hash[:], y.Hash[:]) })
	return s.inTx(ctx, "write batch", func(tx *sqldb.Tx) (refused, err error) {
		for _, d := range devices {
			if refused, err := swapDeviceTx(ctx, tx, d); refused != nil || err != nil {
				return refused, err
			}
		}
		for _, c := range cases {
			if c.Version != 0 {
				if refused, err := swapCaseTx(ctx, tx, c); refused != nil || err != nil {
					return refused, err
				}
				continue
			}
			args, err := caseArgs(c)
			if err != nil {
				return nil, err
			}
			if stored, err := inserted(tx.Exec(ctx, insertCase, args...)); err != nil || !stored {
				return offline.ErrVersionConflict, err
			}
		}
		var batch int64
		if len(tokens) > 0 {
			if err := tx.QueryRow(ctx, insertBatch).Scan(&batch); err != nil {
				return nil, err
			}
		}
		for start := 0; start < len(tokens); {
			n := 1
			if len(tokens)-start >= tokensPerInsert {
				n = tokensPerInsert
			}
			args := make([]any, 0, 16*n)
			for _, t := range tokens[start : start+n] {
				args = append(args, t.Hash[:], t.Payer[:], u64(t.Counter), t.Prev[:], t.Payee[:], t.PayeeWallet[:],
					int64(t.Amount), int64(t.Kind), string(t.Status), string(t.Source), t.Case[:], t.Problem, blob(t.Raw),
					tongbao.UnixNanos(t.UploadedAt), tongbao.UnixNanos(t.SettledAt), batch)
			}
			query := insertToken
			if n > 1 {
				query = insertTokenN
			}
			res, err := tx.Exec(ctx, query, args...)
			if err != nil {
				return nil, err
			}
			if stored, err := res.RowsAffected(); err != nil || stored != int64(n) {
				return offline.ErrTokenExists, err
			}
			start += n
		}
		return nil, setSettledTx(ctx, tx, b.Settled, b.SettledAt)
	})
}

// inserted reports whether an INSERT … ON CONFLICT DO NOTHING stored its
// row.
func inserted(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Tokens implements offline.Store.
func (s *Store) Tokens(ctx context.Context, hashes []offline.Hash) (map[offline.Hash]offline.TokenRecord, error) {
	keys := make([][]byte, len(hashes))
	for i := range hashes {
		keys[i] = hashes[i][:]
	}
	out := make(map[offline.Hash]offline.TokenRecord, len(hashes))
	err := chunks(keys, func(args []any) error {
		rows, err := s.db.Query(ctx, `SELECT `+tokenSelect+` FROM `+tokenFrom+` WHERE t.hash IN `+inList, args...)
		if err != nil {
			return err
		}
		found, err := sqldb.All(rows, scanToken)
		for _, t := range found {
			out[t.Hash] = t
		}
		return err
	})
	if err != nil {
		return nil, internal("read tokens", err)
	}
	return out, nil
}

func (s *Store) tokens(ctx context.Context, query string, args ...any) ([]offline.TokenRecord, error) {
	out, err := sqldb.Select(ctx, s.db, scanToken, query, args...)
	if err != nil {
		return nil, internal("list tokens", err)
	}
	return out, nil
}

// TokensOf implements offline.Store: by counter, the tokens of one
// counter by hash.
func (s *Store) TokensOf(ctx context.Context, payer tongbao.ID, from, to uint64) ([]offline.TokenRecord, error) {
	return s.tokens(ctx, `SELECT `+tokenSelect+` FROM `+tokenFrom+` WHERE t.payer = ? AND t.counter >= ? AND t.counter <= ? ORDER BY t.counter, t.hash`,
		payer[:], u64(from), u64(to))
}

// TokenLinks implements offline.Store: by counter, then hash.
func (s *Store) TokenLinks(ctx context.Context, payer tongbao.ID, from, to uint64) ([]offline.TokenLink, error) {
	out, err := sqldb.Select(ctx, s.db, func(sc sqldb.Scanner) (offline.TokenLink, error) {
		var l offline.TokenLink
		var counter, hash, prev []byte
		if err := sc.Scan(&counter, &hash, &prev); err != nil {
			return l, err
		}
		var err error
		if l.Counter, err = fromU64(counter); err != nil {
			return l, err
		}
		copy(l.Hash[:], hash)
		copy(l.Prev[:], prev)
		return l, nil
	}, `SELECT counter, hash, prev FROM offline_tokens WHERE payer = ? AND counter >= ? AND counter <= ? ORDER BY counter, hash`,
		payer[:], u64(from), u64(to))
	if err != nil {
		return nil, internal("read token links", err)
	}
	return out, nil
}

// SetTokensSettled implements offline.Store. Hashes not stored, and
// tokens settled or rejected, are left as they are.
func (s *Store) SetTokensSettled(ctx context.Context, hashes []offline.Hash, t time.Time) error {
	return s.inTx(ctx, "settle tokens", func(tx *sqldb.Tx) (refused, err error) {
		return nil, setSettledTx(ctx, tx, hashes, t)
	})
}

// setSettledTx marks the pending tokens among hashes settled at t: a
// batch all of whose pending tokens are among them with one row, the
// others token by token.
func setSettledTx(ctx context.Context, tx *sqldb.Tx, hashes []offline.Hash, t time.Time) error {
	keys := make([][]byte, len(hashes))
	for i := range hashes {
		keys[i] = hashes[i][:]
	}
	byBatch := map[int64]map[offline.Hash]bool{}
	err := chunks(keys, func(args []any) error {
		rows, err := tx.Query(ctx, `SELECT batch, hash FROM offline_tokens WHERE hash IN `+inList+` AND status = ?`, append(args, string(offline.TokenPending))...)
		if err != nil {
			return err
		}
		_, err = sqldb.All(rows, func(sc sqldb.Scanner) (struct{}, error) {
			var batch int64
			var h []byte
			if err := sc.Scan(&batch, &h); err != nil {
				return struct{}{}, err
			}
			hash, err := hashOf(h)
			if err != nil {
				return struct{}{}, err
			}
			if byBatch[batch] == nil {
				byBatch[batch] = map[offline.Hash]bool{}
			}
			byBatch[batch][hash] = true
			return struct{}{}, nil
		})
		return err
	})
	if err != nil {
		return err
	}
	for _, batch := range slices.Sorted(maps.Keys(byBatch)) {
		marked := byBatch[batch]
		var settled int64
		if err := tx.QueryRow(ctx, `SELECT settled_at FROM offline_batches WHERE id = ?`, batch).Scan(&settled); err != nil {
			return err
		}
		if settled != 0 {
			continue // its pending tokens are settled already
		}
		var pending int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM offline_tokens WHERE batch = ? AND status = ?`, batch, string(offline.TokenPending)).Scan(&pending); err != nil {
			return err
		}
		if pending == len(marked) {
			if _, err := tx.Exec(ctx, `UPDATE offline_batches SET settled_at = ? WHERE id = ?`, tongbao.UnixNanos(t), batch); err != nil {
				return err
			}
			continue
		}
		some := make([][]byte, 0, len(marked))
		for _, h := range slices.SortedFunc(maps.Keys(marked), func(x, y offline.Hash) int { return bytes.Compare(x[:], y[:]) }) {
			some = append(some, h[:])
		}
		if err := chunks(some, func(args []any) error {
			_, err := tx.Exec(ctx, `UPDATE offline_tokens SET status = ?, settled_at = ? WHERE status = ? AND hash IN `+inList,
				append([]any{string(offline.TokenSettled), tongbao.UnixNanos(t), string(offline.TokenPending)}, args...)...)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// PendingTokens implements offline.Store: by UploadedAt, then by payer
// and counter (the order the payer signed them), then by hash.
func (s *Store) PendingTokens(ctx context.Context, limit int) ([]offline.TokenRecord, error) {
	return s.tokens(ctx, `SELECT `+tokenSelect+` FROM offline_batches b JOIN offline_tokens t ON t.batch = b.id AND t.status = ?
		WHERE b.settled_at = 0 ORDER BY t.uploaded_at, t.payer, t.counter, t.hash LIMIT ?`,
		string(offline.TokenPending), listLimit(limit))
}

// Case implements offline.Store.
func (s *Store) Case(ctx context.Context, id tongbao.ID) (offline.Case, error) {
	c, err := scanCase(s.db.QueryRow(ctx, `SELECT `+caseColumns+` FROM offline_cases WHERE id = ?`, id[:]))
	if sqldb.IsNoRows(err) {
		return offline.Case{}, offline.ErrCaseNotFound
	}
	if err != nil {
		return offline.Case{}, internal("read case", err)
	}
	return c, nil
}

// Cases implements offline.Store.
func (s *Store) Cases(ctx context.Context, operator, after tongbao.ID, limit int) ([]offline.Case, error) {
	query, args := `SELECT `+caseColumns+` FROM offline_cases WHERE id > ? ORDER BY id LIMIT ?`, []any{after[:], listLimit(limit)}
	if !operator.IsZero() {
		query, args = `SELECT `+caseColumns+` FROM offline_cases WHERE operator = ? AND id > ? ORDER BY id LIMIT ?`, []any{operator[:], after[:], listLimit(limit)}
	}
	out, err := sqldb.Select(ctx, s.db, scanCase, query, args...)
	if err != nil {
		return nil, internal("list cases", err)
	}
	return out, nil
}

// UpdateCase implements offline.Store.
func (s *Store) UpdateCase(ctx context.Context, c offline.Case) error {
	if err := validCaseStatus(c.Status); err != nil {
		return err
	}
	return s.inTx(ctx, "update case", func(tx *sqldb.Tx) (refused, err error) { return swapCaseTx(ctx, tx, c) })
}

// SetOperatorCaps implements offline.Store.
func (s *Store) SetOperatorCaps(ctx context.Context, operator tongbao.ID, c offline.Caps, at time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO offline_caps (operator, per_payment, balance, payments, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (operator) DO UPDATE SET per_payment = excluded.per_payment, balance = excluded.balance,
			payments = excluded.payments, updated_at = excluded.updated_at`,
		operator[:], int64(c.PerPayment), int64(c.Balance), int64(c.Payments), tongbao.UnixNanos(at))
	if err != nil {
		return internal("set operator caps", err)
	}
	return nil
}

// OperatorCaps implements offline.Store.
func (s *Store) OperatorCaps(ctx context.Context) (map[tongbao.ID]offline.Caps, error) {
	rows, err := s.db.Query(ctx, `SELECT operator, per_payment, balance, payments FROM offline_caps`)
	if err != nil {
		return nil, internal("read operator caps", err)
	}
	type row struct {
		op tongbao.ID
		c  offline.Caps
	}
	all, err := sqldb.All(rows, func(sc sqldb.Scanner) (row, error) {
		var r row
		var op []byte
		var per, bal, n int64
		if err := sc.Scan(&op, &per, &bal, &n); err != nil {
			return r, err
		}
		var err error
		r.op, err = tongbao.IDFromBytes(op)
		r.c = offline.Caps{PerPayment: tongbao.Amount(per), Balance: tongbao.Amount(bal), Payments: uint32(n)}
		return r, err
	})
	if err != nil {
		return nil, internal("read operator caps", err)
	}
	out := make(map[tongbao.ID]offline.Caps, len(all))
	for _, r := range all {
		out[r.op] = r.c
	}
	return out, nil
}

// SaveRevocations implements offline.Store. The upsert replaces the
// stored list only if its Seq is lower, in one statement: of two saves of
// one operator's list at once, the higher Seq is what stays.
func (s *Store) SaveRevocations(ctx context.Context, l offline.RevocationList) error {
	stored, err := inserted(s.db.Exec(ctx, `INSERT INTO offline_revocations (operator, seq, issued_at, devices, key_id, raw) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (operator) DO UPDATE SET seq = excluded.seq, issued_at = excluded.issued_at, devices = excluded.devices,
			key_id = excluded.key_id, raw = excluded.raw
		WHERE offline_revocations.seq < excluded.seq`,
		l.Operator[:], u64(l.Seq), tongbao.UnixNanos(l.IssuedAt), joinIDs(l.Devices), blob(l.KeyID), blob(l.Raw)))
	switch {
	case err != nil:
		return internal("save revocations", err)
	case !stored:
		return offline.ErrVersionConflict
	}
	return nil
}

// Revocations implements offline.Store: by operator.
func (s *Store) Revocations(ctx context.Context) ([]offline.RevocationList, error) {
	rows, err := s.db.Query(ctx, `SELECT operator, seq, issued_at, devices, key_id, raw FROM offline_revocations ORDER BY operator`)
	if err != nil {
		return nil, internal("list revocations", err)
	}
	out, err := sqldb.All(rows, func(sc sqldb.Scanner) (offline.RevocationList, error) {
		var l offline.RevocationList
		var op, seq, devices, kid, raw []byte
		var issued int64
		if err := sc.Scan(&op, &seq, &issued, &devices, &kid, &raw); err != nil {
			return l, err
		}
		var err error
		if l.Operator, err = tongbao.IDFromBytes(op); err != nil {
			return l, err
		}
		if l.Seq, err = fromU64(seq); err != nil {
			return l, err
		}
		if l.Devices, err = splitIDs(devices); err != nil {
			return l, err
		}
		l.IssuedAt, l.KeyID, l.Raw = tongbao.FromUnixNanos(issued), fromBlob(kid), fromBlob(raw)
		return l, nil
	})
	if err != nil {
		return nil, internal("list revocations", err)
	}
	return out, nil
}
