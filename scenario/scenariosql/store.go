// Package scenariosql keeps the scenario domain's tables (scenario.Store)
// in SQLite or PostgreSQL, one implementation for both (see internal/sqldb
// for where they differ). On SQLite the tables live in a file of their own
// (scenario.db beside the ledger's), in WAL mode with synchronous=FULL; on
// PostgreSQL they may share a schema with the ledger's and the other
// domains', recorded as component "scenario" in schema_version. Every
// method is one statement, durable when it returns.
package scenariosql

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/internal/sqldb"
	"github.com/tongbao/tongbao/scenario"
)

var _ scenario.Store = (*Store)(nil)

// Store is a scenario.Store in a SQLite file or a PostgreSQL database.
type Store struct {
	db *sqldb.DB
}

//go:embed migrations
var migrations embed.FS

// Open opens the store on target: a postgres:// connection string, or
// the path of a SQLite file (created if needed). It brings the tables up
// to date.
func Open(ctx context.Context, target string) (*Store, error) {
	db, err := sqldb.Open(ctx, target, "scenario", migrations)
	if err != nil {
		return nil, fmt.Errorf("scenariosql: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func internal(what string, err error) error {
	return &tongbao.Error{Code: tongbao.EINTERNAL, Message: "scenario store: " + what, Err: err}
}

// CreateTemplate implements scenario.Store.
func (s *Store) CreateTemplate(ctx context.Context, t scenario.Template) error {
	ms, cs, rs, err := lists(t)
	if err != nil {
		return internal("create template", err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO templates (`+templateColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID[:], t.Operator[:], t.Name, int64(t.BalanceMax), int64(t.PaymentMax), int64(t.DailyMax), ms, cs, rs,
		tongbao.UnixNanos(t.ExpiresAt), t.Withdrawable, tongbao.UnixNanos(t.CreatedAt))
	switch {
	case sqldb.IsUniqueViolation(err):
		return scenario.ErrTemplateExists
	case err != nil:
		return internal("create template", err)
	}
	return nil
}

// Template implements scenario.Store.
func (s *Store) Template(ctx context.Context, id tongbao.ID) (scenario.Template, error) {
	t, err := scanTemplate(s.db.QueryRow(ctx, `SELECT `+templateColumns+` FROM templates WHERE id = ?`, id[:]))
	if sqldb.IsNoRows(err) {
		return scenario.Template{}, scenario.ErrTemplateNotFound
	}
	if err != nil {
		return scenario.Template{}, internal("read template", err)
	}
	return t, nil
}

// Templates implements scenario.Store.
func (s *Store) Templates(ctx context.Context, operator tongbao.ID) ([]scenario.Template, error) {
	rows, err := s.db.Query(ctx, `SELECT `+templateColumns+` FROM templates WHERE operator = ? ORDER BY created_at, id LIMIT ?`,
		operator[:], scenario.TemplatesMax)
	if err != nil {
		return nil, internal("list templates", err)
	}
	out, err := sqldb.All(rows, scanTemplate)
	if err != nil {
		return nil, internal("list templates", err)
	}
	return out, nil
}

// CreateSubWallet implements scenario.Store.
func (s *Store) CreateSubWallet(ctx context.Context, w scenario.SubWallet) error {
	_, err := s.db.Exec(ctx, `INSERT INTO sub_wallets (`+subWalletColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		w.Wallet[:], w.Parent[:], w.Template[:], w.Operator[:], tongbao.UnixNanos(w.ExpiresAt), w.ChargeMerchant[:],
		tongbao.UnixNanos(w.ChargeGrantedAt), tongbao.UnixNanos(w.ChargeRevokedAt), tongbao.UnixNanos(w.CreatedAt), tongbao.UnixNanos(w.EndedAt))
	switch {
	case sqldb.IsUniqueViolation(err):
		return scenario.ErrSubWalletExists
	case err != nil:
		return internal("create sub-wallet", err)
	}
	return nil
}

// SubWallet implements scenario.Store.
func (s *Store) SubWallet(ctx context.Context, wallet tongbao.ID) (scenario.SubWallet, error) {
	w, err := scanSubWallet(s.db.QueryRow(ctx, `SELECT `+subWalletColumns+` FROM sub_wallets WHERE wallet = ?`, wallet[:]))
	if sqldb.IsNoRows(err) {
		return scenario.SubWallet{}, scenario.ErrSubWalletNotFound
	}
	if err != nil {
		return scenario.SubWallet{}, internal("read sub-wallet", err)
	}
	return w, nil
}

// SubWallets implements scenario.Store.
func (s *Store) SubWallets(ctx context.Context, parent tongbao.ID) ([]scenario.SubWallet, error) {
	return s.subWallets(ctx, `SELECT `+subWalletColumns+` FROM sub_wallets WHERE parent = ? AND ended_at = 0 ORDER BY created_at, wallet LIMIT ?`, parent[:], scenario.SubWalletsMax)
}

// Expired implements scenario.Store.
func (s *Store) Expired(ctx context.Context, t time.Time, after tongbao.ID, limit int) ([]scenario.SubWallet, error) {
	if limit <= 0 || limit > scenario.ExpiredPageMax {
		limit = scenario.ExpiredPageMax
	}
	return s.subWallets(ctx, `SELECT `+subWalletColumns+` FROM sub_wallets WHERE expires_at > 0 AND expires_at <= ? AND ended_at = 0 AND wallet > ? ORDER BY wallet LIMIT ?`, t.UnixNano(), after[:], limit)
}

func (s *Store) subWallets(ctx context.Context, query string, args ...any) ([]scenario.SubWallet, error) {
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, internal("list sub-wallets", err)
	}
	out, err := sqldb.All(rows, scanSubWallet)
	if err != nil {
		return nil, internal("list sub-wallets", err)
	}
	return out, nil
}

// UpdateSubWallet implements scenario.Store.
func (s *Store) UpdateSubWallet(ctx context.Context, w scenario.SubWallet) error {
	res, err := s.db.Exec(ctx, `UPDATE sub_wallets SET charge_merchant = ?, charge_granted_at = ?, charge_revoked_at = ?, ended_at = ? WHERE wallet = ?`,
		w.ChargeMerchant[:], tongbao.UnixNanos(w.ChargeGrantedAt), tongbao.UnixNanos(w.ChargeRevokedAt), tongbao.UnixNanos(w.EndedAt), w.Wallet[:])
	if err != nil {
		return internal("update sub-wallet", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return internal("update sub-wallet", err)
	} else if n == 0 {
		return scenario.ErrSubWalletNotFound
	}
	return nil
}

// templateColumns are the columns of the templates table, in the order
// scanTemplate reads them.
const templateColumns = `id, operator, name, balance_max, payment_max, daily_max, merchants, categories, regions, expires_at, withdrawable, created_at`

// lists returns a template's lists as stored: JSON arrays, never null.
func lists(t scenario.Template) (merchants, categories, regions string, err error) {
	enc := func(v any) string {
		if err != nil {
			return ""
		}
		var b []byte
		b, err = json.Marshal(v)
		return string(b)
	}
	ms := t.Merchants
	if ms == nil {
		ms = []tongbao.ID{}
	}
	cs, rs := t.Categories, t.Regions
	if cs == nil {
		cs = []string{}
	}
	if rs == nil {
		rs = []string{}
	}
	return enc(ms), enc(cs), enc(rs), err
}

// scanTemplate reads a row of templateColumns.
func scanTemplate(sc sqldb.Scanner) (scenario.Template, error) {
	var t scenario.Template
	var id, op []byte
	var balance, payment, daily, expires, created int64
	var merchants, categories, regions string
	if err := sc.Scan(&id, &op, &t.Name, &balance, &payment, &daily, &merchants, &categories, &regions, &expires, &t.Withdrawable, &created); err != nil {
		return t, err
	}
	var err error
	if t.ID, err = tongbao.IDFromBytes(id); err != nil {
		return t, err
	}
	if t.Operator, err = tongbao.IDFromBytes(op); err != nil {
		return t, err
	}
	for _, l := range []struct {
		src string
		dst any
	}{{merchants, &t.Merchants}, {categories, &t.Categories}, {regions, &t.Regions}} {
		if err := json.Unmarshal([]byte(l.src), l.dst); err != nil {
			return t, err
		}
	}
	if len(t.Merchants) == 0 {
		t.Merchants = nil
	}
	if len(t.Categories) == 0 {
		t.Categories = nil
	}
	if len(t.Regions) == 0 {
		t.Regions = nil
	}
	t.BalanceMax, t.PaymentMax, t.DailyMax = tongbao.Amount(balance), tongbao.Amount(payment), tongbao.Amount(daily)
	t.ExpiresAt, t.CreatedAt = tongbao.FromUnixNanos(expires), tongbao.FromUnixNanos(created)
	return t, nil
}

// subWalletColumns are the columns of the sub_wallets table, in the
// order scanSubWallet reads them.
const subWalletColumns = `wallet, parent, template, operator, expires_at, charge_merchant, charge_granted_at, charge_revoked_at, created_at, ended_at`

// scanSubWallet reads a row of subWalletColumns.
func scanSubWallet(sc sqldb.Scanner) (scenario.SubWallet, error) {
	var w scenario.SubWallet
	var wallet, parent, tpl, op, merchant []byte
	var expires, granted, revoked, created, ended int64
	if err := sc.Scan(&wallet, &parent, &tpl, &op, &expires, &merchant, &granted, &revoked, &created, &ended); err != nil {
		return w, err
	}
	for _, p := range []struct {
		dst *tongbao.ID
		src []byte
	}{{&w.Wallet, wallet}, {&w.Parent, parent}, {&w.Template, tpl}, {&w.Operator, op}, {&w.ChargeMerchant, merchant}} {
		var err error
		if *p.dst, err = tongbao.IDFromBytes(p.src); err != nil {
			return w, err
		}
	}
	w.ExpiresAt, w.ChargeGrantedAt = tongbao.FromUnixNanos(expires), tongbao.FromUnixNanos(granted)
	w.ChargeRevokedAt, w.CreatedAt, w.EndedAt = tongbao.FromUnixNanos(revoked), tongbao.FromUnixNanos(created), tongbao.FromUnixNanos(ended)
	return w, nil
}
