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
	EFORBIDDEN     = "forbidden"     // the caller may not do this
	EUNAVAILABLE   = "unavailable"   // try again later (shutting down, not the writer)
	EUNPROCESSABLE = "unprocessable" // valid input that the rules refuse (funds, limits)
)

// Error is tongbao's one error type: a code for programs, a message that is
// safe to show a user, and an optional internal cause that is not.
type Error struct {
	Code    string
	Message string
	Err     error
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

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
