// Package twotiersql keeps the two-tier domain's tables (twotier.Store) in
// SQLite or PostgreSQL, one implementation for both (see internal/sqldb for
// where they differ).
//
// On SQLite the tables live in a file of their own (twotier.db beside the
// ledger's), not in the ledger's: the ledger's single writer keeps the
// write lock of its file busy with group commits, and the domain's writes
// would queue behind them (and it behind them) for no gain, since no
// domain write is ever in the same transaction as a ledger batch anyway.
// The file is in WAL mode with synchronous=FULL like the ledger's: a
// record the domain was told is stored survives a crash of the machine.
//
// On PostgreSQL the tables may share a database and a schema with the
// ledger's: each store records its own migrations in schema_version, this
// one as component "twotier". Every method is one statement or one
// transaction, durable when it returns (synchronous_commit on).
package twotiersql

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/sqldb"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/twotier"
)

var _ twotier.Store = (*Store)(nil)

// Store is a twotier.Store in a SQLite file or a PostgreSQL database.
type Store struct {
	db *sqldb.DB
}

//go:embed migrations
var migrations embed.FS

// Open opens the store on target: a postgres:// connection string, or
// the path of a SQLite file (created if needed). It brings the tables up
// to date.
func Open(ctx context.Context, target string) (*Store, error) {
	db, err := sqldb.Open(ctx, target, "twotier", migrations)
	if err != nil {
		return nil, fmt.Errorf("twotiersql: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func internal(what string, err error) error {
	return &tongbao.Error{Code: tongbao.EINTERNAL, Message: "twotier store: " + what, Err: err}
}

// CreateInstitution implements twotier.Store.
func (s *Store) CreateInstitution(ctx context.Context, in twotier.Institution) error {
	_, err := s.db.Exec(ctx, `INSERT INTO institutions (id, kind, name, net_debit_cap, created_at, seq)
		VALUES (?, ?, ?, ?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM institutions))`,
		in.ID[:], string(in.Kind), in.Name, int64(in.NetDebitCap), tongbao.UnixNanos(in.CreatedAt))
	if sqldb.IsUniqueViolation(err) {
		old, gerr := s.Institution(ctx, in.ID)
		if gerr != nil {
			return gerr
		}
		if old.Kind != in.Kind || old.Name != in.Name || old.NetDebitCap != in.NetDebitCap {
			return twotier.ErrInstitutionExists
		}
		return nil
	}
	if err != nil {
		return internal("create institution", err)
	}
	return nil
}

const institutionColumns = `id, kind, name, net_debit_cap, created_at`

func scanInstitution(sc sqldb.Scanner) (twotier.Institution, error) {
	var in twotier.Institution
	var id []byte
	var kind string
	var created int64
	if err := sc.Scan(&id, &kind, &in.Name, (*int64)(&in.NetDebitCap), &created); err != nil {
		return in, err
	}
	var err error
	in.ID, err = tongbao.IDFromBytes(id)
	in.Kind, in.CreatedAt = twotier.InstitutionKind(kind), tongbao.FromUnixNanos(created)
	return in, err
}

// Institution implements twotier.Store.
func (s *Store) Institution(ctx context.Context, id tongbao.ID) (twotier.Institution, error) {
	in, err := scanInstitution(s.db.QueryRow(ctx, `SELECT `+institutionColumns+` FROM institutions WHERE id = ?`, id[:]))
	if sqldb.IsNoRows(err) {
		return in, twotier.ErrInstitutionNotFound
	}
	if err != nil {
		return in, internal("institution", err)
	}
	return in, nil
}

// Institutions implements twotier.Store.
func (s *Store) Institutions(ctx context.Context) ([]twotier.Institution, error) {
	rows, err := s.db.Query(ctx, `SELECT `+institutionColumns+` FROM institutions ORDER BY seq`)
	if err != nil {
		return nil, internal("institutions", err)
	}
	out, err := sqldb.All(rows, scanInstitution)
	if err != nil {
		return nil, internal("institutions", err)
	}
	return out, nil
}

const walletColumns = `id, operator, kind, category, holder_masked, alias_key, alias_masked, merchant_category, region,
	state, state_reason, frozen_until, freeze_reason, cap_version, holder_limits, opened_at, updated_at, parent`

func limitsJSON(l *ledger.Limits) (sql.NullString, error) {
	if l == nil {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(l)
	return sql.NullString{String: string(b), Valid: true}, err
}

// CreateWallet implements twotier.Store. Of the table's two unique keys,
// the id and the alias, the one violated is told by whether the id is
// stored.
func (s *Store) CreateWallet(ctx context.Context, w twotier.Wallet) error {
	limits, err := limitsJSON(w.HolderLimits)
	if err != nil {
		return internal("create wallet", err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO wallets (`+walletColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		w.ID[:], w.Operator[:], string(w.Kind), int(w.Category), w.HolderMasked, sqldb.NullString(w.AliasKey), w.AliasMasked, w.MerchantCategory, w.Region,
		string(w.State), w.StateReason, tongbao.UnixNanos(w.FrozenUntil), w.FreezeReason, w.CapVersion, limits, tongbao.UnixNanos(w.OpenedAt), tongbao.UnixNanos(w.UpdatedAt), w.Parent[:])
	switch {
	case sqldb.IsUniqueViolation(err):
		_, gerr := s.Wallet(ctx, w.ID)
		switch {
		case gerr == nil:
			return twotier.ErrWalletExists
		case errors.Is(gerr, twotier.ErrWalletNotFound):
			return twotier.ErrAliasTaken
		}
		return gerr
	case err != nil:
		return internal("create wallet", err)
	}
	return nil
}

func scanWallet(sc sqldb.Scanner) (twotier.Wallet, error) {
	var w twotier.Wallet
	var id, op, parent []byte
	var kind, state string
	var alias, limits sql.NullString
	var frozen, opened, updated int64
	err := sc.Scan(&id, &op, &kind, (*int)(&w.Category), &w.HolderMasked, &alias, &w.AliasMasked, &w.MerchantCategory, &w.Region,
		&state, &w.StateReason, &frozen, &w.FreezeReason, &w.CapVersion, &limits, &opened, &updated, &parent)
	if err != nil {
		return w, err
	}
	if w.ID, err = tongbao.IDFromBytes(id); err != nil {
		return w, err
	}
	if w.Operator, err = tongbao.IDFromBytes(op); err != nil {
		return w, err
	}
	if w.Parent, err = tongbao.IDFromBytes(parent); err != nil {
		return w, err
	}
	w.Kind, w.State, w.AliasKey = twotier.WalletKind(kind), twotier.WalletState(state), alias.String
	w.FrozenUntil, w.OpenedAt, w.UpdatedAt = tongbao.FromUnixNanos(frozen), tongbao.FromUnixNanos(opened), tongbao.FromUnixNanos(updated)
	if limits.Valid {
		var l ledger.Limits
		if err := json.Unmarshal([]byte(limits.String), &l); err != nil {
			return w, err
		}
		w.HolderLimits = &l
	}
	return w, nil
}

func (s *Store) oneWallet(ctx context.Context, where string, arg any) (twotier.Wallet, error) {
	w, err := scanWallet(s.db.QueryRow(ctx, `SELECT `+walletColumns+` FROM wallets WHERE `+where, arg))
	if sqldb.IsNoRows(err) {
		return w, twotier.ErrWalletNotFound
	}
	if err != nil {
		return w, internal("wallet", err)
	}
	return w, nil
}

// Wallet implements twotier.Store.
func (s *Store) Wallet(ctx context.Context, id tongbao.ID) (twotier.Wallet, error) {
	return s.oneWallet(ctx, `id = ?`, id[:])
}

// WalletByAlias implements twotier.Store.
func (s *Store) WalletByAlias(ctx context.Context, aliasKey string) (twotier.Wallet, error) {
	if aliasKey == "" {
		return twotier.Wallet{}, twotier.ErrWalletNotFound
	}
	return s.oneWallet(ctx, `alias_key = ?`, aliasKey)
}

// UpdateWallet implements twotier.Store.
func (s *Store) UpdateWallet(ctx context.Context, w twotier.Wallet) error {
	limits, err := limitsJSON(w.HolderLimits)
	if err != nil {
		return internal("update wallet", err)
	}
	res, err := s.db.Exec(ctx, `UPDATE wallets SET category = ?, state = ?, state_reason = ?, frozen_until = ?, freeze_reason = ?,
		cap_version = ?, holder_limits = ?, updated_at = ? WHERE id = ?`,
		int(w.Category), string(w.State), w.StateReason, tongbao.UnixNanos(w.FrozenUntil), w.FreezeReason, w.CapVersion, limits, tongbao.UnixNanos(w.UpdatedAt), w.ID[:])
	if err != nil {
		return internal("update wallet", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return internal("update wallet", err)
	} else if n == 0 {
		return twotier.ErrWalletNotFound
	}
	return nil
}

func (s *Store) wallets(ctx context.Context, query string, args ...any) ([]twotier.Wallet, error) {
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, internal("wallets", err)
	}
	out, err := sqldb.All(rows, scanWallet)
	if err != nil {
		return nil, internal("wallets", err)
	}
	return out, nil
}

func pageLimit(limit int) int {
	if limit <= 0 || limit > twotier.WalletsPageMax {
		return twotier.WalletsPageMax
	}
	return limit
}

// Wallets implements twotier.Store.
func (s *Store) Wallets(ctx context.Context, operator, after tongbao.ID, limit int) ([]twotier.Wallet, error) {
	return s.wallets(ctx, `SELECT `+walletColumns+` FROM wallets WHERE operator = ? AND id > ? ORDER BY id LIMIT ?`,
		operator[:], after[:], pageLimit(limit))
}

// WalletsBehindCaps implements twotier.Store.
func (s *Store) WalletsBehindCaps(ctx context.Context, operator tongbao.ID, category twotier.Category, version int64, limit int) ([]twotier.Wallet, error) {
	return s.wallets(ctx, `SELECT `+walletColumns+` FROM wallets WHERE operator = ? AND category = ? AND cap_version <> ? AND kind <> ? ORDER BY id LIMIT ?`,
		operator[:], int(category), version, string(twotier.WalletScenario), pageLimit(limit))
}

// SubWallets implements twotier.Store.
func (s *Store) SubWallets(ctx context.Context, parent tongbao.ID) ([]twotier.Wallet, error) {
	return s.wallets(ctx, `SELECT `+walletColumns+` FROM wallets WHERE parent = ? AND kind = ? ORDER BY id LIMIT ?`,
		parent[:], string(twotier.WalletScenario), twotier.WalletsPageMax)
}

// AddCapVersion implements twotier.Store.
func (s *Store) AddCapVersion(ctx context.Context, v twotier.CapVersion) error {
	caps, err := json.Marshal(v.Caps)
	if err != nil {
		return internal("add cap version", err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO cap_versions (operator, version, effective_from, caps, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?)`,
		v.Operator[:], v.Version, v.EffectiveFrom.UnixNano(), string(caps), v.SetBy, tongbao.UnixNanos(v.SetAt))
	if sqldb.IsUniqueViolation(err) {
		return twotier.ErrCapVersionExists
	}
	if err != nil {
		return internal("add cap version", err)
	}
	return nil
}

// CapVersions implements twotier.Store.
func (s *Store) CapVersions(ctx context.Context, operator tongbao.ID) ([]twotier.CapVersion, error) {
	rows, err := s.db.Query(ctx, `SELECT version, effective_from, caps, set_by, set_at FROM cap_versions WHERE operator = ? ORDER BY version`, operator[:])
	if err != nil {
		return nil, internal("cap versions", err)
	}
	out, err := sqldb.All(rows, func(sc sqldb.Scanner) (twotier.CapVersion, error) {
		v := twotier.CapVersion{Operator: operator}
		var from, at int64
		var caps string
		if err := sc.Scan(&v.Version, &from, &caps, &v.SetBy, &at); err != nil {
			return v, err
		}
		v.EffectiveFrom, v.SetAt = time.Unix(0, from), tongbao.FromUnixNanos(at)
		return v, json.Unmarshal([]byte(caps), &v.Caps)
	})
	if err != nil {
		return nil, internal("cap versions", err)
	}
	return out, nil
}

// CreateWindow implements twotier.Store.
func (s *Store) CreateWindow(ctx context.Context, w twotier.Window) error {
	_, err := s.db.Exec(ctx, `INSERT INTO windows (number, status, opened_at, closed_at, settled_at) VALUES (?, ?, ?, ?, ?)`,
		int64(w.Number), string(w.Status), tongbao.UnixNanos(w.OpenedAt), tongbao.UnixNanos(w.ClosedAt), tongbao.UnixNanos(w.SettledAt))
	if sqldb.IsUniqueViolation(err) {
		return twotier.ErrWindowExists
	}
	if err != nil {
		return internal("create window", err)
	}
	return nil
}

// UpdateWindow implements twotier.Store. The positions are replaced in the
// same transaction as the status.
func (s *Store) UpdateWindow(ctx context.Context, w twotier.Window) error {
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return internal("update window", err)
	}
	defer tx.Rollback()
	res, err := tx.Exec(ctx, `UPDATE windows SET status = ?, opened_at = ?, closed_at = ?, settled_at = ? WHERE number = ?`,
		string(w.Status), tongbao.UnixNanos(w.OpenedAt), tongbao.UnixNanos(w.ClosedAt), tongbao.UnixNanos(w.SettledAt), int64(w.Number))
	if err != nil {
		return internal("update window", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return internal("update window", err)
	} else if n == 0 {
		return twotier.ErrWindowNotFound
	}
	if _, err := tx.Exec(ctx, `DELETE FROM window_positions WHERE window_number = ?`, int64(w.Number)); err != nil {
		return internal("update window", err)
	}
	for op, net := range w.Positions {
		if _, err := tx.Exec(ctx, `INSERT INTO window_positions (window_number, operator, net) VALUES (?, ?, ?)`, int64(w.Number), op[:], int64(net)); err != nil {
			return internal("update window", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return internal("update window", err)
	}
	return nil
}

// Windows implements twotier.Store.
func (s *Store) Windows(ctx context.Context, from uint64) ([]twotier.Window, error) {
	rows, err := s.db.Query(ctx, `SELECT number, status, opened_at, closed_at, settled_at FROM windows WHERE number >= ? ORDER BY number`, int64(from))
	if err != nil {
		return nil, internal("windows", err)
	}
	out, err := sqldb.All(rows, func(sc sqldb.Scanner) (twotier.Window, error) {
		var w twotier.Window
		var number, opened, closed, settled int64
		var status string
		if err := sc.Scan(&number, &status, &opened, &closed, &settled); err != nil {
			return w, err
		}
		w.Number, w.Status = uint64(number), twotier.WindowStatus(status)
		w.OpenedAt, w.ClosedAt, w.SettledAt = tongbao.FromUnixNanos(opened), tongbao.FromUnixNanos(closed), tongbao.FromUnixNanos(settled)
		w.Positions = make(map[tongbao.ID]tongbao.Amount)
		return w, nil
	})
	if err != nil {
		return nil, internal("windows", err)
	}
	index := make(map[uint64]int, len(out))
	for i, w := range out {
		index[w.Number] = i
	}
	prows, err := s.db.Query(ctx, `SELECT window_number, operator, net FROM window_positions WHERE window_number >= ?`, int64(from))
	if err != nil {
		return nil, internal("windows", err)
	}
	type position struct {
		number uint64
		op     tongbao.ID
		net    tongbao.Amount
	}
	positions, err := sqldb.All(prows, func(sc sqldb.Scanner) (position, error) {
		var number, net int64
		var op []byte
		if err := sc.Scan(&number, &op, &net); err != nil {
			return position{}, err
		}
		id, err := tongbao.IDFromBytes(op)
		return position{uint64(number), id, tongbao.Amount(net)}, err
	})
	if err != nil {
		return nil, internal("windows", err)
	}
	for _, p := range positions {
		if i, ok := index[p.number]; ok {
			out[i].Positions[p.op] = p.net
		}
	}
	return out, nil
}

const paymentColumns = `id, payer_operator, payee_operator, payer_wallet, payee_wallet, amount, currency, window_number,
	status, reason, payer_timestamp, payee_timestamp, created_at`

// insertPayment stores a record unless its id is taken.
const insertPayment = `INSERT INTO payments (` + paymentColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`

func paymentArgs(p twotier.PaymentRecord) []any {
	return []any{p.ID[:], p.PayerOperator[:], p.PayeeOperator[:], p.PayerWallet[:], p.PayeeWallet[:], int64(p.Amount), string(p.Currency), int64(p.Window),
		string(p.Status), p.Reason, p.PayerTimestamp, p.PayeeTimestamp, tongbao.UnixNanos(p.CreatedAt)}
}

// updatePayment replaces a record's mutable fields.
const updatePayment = `UPDATE payments SET window_number = ?, status = ?, reason = ?, payer_timestamp = ?, payee_timestamp = ? WHERE id = ?`

func updatePaymentArgs(p twotier.PaymentRecord) []any {
	return []any{int64(p.Window), string(p.Status), p.Reason, p.PayerTimestamp, p.PayeeTimestamp, p.ID[:]}
}

func scanPayment(sc sqldb.Scanner) (twotier.PaymentRecord, error) {
	var p twotier.PaymentRecord
	var id, po, pe, pw, ew []byte
	var currency, status string
	var window, created int64
	err := sc.Scan(&id, &po, &pe, &pw, &ew, (*int64)(&p.Amount), &currency, &window, &status, &p.Reason, &p.PayerTimestamp, &p.PayeeTimestamp, &created)
	if err != nil {
		return p, err
	}
	for _, f := range []struct {
		dst *tongbao.ID
		src []byte
	}{{&p.ID, id}, {&p.PayerOperator, po}, {&p.PayeeOperator, pe}, {&p.PayerWallet, pw}, {&p.PayeeWallet, ew}} {
		if *f.dst, err = tongbao.IDFromBytes(f.src); err != nil {
			return p, err
		}
	}
	p.Currency, p.Window, p.Status, p.CreatedAt = tongbao.Currency(currency), uint64(window), twotier.PaymentStatus(status), tongbao.FromUnixNanos(created)
	return p, nil
}

// CreatePayment implements twotier.Store.
func (s *Store) CreatePayment(ctx context.Context, p twotier.PaymentRecord) (twotier.PaymentRecord, bool, error) {
	res, err := s.db.Exec(ctx, insertPayment, paymentArgs(p)...)
	if err != nil {
		return twotier.PaymentRecord{}, false, internal("create payment", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return twotier.PaymentRecord{}, false, internal("create payment", err)
	} else if n == 1 {
		return p, true, nil
	}
	old, err := s.Payment(ctx, p.ID)
	return old, false, err
}

// UpdatePayment implements twotier.Store.
func (s *Store) UpdatePayment(ctx context.Context, p twotier.PaymentRecord) error {
	res, err := s.db.Exec(ctx, updatePayment, updatePaymentArgs(p)...)
	if err != nil {
		return internal("update payment", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return internal("update payment", err)
	} else if n == 0 {
		return twotier.ErrPaymentNotFound
	}
	return nil
}

// CreatePayments implements twotier.Store.
func (s *Store) CreatePayments(ctx context.Context, ps []twotier.PaymentRecord) ([]twotier.PaymentRecord, []bool, error) {
	stored, created := make([]twotier.PaymentRecord, len(ps)), make([]bool, len(ps))
	if len(ps) == 0 {
		return stored, created, nil
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, nil, internal("create payments", err)
	}
	defer tx.Rollback()
	ins, err := tx.Prepare(ctx, insertPayment)
	if err != nil {
		return nil, nil, internal("create payments", err)
	}
	defer ins.Close()
	for i, p := range ps {
		res, err := ins.ExecContext(ctx, paymentArgs(p)...)
		if err != nil {
			return nil, nil, internal("create payments", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, nil, internal("create payments", err)
		} else if n == 1 {
			stored[i], created[i] = p, true
			continue
		}
		if stored[i], err = scanPayment(tx.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = ?`, p.ID[:])); err != nil {
			return nil, nil, internal("create payments", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, internal("create payments", err)
	}
	return stored, created, nil
}

// UpdatePayments implements twotier.Store.
func (s *Store) UpdatePayments(ctx context.Context, ps []twotier.PaymentRecord) error {
	if len(ps) == 0 {
		return nil
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return internal("update payments", err)
	}
	defer tx.Rollback()
	up, err := tx.Prepare(ctx, updatePayment)
	if err != nil {
		return internal("update payments", err)
	}
	defer up.Close()
	for _, p := range ps {
		res, err := up.ExecContext(ctx, updatePaymentArgs(p)...)
		if err != nil {
			return internal("update payments", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return internal("update payments", err)
		} else if n == 0 {
			return twotier.ErrPaymentNotFound
		}
	}
	if err := tx.Commit(); err != nil {
		return internal("update payments", err)
	}
	return nil
}

// Payment implements twotier.Store.
func (s *Store) Payment(ctx context.Context, id tongbao.ID) (twotier.PaymentRecord, error) {
	p, err := scanPayment(s.db.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = ?`, id[:]))
	if sqldb.IsNoRows(err) {
		return p, twotier.ErrPaymentNotFound
	}
	if err != nil {
		return p, internal("payment", err)
	}
	return p, nil
}

// Payments implements twotier.Store. The two halves of the union each
// read one index (payments_payer, payments_payee); a payment between two
// wallets of the operator is in the first only.
func (s *Store) Payments(ctx context.Context, operator tongbao.ID, from, to time.Time) ([]twotier.PaymentRecord, error) {
	rows, err := s.db.Query(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE payer_operator = ?1 AND created_at >= ?2 AND created_at < ?3
		UNION ALL SELECT `+paymentColumns+` FROM payments
		WHERE payee_operator = ?1 AND payer_operator <> ?1 AND created_at >= ?2 AND created_at < ?3
		ORDER BY created_at, id`, operator[:], from.UnixNano(), to.UnixNano())
	if err != nil {
		return nil, internal("payments", err)
	}
	out, err := sqldb.All(rows, scanPayment)
	if err != nil {
		return nil, internal("payments", err)
	}
	return out, nil
}
