package httpapi

import (
	"math/rand/v2"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
)

func TestDeriveID(t *testing.T) {
	v7 := tongbao.NewID()
	for _, key := range []string{"order-1", v7.String(), "0123456789abcdef0123456789abcdef"} {
		if deriveID("holder:a", key, 0) != deriveID("holder:a", key, 0) {
			t.Errorf("key %q: two ids for one caller, key and index", key)
		}
		if deriveID("holder:a", key, 0) == deriveID("holder:a", key, 1) {
			t.Errorf("key %q: one id for two indexes", key)
		}
		if deriveID("holder:a", key, 0) == deriveID("holder:b", key, 0) {
			t.Errorf("key %q: one id for two callers", key)
		}
	}

	// A key that is not a UUIDv7 derives as before ordered ids existed:
	// a retry across the upgrade must reach the same id.
	got := deriveID("holder:a", "order-1", 3).String()
	if want := "e801dc80-c4cb-9034-de0f-32c365487bc8"; got != want {
		t.Errorf("id of a plain key = %s; want %s", got, want)
	}

	// A UUIDv7 key lends its time to the id.
	if id := deriveID("holder:a", v7.String(), 7); string(id[:6]) != string(v7[:6]) {
		t.Errorf("key %s: id %s does not begin with the key's milliseconds", v7, id)
	}
	// Without hyphens it is hashed whole, as the random keys of 32
	// hexadecimal digits that client.NewKey made before, some of which
	// read as a UUIDv7, always were.
	if _, ok := keyMillis(hexOf(v7)); ok {
		t.Errorf("keyMillis(%s) took 32 digits for a UUIDv7", hexOf(v7))
	}
	// Not version 7, or not the RFC 9562 variant: all hash.
	v4 := v7
	v4[6] = 0x40 | v4[6]&0x0f
	odd := v7
	odd[8] &= 0x3f
	for _, u := range []tongbao.ID{v4, odd} {
		if _, ok := keyMillis(u.String()); ok {
			t.Errorf("keyMillis(%s) took it for a UUIDv7", u)
		}
	}
	if _, ok := keyMillis(v7.String()); !ok {
		t.Errorf("keyMillis(%s) did not take it for a UUIDv7", v7)
	}
}

func hexOf(id tongbao.ID) string {
	s := id.String()
	return s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
}

// TestIdempotencyBounded guards against a past bug: the cache was bounded
// by entries, not bytes, and kept each answer forever, so a server under
// batches grew to gigabytes. It is now bounded by bytes and by age.
func TestIdempotencyBounded(t *testing.T) {
	clock := tongbao.NewManualClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	const bytesMax = idempotencyShards * 4096
	c := newIdempotency(clock, bytesMax, time.Hour)
	body := make([]byte, 1000)
	var kept []string
	for i := range 5000 {
		key := "holder:w\x00" + strconv.Itoa(i)
		a, first := c.begin(key, [32]byte{1})
		if !first {
			t.Fatalf("key %s: not first", key)
		}
		a.status, a.body = 201, body
		c.finish(a)
		kept = append(kept, key)
		if _, bytes := c.size(); bytes > bytesMax {
			t.Fatalf("after %d answers: %d bytes kept; want at most %d", i+1, bytes, bytesMax)
		}
	}
	entries, bytes := c.size()
	if entries == 0 || entries > bytesMax/1000 || bytes < bytesMax/2 {
		t.Errorf("%d entries, %d bytes kept; want some, within %d bytes", entries, bytes, bytesMax)
	}
	// The newest is kept, the oldest is gone.
	if _, first := c.begin(kept[len(kept)-1], [32]byte{1}); first {
		t.Error("the newest answer is gone")
	}
	if a, first := c.begin(kept[0], [32]byte{1}); !first {
		t.Error("the oldest answer is kept")
	} else {
		c.forget(a)
	}

	// An hour later everything has expired, and an expired key starts again.
	clock.Advance(time.Hour)
	if entries, bytes := c.size(); entries != 0 || bytes != 0 {
		t.Errorf("after the retention: %d entries, %d bytes; want none", entries, bytes)
	}
	a, first := c.begin(kept[len(kept)-1], [32]byte{2})
	if !first {
		t.Error("an answer older than the retention was replayed")
	}
	if entries, bytes := c.size(); entries != 1 || bytes != int64(len(a.key))+answerOverhead {
		t.Errorf("after a new begin: %d entries, %d bytes; want the one just begun", entries, bytes)
	}
	c.forget(a)
	if entries, bytes := c.size(); entries != 0 || bytes != 0 {
		t.Errorf("after forgetting it: %d entries, %d bytes; want none", entries, bytes)
	}
}

