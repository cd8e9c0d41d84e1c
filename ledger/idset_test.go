package ledger

import (
	"testing"

	tongbao "github.com/tongbao/tongbao"
)

// TestIDSet checks that the filter never forgets an id and that its false
// positives, each of which costs a store lookup, stay rare.
func TestIDSet(t *testing.T) {
	var s idSet
	// Ids made by many goroutines at once, as clients make them: within one
	// millisecond they differ only in their last bytes.
	ids := make(chan tongbao.ID, 1024)
	for g := 0; g < 64; g++ {
		go func() {
			for i := 0; i < 300000/64; i++ {
				ids <- tongbao.NewID()
			}
		}()
	}
	added := make([]tongbao.ID, 300000/64*64)
	for i := range added {
		added[i] = <-ids
		s.add(added[i])
	}
	for _, id := range added {
		if !s.mayHave(id) {
			t.Fatalf("forgot %v", id)
		}
	}
	const probes = 100000
	falsePositives := 0
	for i := 0; i < probes; i++ {
		if s.mayHave(tongbao.NewID()) {
			falsePositives++
		}
	}
	if rate := float64(falsePositives) / probes; rate > 0.03 {
		t.Fatalf("false positive rate %.4f; want under 0.03", rate)
	}
	t.Logf("false positives: %d of %d", falsePositives, probes)
}
