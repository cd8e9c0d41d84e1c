package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/client"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/twotier"
)

// The demo's economy and its data folder.
const (
	demoDataDefault = "tongbao-data"
	// demoKeysFile keeps the demo's keys in the clear, so that a second
	// start can print the same curl lines: a demo convenience that a real
	// node never has (serve keeps only hashes).
	demoKeysFile = "demo-keys.json"

	// demoWalletsPerCategory are the personal wallets each operator opens
	// in categories 1 to 4; demoMerchants the merchant wallets.
	demoMerchants = 20
	// demoPaymentsFirst and demoPaymentsAgain are the payments made on
	// the first start and on every later one; demoBatch is how many go in
	// one batch request.
	demoPaymentsFirst = 2000
	demoPaymentsAgain = 200
	demoBatch         = 100
	// demoWorkers open and load wallets concurrently.
	demoWorkers = 8

	demoTopUpMinYuan = 500
	demoTopUpMaxYuan = 3000
	demoPaymentMin   = tongbao.Amount(1_00)
	demoPaymentMax   = tongbao.Amount(200_00)

	// demoHolderFloor is what each demo holder holds at least before the
	// shop, the metro and the printed next steps take from it (they need
	// about 400.00): the random payments never draw on a demo holder, and
	// a holder that spent its money between starts is topped up again.
	demoHolderFloor = tongbao.Amount(1_000_00)
)

var demoWalletsPerCategory = [5]int{1: 30, 2: 60, 3: 60, 4: 60}

// demoOperators are the operators the central bank authorises, with their
// net debit cap and what is issued to them.
var demoOperators = []struct {
	name     string
	cap      tongbao.Amount
	issuance tongbao.Amount
}{
	{"Bank of Tongbao (a commercial bank)", 1_000_000_00, 5_000_000_00},
	{"Pay Institution (a payment institution)", 1_000_000_00, 3_000_000_00},
}

// demoKeys is what demoKeysFile holds.
type demoKeys struct {
	CentralBank string             `json:"central_bank"`
	Operators   []demoOperatorKeys `json:"operators"`
	// Contracts are zero in the keys of a demo made before contracts; the
	// next start deploys them.
	Contracts demoContracts `json:"contracts"`
}

type demoOperatorKeys struct {
	ID       tongbao.ID `json:"id"`
	Name     string     `json:"name"`
	Admin    string     `json:"admin"`
	Holder   string     `json:"holder"`
	Wallet   tongbao.ID `json:"wallet"`
	Phone    string     `json:"phone"`
	Merchant string     `json:"merchant"`
	Shop     tongbao.ID `json:"shop"`
	// The transit scenario (first operator only): the metro's merchant
	// wallet and key, the template, and the demo holder's sub-wallet
	// pushed to it. Zero in the keys of a demo made before scenarios; the
	// next start sets it up.
	Metro      tongbao.ID `json:"metro,omitzero"`
	MetroKey   string     `json:"metro_key,omitempty"`
	Template   tongbao.ID `json:"transit_template,omitzero"`
	TransitSub tongbao.ID `json:"transit_sub_wallet,omitzero"`
}

type demoOptions struct {
	data     string
	addr     string
	seedOnly bool
	// seed makes the demo's random choices (top-ups, payers, payees,
	// amounts) repeatable; zero draws one.
	seed    uint64
	sandbox bool
}

