package tongbao

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in one place (the HTTP layer);
// callers branch on them with ErrorCode or on domain sentinels with errors.Is.
const (
	ECONFLICT      = "conflict"      // the request contradicts existing state
	EINTERNAL      = "internal"      // a bug or a failure of a dependency
	EINVALID       = "invalid"       // bad input
	ENOTFOUND      = "not_found"     // the thing does not exist
	EFORBIDDEN     = "forbidden"     // the caller's role or key may not do this (authorisation only)
	EUNAVAILABLE   = "unavailable"   // try again later (shutting down, not the writer)
	EUNPROCESSABLE = "unprocessable" // valid input that the rules refuse (funds, limits, a wallet's state)
)

// Error is tongbao's one error type: a code for programs, the kind of
// failure the API names it by, a message that is safe to show a user, and
// an optional internal cause that is not.
type Error struct {
	Code string
	// Kind is the public name of the failure: the last segment of the
	// problem type URI the API answers (such as "insufficient-funds").
	// Every sentinel sets it where it is defined, so the HTTP layer maps
	// errors without knowing the packages that define them; an error
	// without one is answered by its code.
	Kind    string
	Message string
	Err     error
}

// Errorf returns an *Error with the given code and a formatted message,
// and no kind: for one-off refusals answered by their code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinel returns an error for callers to match with errors.Is: code for
// programs, kind for the API (the name of the problem type it is answered
// with) and a formatted message for people.
func Sentinel(code, kind, format string, args ...any) *Error {
	return &Error{Code: code, Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Errors shared by several packages, defined once so that errors.Is finds
// them whichever package returned them.
var (
	// ErrIDConflict refuses an idempotency id (a transfer's, a payment's,
	// a refund's, a sub-wallet's) already used for different content.
	ErrIDConflict = Sentinel(ECONFLICT, "idempotency-key-conflict", "id already used with different content")
	// ErrAmountInvalid refuses an amount that is zero or negative where
	// money moves.
	ErrAmountInvalid = Sentinel(EINVALID, "invalid-amount", "amount must be greater than zero")
)

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorKind returns the kind of the first *Error in err's chain that has
// one (depth first, as errors.As looks), or "" when none has: an error
// that wraps a sentinel with a message of its own keeps the sentinel's kind.
func ErrorKind(err error) string {
	switch e := err.(type) {
	case nil:
		return ""
	case *Error:
		if e.Kind != "" {
			return e.Kind
		}
		return ErrorKind(e.Err)
	case interface{ Unwrap() error }:
		return ErrorKind(e.Unwrap())
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			if k := ErrorKind(inner); k != "" {
				return k
			}
		}
	}
	return ""
}

// ErrorMessage returns the user-safe message of err.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
