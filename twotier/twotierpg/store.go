// Package twotierpg keeps the two-tier domain's tables (twotier.Store) in
// PostgreSQL, with the same semantics as twotiersqlite. The tables may share
// a database and a schema with the ledger's (package postgres): each store
// records its own migrations in schema_version.
//
// Every method is one statement or one transaction, durable when it
// returns (synchronous_commit on, PostgreSQL's default).
package twotierpg

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tongbao/tongbao/internal/rowscan"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/postgres"
	"github.com/tongbao/tongbao/twotier"
)

var _ twotier.Store = (*Store)(nil)

// Store is a twotier.Store in a PostgreSQL database.
type Store struct {
	db *pgxpool.Pool
}

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to the database named by dsn and brings the domain's
// tables up to date.
func Open(ctx context.Context, dsn string) (*Store, error) {
	db, err := postgres.OpenDomain(ctx, dsn, "twotier", migrations)
	if err != nil {
		return nil, fmt.Errorf("twotierpg: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the connections.
func (s *Store) Close() error {
	s.db.Close()
	return nil
}

func internal(what string, err error) error {
	return &tongbao.Error{Code: tongbao.EINTERNAL, Message: "twotier store: " + what, Err: err}
}

// CreateInstitution implements twotier.Store.
func (s *Store) CreateInstitution(ctx context.Context, in twotier.Institution) error {
	_, err := s.db.Exec(ctx, `INSERT INTO institutions (id, kind, name, net_debit_cap, created_at, seq)
		VALUES ($1, $2, $3, $4, $5, (SELECT coalesce(max(seq), 0) + 1 FROM institutions))`,
		in.ID[:], string(in.Kind), in.Name, int64(in.NetDebitCap), tongbao.UnixNanos(in.CreatedAt))
	if postgres.IsUniqueViolation(err, "institutions_pkey") {
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

func scanInstitution(sc rowscan.Scanner) (twotier.Institution, error) {
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
	in, err := scanInstitution(s.db.QueryRow(ctx, `SELECT `+institutionColumns+` FROM institutions WHERE id = $1`, id[:]))
	if errors.Is(err, pgx.ErrNoRows) {
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
	defer rows.Close()
	out, err := rowscan.All(rows, scanInstitution)
	if err != nil {
		return nil, internal("institutions", err)
	}
	return out, nil
}

const walletColumns = `id, operator, kind, category, holder_masked, alias_key, alias_masked, merchant_category, region,
	state, state_reason, frozen_until, freeze_reason, cap_version, holder_limits, opened_at, updated_at, parent`

// nullString is NULL for the empty string.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func limitsJSON(l *ledger.Limits) (*string, error) {
	if l == nil {
		return nil, nil
	}
	b, err := json.Marshal(l)
	s := string(b)
	return &s, err
}

// CreateWallet implements twotier.Store.
func (s *Store) CreateWallet(ctx context.Context, w twotier.Wallet) error {
	limits, err := limitsJSON(w.HolderLimits)
	if err != nil {
		return internal("create wallet", err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO wallets (`+walletColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		w.ID[:], w.Operator[:], string(w.Kind), int(w.Category), w.HolderMasked, nullString(w.AliasKey), w.AliasMasked, w.MerchantCategory, w.Region,
		string(w.State), w.StateReason, tongbao.UnixNanos(w.FrozenUntil), w.FreezeReason, w.CapVersion, limits, tongbao.UnixNanos(w.OpenedAt), tongbao.UnixNanos(w.UpdatedAt), w.Parent[:])
	switch {
	case postgres.IsUniqueViolation(err, "wallets_pkey"):
		return twotier.ErrWalletExists
	case postgres.IsUniqueViolation(err, "wallets_alias_key"):
		return twotier.ErrAliasTaken
	case err != nil:
		return internal("create wallet", err)
	}
	return nil
}

func scanWallet(sc rowscan.Scanner) (twotier.Wallet, error) {
	var w twotier.Wallet
	var id, op, parent []byte
	var kind, state string
	var alias, limits *string
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
	w.Kind, w.State = twotier.WalletKind(kind), twotier.WalletState(state)
	if alias != nil {
		w.AliasKey = *alias
	}
	w.FrozenUntil, w.OpenedAt, w.UpdatedAt = tongbao.FromUnixNanos(frozen), tongbao.FromUnixNanos(opened), tongbao.FromUnixNanos(updated)
	if limits != nil {
		var l ledger.Limits
		if err := json.Unmarshal([]byte(*limits), &l); err != nil {
			return w, err
		}
		w.HolderLimits = &l
	}
	return w, nil
}

func (s *Store) oneWallet(ctx context.Context, where string, arg any) (twotier.Wallet, error) {
	w, err := scanWallet(s.db.QueryRow(ctx, `SELECT `+walletColumns+` FROM wallets WHERE `+where, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return w, twotier.ErrWalletNotFound
	}
	if err != nil {
		return w, internal("wallet", err)
	}
	return w, nil
}

// Wallet implements twotier.Store.
func (s *Store) Wallet(ctx context.Context, id tongbao.ID) (twotier.Wallet, error) {
	return s.oneWallet(ctx, `id = $1`, id[:])
}

// WalletByAlias implements twotier.Store.
func (s *Store) WalletByAlias(ctx context.Context, aliasKey string) (twotier.Wallet, error) {
	if aliasKey == "" {
		return twotier.Wallet{}, twotier.ErrWalletNotFound
	}
	return s.oneWallet(ctx, `alias_key = $1`, aliasKey)
}

// UpdateWallet implements twotier.Store.
func (s *Store) UpdateWallet(ctx context.Context, w twotier.Wallet) error {
	limits, err := limitsJSON(w.HolderLimits)
	if err != nil {
		return internal("update wallet", err)
	}
	tag, err := s.db.Exec(ctx, `UPDATE wallets SET category = $1, state = $2, state_reason = $3, frozen_until = $4, freeze_reason = $5,
		cap_version = $6, holder_limits = $7, updated_at = $8 WHERE id = $9`,
		int(w.Category), string(w.State), w.StateReason, tongbao.UnixNanos(w.FrozenUntil), w.FreezeReason, w.CapVersion, limits, tongbao.UnixNanos(w.UpdatedAt), w.ID[:])
	if err != nil {
		return internal("update wallet", err)
	}
	if tag.RowsAffected() == 0 {
		return twotier.ErrWalletNotFound
	}
	return nil
}

func (s *Store) wallets(ctx context.Context, query string, args ...any) ([]twotier.Wallet, error) {
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, internal("wallets", err)
	}
	defer rows.Close()
	out, err := rowscan.All(rows, scanWallet)
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
	return s.wallets(ctx, `SELECT `+walletColumns+` FROM wallets WHERE operator = $1 AND id > $2 ORDER BY id LIMIT $3`,
		operator[:], after[:], pageLimit(limit))
}

// WalletsBehindCaps implements twotier.Store.
func (s *Store) WalletsBehindCaps(ctx context.Context, operator tongbao.ID, category twotier.Category, version int64, limit int) ([]twotier.Wallet, error) {
	return s.wallets(ctx, `SELECT `+walletColumns+` FROM wallets WHERE operator = $1 AND category = $2 AND cap_version <> $3 AND kind <> $4 ORDER BY id LIMIT $5`,
		operator[:], int(category), version, string(twotier.WalletScenario), pageLimit(limit))
}

// SubWallets implements twotier.Store.
func (s *Store) SubWallets(ctx context.Context, parent tongbao.ID) ([]twotier.Wallet, error) {
	return s.wallets(ctx, `SELECT `+walletColumns+` FROM wallets WHERE parent = $1 AND kind = $2 ORDER BY id LIMIT $3`,
		parent[:], string(twotier.WalletScenario), twotier.WalletsPageMax)
}

// AddCapVersion implements twotier.Store.
func (s *Store) AddCapVersion(ctx context.Context, v twotier.CapVersion) error {
	caps, err := json.Marshal(v.Caps)
	if err != nil {
		return internal("add cap version", err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO cap_versions (operator, version, effective_from, caps, set_by, set_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		v.Operator[:], v.Version, v.EffectiveFrom.UnixNano(), string(caps), v.SetBy, tongbao.UnixNanos(v.SetAt))
	if postgres.IsUniqueViolation(err, "cap_versions_pkey") {
		return twotier.ErrCapVersionExists
	}
	if err != nil {
		return internal("add cap version", err)
	}
	return nil
}

// CapVersions implements twotier.Store.
func (s *Store) CapVersions(ctx context.Context, operator tongbao.ID) ([]twotier.CapVersion, error) {
	rows, err := s.db.Query(ctx, `SELECT version, effective_from, caps, set_by, set_at FROM cap_versions WHERE operator = $1 ORDER BY version`, operator[:])
	if err != nil {
		return nil, internal("cap versions", err)
	}
	defer rows.Close()
	var out []twotier.CapVersion
	for rows.Next() {
		v := twotier.CapVersion{Operator: operator}
		var from, at int64
		var caps string
		if err := rows.Scan(&v.Version, &from, &caps, &v.SetBy, &at); err != nil {
			return nil, internal("cap versions", err)
		}
		if err := json.Unmarshal([]byte(caps), &v.Caps); err != nil {
			return nil, internal("cap versions", err)
		}
		v.EffectiveFrom, v.SetAt = time.Unix(0, from), tongbao.FromUnixNanos(at)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, internal("cap versions", err)
	}
	return out, nil
}

// CreateWindow implements twotier.Store.
func (s *Store) CreateWindow(ctx context.Context, w twotier.Window) error {
	_, err := s.db.Exec(ctx, `INSERT INTO windows (number, status, opened_at, closed_at, settled_at) VALUES ($1, $2, $3, $4, $5)`,
		int64(w.Number), string(w.Status), tongbao.UnixNanos(w.OpenedAt), tongbao.UnixNanos(w.ClosedAt), tongbao.UnixNanos(w.SettledAt))
	if postgres.IsUniqueViolation(err, "windows_pkey") {
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
	defer tx.Rollback(context.Background())
	tag, err := tx.Exec(ctx, `UPDATE windows SET status = $1, opened_at = $2, closed_at = $3, settled_at = $4 WHERE number = $5`,
		string(w.Status), tongbao.UnixNanos(w.OpenedAt), tongbao.UnixNanos(w.ClosedAt), tongbao.UnixNanos(w.SettledAt), int64(w.Number))
	if err != nil {
		return internal("update window", err)
	}
	if tag.RowsAffected() == 0 {
		return twotier.ErrWindowNotFound
	}
	if _, err := tx.Exec(ctx, `DELETE FROM window_positions WHERE window_number = $1`, int64(w.Number)); err != nil {
		return internal("update window", err)
	}
	for op, net := range w.Positions {
		if _, err := tx.Exec(ctx, `INSERT INTO window_positions (window_number, operator, net) VALUES ($1, $2, $3)`, int64(w.Number), op[:], int64(net)); err != nil {
			return internal("update window", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return internal("update window", err)
	}
	return nil
}

// Windows implements twotier.Store.
func (s *Store) Windows(ctx context.Context, from uint64) ([]twotier.Window, error) {
	rows, err := s.db.Query(ctx, `SELECT number, status, opened_at, closed_at, settled_at FROM windows WHERE number >= $1 ORDER BY number`, int64(from))
	if err != nil {
		return nil, internal("windows", err)
	}
	var out []twotier.Window
	index := make(map[uint64]int)
	for rows.Next() {
		var w twotier.Window
		var number, opened, closed, settled int64
		var status string
		if err := rows.Scan(&number, &status, &opened, &closed, &settled); err != nil {
			rows.Close()
			return nil, internal("windows", err)
		}
		w.Number, w.Status = uint64(number), twotier.WindowStatus(status)
		w.OpenedAt, w.ClosedAt, w.SettledAt = tongbao.FromUnixNanos(opened), tongbao.FromUnixNanos(closed), tongbao.FromUnixNanos(settled)
		w.Positions = make(map[tongbao.ID]tongbao.Amount)
		index[w.Number] = len(out)
		out = append(out, w)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, internal("windows", err)
	}
	prows, err := s.db.Query(ctx, `SELECT window_number, operator, net FROM window_positions WHERE window_number >= $1`, int64(from))
	if err != nil {
		return nil, internal("windows", err)
	}
	defer prows.Close()
	for prows.Next() {
		var number, net int64
		var op []byte
		if err := prows.Scan(&number, &op, &net); err != nil {
			return nil, internal("windows", err)
		}
		id, err := tongbao.IDFromBytes(op)
		if err != nil {
			return nil, internal("windows", err)
		}
		if i, ok := index[uint64(number)]; ok {
			out[i].Positions[id] = tongbao.Amount(net)
		}
	}
	if err := prows.Err(); err != nil {
		return nil, internal("windows", err)
	}
	return out, nil
}

const paymentColumns = `id, payer_operator, payee_operator, payer_wallet, payee_wallet, amount, currency, window_number,
	status, reason, payer_timestamp, payee_timestamp, created_at`

func scanPayment(sc rowscan.Scanner) (twotier.PaymentRecord, error) {
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
	_, err := s.db.Exec(ctx, `INSERT INTO payments (`+paymentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		p.ID[:], p.PayerOperator[:], p.PayeeOperator[:], p.PayerWallet[:], p.PayeeWallet[:], int64(p.Amount), string(p.Currency), int64(p.Window),
		string(p.Status), p.Reason, p.PayerTimestamp, p.PayeeTimestamp, tongbao.UnixNanos(p.CreatedAt))
	if postgres.IsUniqueViolation(err, "payments_pkey") {
		old, err := s.Payment(ctx, p.ID)
		return old, false, err
	}
	if err != nil {
		return twotier.PaymentRecord{}, false, internal("create payment", err)
	}
	return p, true, nil
}

// UpdatePayment implements twotier.Store.
func (s *Store) UpdatePayment(ctx context.Context, p twotier.PaymentRecord) error {
	tag, err := s.db.Exec(ctx, `UPDATE payments SET window_number = $1, status = $2, reason = $3, payer_timestamp = $4, payee_timestamp = $5 WHERE id = $6`,
		int64(p.Window), string(p.Status), p.Reason, p.PayerTimestamp, p.PayeeTimestamp, p.ID[:])
	if err != nil {
		return internal("update payment", err)
	}
	if tag.RowsAffected() == 0 {
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
	defer tx.Rollback(context.Background())
	for i, p := range ps {
		tag, err := tx.Exec(ctx, `INSERT INTO payments (`+paymentColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (id) DO NOTHING`,
			p.ID[:], p.PayerOperator[:], p.PayeeOperator[:], p.PayerWallet[:], p.PayeeWallet[:], int64(p.Amount), string(p.Currency), int64(p.Window),
			string(p.Status), p.Reason, p.PayerTimestamp, p.PayeeTimestamp, tongbao.UnixNanos(p.CreatedAt))
		if err != nil {
			return nil, nil, internal("create payments", err)
		}
		if tag.RowsAffected() == 1 {
			stored[i], created[i] = p, true
			continue
		}
		if stored[i], err = scanPayment(tx.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1`, p.ID[:])); err != nil {
			return nil, nil, internal("create payments", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
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
	defer tx.Rollback(context.Background())
	for _, p := range ps {
		tag, err := tx.Exec(ctx, `UPDATE payments SET window_number = $1, status = $2, reason = $3, payer_timestamp = $4, payee_timestamp = $5 WHERE id = $6`,
			int64(p.Window), string(p.Status), p.Reason, p.PayerTimestamp, p.PayeeTimestamp, p.ID[:])
		if err != nil {
			return internal("update payments", err)
		}
		if tag.RowsAffected() == 0 {
			return twotier.ErrPaymentNotFound
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return internal("update payments", err)
	}
	return nil
}

// Payment implements twotier.Store.
func (s *Store) Payment(ctx context.Context, id tongbao.ID) (twotier.PaymentRecord, error) {
	p, err := scanPayment(s.db.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1`, id[:]))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, twotier.ErrPaymentNotFound
	}
	if err != nil {
		return p, internal("payment", err)
	}
	return p, nil
}

// Payments implements twotier.Store.
func (s *Store) Payments(ctx context.Context, operator tongbao.ID, from, to time.Time) ([]twotier.PaymentRecord, error) {
	rows, err := s.db.Query(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE payer_operator = $1 AND created_at >= $2 AND created_at < $3
		UNION ALL SELECT `+paymentColumns+` FROM payments
		WHERE payee_operator = $1 AND payer_operator <> $1 AND created_at >= $2 AND created_at < $3
		ORDER BY created_at, id`, operator[:], from.UnixNano(), to.UnixNano())
	if err != nil {
		return nil, internal("payments", err)
	}
	defer rows.Close()
	out, err := rowscan.All(rows, scanPayment)
	if err != nil {
		return nil, internal("payments", err)
	}
	return out, nil
}
