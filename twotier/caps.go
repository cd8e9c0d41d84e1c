package twotier

import (
	"context"
	"fmt"
	"sort"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// Category is a wallet's KYC category: 1 is the strongest (opened in
// person, caps set per holder), 4 the weakest (a phone number only).
type Category int

// The KYC categories.
const (
	Category1 Category = 1 // in person; caps per holder
	Category2 Category = 2 // ID card and a linked bank account
	Category3 Category = 3 // remote real name, no bank account
	Category4 Category = 4 // phone number only
)

// Valid reports whether c is one of the four categories.
func (c Category) Valid() bool { return c >= Category1 && c <= Category4 }

// yuan is one CNY in fen.
const yuan tongbao.Amount = 100

// DefaultCaps returns the published e-CNY caps of categories 2 to 4:
// balance, single payment and daily payments. Yearly caps are off (zero)
// by default; an operator sets them with SetCaps. Category 1 has no
// default: its caps are set per holder.
func DefaultCaps() map[Category]ledger.Limits {
	return map[Category]ledger.Limits{
		Category2: {BalanceMax: 500_000 * yuan, DebitMax: 50_000 * yuan, DailyDebitMax: 100_000 * yuan},
		Category3: {BalanceMax: 20_000 * yuan, DebitMax: 5_000 * yuan, DailyDebitMax: 10_000 * yuan},
		Category4: {BalanceMax: 10_000 * yuan, DebitMax: 2_000 * yuan, DailyDebitMax: 5_000 * yuan},
	}
}

func checkCaps(caps map[Category]ledger.Limits) error {
	for c, l := range caps {
		if !c.Valid() || c == Category1 {
			return tongbao.Errorf(tongbao.EINVALID, "caps may be scheduled for categories 2 to 4, not %d", c)
		}
		if err := checkLimits(l); err != nil {
			return err
		}
	}
	for _, c := range []Category{Category2, Category3, Category4} {
		if _, ok := caps[c]; !ok {
			return tongbao.Errorf(tongbao.EINVALID, "caps of category %d are missing", c)
		}
	}
	return nil
}

func checkLimits(l ledger.Limits) error {
	if l.BalanceMax < 0 || l.DebitMax < 0 || l.DailyDebitMax < 0 || l.YearlyDebitMax < 0 {
		return tongbao.Errorf(tongbao.EINVALID, "caps must not be negative")
	}
	return nil
}

// SetCaps adds a version to the operator's cap schedule: caps of every
// category 2 to 4, in effect from effectiveFrom, recorded with who set
// them. Wallets opened from then on get them at once; the wallets already
// open get them when ApplyDueCaps runs at or after that moment, which
// SetCaps does itself for a version already in effect.
func (s *Service) SetCaps(ctx context.Context, operator tongbao.ID, effectiveFrom time.Time, caps map[Category]ledger.Limits, setBy string) (CapVersion, error) {
	v, err := s.addCapVersion(ctx, operator, effectiveFrom, caps, setBy)
	if err != nil || v.EffectiveFrom.After(s.clock.Now()) {
		return v, err
	}
	if _, err := s.ApplyDueCaps(ctx); err != nil {
		return CapVersion{}, fmt.Errorf("set caps: apply them: %w", err)
	}
	return v, nil
}

func (s *Service) addCapVersion(ctx context.Context, operator tongbao.ID, effectiveFrom time.Time, caps map[Category]ledger.Limits, setBy string) (CapVersion, error) {
	if err := checkCaps(caps); err != nil {
		return CapVersion{}, err
	}
	if setBy == "" {
		return CapVersion{}, tongbao.Errorf(tongbao.EINVALID, "who sets the caps must be recorded")
	}
	if _, err := s.operator(ctx, operator); err != nil {
		return CapVersion{}, err
	}
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	vs, err := s.store.CapVersions(ctx, operator)
	if err != nil {
		return CapVersion{}, err
	}
	v := CapVersion{Operator: operator, Version: 1, EffectiveFrom: effectiveFrom, Caps: caps, SetBy: setBy, SetAt: s.clock.Now()}
	if len(vs) > 0 {
		v.Version = vs[len(vs)-1].Version + 1
	}
	if err := s.store.AddCapVersion(ctx, v); err != nil {
		return CapVersion{}, err
	}
	return v, nil
}

// CapSchedule returns every version of the operator's cap schedule.
func (s *Service) CapSchedule(ctx context.Context, operator tongbao.ID) ([]CapVersion, error) {
	return s.store.CapVersions(ctx, operator)
}

// capsAt returns the version of the operator's schedule in effect at t:
// of the versions effective by then, the one effective latest (the higher
// version number on a tie).
func (s *Service) capsAt(ctx context.Context, operator tongbao.ID, t time.Time) (CapVersion, error) {
	vs, err := s.store.CapVersions(ctx, operator)
	if err != nil {
		return CapVersion{}, err
	}
	sort.SliceStable(vs, func(i, j int) bool {
		if !vs[i].EffectiveFrom.Equal(vs[j].EffectiveFrom) {
			return vs[i].EffectiveFrom.Before(vs[j].EffectiveFrom)
		}
		return vs[i].Version < vs[j].Version
	})
	for i := len(vs) - 1; i >= 0; i-- {
		if !vs[i].EffectiveFrom.After(t) {
			return vs[i], nil
		}
	}
	return CapVersion{}, tongbao.Errorf(tongbao.EINTERNAL, "operator %v has no caps in effect at %v", operator, t)
}

// ApplyDueCaps gives every wallet of categories 2 to 4 the caps of its
// operator's schedule version now in effect, through the ledger (in
// chunks of at most the ledger's BatchMax), and records the version on
// the wallet. It is idempotent: a wallet already on the version is not
// touched, so a scheduler may call it as often as it likes, and a run cut
// short is finished by the next. A lowered cap applies even to a wallet
// already above it: the wallet can then only pay out until it is below.
func (s *Service) ApplyDueCaps(ctx context.Context) (updated int, err error) {
	s.adminMu.Lock()
	defer s.adminMu.Unlock()
	ops, err := s.operators(ctx)
	if err != nil {
		return 0, err
	}
	now := s.clock.Now()
	for _, op := range ops {
		v, err := s.capsAt(ctx, op.ID, now)
		if err != nil {
			return updated, err
		}
		for _, c := range []Category{Category2, Category3, Category4} {
			limits := v.Caps[c]
			for {
				ws, err := s.store.WalletsBehindCaps(ctx, op.ID, c, v.Version, min(s.ledger.BatchMax(), WalletsPageMax))
				if err != nil {
					return updated, err
				}
				if len(ws) == 0 {
					break
				}
				us := make([]ledger.AccountUpdate, len(ws))
				for i, w := range ws {
					// A wallet's sub-wallets keep their part of its cap.
					l, err := s.lessSubWallets(ctx, w, limits, nil, false)
					if err != nil {
						return updated, err
					}
					us[i] = ledger.AccountUpdate{ID: w.ID, Limits: &l}
				}
				errs, err := s.ledger.UpdateAccounts(ctx, us)
				if err != nil {
					return updated, err
				}
				for i, w := range ws {
					if errs[i] != nil {
						return updated, fmt.Errorf("apply caps to wallet %v: %w", w.ID, errs[i])
					}
					w.CapVersion = v.Version
					w.UpdatedAt = now
					if err := s.store.UpdateWallet(ctx, w); err != nil {
						return updated, err
					}
					updated++
				}
			}
		}
	}
	return updated, nil
}
