// Package records is how the scenario stores keep their records: the
// columns of each table and the conversions of a row, the same on SQLite
// and PostgreSQL.
package records

import (
	"encoding/json"

	"github.com/tongbao/tongbao/internal/rowscan"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/scenario"
)

// TemplateColumns are the columns of the templates table, in the order
// ScanTemplate reads them.
const TemplateColumns = `id, operator, name, balance_max, payment_max, daily_max, merchants, categories, regions, expires_at, withdrawable, created_at`

// Lists returns a template's lists as stored: JSON arrays, never null.
func Lists(t scenario.Template) (merchants, categories, regions string, err error) {
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

// ScanTemplate reads a row of TemplateColumns.
func ScanTemplate(sc rowscan.Scanner) (scenario.Template, error) {
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

// CreateTemplate implements scenario.Store.

// SubWalletColumns are the columns of the sub_wallets table, in the
// order ScanSubWallet reads them.
const SubWalletColumns = `wallet, parent, template, operator, expires_at, charge_merchant, charge_granted_at, charge_revoked_at, created_at, ended_at`

// ScanSubWallet reads a row of SubWalletColumns.
func ScanSubWallet(sc rowscan.Scanner) (scenario.SubWallet, error) {
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
