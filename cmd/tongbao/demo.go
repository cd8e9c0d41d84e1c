package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
	"github.com/tongbao/tongbao/sqlite"
)

// The demo's economy and its data folder.
const (
	demoDataDefault  = "tongbao-data"
	demoDatabaseFile = "ledger.db"

	demoWallets = 300
	// demoPaymentsFirst and demoPaymentsAgain are the payments between
	// wallets made on the first start and on every later one.
	demoPaymentsFirst = 1000
	demoPaymentsAgain = 50
	// demoRequestMax is the most payments sent in one request.
	demoRequestMax = 250
	// demoWalletsShown is how many wallets the balance table lists.
	demoWalletsShown = 5

	// demoTopUpMinYuan and demoTopUpMaxYuan bound what a wallet is loaded
	// with from its operator, in whole yuan.
	demoTopUpMinYuan = 500
	demoTopUpMaxYuan = 3000
	// demoPaymentMin and demoPaymentMax bound a payment between wallets.
	demoPaymentMin = tongbao.Amount(1_00)
	demoPaymentMax = tongbao.Amount(200_00)

	// demoHoldTimeoutSeconds is how long the demo's holds would wait
	// before the ledger voids them by itself.
	demoHoldTimeoutSeconds = 3600
)

// Account numbers (the low 64 bits of the ids): fixed, so that a second
// start finds the accounts the first one made.
const (
	demoIssuerNumber = 1
	demoVaultNumber  = 101  // operator k's vault is demoVaultNumber+k
	demoWalletNumber = 1001 // wallet k is demoWalletNumber+k
)

// Account codes: what kind of account it is.
const (
	demoCodeIssuer uint16 = 1
	demoCodeVault  uint16 = 2
	demoCodeWallet uint16 = 3
)

// Transfer codes: what a transfer was for.
const (
	demoCodeIssuance uint16 = 1
	demoCodeTopUp    uint16 = 2
	demoCodePayment  uint16 = 3
	demoCodePurchase uint16 = 4
)

// demoOperators are the operators the central bank issues to, and how much.
var demoOperators = []struct {
	name, kind string
	issuance   tongbao.Amount
}{
	{"operator 1", "a commercial bank", 5_000_000_00},
	{"operator 2", "a payment institution", 3_000_000_00},
}

// demoCategories are the wallet categories the demo opens, strongest
// identity first, with the limits each sets: the weaker the identity, the
// lower the caps.
var demoCategories = []struct {
	category int
	limits   ledger.Limits
}{
	{2, ledger.Limits{BalanceMax: 500_000_00, DebitMax: 50_000_00, DailyDebitMax: 100_000_00}},
	{3, ledger.Limits{BalanceMax: 20_000_00, DebitMax: 5_000_00, DailyDebitMax: 10_000_00}},
	{4, ledger.Limits{BalanceMax: 10_000_00, DebitMax: 2_000_00, DailyDebitMax: 5_000_00, YearlyDebitMax: 50_000_00}},
}

