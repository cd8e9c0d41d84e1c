// Package scenariopg keeps the scenario domain's tables (scenario.Store)
// in PostgreSQL, with the same semantics as scenariosqlite. The tables may
// share a database and a schema with the ledger's and the other domains':
// each store records its own migrations in schema_version. Every method is
// one statement, durable when it returns (synchronous_commit on,
// PostgreSQL's default).
package scenariopg

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/tongbao/tongbao/internal/rowscan"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	tongbao "github.com/tongbao/tongbao"

	"github.com/tongbao/tongbao/postgres"
	"github.com/tongbao/tongbao/scenario"
	"github.com/tongbao/tongbao/scenario/internal/records"
)

var _ scenario.Store = (*Store)(nil)

// Store is a scenario.Store in a PostgreSQL database.
type Store struct {
	db *pgxpool.Pool
}

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to the database named by dsn and brings the domain's
// tables up to date.
func Open(ctx context.Context, dsn string) (*Store, error) {
	db, err := postgres.OpenDomain(ctx, dsn, "scenario", migrations)
	if err != nil {
		return nil, fmt.Errorf("scenariopg: %w", err)
	}
	return &Store{db: db}, nil
}

// Close closes the connections.
func (s *Store) Close() error {
	s.db.Close()
	return nil
}

func internal(what string, err error) error {
	return &tongbao.Error{Code: tongbao.EINTERNAL, Message: "scenario store: " + what, Err: err}
}

// CreateTemplate implements scenario.Store.
func (s *Store) CreateTemplate(ctx context.Context, t scenario.Template) error {
	ms, cs, rs, err := records.Lists(t)
	if err != nil {
		return internal("create template", err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO templates (`+records.TemplateColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		t.ID[:], t.Operator[:], t.Name, int64(t.BalanceMax), int64(t.PaymentMax), int64(t.DailyMax), ms, cs, rs,
		tongbao.UnixNanos(t.ExpiresAt), t.Withdrawable, tongbao.UnixNanos(t.CreatedAt))
	switch {
	case postgres.IsUniqueViolation(err, "templates_pkey"):
		return scenario.ErrTemplateExists
	case err != nil:
		return internal("create template", err)
	}
	return nil
}

// Template implements scenario.Store.
func (s *Store) Template(ctx context.Context, id tongbao.ID) (scenario.Template, error) {
	t, err := records.ScanTemplate(s.db.QueryRow(ctx, `SELECT `+records.TemplateColumns+` FROM templates WHERE id = $1`, id[:]))
	if errors.Is(err, pgx.ErrNoRows) {
		return scenario.Template{}, scenario.ErrTemplateNotFound
	}
	if err != nil {
		return scenario.Template{}, internal("read template", err)
	}
	return t, nil
}

// Templates implements scenario.Store.
func (s *Store) Templates(ctx context.Context, operator tongbao.ID) ([]scenario.Template, error) {
	rows, err := s.db.Query(ctx, `SELECT `+records.TemplateColumns+` FROM templates WHERE operator = $1 ORDER BY created_at, id LIMIT $2`,
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
	_, err := s.db.Exec(ctx, `INSERT INTO sub_wallets (`+records.SubWalletColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		w.Wallet[:], w.Parent[:], w.Template[:], w.Operator[:], tongbao.UnixNanos(w.ExpiresAt), w.ChargeMerchant[:],
		tongbao.UnixNanos(w.ChargeGrantedAt), tongbao.UnixNanos(w.ChargeRevokedAt), tongbao.UnixNanos(w.CreatedAt), tongbao.UnixNanos(w.EndedAt))
	switch {
	case postgres.IsUniqueViolation(err, "sub_wallets_pkey"):
		return scenario.ErrSubWalletExists
	case err != nil:
		return internal("create sub-wallet", err)
	}
	return nil
}

// SubWallet implements scenario.Store.
func (s *Store) SubWallet(ctx context.Context, wallet tongbao.ID) (scenario.SubWallet, error) {
	w, err := records.ScanSubWallet(s.db.QueryRow(ctx, `SELECT `+records.SubWalletColumns+` FROM sub_wallets WHERE wallet = $1`, wallet[:]))
	if errors.Is(err, pgx.ErrNoRows) {
		return scenario.SubWallet{}, scenario.ErrSubWalletNotFound
	}
	if err != nil {
		return scenario.SubWallet{}, internal("read sub-wallet", err)
	}
	return w, nil
}

// SubWallets implements scenario.Store.
func (s *Store) SubWallets(ctx context.Context, parent tongbao.ID) ([]scenario.SubWallet, error) {
	return s.subWallets(ctx, `SELECT `+records.SubWalletColumns+` FROM sub_wallets WHERE parent = $1 AND ended_at = 0 ORDER BY created_at, wallet LIMIT $2`, parent[:], scenario.SubWalletsMax)
}

// Expired implements scenario.Store.
func (s *Store) Expired(ctx context.Context, t time.Time, after tongbao.ID, limit int) ([]scenario.SubWallet, error) {
	if limit <= 0 || limit > scenario.ExpiredPageMax {
		limit = scenario.ExpiredPageMax
	}
	return s.subWallets(ctx, `SELECT `+records.SubWalletColumns+` FROM sub_wallets WHERE expires_at > 0 AND expires_at <= $1 AND ended_at = 0 AND wallet > $2 ORDER BY wallet LIMIT $3`, t.UnixNano(), after[:], limit)
}

func (s *Store) subWallets(ctx context.Context, query string, args ...any) ([]scenario.SubWallet, error) {
	rows, err := s.db.Query(ctx, query, args...)
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
	tag, err := s.db.Exec(ctx, `UPDATE sub_wallets SET charge_merchant = $1, charge_granted_at = $2, charge_revoked_at = $3, ended_at = $4 WHERE wallet = $5`,
		w.ChargeMerchant[:], tongbao.UnixNanos(w.ChargeGrantedAt), tongbao.UnixNanos(w.ChargeRevokedAt), tongbao.UnixNanos(w.EndedAt), w.Wallet[:])
	if err != nil {
		return internal("update sub-wallet", err)
	}
	if tag.RowsAffected() == 0 {
		return scenario.ErrSubWalletNotFound
	}
	return nil
}
