package tongbao_test

import (
	"errors"
	"fmt"
	"testing"

	tongbao "github.com/tongbao/tongbao"
)

// TestErrorKind checks that an error keeps the kind of the sentinel it
// wraps, whatever wraps it, and that the outermost kind wins: the API
// answers that one.
func TestErrorKind(t *testing.T) {
	funds := tongbao.Sentinel(tongbao.EUNPROCESSABLE, "insufficient-funds", "insufficient funds")
	for _, c := range []struct {
		what string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"not a tongbao error", errors.New("x"), ""},
		{"no kind", tongbao.Errorf(tongbao.EINVALID, "x"), ""},
		{"a sentinel", funds, "insufficient-funds"},
		{"under an error without a kind", &tongbao.Error{Code: tongbao.EUNPROCESSABLE, Message: "payment: insufficient funds", Err: funds}, "insufficient-funds"},
		{"under fmt.Errorf", fmt.Errorf("pay: %w", funds), "insufficient-funds"},
		{"under an error with its own kind", &tongbao.Error{Code: tongbao.EUNPROCESSABLE, Kind: "net-debit-cap-exceeded", Err: funds}, "net-debit-cap-exceeded"},
		{"second in a join", errors.Join(errors.New("x"), funds), "insufficient-funds"},
		{"second of two %w", fmt.Errorf("%w: %w", tongbao.Errorf(tongbao.EINVALID, "x"), funds), "insufficient-funds"},
	} {
		if got := tongbao.ErrorKind(c.err); got != c.want {
			t.Errorf("%s: got kind %q; want %q", c.what, got, c.want)
		}
	}
	if got := tongbao.ErrorCode(fmt.Errorf("x: %w", funds)); got != tongbao.EUNPROCESSABLE {
		t.Errorf("code of a wrapped sentinel: got %q; want %q", got, tongbao.EUNPROCESSABLE)
	}
}
