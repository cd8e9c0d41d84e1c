package httpapi

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/twotier"
)

// Handlers: parse, authorise, call the domain, render. No rule about money
// lives here; the scope checks keep each role to its own part.

// ownOperator allows the central bank, and an operator admin for its own
// operator.
func (c *call) ownOperator(op tongbao.ID) error {
	switch c.p.Role {
	case RoleCentralBank:
		return nil
	case RoleOperatorAdmin:
		if c.p.Institution == op {
			return nil
		}
	}
	return errForbidden
}

// ownWallet loads a wallet the caller may act on: an operator admin's own
// operator's wallet, a holder's or a merchant's own wallet.
func (s *Server) ownWallet(c *call, id tongbao.ID) (twotier.Wallet, error) {
	switch c.p.Role {
	case RoleHolder, RoleMerchant:
		if c.p.Wallet != id {
			return twotier.Wallet{}, errForbidden
		}
	case RoleOperatorAdmin:
	default:
		return twotier.Wallet{}, errForbidden
	}
	w, err := c.svc.Wallet(c.ctx, id)
	if err != nil {
		return twotier.Wallet{}, err
	}
	if c.p.Role == RoleOperatorAdmin && w.Operator != c.p.Institution {
		return twotier.Wallet{}, errForbidden
	}
	return w, nil
}

func (c *call) walletPath() (tongbao.ID, error) { return c.pathID("wallet") }

func (c *call) operatorPath() (tongbao.ID, error) {
	id, err := c.pathID("operator")
	if err != nil {
		return id, err
	}
	return id, c.ownOperator(id)
}

// limit reads ?limit, PageDefault when absent.
func (c *call) limit() (int, error) {
	v := c.r.URL.Query().Get("limit")
	if v == "" {
		return PageDefault, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > PageMax {
		return 0, tongbao.Errorf(tongbao.EINVALID, "limit must be 1 to %d", PageMax)
	}
	return n, nil
}

// Cursors are opaque to clients: base64url of what the list resumes from.
func encodeCursor(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (c *call) cursor() ([]byte, error) {
	v := c.r.URL.Query().Get("cursor")
	if v == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, tongbao.Errorf(tongbao.EINVALID, "cursor is not one this API returned")
	}
	return b, nil
}

func (c *call) uintCursor() (uint64, error) {
	b, err := c.cursor()
	if err != nil || b == nil {
		return 0, err
	}
	if len(b) != 8 {
		return 0, tongbao.Errorf(tongbao.EINVALID, "cursor is not one this API returned")
	}
	return binary.BigEndian.Uint64(b), nil
}

func uintCursor(n uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return encodeCursor(b[:])
}
