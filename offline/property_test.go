package offline_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/offline"
	"pgregory.net/rapid"
)

// TestProperty drives devices at two operators through random loads,
// payments, unloads, clones (an old copy of a device's state restored),
// receipts, syncs by either side, bulk uploads of random subsets in
// random order with repeats, tampered tokens, suspensions and time. After
// every step:
//
//   - money is neither made nor lost: the payees' wallets received
//     exactly the settled tokens' amounts, each once, and the run's
//     wallets, floats and the operators' advances add up as at the start;
//   - each operator's float holds what its devices' purses say
//     (loaded − unloaded − spent − returned);
//   - no token is paid twice, whatever was uploaded twice;
//   - a tampered token is refused and stored nowhere.
//
// Every tenth step, and at the end, the whole supply check.
func TestProperty(t *testing.T) {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		t.Setenv("TMPDIR", "/dev/shm")
	}
	e := newEnv(t)
	settled := map[offline.Hash]tongbao.Amount{} // every token settled, across runs
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		run++
		ops := []tongbao.ID{e.A, e.B}
		phones := make([]*phone, 4)
		start := map[tongbao.ID]tongbao.Amount{}
		for i := range phones {
			phones[i] = e.device(ops[i%2], tongbao.Amount(1000_00+rapid.Int64Range(0, 3000_00).Draw(rt, "funds")))
			start[phones[i].wallet] = e.balance(phones[i].wallet)
		}
		floats := map[tongbao.ID]tongbao.Amount{e.A: e.float(e.A), e.B: e.float(e.B)}
		advanced := map[tongbao.ID]tongbao.Amount{e.A: advancedOf(rt, e, e.A), e.B: advancedOf(rt, e, e.B)}
		var seen [][]byte // every token signed in this run
		credits := map[tongbao.ID]tongbao.Amount{}
		steps := 20 + rapid.IntRange(0, 40).Draw(rt, "steps")
		for step := 0; step < steps; step++ {
			p := phones[rapid.IntRange(0, len(phones)-1).Draw(rt, "phone")]
			switch rapid.IntRange(0, 8).Draw(rt, "action") {
			case 0: // load
				amount := tongbao.Amount(100_00 + rapid.Int64Range(0, 500_00).Draw(rt, "load"))
				l, err := e.svc.Load(e.Ctx, tongbao.NewID(), p.el.ID(), amount)
				if err == nil && l.Seq == 0 {
					rt.Fatalf("a done load without a voucher: %+v", l)
				}
				// The device takes its vouchers in order, fetching any it
				// has not taken. One whose clone spent the same money holds
				// more than the ledger counts in its purse, and may refuse
				// a voucher that would take it past its cap: that one waits.
				vs, err := e.svc.Vouchers(e.Ctx, p.el.ID(), p.el.Status().Vouchers, 0)
				if err != nil {
					rt.Fatal(err)
				}
				for _, v := range vs {
					if _, err := p.el.AcceptVoucher(v.Voucher); errors.Is(err, offline.ErrPurseFull) {
						break
					} else if err != nil {
						rt.Fatalf("voucher %d of a done load: %v", v.Seq, err)
					}
				}
			case 1, 2: // pay another phone
				q := phones[rapid.IntRange(0, len(phones)-1).Draw(rt, "payee")]
				if q == p {
					continue
				}
				raw, err := p.el.Pay(q.el.ID(), tongbao.Amount(rapid.Int64Range(1, 300_00).Draw(rt, "amount")))
				if err != nil {
					continue
				}
				seen = append(seen, raw)
				if rapid.Bool().Draw(rt, "received") {
					_, _ = q.el.Receive(raw)
				}
			case 3: // a clone pays from an old copy of the device
				q := phones[rapid.IntRange(0, len(phones)-1).Draw(rt, "payee")]
				if q == p {
					continue
				}
				dir := filepath.Join(t.TempDir(), "clone")
				copyDir(t, p.dir, dir)
				clone, err := offline.OpenDevice(dir, e.Clock)
				if err != nil {
					rt.Fatal(err)
				}
				_, _ = p.el.Pay(q.el.ID(), 1) // the original moves on
				if raw, err := clone.Pay(q.el.ID(), tongbao.Amount(rapid.Int64Range(1, 300_00).Draw(rt, "amount"))); err == nil {
					seen = append(seen, raw)
				}
			case 4: // unload
				if raw, err := p.el.Unload(tongbao.Amount(rapid.Int64Range(1, 200_00).Draw(rt, "unload"))); err == nil {
					seen = append(seen, raw)
				}
			case 5: // the device syncs
				signed, received := p.el.Pending()
				res, err := e.svc.Sync(e.Ctx, p.el.ID(), append(signed, received...))
				if err != nil {
					rt.Fatalf("sync: %v", err)
				}
				account(rt, e, res, settled, credits, p)
				lists, err := e.svc.RevocationLists(e.Ctx)
				if err != nil {
					rt.Fatal(err)
				}
				if err := p.el.Synced(res.Ack, res.Decided, e.svc.PublicKeys(), lists); err != nil {
					rt.Fatalf("install the sync: %v", err)
				}
			case 6: // a bulk upload of signed tokens, some twice, some tampered
				var up [][]byte
				var tampered [][]byte
				for _, raw := range seen {
					switch rapid.IntRange(0, 3).Draw(rt, "upload") {
					case 1:
						up = append(up, raw)
					case 2:
						up = append(up, raw, raw)
					case 3:
						bad := append([]byte(nil), raw...)
						bad[rapid.IntRange(0, len(bad)-1).Draw(rt, "byte")] ^= byte(rapid.IntRange(1, 255).Draw(rt, "flip"))
						up, tampered = append(up, bad), append(tampered, bad)
					}
				}
				res, err := e.svc.Sync(e.Ctx, tongbao.ID{}, up)
				if err != nil {
					rt.Fatalf("upload: %v", err)
				}
				account(rt, e, res, settled, credits, nil)
				for _, bad := range tampered {
					h := offline.HashOf(bad)
					if _, ok := settled[h]; ok && !isSigned(seen, bad) {
						rt.Fatalf("a tampered token %v settled", h)
					}
				}
			case 7: // suspend or resume
				d, err := e.svc.Device(e.Ctx, p.el.ID())
				if err != nil {
					rt.Fatal(err)
				}
				to := offline.DeviceSuspended
				if d.State == offline.DeviceSuspended {
					to = offline.DeviceActive
				}
				_, _ = e.svc.SetState(e.Ctx, p.el.ID(), to, "property")
			case 8: // time passes
				e.Clock.Advance(rapidDuration(rt))
			}
			check(rt, e, phones, start, credits, floats, advanced)
			if step%10 == 9 {
				supplyOK(rt, e, fmt.Sprintf("run %d step %d", run, step))
			}
		}
		supplyOK(rt, e, fmt.Sprintf("run %d", run))
	})
	cs, _ := e.svc.Cases(e.Ctx, tongbao.ID{}, tongbao.ID{}, offline.ListMax)
	t.Logf("%d runs, %d tokens settled, %d fraud cases", run, len(settled), len(cs))
	if len(settled) == 0 || len(cs) == 0 {
		t.Fatal("the runs settled no token or caught no double spend: the property checked little")
	}
}

