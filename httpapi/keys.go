package httpapi

import (
	"encoding/binary"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/httpapi/wire"
	"github.com/tongbao/tongbao/twotier"
)

func keyOut(p Principal, secret string) wire.Key {
	k := wire.Key{ID: p.KeyID, Secret: secret, Role: p.Role, Name: p.Name, CreatedAt: p.CreatedAt}
	if !p.Institution.IsZero() {
		id := p.Institution
		k.Institution = &id
	}
	if !p.Wallet.IsZero() {
		id := p.Wallet
		k.Wallet = &id
	}
	if !p.RevokedAt.IsZero() {
		t := p.RevokedAt
		k.RevokedAt, k.RevokeReason = &t, p.RevokeReason
	}
	return k
}

// keyInScope says whether the caller may see and revoke key p: the
// central bank any, an operator admin its operator's (its admins' and its
// wallets'), a holder or merchant its own.
func (c *call) keyInScope(p Principal) bool {
	switch c.p.Role {
	case RoleCentralBank:
		return true
	case RoleOperatorAdmin:
		return p.Role != RoleCentralBank && p.Institution == c.p.Institution
	}
	return p.KeyID == c.p.KeyID
}

func (s *Server) listKeys(c *call) (any, error) {
	limit, err := c.limit()
	if err != nil {
		return nil, err
	}
	var after *KeyCursor
	if b, err := c.cursor(); err != nil {
		return nil, err
	} else if b != nil {
		if len(b) < 8 {
			return nil, tongbao.Errorf(tongbao.EINVALID, "cursor is not one this API returned")
		}
		after = &KeyCursor{CreatedAt: tongbao.FromUnixNanos(int64(binary.BigEndian.Uint64(b))), KeyID: string(b[8:])}
	}
	ps, more := s.keys.List(c.keyInScope, after, limit)
	out := wire.KeyList{Items: make([]wire.Key, 0, len(ps))}
	for _, p := range ps {
		out.Items = append(out.Items, keyOut(p, ""))
	}
	if more {
		last := ps[len(ps)-1]
		out.NextCursor = encodeCursor(append(binary.BigEndian.AppendUint64(nil, uint64(tongbao.UnixNanos(last.CreatedAt))), last.KeyID...))
	}
	return out, nil
}

func (s *Server) revokeKey(c *call) (any, error) {
	var in wire.RevokeKey
	if len(c.body) > 0 {
		if err := c.decode(&in); err != nil {
			return nil, err
		}
	}
	p, err := s.keys.Revoke(c.r.PathValue("key"), in.Reason, c.keyInScope)
	if err != nil {
		return nil, err
	}
	return keyOut(p, ""), nil
}

func (s *Server) me(c *call) (any, error) { return keyOut(c.p, ""), nil }

func (s *Server) createKey(c *call) (any, error) {
	var in wire.CreateKey
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	p := Principal{Role: in.Role, Name: in.Name}
	switch in.Role {
	case RoleCentralBank:
		if c.p.Role != RoleCentralBank {
			return nil, errForbidden
		}
		p.Institution = c.p.Institution
	case RoleOperatorAdmin:
		if in.Operator == nil {
			return nil, tongbao.Errorf(tongbao.EINVALID, "an operator admin key names its operator")
		}
		if err := c.ownOperator(*in.Operator); err != nil {
			return nil, err
		}
		in, err := c.svc.Institution(c.ctx, *in.Operator)
		if err != nil {
			return nil, err
		}
		if in.Kind != twotier.KindOperator {
			return nil, twotier.ErrNotOperator
		}
		p.Institution = in.ID
	case RoleHolder, RoleMerchant:
		if c.p.Role != RoleOperatorAdmin {
			return nil, errForbidden
		}
		if in.Wallet == nil {
			return nil, tongbao.Errorf(tongbao.EINVALID, "a %s key names its wallet", in.Role)
		}
		w, err := s.ownWallet(c, *in.Wallet)
		if err != nil {
			return nil, err
		}
		if in.Role == RoleMerchant && w.Kind != twotier.WalletMerchant {
			return nil, tongbao.Errorf(tongbao.EINVALID, "a merchant key is for a merchant wallet")
		}
		p.Institution, p.Wallet = w.Operator, w.ID
	default:
		return nil, tongbao.Errorf(tongbao.EINVALID, "role %q is unknown", in.Role)
	}
	secret, p, err := s.keys.Create(p)
	if err != nil {
		return nil, err
	}
	return keyOut(p, secret), nil
}
