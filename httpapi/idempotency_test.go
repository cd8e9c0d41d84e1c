package httpapi

import (
	"testing"

	tongbao "github.com/tongbao/tongbao"
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