func (m *Main) demoCommand() *cobra.Command {
	o := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the two-tier system with a seeded economy and serve its API",
		Long: `demo serves the HTTP API on --addr over a SQLite data folder. On the first
start it creates a central bank and two operators, issues currency to them,
opens some hundreds of wallets in every KYC category and a few dozen
merchant wallets, loads them, makes payments within and across the
operators through the API and closes a settlement window. A later start
reuses the data and makes a few more payments. It then prints what to try
next (curl lines with keys) and serves until interrupted; --seed-only
stops after seeding instead.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), o, m.Stdout, m.Stderr)
		},
	}
	cmd.Flags().StringVar(&o.data, "data", demoDataDefault, "data folder (created if missing)")
	cmd.Flags().StringVar(&o.addr, "addr", serveAddrDefault, "address to serve the API on")
	cmd.Flags().BoolVar(&o.seedOnly, "seed-only", false, "seed (or add payments) and exit instead of serving")
	cmd.Flags().Uint64Var(&o.seed, "seed", 0, "seed of the demo's random choices, to repeat a run (0: a new one each run)")
	cmd.Flags().BoolVar(&o.sandbox, "sandbox", true, "let the central bank key move the node's clock forward (tongbao clock advance; see docs/sandbox.md)")
	return cmd
}

func runDemo(ctx context.Context, o *demoOptions, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	n, err := openNode(ctx, o.data, log, o.sandbox)
	if err != nil {
		return err
	}
	defer n.close()
	addr, stop, err := n.listen(o.addr, log)
	if err != nil {
		return err
	}
	defer stop()
	base := "http://" + addr
	seed := o.seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	d := &demo{ctx: ctx, out: stdout, base: base, rng: rand.New(rand.NewPCG(seed, seed))}
	keysPath := filepath.Join(o.data, demoKeysFile)
	b, err := os.ReadFile(keysPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if n.cbKey == "" {
			return fmt.Errorf("%s holds a node but no %s: a first demo start that did not finish, or a node the demo did not make; delete the folder to start over, or use tongbao serve on it", o.data, demoKeysFile)
		}
		fmt.Fprintf(stdout, "First start: seeding a two-tier economy in %s\n\n", o.data)
		if err := d.seed(n.cbKey); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(d.keys, "", "  ")
		if err := os.WriteFile(keysPath, b, 0o600); err != nil {
			return err
		}
		if err := d.payments(demoPaymentsFirst); err != nil {
			return err
		}
		if err := d.settle(); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(b, &d.keys); err != nil {
			return fmt.Errorf("%s: %w", keysPath, err)
		}
		d.cb = client.New(base, d.keys.CentralBank, nil)
		if err := d.load(); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Found the economy of an earlier run: %d wallets at %d operators\n\n", d.walletCount(), len(d.keys.Operators))
		if err := d.payments(demoPaymentsAgain); err != nil {
			return err
		}
	}
	if err := d.topUpHolders(); err != nil {
		return err
	}
	if err := d.collect(); err != nil {
		return err
	}
	if err := d.ride(keysPath); err != nil {
		return err
	}
	if err := d.contracts(o.data, keysPath); err != nil {
		return err
	}
	if err := d.offlinePay(o.data); err != nil {
		return err
	}
	if err := d.report(); err != nil {
		return err
	}
	d.tryNext(o)
	if o.seedOnly {
		return nil
	}
	fmt.Fprintf(stdout, "\nServing on %s until Ctrl-C.\n", base)
	go n.housekeep(ctx, log)
	contractsDone, offlineDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(contractsDone)
		n.runContracts(ctx, log)
	}()
	go func() {
		defer close(offlineDone)
		n.runOffline(ctx, log)
	}()
	<-ctx.Done()
	stop()
	<-contractsDone // before the deferred close of the node
	<-offlineDone
	return nil
}

// demo is one run of the demo, speaking to its own server over HTTP.
type demo struct {
	// static is the first shop's static collection code, fetched by
	// collect for the lines tryNext prints.
	static  string
	ctx     context.Context
	out     io.Writer
	base    string
	rng     *rand.Rand
	keys    demoKeys
	cb      *client.Client
	admins  []*client.Client
	wallets [][]tongbao.ID // per operator, personal and merchant
	shops   [][]tongbao.ID
}

func (d *demo) walletCount() int {
	n := 0
	for _, ws := range d.wallets {
		n += len(ws)
	}
	return n
}

func (d *demo) seed(cbKey string) error {
	ctx := d.ctx
	d.keys.CentralBank = cbKey
	d.cb = client.New(d.base, cbKey, nil)
	for i, spec := range demoOperators {
		op, err := d.cb.CreateOperator(ctx, fmt.Sprintf("demo-operator-%d", i), wire.CreateOperator{Name: spec.name, NetDebitCap: wire.Amount(spec.cap)})
		if err != nil {
			return fmt.Errorf("authorise operator: %w", err)
		}
		if _, err := d.cb.DepositReserves(ctx, client.NewKey(), op.ID, spec.issuance*2); err != nil {
			return err
		}
		if _, err := d.cb.Issue(ctx, client.NewKey(), op.ID, spec.issuance); err != nil {
			return err
		}
		fmt.Fprintf(d.out, "  authorised %-42s issued %16s CNY\n", spec.name, formatMoney(spec.issuance))
		k, err := d.cb.CreateKey(ctx, wire.CreateKey{Role: wire.RoleOperatorAdmin, Operator: &op.ID, Name: "demo admin"})
		if err != nil {
			return err
		}
		admin := d.cb.WithKey(k.Secret)
		d.admins = append(d.admins, admin)
		ok := demoOperatorKeys{ID: op.ID, Name: spec.name, Admin: k.Secret}
		ws, shops, err := d.openWallets(i, admin, op.ID)
		if err != nil {
			return err
		}
		d.wallets, d.shops = append(d.wallets, ws), append(d.shops, shops)
		ok.Wallet, ok.Phone = ws[demoWalletsPerCategory[1]], demoPhone(i, demoWalletsPerCategory[1]) // the first category 2 wallet
		ok.Shop = shops[0]
		hk, err := admin.CreateKey(ctx, wire.CreateKey{Role: wire.RoleHolder, Wallet: &ok.Wallet, Name: "demo holder"})
		if err != nil {
			return err
		}
		mk, err := admin.CreateKey(ctx, wire.CreateKey{Role: wire.RoleMerchant, Wallet: &ok.Shop, Name: "demo merchant"})
		if err != nil {
			return err
		}
		ok.Holder, ok.Merchant = hk.Secret, mk.Secret
		d.keys.Operators = append(d.keys.Operators, ok)
	}
	return nil
}

func demoPhone(op, k int) string { return fmt.Sprintf("13%d%08d", 8+op, k+1) }

var demoSurnames = []string{"张", "王", "李", "赵", "陈", "杨", "黄", "周", "吴", "刘"}

// openWallets opens and loads an operator's wallets, concurrently.
func (d *demo) openWallets(op int, admin *client.Client, opID tongbao.ID) ([]tongbao.ID, []tongbao.ID, error) {
	type job struct {
		k    int
		spec wire.OpenWallet
	}
	var jobs []job
	k := 0
	for c := 1; c <= 4; c++ {
		for j := 0; j < demoWalletsPerCategory[c]; j++ {
			spec := wire.OpenWallet{Category: c, Phone: demoPhone(op, k)}
			if c < 4 {
				spec.HolderName = demoSurnames[k%len(demoSurnames)] + "小明"
			}
			if c == 1 {
				spec.HolderLimits = &wire.Limits{BalanceMax: wire.Amount(1_000_000_00), DebitMax: wire.Amount(100_000_00)}
			}
			jobs = append(jobs, job{k, spec})
			k++
		}
	}
	for j := 0; j < demoMerchants; j++ {
		jobs = append(jobs, job{k, wire.OpenWallet{Category: 2, HolderName: fmt.Sprintf("Shop %d-%d", op+1, j+1), Merchant: true, MerchantCategory: []string{"5812", "5411", "5999", "4111"}[j%4], Region: "310000"}})
		k++
	}
	ids := make([]tongbao.ID, len(jobs))
	amounts := make([]tongbao.Amount, len(jobs))
	for i := range amounts {
		amounts[i] = tongbao.Amount(demoTopUpMinYuan+d.rng.IntN(demoTopUpMaxYuan-demoTopUpMinYuan+1)) * 100
	}
	var wg sync.WaitGroup
	errs := make(chan error, demoWorkers)
	next := make(chan int)
	for w := 0; w < demoWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				key := fmt.Sprintf("demo-wallet-%d-%d", op, jobs[i].k)
				wl, err := admin.OpenWallet(d.ctx, key, opID, jobs[i].spec)
				if err == nil {
					_, err = admin.TopUp(d.ctx, key+"-top-up", wl.ID, amounts[i])
				}
				if err != nil {
					select {
					case errs <- fmt.Errorf("open wallet: %w", err):
					default:
					}
					continue
				}
				ids[i] = wl.ID
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return nil, nil, err
	default:
	}
	personal := len(jobs) - demoMerchants
	var total tongbao.Amount
	for _, a := range amounts {
		total += a
	}
	fmt.Fprintf(d.out, "  opened %d wallets (categories 1-4: %d/%d/%d/%d) and %d merchant wallets, topped up %s CNY\n",
		personal, demoWalletsPerCategory[1], demoWalletsPerCategory[2], demoWalletsPerCategory[3], demoWalletsPerCategory[4], demoMerchants, formatMoney(total))
	return ids, ids[personal:], nil
}

// load finds the wallets of an earlier run through the operators' admins.
func (d *demo) load() error {
	for _, ok := range d.keys.Operators {
		admin := d.cb.WithKey(ok.Admin)
		d.admins = append(d.admins, admin)
		var ws, shops []tongbao.ID
		for page := (client.Page{Limit: 1000}); ; {
			p, err := admin.Wallets(d.ctx, ok.ID, page)
			if err != nil {
				return err
			}
			for _, w := range p.Items {
				switch {
				case w.Kind == string(twotier.WalletScenario):
					continue // a sub-wallet pays only through its scenario
				case w.Kind == string(twotier.WalletContract):
					continue // a contract's wallet, only through its contract
				case w.Kind == string(twotier.WalletOffline):
					continue // the offline float, only through devices' tokens
				case w.ID == d.keys.Contracts.Funder:
					continue // the subsidy programme's money is not the economy's
				}
				ws = append(ws, w.ID)
				if w.Kind == "merchant" {
					shops = append(shops, w.ID)
				}
			}
			if p.NextCursor == "" {
				break
			}
			page.Cursor = p.NextCursor
		}
		d.wallets, d.shops = append(d.wallets, ws), append(d.shops, shops)
	}
	return nil
}

// payments makes n payments from random wallets to random wallets and
// merchants of either operator, in batches sent by the payer's operator.
func (d *demo) payments(n int) error {
	var ok, cross, failed int
	failures := map[string]int{}
	for sent := 0; sent < n; {
		op := d.rng.IntN(len(d.admins))
		size := min(demoBatch, n-sent)
		var batch wire.PayBatch
		for i := 0; i < size; i++ {
			from := d.wallets[op][d.rng.IntN(len(d.wallets[op]))]
			for d.isHolder(from) {
				from = d.wallets[op][d.rng.IntN(len(d.wallets[op]))]
			}
			to := from
			for to == from {
				payee := d.rng.IntN(len(d.admins))
				if d.rng.IntN(3) == 0 {
					to = d.shops[payee][d.rng.IntN(len(d.shops[payee]))]
				} else {
					to = d.wallets[payee][d.rng.IntN(len(d.wallets[payee]))]
				}
			}
			amount := demoPaymentMin + tongbao.Amount(d.rng.Int64N(int64(demoPaymentMax-demoPaymentMin)))
			batch.Payments = append(batch.Payments, wire.Pay{From: from, To: to.String(), Amount: wire.Amount(amount)})
		}
		rs, err := d.admins[op].PayBatch(d.ctx, client.NewKey(), batch)
		if err != nil {
			return fmt.Errorf("payments: %w", err)
		}
		for _, r := range rs.Results {
			switch {
			case r.Payment != nil:
				ok++
				if r.Payment.CrossOperator {
					cross++
				}
			default:
				failed++
				failures[strings.TrimPrefix(r.Problem.Type, client.ProblemBase)]++
			}
		}
		sent += size
	}
	fmt.Fprintf(d.out, "  made %d payments between wallets (%d across operators)", ok, cross)
	if failed > 0 {
		fmt.Fprintf(d.out, "; %d refused by the rules (%v)", failed, failures)
	}
	fmt.Fprintln(d.out)
	return nil
}

// isHolder reports whether w is one of the demo holders' wallets, whose
// money the demo's own flows and the printed next steps spend.
func (d *demo) isHolder(w tongbao.ID) bool {
	for _, ok := range d.keys.Operators {
		if ok.Wallet == w {
			return true
		}
	}
	return false
}

// topUpHolders brings every demo holder's balance up to demoHolderFloor,
// so that the flows after it never fail for want of money, on a first
// start or on a later one after the holder spent it.
func (d *demo) topUpHolders() error {
	for i, ok := range d.keys.Operators {
		w, err := d.admins[i].Wallet(d.ctx, ok.Wallet)
		if err != nil {
			return fmt.Errorf("demo holder: %w", err)
		}
		short := demoHolderFloor - tongbao.Amount(*w.Balance)
		if short <= 0 {
			continue
		}
		if _, err := d.admins[i].TopUp(d.ctx, client.NewKey(), ok.Wallet, short); err != nil {
			return fmt.Errorf("top up the demo holder: %w", err)
		}
		fmt.Fprintf(d.out, "  topped up the demo holder at %s by %s to %s\n", strings.Fields(ok.Name)[0], formatMoney(short), formatMoney(demoHolderFloor))
	}
	return nil
}

func (d *demo) settle() error {
	st, err := d.cb.CloseWindow(d.ctx, client.NewKey(), 0)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  closed settlement window %d:", st.Window)
	for _, ok := range d.keys.Operators {
		fmt.Fprintf(d.out, " %s %s", strings.Fields(ok.Name)[0], formatMoney(tongbao.Amount(st.Positions[ok.ID.String()])))
	}
	fmt.Fprintln(d.out)
	return nil
}

// report prints the supply check and each operator's reconciliation.
func (d *demo) report() error {
	s, err := d.cb.Supply(d.ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\nSupply (CNY): issued %s\n", formatMoney(tongbao.Amount(s.Issued)))
	for i, o := range s.Operators {
		name := o.Operator.String()
		if i < len(d.keys.Operators) {
			name = d.keys.Operators[i].Name
		}
		fmt.Fprintf(d.out, "  %-42s backing %16s = vault %16s + wallets %14s + clearing %12s + offline %10s  %s\n", name,
			formatMoney(tongbao.Amount(o.Backing)), formatMoney(tongbao.Amount(o.Vault)), formatMoney(tongbao.Amount(o.Wallets)), formatMoney(tongbao.Amount(o.Clearing)),
			formatMoney(tongbao.Amount(o.OfflineFloat)), okWord(o.OK))
	}
	if !s.OK {
		return errors.New("the supply check failed: issued currency does not equal the operators' liabilities")
	}
	fmt.Fprintln(d.out, "  issued - redeemed = every operator's liabilities: the supply check holds")
	for _, ok := range d.keys.Operators {
		r, err := d.cb.Reconcile(d.ctx, ok.ID, "")
		if err != nil {
			return err
		}
		fmt.Fprintf(d.out, "  reconciliation of %s today: %d payment legs, %d differences\n", strings.Fields(ok.Name)[0], r.Records, len(r.Differences))
	}
	return nil
}

// collect has the first operator's demo shop collect the ways a shop
// does, from the demo holders of both operators: a payment request paid
// by scanning its code, a static code paid with an amount, a payment code
// charged at the till and a partial refund; then prints the shop's
// statement of the day.
func (d *demo) collect() error {
	a, b := d.keys.Operators[0], d.keys.Operators[len(d.keys.Operators)-1]
	shop := d.cb.WithKey(a.Merchant)
	holderA, holderB := d.cb.WithKey(a.Holder), d.cb.WithKey(b.Holder)
	ctx := d.ctx
	static, err := shop.CollectionCode(ctx, a.Shop, "Tongbao Noodles", "Shanghai")
	if err != nil {
		return fmt.Errorf("collection code: %w", err)
	}
	d.static = static.Payload
	order := fmt.Sprintf("DEMO-%012x", d.rng.Uint64()&0xffffffffffff)
	req, err := shop.CreatePaymentRequest(ctx, client.NewKey(), wire.CreatePaymentRequest{OrderID: order, Amount: wire.Amount(36_00), MerchantName: "Tongbao Noodles", MerchantCity: "Shanghai", LocalName: "通宝拉面"})
	if err != nil {
		return fmt.Errorf("payment request: %w", err)
	}
	if _, err := holderB.PayCollectionCode(ctx, client.NewKey(), b.Wallet, req.Payload, 0); err != nil {
		return fmt.Errorf("pay the request's code: %w", err)
	}
	if _, err := holderA.PayCollectionCode(ctx, client.NewKey(), a.Wallet, static.Payload, 12_50); err != nil {
		return fmt.Errorf("pay the static code: %w", err)
	}
	code, err := holderA.IssuePaymentCode(ctx, a.Wallet, 200_00)
	if err != nil {
		return fmt.Errorf("payment code: %w", err)
	}
	if _, err := shop.Charge(ctx, client.NewKey(), wire.Charge{Code: code.Code, Amount: wire.Amount(58_00), OrderID: order + "-T"}); err != nil {
		return fmt.Errorf("charge the payment code: %w", err)
	}
	if _, err := shop.Refund(ctx, client.NewKey(), req.ID, 10_00, "one dish was missing"); err != nil {
		return fmt.Errorf("refund: %w", err)
	}
	st, err := shop.Statement(ctx, a.Shop, "")
	if err != nil {
		return fmt.Errorf("statement: %w", err)
	}
	fmt.Fprintf(d.out, "  the demo shop collected by payment request, static code and payment code, and refunded once;\n")
	fmt.Fprintf(d.out, "  its statement today: %d payments %s, %d refunds %s, net %s, other %s; opening %s + net + other = closing %s\n",
		st.PaymentCount, formatMoney(tongbao.Amount(st.Payments)), st.RefundCount, formatMoney(tongbao.Amount(st.Refunds)), formatMoney(tongbao.Amount(st.Net)),
		formatMoney(tongbao.Amount(st.Other)), formatMoney(tongbao.Amount(st.Opening)), formatMoney(tongbao.Amount(st.Closing)))
	if st.Opening+st.Net+st.Other != st.Closing {
		return errors.New("the shop's statement does not balance")
	}
	return nil
}

// demoMetroCategory is the merchant category of transit (ISO 18245 4111);
// every fourth demo shop has it.
const demoMetroCategory = "4111"

// ride runs the transit scenario: on the first start (or the first since
// scenarios came) the first operator defines a metro template, the demo
// holder pushes a sub-wallet to it, funds it and lets the metro charge it
// without a prompt; on every start the metro charges a few rides (tap to
// pay) and the holder's sub-wallet is shown.
func (d *demo) ride(keysPath string) error {
	ctx := d.ctx
	a := &d.keys.Operators[0]
	admin := d.cb.WithKey(a.Admin)
	holder := d.cb.WithKey(a.Holder)
	if a.TransitSub.IsZero() {
		p, err := admin.Wallets(ctx, a.ID, client.Page{Limit: 1000})
		if err != nil {
			return err
		}
		for _, w := range p.Items {
			if w.Kind == "merchant" && w.MerchantCategory == demoMetroCategory {
				a.Metro = w.ID
				break
			}
		}
		if a.Metro.IsZero() {
			return errors.New("the demo has no transit merchant")
		}
		mk, err := admin.CreateKey(ctx, wire.CreateKey{Role: wire.RoleMerchant, Wallet: &a.Metro, Name: "demo metro"})
		if err != nil {
			return err
		}
		t, err := admin.CreateScenarioTemplate(ctx, "demo-transit-template", a.ID, wire.CreateScenarioTemplate{Name: "Metro rides",
			BalanceMax: wire.Amount(500_00), PaymentMax: wire.Amount(20_00), DailyMax: wire.Amount(100_00),
			Merchants: []tongbao.ID{}, Categories: []string{demoMetroCategory}, Regions: []string{}, Withdrawable: true})
		if err != nil {
			return fmt.Errorf("transit template: %w", err)
		}
		sub, err := holder.PushSubWallet(ctx, "demo-transit-push", a.Wallet, wire.PushSubWallet{Template: t.ID})
		if err != nil {
			return fmt.Errorf("push a sub-wallet: %w", err)
		}
		if _, err := holder.FundSubWallet(ctx, "demo-transit-fund", sub.ID, 200_00); err != nil {
			return fmt.Errorf("fund the sub-wallet: %w", err)
		}
		if _, err := holder.GrantCharge(ctx, sub.ID, a.Metro); err != nil {
			return fmt.Errorf("grant the metro: %w", err)
		}
		a.MetroKey, a.Template, a.TransitSub = mk.Secret, t.ID, sub.ID
		b, _ := json.MarshalIndent(d.keys, "", "  ")
		if err := os.WriteFile(keysPath, b, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(d.out, "  the demo holder pushed a transit sub-wallet (rides up to 20.00, 100.00 a day, 500.00 held) and funded it with 200.00\n")
	}
	metro := d.cb.WithKey(a.MetroKey)
	rides := 0
	for range 3 {
		if _, err := metro.ChargeSubWallet(ctx, client.NewKey(), a.TransitSub, 3_00); err != nil {
			fmt.Fprintf(d.out, "  a metro ride was refused: %s\n", client.ProblemName(err))
			break
		}
		rides++
	}
	sub, err := holder.SubWallet(ctx, a.TransitSub)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "  the metro charged %d rides of 3.00 by tap to pay; the sub-wallet holds %s and paid %s today\n",
		rides, formatMoney(tongbao.Amount(*sub.Balance)), formatMoney(tongbao.Amount(*sub.PaidToday)))
	return nil
}

func okWord(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISMATCH"
}

func (d *demo) tryNext(o *demoOptions) {
	a := d.keys.Operators[0]
	b := d.keys.Operators[len(d.keys.Operators)-1]
	w := d.out
	fmt.Fprintf(w, "\nTry next (the keys are in %s):\n\n", filepath.Join(o.data, demoKeysFile))
	json := "-H 'Content-Type: application/json'"
	fmt.Fprintf(w, "  # the supply check, as the central bank\n  curl -s %s/v1/supply -H 'Authorization: Bearer %s'\n\n", d.base, d.keys.CentralBank)
	fmt.Fprintf(w, "  # a holder's wallet and balance\n  curl -s %s/v1/wallets/%s -H 'Authorization: Bearer %s'\n\n", d.base, a.Wallet, a.Holder)
	fmt.Fprintf(w, "  # pay 12.34 CNY to a phone number at the other operator (retrying with the same key pays once)\n  curl -s %s/v1/payments -H 'Authorization: Bearer %s' -H 'Idempotency-Key: try-1' %s \\\n    -d '{\"from\":\"%s\",\"to\":\"%s\",\"amount\":\"12.34\"}'\n\n", d.base, a.Holder, json, a.Wallet, b.Phone)
	fmt.Fprintf(w, "  # a merchant's incoming payments\n  curl -s %s/v1/wallets/%s/transfers -H 'Authorization: Bearer %s'\n\n", d.base, a.Shop, a.Merchant)
	fmt.Fprintf(w, "  # an operator's wallets, a page at a time\n  curl -s '%s/v1/operators/%s/wallets?limit=5' -H 'Authorization: Bearer %s'\n\n", d.base, a.ID, a.Admin)
	fmt.Fprintf(w, "  # the open settlement window's running positions, then close it and settle it\n  curl -s %s/v1/settlement-windows -H 'Authorization: Bearer %s'\n", d.base, d.keys.CentralBank)
	fmt.Fprintf(w, "  curl -s -X POST %s/v1/settlement-windows/close -H 'Authorization: Bearer %s' -H 'Idempotency-Key: close-1'\n\n", d.base, d.keys.CentralBank)
	fmt.Fprintf(w, "  # collect as the demo shop: a payment request for 25.00 (its QR image in %s), paid by the holder from the CLI\n", filepath.Join(o.data, "order.png"))
	fmt.Fprintf(w, "  export TONGBAO_ADDR=%s\n", d.base)
	fmt.Fprintf(w, "  payload=$(go run ./cmd/tongbao merchant request ORDER-$RANDOM 25.00 --png %s --field payload --key %s)\n", filepath.Join(o.data, "order.png"), a.Merchant)
	fmt.Fprintf(w, "  go run ./cmd/tongbao pay-code %s \"$payload\" --key %s\n", a.Wallet, a.Holder)
	fmt.Fprintf(w, "  # pay the shop's static code (printed on its counter) with an amount\n")
	fmt.Fprintf(w, "  go run ./cmd/tongbao pay-code %s '%s' 8.80 --key %s\n", a.Wallet, d.static, a.Holder)
	fmt.Fprintf(w, "  # show a payment code as the holder, and charge it as the shop within a minute\n")
	fmt.Fprintf(w, "  code=$(go run ./cmd/tongbao payment-code %s --field code --key %s)\n", a.Wallet, a.Holder)
	fmt.Fprintf(w, "  go run ./cmd/tongbao merchant charge \"$code\" 15.00 --key %s\n", a.Merchant)
	fmt.Fprintf(w, "  # the shop's statement of today, as CSV\n")
	fmt.Fprintf(w, "  curl -s '%s/v1/wallets/%s/statement?format=csv' -H 'Authorization: Bearer %s'\n\n", d.base, a.Shop, a.Merchant)
	fmt.Fprintf(w, "  # tap to pay on the metro: the metro charges the holder's transit sub-wallet; the holder can revoke that\n")
	fmt.Fprintf(w, "  go run ./cmd/tongbao scenario charge %s 3.00 --key %s\n", a.TransitSub, a.MetroKey)
	fmt.Fprintf(w, "  go run ./cmd/tongbao scenario show %s --key %s\n", a.TransitSub, a.Holder)
	fmt.Fprintf(w, "  go run ./cmd/tongbao scenario revoke %s --key %s\n\n", a.TransitSub, a.Holder)
	d.contractSteps(o.data)
	d.offlineSteps(o.data)
	if o.sandbox {
		fmt.Fprintf(w, "  # the node runs in sandbox mode: move its clock a day ahead, and today's caps and statements start anew\n")
		fmt.Fprintf(w, "  go run ./cmd/tongbao clock advance --by 24h --key %s\n\n", d.keys.CentralBank)
	}
	fmt.Fprintf(w, "  # the same from the CLI\n  TONGBAO_ADDR=%s TONGBAO_KEY=%s go run ./cmd/tongbao supply\n\n", d.base, d.keys.CentralBank)
	fmt.Fprintf(w, "  # the API's description, metrics and health\n  curl -s %s/openapi.json | head -c 300; curl -s %s/metrics | grep tongbao_; curl -s %s/readyz\n", d.base, d.base, d.base)
	fmt.Fprintf(w, "\nRun again with: go run ./cmd/tongbao demo --data %s\n", o.data)
}

// formatMoney formats an amount with thousands separators: 1,234.56.
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
