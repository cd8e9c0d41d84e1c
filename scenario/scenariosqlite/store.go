// Package scenariosqlite keeps the scenario domain's tables
// (scenario.Store) in a SQLite file of their own, in WAL mode with
// synchronous=FULL like the other domain stores: a record the domain was
// told is stored survives a crash of the machine.
package scenariosqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/tongbao/tongbao/internal/rowscan"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/scenario"
	"github.com/tongbao/tongbao/scenario/internal/records"
	"github.com/tongbao/tongbao/sqlite"
)

var _ scenario.Store = (*Store)(nil)

// Store is a scenario.Store in one SQLite file.
type Store struct {
	db *sql.DB
}

//go:embed migrations/*.sql
var migrations embed.FS

// Open opens (creating it if needed) the database at path and brings its
// schema up to date.
func Open(ctx context.Context, p string) (*Store, error) {
	db, err := sqlite.OpenDomain(ctx, p, migrations)
	if err != nil {
		return nil, fmt.Errorf("scenariosqlite: %w", err)
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
	ms, cs, rs, err := records.Lists(t)
	if err != nil {
		return internal("create template", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO templates (`+records.TemplateColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID[:], t.Operator[:], t.Name, int64(t.BalanceMax), int64(t.PaymentMax), int64(t.DailyMax), ms, cs, rs,
		tongbao.UnixNanos(t.ExpiresAt), t.Withdrawable, tongbao.UnixNanos(t.CreatedAt))
	switch {
	case sqlite.IsUniqueViolation(err, ""):
		return scenario.ErrTemplateExists
	case err != nil:
		return internal("create template", err)
	}
	return nil
}

// Template implements scenario.Store.
func (s *Store) Template(ctx context.Context, id tongbao.ID) (scenario.Template, error) {
	t, err := records.ScanTemplate(s.db.QueryRowContext(ctx, `SELECT `+records.TemplateColumns+` FROM templates WHERE id = ?`, id[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return scenario.Template{}, scenario.ErrTemplateNotFound
	}
	if err != nil {
		return scenario.Template{}, internal("read template", err)
	}
	return t, nil
}

// Templates implements scenario.Store.
func (s *Store) Templates(ctx context.Context, operator tongbao.ID) ([]scenario.Template, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+records.TemplateColumns+` FROM templates WHERE operator = ? ORDER BY created_at, id LIMIT ?`,
		operator[:], scenario.TemplatesMax)
	if err != nil {
		return nil, internal("list templates", err)
	}
	defer rows.Close()
	out, err := rowscan.All(rows, records.ScanTemplate)
	if err != nil {
		return nil, internal("list templates", err)
	}
	return out, nil
}

// CreateSubWallet implements scenario.Store.
func (s *Store) CreateSubWallet(ctx context.Context, w scenario.SubWallet) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO sub_wallets (`+records.SubWalletColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		w.Wallet[:], w.Parent[:], w.Template[:], w.Operator[:], tongbao.UnixNanos(w.ExpiresAt), w.ChargeMerchant[:],
		tongbao.UnixNanos(w.ChargeGrantedAt), tongbao.UnixNanos(w.ChargeRevokedAt), tongbao.UnixNanos(w.CreatedAt), tongbao.UnixNanos(w.EndedAt))
	switch {
	case sqlite.IsUniqueViolation(err, ""):
		return scenario.ErrSubWalletExists
	case err != nil:
		return internal("create sub-wallet", err)
	}
	return nil
}

// SubWallet implements scenario.Store.
func (s *Store) SubWallet(ctx context.Context, wallet tongbao.ID) (scenario.SubWallet, error) {
	w, err := records.ScanSubWallet(s.db.QueryRowContext(ctx, `SELECT `+records.SubWalletColumns+` FROM sub_wallets WHERE wallet = ?`, wallet[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return scenario.SubWallet{}, scenario.ErrSubWalletNotFound
	}
	if err != nil {
		return scenario.SubWallet{}, internal("read sub-wallet", err)
	}
	return w, nil
}

// SubWallets implements scenario.Store.
func (s *Store) SubWallets(ctx context.Context, parent tongbao.ID) ([]scenario.SubWallet, error) {
	return s.subWallets(ctx, `SELECT `+records.SubWalletColumns+` FROM sub_wallets WHERE parent = ? AND ended_at = 0 ORDER BY created_at, wallet LIMIT ?`, parent[:], scenario.SubWalletsMax)
}

// Expired implements scenario.Store.
func (s *Store) Expired(ctx context.Context, t time.Time, after tongbao.ID, limit int) ([]scenario.SubWallet, error) {
	if limit <= 0 || limit > scenario.ExpiredPageMax {
		limit = scenario.ExpiredPageMax
	}
	return s.subWallets(ctx, `SELECT `+records.SubWalletColumns+` FROM sub_wallets WHERE expires_at > 0 AND expires_at <= ? AND ended_at = 0 AND wallet > ? ORDER BY wallet LIMIT ?`, t.UnixNano(), after[:], limit)
}

func (s *Store) subWallets(ctx context.Context, query string, args ...any) ([]scenario.SubWallet, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, internal("list sub-wallets", err)
	}
	defer rows.Close()
	out, err := rowscan.All(rows, records.ScanSubWallet)
	if err != nil {
		return nil, internal("list sub-wallets", err)
	}
	return out, nil
}

// UpdateSubWallet implements scenario.Store.
func (s *Store) UpdateSubWallet(ctx context.Context, w scenario.SubWallet) error {
	res, err := s.db.ExecContext(ctx, `UPDATE sub_wallets SET charge_merchant = ?, charge_granted_at = ?, charge_revoked_at = ?, ended_at = ? WHERE wallet = ?`,
		w.ChargeMerchant[:], tongbao.UnixNanos(w.ChargeGrantedAt), tongbao.UnixNanos(w.ChargeRevokedAt), tongbao.UnixNanos(w.EndedAt), w.Wallet[:])
	if err != nil {
		return internal("update sub-wallet", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return internal("update sub-wallet", err)
	}
	if n == 0 {
		return scenario.ErrSubWalletNotFound
	}
	return nil
}
