package contract

import (
	"crypto/ed25519"
	"time"

	tongbao "github.com/tongbao/tongbao"
)

// Event is what a signer party posts to a contract: a JWS (RFC 7515,
// compact serialisation) signed with the party's Ed25519 key (RFC 8037,
// alg EdDSA), the party's id as kid, over this payload.
type Event struct {
	// ID is the signer's id of the event: accepted once per signer.
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	Contract tongbao.ID     `json:"contract"`
	Data     map[string]any `json:"data,omitempty"`
	IssuedAt int64          `json:"iat"`
}

// SignedEvent is an event whose signature verified.
type SignedEvent struct {
	Event
	Signer tongbao.ID
	// Raw is the compact JWS as posted.
	Raw string
}

// ParseEvent decodes a compact JWS event without verifying it: the
// signer's id (kid) to look its key up by, and a verify function.
func ParseEvent(jws []byte) (tongbao.ID, func(ed25519.PublicKey) (SignedEvent, error), error) {
	return tongbao.ID{}, nil, ErrEvent
}

// SignEvent signs an event as signer.
func SignEvent(key ed25519.PrivateKey, signer tongbao.ID, ev Event) ([]byte, error) {
	return nil, nil
}

var _ = time.Now
