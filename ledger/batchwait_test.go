package ledger_test

import (
	tongbao "github.com/tongbao/tongbao"
	"testing"
	"time"
)

// A lone caller is committed at once, whatever BatchWait says: the wait
// applies only after a batch of BatchWaitRequests requests. With a wait
// of an hour, this test would not end if it applied.
func TestBatchWaitSparesALoneCaller(t *testing.T) {
	h := newHarness(t)
	h.cfg.BatchWait, h.cfg.BatchWaitRequests = time.Hour, 2
	h.reopen()
	h.accounts(acct(1, 0), acct(2, 0))
	for i := uint64(1); i <= 3; i++ {
		h.must(xfer(i, 1, 2, 100))
	}
	if got := h.balance(tongbao.IDFromUint64(2)).CreditsPosted; got != 300 {
		t.Errorf("credits of account 2 = %d; want 300", got)
	}
}
