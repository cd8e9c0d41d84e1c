package ledger_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/ledger"
)

// TestConcurrentSpendFromOneBalance has 1,000 goroutines pay from one
// wallet at once. Exactly as many payments as the balance affords succeed;
// every other one fails with insufficient funds, and no money is made.
func TestConcurrentSpendFromOneBalance(t *testing.T) {
	const (
		spenders = 1000
		price    = 100
		funded   = 437 * price // affords 437 of the 1,000
	)
	h := newHarness(t)
	h.accounts(acct(1, 0), acct(2, wallet), acct(3, wallet))
	h.must(xfer(1, 1, 2, funded))

	var wg sync.WaitGroup
	results := make([]error, spenders)
	for i := 0; i < spenders; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := h.l.Transfer(context.Background(), ledger.Transfer{
				ID:              tongbao.NewID(),
				DebitAccountID:  tongbao.IDFromUint64(2),
				CreditAccountID: tongbao.IDFromUint64(3),
				Amount:          price,
				Code:            1,
			})
			results[i] = err
		}(i)
	}
	wg.Wait()
	ok, poor := 0, 0
	for _, err := range results {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ledger.ErrInsufficientFunds):
			poor++
		default:
			t.Fatalf("unexpected failure: %v", err)
		}
	}
	if ok != funded/price || poor != spenders-funded/price {
		t.Fatalf("got %d paid and %d refused; want %d and %d", ok, poor, funded/price, spenders-funded/price)
	}
	if b := h.balance(tongbao.IDFromUint64(2)); b.Net() != 0 {
		t.Fatalf("payer got %v left; want 0", b.Net())
	}
	if b := h.balance(tongbao.IDFromUint64(3)); b.Net() != funded {
		t.Fatalf("payee got %v; want %v", b.Net(), tongbao.Amount(funded))
	}
	checkInvariants(t, h.balances())
}
