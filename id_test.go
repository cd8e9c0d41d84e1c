package tongbao_test

import (
	"bytes"
	"crypto/sha256"
	"testing"

	tongbao "github.com/tongbao/tongbao"
)

// The derived ids name accounts already stored: their encoding must never
// change. This spells it out byte by byte.
func TestDeriveIDEncoding(t *testing.T) {
	id := tongbao.IDFromUint64(0x0102030405060708)
	var want bytes.Buffer
	want.WriteString("tongbao/twotier/vault")
	want.Write(id[:])
	want.Write([]byte{0, 0, 0, 0, 0, 0, 0, 5})           // int64 5
	want.Write([]byte{0, 0, 0, 0, 0, 0, 1, 0})           // uint64 256
	want.Write([]byte{0, 0, 0, 0, 0, 0, 0, 2, 'a', 'b'}) // "ab"
	sum := sha256.Sum256(want.Bytes())
	got := tongbao.DeriveID("tongbao/twotier/vault", id, int64(5), uint64(256), "ab")
	if !bytes.Equal(got[:], sum[:16]) {
		t.Fatalf("DeriveID = %x; want %x", got[:], sum[:16])
	}
	if tongbao.DeriveID("a", "bc") == tongbao.DeriveID("ab", "c") {
		t.Fatal("a string part is not delimited from the name")
	}
}

// Append writes what String returns, after what the buffer holds; the
// JSON encoder and the request path rely on it to spare an allocation.
func TestIDAppend(t *testing.T) {
	id, err := tongbao.ParseID("0123abcd-4567-89ef-fedc-ba9876543210")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(id.Append([]byte("x/"))); got != "x/0123abcd-4567-89ef-fedc-ba9876543210" {
		t.Fatalf("Append = %q", got)
	}
	for range 100 {
		id := tongbao.NewID()
		if got, want := string(id.Append(nil)), id.String(); got != want || len(want) != 36 {
			t.Fatalf("Append %q; String %q", got, want)
		}
	}
}