// TestIdempotencyConcurrent runs requests on a few keys at once, some
// answered, some forgotten, over a bound small enough to evict, and
// checks that every waiter gets an answer or runs itself, and that the
// counts add up to what is kept.
func TestIdempotencyConcurrent(t *testing.T) {
	clock := tongbao.NewManualClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	c := newIdempotency(clock, idempotencyShards*2048, time.Hour)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for range 2000 {
				key := "k" + strconv.Itoa(r.IntN(200))
				a, first := c.begin(key, [32]byte{})
				for !first {
					<-a.done
					if a.status != 0 {
						break
					}
					a, first = c.begin(key, [32]byte{})
				}
				if !first {
					continue
				}
				if r.IntN(4) == 0 {
					c.forget(a)
					continue
				}
				a.status, a.body = 200, make([]byte, r.IntN(600))
				c.finish(a)
			}
		}()
	}
	wg.Wait()
	var entries, bytes int64
	for i := range c.shards {
		s := &c.shards[i]
		var shardBytes int64
		for _, a := range s.answers {
			if !a.live {
				t.Fatalf("entry %s in the map is not live", a.key)
			}
			entries++
			shardBytes += a.size
		}
		if shardBytes != s.bytes || s.bytes > c.shardBytesMax {
			t.Errorf("shard %d: %d bytes counted, %d kept; bound %d", i, s.bytes, shardBytes, c.shardBytesMax)
		}
		bytes += shardBytes
	}
	if gotEntries, gotBytes := c.size(); gotEntries != entries || gotBytes != bytes {
		t.Errorf("size() = %d entries, %d bytes; kept %d, %d", gotEntries, gotBytes, entries, bytes)
	}
}

// TestAskedHash checks what counts as the same request under an
// Idempotency-Key: the decoded body, whatever its spacing, order, ways of
// writing amounts, ids and instants.
func TestAskedHash(t *testing.T) {
	hash := func(path, request, body string) [32]byte {
		c := &call{r: httptest.NewRequest("POST", path, nil), body: []byte(body)}
		return askedHash(c, &route{request: request})
	}
	const from, to = "0198c5a2-3f00-7000-8000-000000000001", "0198c5a2-3f00-7000-8000-000000000002"
	for _, tt := range []struct {
		path, request string
		same, other   []string
	}{
		{"/v1/payments", "Pay",
			[]string{`{"from":"` + from + `","to":"` + to + `","amount":"12.30"}`, ` {"amount":"12.3", "to":"` + to + `","from":"0198C5A23F0070008000000000000001"}`},
			[]string{`{"from":"` + from + `","to":"` + to + `","amount":"12.31"}`, `{"from":"` + from + `","to":"` + to + `","amount":"12.30","currency":"CNY"}`, `{"from":"` + from + `","to":"` + to + `","amount":"12.30","amount":"12.30"}`}},
		{"/v1/wallets/x/freeze", "Freeze",
			[]string{`{"until":"2026-01-01T08:00:00+08:00","reason":"check"}`, `{"reason":"check","until":"2026-01-01T00:00:00Z"}`, `{"reason":"check","until":"2025-12-31T19:00:00.000-05:00"}`},
			[]string{`{"until":"2026-01-01T08:00:00Z","reason":"check"}`, `{"reason":"check"}`}},
		{"/v1/operators/x/caps", "SetCaps",
			[]string{`{"effective_from":"2026-01-01T08:00:00+08:00","caps":{"1":{"balance_max":"1"},"2":{}}}`, `{"caps":{"2":{},"1":{"balance_max":"1.00"}},"effective_from":"2026-01-01T00:00:00Z"}`},
			[]string{`{"effective_from":"2026-01-01T00:00:00Z","caps":{"1":{"balance_max":"1"}}}`}},
	} {
		want := hash(tt.path, tt.request, tt.same[0])
		for _, body := range tt.same[1:] {
			if hash(tt.path, tt.request, body) != want {
				t.Errorf("%s: %s and %s are two requests; want one", tt.request, tt.same[0], body)
			}
		}
		for _, body := range tt.other {
			if hash(tt.path, tt.request, body) == want {
				t.Errorf("%s: %s and %s are one request; want two", tt.request, tt.same[0], body)
			}
		}
		if hash("/v1/other", tt.request, tt.same[0]) == want {
			t.Errorf("%s: one request on two paths", tt.request)
		}
	}
	// The handler reads the instant as it was sent.
	c := &call{r: httptest.NewRequest("POST", "/v1/wallets/x/freeze", nil), body: []byte(`{"until":"2026-01-01T08:00:00+08:00"}`)}
	askedHash(c, &route{request: "Freeze"})
	var f wire.Freeze
	if err := c.decode(&f); err != nil || f.Until == nil || f.Until.Format(time.RFC3339) != "2026-01-01T08:00:00+08:00" {
		t.Errorf("decoded %+v, %v; want the instant with its offset", f, err)
	}
}