func (m *Main) demoCommand() *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a small two-tier economy on a local data folder",
		Long: `demo opens (or creates) a data folder with a SQLite ledger in it. On the
first start it opens a central bank's issued-currency account, two operator
vaults and ` + fmt.Sprint(demoWallets) + ` wallets, issues currency to the operators, tops
the wallets up, makes payments between them and places two holds (one
posted, one voided). Every later start reuses the data and makes a few more
payments. Each run ends with a table of balances and a check that no money
was created or lost.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), data, m.Stdout)
		},
	}
	cmd.Flags().StringVar(&data, "data", demoDataDefault, "data folder (created if missing)")
	return cmd
}

// demo is one run of the demo.
type demo struct {
	ledger *ledger.Ledger
	out    io.Writer
	rng    *rand.Rand
}

func runDemo(ctx context.Context, data string, out io.Writer) (err error) {
	if err := os.MkdirAll(data, 0o750); err != nil {
		return fmt.Errorf("demo: data folder: %w", err)
	}
	path := filepath.Join(data, demoDatabaseFile)
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("demo: %w", cerr)
		}
	}()
	l, err := ledger.Open(ctx, ledger.Config{Store: store})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer func() {
		if cerr := l.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("demo: close: %w", cerr)
		}
	}()

	d := &demo{ledger: l, out: out}
	seeded, err := d.seeded(ctx)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(out, "tongbao demo: ledger in %s\n\n", path)
	if !seeded {
		// The first start is the same every time, so its story reads the same.
		d.rng = rand.New(rand.NewPCG(1, 2))
		err = d.seed(ctx)
	} else {
		d.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		fmt.Fprintf(out, "Found the economy of an earlier run: %d wallets at %d operators.\n\n", demoWallets, len(demoOperators))
		err = d.payment(ctx, 0, 1)
		if err == nil {
			err = d.payments(ctx, demoPaymentsAgain)
		}
	}
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := d.report(ctx); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	d.next(data)
	return nil
}

func issuerID() tongbao.ID      { return tongbao.IDFromUint64(demoIssuerNumber) }
func vaultID(k int) tongbao.ID  { return tongbao.IDFromUint64(demoVaultNumber + uint64(k)) }
func walletID(k int) tongbao.ID { return tongbao.IDFromUint64(demoWalletNumber + uint64(k)) }
func walletOperator(k int) int  { return k % len(demoOperators) }
func walletCategory(k int) int  { return k % len(demoCategories) }
func walletName(k int) string   { return fmt.Sprintf("wallet %d", demoWalletNumber+k) }
func vaultName(k int) string    { return demoOperators[k].name + " vault" }

// seeded reports whether an earlier run has issued currency. The accounts
// alone are not enough: a first run stopped between creating them and
// issuing is seeded again, which CreateAccounts allows because it accepts
// an account that exists with the same content.
func (d *demo) seeded(ctx context.Context) (bool, error) {
	issuer, err := d.ledger.Account(ctx, issuerID())
	if errors.Is(err, ledger.ErrAccountNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up the issuer: %w", err)
	}
	return issuer.DebitsPosted > 0, nil
}

// seed opens the accounts and moves the first money: issuance, top-ups,
// payments and two holds.
func (d *demo) seed(ctx context.Context) error {
	out := d.out
	accounts := []ledger.Account{{ID: issuerID(), Currency: tongbao.CNY, Code: demoCodeIssuer}}
	for k := range demoOperators {
		accounts = append(accounts, ledger.Account{
			ID:       vaultID(k),
			Currency: tongbao.CNY,
			Code:     demoCodeVault,
			Flags:    ledger.FlagDebitsMustNotExceedCredits,
		})
	}
	for k := range demoWallets {
		accounts = append(accounts, ledger.Account{
			ID:       walletID(k),
			Currency: tongbao.CNY,
			Code:     demoCodeWallet,
			Flags:    ledger.FlagDebitsMustNotExceedCredits,
			Limits:   demoCategories[walletCategory(k)].limits,
		})
	}
	errs, err := d.ledger.CreateAccounts(ctx, accounts)
	if err != nil {
		return fmt.Errorf("create accounts: %w", err)
	}
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("create account %s: %w", accounts[i].ID, err)
		}
	}
	fmt.Fprintf(out, "First start: opened the central bank's issued-currency account, %d operator vaults and %d wallets\n", len(demoOperators), demoWallets)
	fmt.Fprintf(out, "(categories 2 to 4, each with its balance, payment and daily caps).\n\n")

	// Issuance: the central bank's issued-currency account is debited, the
	// operators' vaults are credited.
	var issuance []ledger.Transfer
	for k, op := range demoOperators {
		issuance = append(issuance, ledger.Transfer{
			ID: tongbao.NewID(), DebitAccountID: issuerID(), CreditAccountID: vaultID(k),
			Amount: op.issuance, Code: demoCodeIssuance,
		})
	}
	if err := d.submitAll(ctx, "issue currency", issuance); err != nil {
		return err
	}
	for _, op := range demoOperators {
		fmt.Fprintf(out, "  issued      %16s CNY to %s (%s)\n", formatMoney(op.issuance), op.name, op.kind)
	}

	// Top-ups: each operator loads its wallets from its vault.
	topUps := make([]ledger.Transfer, 0, demoWallets)
	var loaded tongbao.Amount
	for k := range demoWallets {
		yuan := demoTopUpMinYuan + d.rng.IntN(demoTopUpMaxYuan-demoTopUpMinYuan+1)
		amount := tongbao.Amount(yuan) * 100
		loaded += amount
		topUps = append(topUps, ledger.Transfer{
			ID: tongbao.NewID(), DebitAccountID: vaultID(walletOperator(k)), CreditAccountID: walletID(k),
			Amount: amount, Code: demoCodeTopUp,
		})
	}
	if err := d.submitAll(ctx, "top up wallets", topUps); err != nil {
		return err
	}
	fmt.Fprintf(out, "  topped up   %16s CNY into %d wallets from their operators' vaults\n", formatMoney(loaded), demoWallets)

	if err := d.payments(ctx, demoPaymentsFirst); err != nil {
		return err
	}
	if err := d.hold(ctx, 0, 1, 88_00, 66_00); err != nil {
		return err
	}
	return d.hold(ctx, 2, 3, 120_00, 0)
}

// submitAll submits transfers that must all succeed.
func (d *demo) submitAll(ctx context.Context, what string, transfers []ledger.Transfer) error {
	for chunk := range slices.Chunk(transfers, demoRequestMax) {
		results, err := d.ledger.Submit(ctx, chunk)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		for i, r := range results {
			if r.Err != nil {
				return fmt.Errorf("%s: transfer %s: %w", what, chunk[i].ID, r.Err)
			}
		}
	}
	return nil
}

// payments makes n payments between random distinct wallets. The ledger may
// refuse some (a payer short of money, a payee at its balance cap); those
// are counted by reason.
func (d *demo) payments(ctx context.Context, n int) error {
	transfers := make([]ledger.Transfer, 0, n)
	for range n {
		payer := d.rng.IntN(demoWallets)
		payee := d.rng.IntN(demoWallets - 1)
		if payee >= payer {
			payee++
		}
		amount := demoPaymentMin + tongbao.Amount(d.rng.Int64N(int64(demoPaymentMax-demoPaymentMin)+1))
		transfers = append(transfers, ledger.Transfer{
			ID: tongbao.NewID(), DebitAccountID: walletID(payer), CreditAccountID: walletID(payee),
			Amount: amount, Code: demoCodePayment,
		})
	}
	var paid tongbao.Amount
	done := 0
	refused := make(map[string]int)
	for chunk := range slices.Chunk(transfers, demoRequestMax) {
		results, err := d.ledger.Submit(ctx, chunk)
		if err != nil {
			return fmt.Errorf("payments: %w", err)
		}
		for i, r := range results {
			if r.Err != nil {
				refused[r.Err.Error()]++
				continue
			}
			done++
			paid += chunk[i].Amount
		}
	}
	fmt.Fprintf(d.out, "  paid        %16s CNY in %d payments between wallets", formatMoney(paid), done)
	if len(refused) == 0 {
		fmt.Fprintf(d.out, "\n")
		return nil
	}
	reasons := make([]string, 0, len(refused))
	for msg, count := range refused {
		reasons = append(reasons, fmt.Sprintf("%d %s", count, msg))
	}
	sort.Strings(reasons)
	fmt.Fprintf(d.out, " (refused: %s)\n", strings.Join(reasons, ", "))
	return nil
}

// payment makes one payment from a wallet to another, of a random amount,
// so that a later start changes a balance in the table.
func (d *demo) payment(ctx context.Context, payer, payee int) error {
	amount := demoPaymentMin + tongbao.Amount(d.rng.Int64N(int64(demoPaymentMax-demoPaymentMin)+1))
	t := ledger.Transfer{
		ID: tongbao.NewID(), DebitAccountID: walletID(payer), CreditAccountID: walletID(payee),
		Amount: amount, Code: demoCodePayment,
	}
	_, err := d.ledger.Transfer(ctx, t)
	switch {
	case err == nil:
		fmt.Fprintf(d.out, "  paid        %16s CNY from %s to %s\n", formatMoney(amount), walletName(payer), walletName(payee))
	case tongbao.ErrorCode(err) == tongbao.EUNPROCESSABLE:
		fmt.Fprintf(d.out, "  refused     %16s CNY from %s to %s: %v\n", formatMoney(amount), walletName(payer), walletName(payee), err)
	default:
		return fmt.Errorf("payment from %s: %w", walletName(payer), err)
	}
	return nil
}

// hold reserves amount from one wallet to another, as a purchase whose
// price is only known later, then posts it for post (less than the hold
// is fine; the rest goes back) or, when post is zero, voids it.
func (d *demo) hold(ctx context.Context, payer, payee int, amount, post tongbao.Amount) error {
	pending := ledger.Transfer{
		ID: tongbao.NewID(), DebitAccountID: walletID(payer), CreditAccountID: walletID(payee),
		Amount: amount, Code: demoCodePurchase, Flags: ledger.FlagPending, TimeoutSeconds: demoHoldTimeoutSeconds,
	}
	if _, err := d.ledger.Transfer(ctx, pending); err != nil {
		return fmt.Errorf("hold %s from %s: %w", formatMoney(amount), walletName(payer), err)
	}
	resolve := ledger.Transfer{ID: tongbao.NewID(), PendingID: pending.ID, Code: demoCodePurchase}
	outcome := "voided: the reserved money went back to the payer"
	if post > 0 {
		resolve.Flags = ledger.FlagPostPending
		resolve.Amount = post
		outcome = fmt.Sprintf("posted for %s, the remaining %s released", formatMoney(post), formatMoney(amount-post))
	} else {
		resolve.Flags = ledger.FlagVoidPending
	}
	if _, err := d.ledger.Transfer(ctx, resolve); err != nil {
		return fmt.Errorf("resolve the hold from %s: %w", walletName(payer), err)
	}
	fmt.Fprintf(d.out, "  held        %16s CNY from %s for %s, then %s\n",
		formatMoney(amount), walletName(payer), walletName(payee), outcome)
	return nil
}

// report prints a table of balances and the supply check: the issuer's
// debit equals what the operators and wallets hold, so that the balances
// of all accounts sum to zero. A non-zero sum is an error.
func (d *demo) report(ctx context.Context) error {
	issuer, err := d.ledger.Account(ctx, issuerID())
	if err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	vaults := make([]ledger.AccountRecord, len(demoOperators))
	for k := range vaults {
		if vaults[k], err = d.ledger.Account(ctx, vaultID(k)); err != nil {
			return fmt.Errorf("%s: %w", vaultName(k), err)
		}
	}
	wallets := make([]ledger.AccountRecord, demoWallets)
	for k := range wallets {
		if wallets[k], err = d.ledger.Account(ctx, walletID(k)); err != nil {
			return fmt.Errorf("%s: %w", walletName(k), err)
		}
	}

	type line struct {
		name               string
		balance, available tongbao.Amount
	}
	lines := []line{{"central bank, issued currency", issuer.Net(), issuer.Available()}}
	for k, v := range vaults {
		lines = append(lines, line{vaultName(k), v.Net(), v.Available()})
	}
	shown := min(demoWalletsShown, demoWallets)
	for k := range shown {
		name := fmt.Sprintf("%s (category %d, %s)", walletName(k), demoCategories[walletCategory(k)].category, demoOperators[walletOperator(k)].name)
		lines = append(lines, line{name, wallets[k].Net(), wallets[k].Available()})
	}
	width := 0
	for _, l := range lines {
		width = max(width, len(l.name))
	}
	fmt.Fprintf(d.out, "\nBalances (CNY):\n")
	fmt.Fprintf(d.out, "  %-*s  %16s  %16s\n", width, "account", "balance", "available")
	for _, l := range lines {
		fmt.Fprintf(d.out, "  %-*s  %16s  %16s\n", width, l.name, formatMoney(l.balance), formatMoney(l.available))
	}
	fmt.Fprintf(d.out, "  … and %d more wallets\n", demoWallets-shown)

	var inVaults, inWallets tongbao.Amount
	for _, v := range vaults {
		inVaults += v.Net()
	}
	for _, w := range wallets {
		inWallets += w.Net()
	}
	issued := -issuer.Net()
	sum := issuer.Net() + inVaults + inWallets
	supply := []line{
		{name: "issued by the central bank", balance: issued},
		{name: fmt.Sprintf("held in %d operator vaults", len(vaults)), balance: inVaults},
		{name: fmt.Sprintf("held in %d wallets", len(wallets)), balance: inWallets},
		{name: "sum of all account balances", balance: sum},
	}
	fmt.Fprintf(d.out, "\nSupply check (CNY):\n")
	for _, l := range supply {
		fmt.Fprintf(d.out, "  %-*s  %16s\n", width, l.name, formatMoney(l.balance))
	}
	if sum != 0 {
		return fmt.Errorf("supply check failed: the balances sum to %s, not zero", formatMoney(sum))
	}
	fmt.Fprintf(d.out, "  money is conserved: everything issued is held by an operator or a wallet.\n")
	return nil
}

// next says what to try after the demo.
func (d *demo) next(data string) {
	demoCmd := "go run ./cmd/tongbao demo"
	if data != demoDataDefault {
		demoCmd += " --data " + data
	}
	tw := tabwriter.NewWriter(d.out, 0, 0, 3, ' ', 0)
	fmt.Fprintf(d.out, "\nTry next:\n")
	fmt.Fprintf(tw, "  %s\tstart again: the data is kept and more payments are made\n", demoCmd)
	fmt.Fprintf(tw, "  go run ./cmd/tongbao bench ledger --transfers 200000\tmeasure the ledger's throughput and latency\n")
	fmt.Fprintf(tw, "  rm -r %s\tstart the economy over\n", data)
	tw.Flush()
}

// formatMoney writes an amount of fen as yuan with two decimals and
// thousands separators: 123456789 is "1,234,567.89".
func formatMoney(a tongbao.Amount) string {
	s := a.String()
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return sign + b.String() + "." + frac
}