// account records a sync's settled tokens: each once ever, and credited
// to its payee's wallet.
func account(rt *rapid.T, e *env, res offline.SyncResult, settled map[offline.Hash]tongbao.Amount, credits map[tongbao.ID]tongbao.Amount, uploader *phone) {
	for _, r := range res.Results {
		if r.Result != offline.ResultSettled {
			continue
		}
		if _, ok := settled[r.Hash]; ok {
			rt.Fatalf("token %v settled twice", r.Hash)
		}
		settled[r.Hash] = r.Amount
		payee, err := e.svc.Device(e.Ctx, r.Payee)
		if err != nil {
			rt.Fatal(err)
		}
		credits[payee.Wallet] += r.Amount
	}
}

// check asserts the step's invariants.
func check(rt *rapid.T, e *env, phones []*phone, start, credits, floats, advanced map[tongbao.ID]tongbao.Amount) {
	// Each phone's wallet is its start, less what it loaded net of what
	// came back (unloads and returns), plus what it received, less what
	// the operator recovered from it.
	var moved tongbao.Amount
	for _, p := range phones {
		moved += e.balance(p.wallet) - start[p.wallet]
	}
	var floatNow, advNow tongbao.Amount
	for _, op := range []tongbao.ID{e.A, e.B} {
		floatNow += e.float(op) - floats[op]
		advNow += advancedOf(rt, e, op) - advanced[op]
	}
	// Money among the run's wallets and the floats changes only by what
	// the operators advanced less what they recovered (that left or
	// entered their vaults).
	if moved+floatNow != advNow {
		rt.Fatalf("the run's wallets moved %v and the floats %v; want them to sum to the net advanced %v", moved, floatNow, advNow)
	}
	// Each float is what its devices' purses say.
	purses := map[tongbao.ID]tongbao.Amount{}
	ds, err := e.svc.Devices(e.Ctx, tongbao.ID{}, tongbao.ID{}, offline.ListMax)
	if err != nil {
		rt.Fatal(err)
	}
	for _, d := range ds {
		purses[d.Operator] += d.Purse()
	}
	for _, op := range []tongbao.ID{e.A, e.B} {
		if got := e.float(op); got != purses[op] {
			rt.Fatalf("float of %v holds %v; its devices' purses say %v", op, got, purses[op])
		}
	}
	// Each wallet moved by exactly what its device loaded, what settled
	// to it (payments and its own unloads), and what the operator took
	// back for its device's double spends.
	recovered := map[tongbao.ID]tongbao.Amount{}
	cs, err := e.svc.Cases(e.Ctx, tongbao.ID{}, tongbao.ID{}, offline.ListMax)
	if err != nil {
		rt.Fatal(err)
	}
	for _, c := range cs {
		recovered[c.Wallet] += c.Recovered
	}
	for _, p := range phones {
		d, err := e.svc.Device(e.Ctx, p.el.ID())
		if err != nil {
			rt.Fatal(err)
		}
		got, want := e.balance(p.wallet)-start[p.wallet], credits[p.wallet]-d.Loaded-recovered[p.wallet]
		if got != want {
			rt.Fatalf("wallet %v moved %v; its loads, credits and recoveries say %v", p.wallet, got, want)
		}
	}
}

// advancedOf is an operator's advances less its recoveries, over every
// case: what left its vault for payees of double spends, net.
func advancedOf(rt *rapid.T, e *env, op tongbao.ID) tongbao.Amount {
	cs, err := e.svc.Cases(e.Ctx, op, tongbao.ID{}, offline.ListMax)
	if err != nil {
		rt.Fatal(err)
	}
	var n tongbao.Amount
	for _, c := range cs {
		n += c.Advanced - c.Recovered
	}
	return n
}

func supplyOK(rt *rapid.T, e *env, step string) {
	r, err := e.Payments.SupplyReport(e.Ctx)
	if err != nil {
		rt.Fatal(err)
	}
	if !r.OK {
		rt.Fatalf("after %s: the supply check failed: %+v", step, r)
	}
}

func isSigned(seen [][]byte, raw []byte) bool {
	h := offline.HashOf(raw)
	for _, s := range seen {
		if offline.HashOf(s) == h {
			return true
		}
	}
	return false
}

func rapidDuration(rt *rapid.T) time.Duration {
	return time.Duration(rapid.Int64Range(1, 3*24*3600).Draw(rt, "seconds")) * time.Second
}
