package risk

import tongbao "github.com/tongbao/tongbao"

// Limits are the thresholds the shipped rules read, by name in a rule's
// `limits` map. Amounts are in fen.
type Limits struct {
	// LargeValue is the reporting threshold of one day's payments by a
	// person: 50,000 yuan, the PBOC's threshold for cash (Administrative
	// Measures for Financial Institutions' Reporting of Large-value and
	// Suspicious Transactions, PBOC Order [2016] No. 3, art. 5(1)); the
	// e-CNY is M0, cash.
	LargeValue tongbao.Amount
	// LargeValueInstitution is the threshold for a non-natural person's
	// transfers: 2,000,000 yuan (art. 5(2)).
	LargeValueInstitution tongbao.Amount
	// NearBand is how far below LargeValue a payment counts as just below
	// it, in percent: 10 counts 45,000.00 to 49,999.99.
	NearBand int64
	// StructuringCount is the payments just below the threshold within a
	// day, this one included, that look like splitting one large payment.
	StructuringCount int64
	// VelocityCount1h and VelocitySum24h bound a wallet's payments out.
	VelocityCount1h int64
	VelocitySum24h  tongbao.Amount
	// FirstLarge is a first payment to a counterparty large enough to
	// look at.
	FirstLarge tongbao.Amount
	// DormantDays and DormantLarge: a wallet idle that long paying that
	// much.
	DormantDays  int64
	DormantLarge tongbao.Amount
	// FanOut and FanIn are distinct counterparties over a day.
	FanOut int64
	FanIn  int64
	// SpikeFactor and SpikeFloor: an operator's outflow to other operators
	// in the current hour above SpikeFactor times its hourly average over
	// the day before, and above SpikeFloor.
	SpikeFactor int64
	SpikeFloor  tongbao.Amount
}

// DefaultLimits are the shipped thresholds. The reporting thresholds are
// the PBOC's (see Limits); the others are starting points an operator
// tunes in shadow mode.
var DefaultLimits = Limits{
	LargeValue:            50_000_00,
	LargeValueInstitution: 2_000_000_00,
	NearBand:              10,
	StructuringCount:      3,
	VelocityCount1h:       30,
	VelocitySum24h:        200_000_00,
	FirstLarge:            10_000_00,
	DormantDays:           180,
	DormantLarge:          5_000_00,
	FanOut:                30,
	FanIn:                 50,
	SpikeFactor:           5,
	SpikeFloor:            1_000_000_00,
}

// NearLow is the lowest amount counted as just below the threshold.
func (l Limits) NearLow() tongbao.Amount {
	return l.LargeValue - l.LargeValue*tongbao.Amount(l.NearBand)/100
}

// vars is Limits as the rules' `limits` map.
func (l Limits) vars() map[string]int64 {
	return map[string]int64{
		"large_value":             int64(l.LargeValue),
		"large_value_institution": int64(l.LargeValueInstitution),
		"near_low":                int64(l.NearLow()),
		"structuring_count":       l.StructuringCount,
		"velocity_count_1h":       l.VelocityCount1h,
		"velocity_sum_24h":        int64(l.VelocitySum24h),
		"first_large":             int64(l.FirstLarge),
		"dormant_days":            l.DormantDays,
		"dormant_large":           int64(l.DormantLarge),
		"fan_out":                 l.FanOut,
		"fan_in":                  l.FanIn,
		"spike_factor":            l.SpikeFactor,
		"spike_floor":             int64(l.SpikeFloor),
	}
}

// Shipped are the rules every node starts with, all sending the payment
// to review. Each reads the activity before the payment, so "this one
// included" adds one.
var Shipped = []Rule{
	{
		ID: "velocity_count_1h", Version: 1, Decision: Review, Mode: Enforce,
		Description: "more payments out within an hour than a person makes",
		Expr:        `payer.out_1h.count + 1 > limits.velocity_count_1h`,
	},
	{
		ID: "velocity_sum_24h", Version: 1, Decision: Review, Mode: Enforce,
		Description: "more paid out within a day than the daily bound",
		Expr:        `payer.out_24h.sum + payment.amount > limits.velocity_sum_24h`,
	},
	{
		ID: "structuring", Version: 1, Decision: Review, Mode: Enforce,
		Description: "several payments within a day just below the reporting threshold",
		Expr: `payment.amount >= limits.near_low && payment.amount < limits.large_value &&
			payer.near_threshold_24h + 1 >= limits.structuring_count`,
	},
	{
		ID: "first_large_to_new_payee", Version: 1, Decision: Review, Mode: Enforce,
		Description: "a large first payment to a counterparty",
		Expr:        `pair.payments == 0 && payment.amount >= limits.first_large`,
	},
	{
		ID: "dormant_wallet", Version: 1, Decision: Review, Mode: Enforce,
		Description: "a large payment from a wallet idle for months",
		Expr:        `payer.idle_days >= limits.dormant_days && payment.amount >= limits.dormant_large`,
	},
	{
		ID: "fan_out", Version: 1, Decision: Review, Mode: Enforce,
		Description: "one wallet paying many new counterparties within a day",
		Expr:        `pair.payments == 0 && payer.payees_24h + 1 >= limits.fan_out`,
	},
	{
		ID: "fan_in", Version: 1, Decision: Review, Mode: Enforce,
		Description: "a personal wallet paid by many counterparties within a day (a merchant's is not)",
		Expr:        `payee.kind == 'personal' && pair.payments == 0 && payee.payers_24h + 1 >= limits.fan_in`,
	},
	{
		ID: "operator_outflow_spike", Version: 1, Decision: Review, Mode: Enforce,
		Description: "an operator's outflow to other operators in the hour far above its average",
		Expr: `payment.cross_operator &&
			operator.cross_out_1h + payment.amount > limits.spike_floor &&
			operator.cross_out_1h + payment.amount > limits.spike_factor * operator.cross_out_hourly_avg`,
	},
}
