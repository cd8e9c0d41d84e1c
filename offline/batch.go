package offline

import (
	"crypto/rand"

	"github.com/oasisprotocol/curve25519-voi/curve"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
	"github.com/veraison/go-cose"
)

// Batch verification. At sync the ledger verifies tokens by the thousand,
// and Ed25519 signatures verify together for about half the cost of one
// by one (one multi-scalar multiplication for the batch). go-cose still
// builds what each signature covers (the Sig_structure of RFC 9052 §4.4):
// a collecting verifier takes it instead of checking it, and the batch is
// checked at the end. A batch that fails is checked signature by
// signature, so one bad token refuses only itself.
//
// The batch equation is the cofactored one of RFC 8032 §5.1.7, and keys
// of small order or in non-canonical form are refused (at certification,
// and here): so an honest signature verifies as it does one by one, and
// only a device crafting its own odd signatures could tell the two apart
// (voi's VerifyOptionsDefault).

// verifyBatchMin is the fewest signatures worth a batch.
const verifyBatchMin = 8

// sigInput is what one signature covers.
type sigInput struct {
	key      []byte
	expanded *voi.ExpandedPublicKey // when the key's expansion is cached
	content  []byte
	sig      []byte
}

// collector is a cose.Verifier that records what go-cose asks it to
// check.
type collector struct{ in *sigInput }

func (c collector) Algorithm() cose.Algorithm { return cose.AlgorithmEdDSA }

func (c collector) Verify(content, sig []byte) error {
	c.in.content, c.in.sig = content, sig
	return nil
}

// signedInput returns what e's signature covers, for key.
func (e envelope) signedInput(key []byte, expanded *voi.ExpandedPublicKey) (sigInput, error) {
	in := sigInput{key: key, expanded: expanded}
	if err := e.msg.Verify(nil, collector{&in}); err != nil {
		return sigInput{}, ErrBadSignature
	}
	return in, nil
}

// verifyBatch checks the signatures of ins and returns which verify.
func verifyBatch(ins []sigInput) []bool {
	ok := make([]bool, len(ins))
	if len(ins) < verifyBatchMin {
		for i, in := range ins {
			ok[i] = keyUsable(in.key) && voi.VerifyWithOptions(in.key, in.content, in.sig, &voi.Options{Verify: voi.VerifyOptionsDefault})
		}
		return ok
	}
	bv := voi.NewBatchVerifierWithCapacity(len(ins))
	opts := &voi.Options{Verify: voi.VerifyOptionsDefault}
	for _, in := range ins {
		if in.expanded != nil {
			bv.AddExpandedWithOptions(in.expanded, in.content, in.sig, opts)
			continue
		}
		bv.AddWithOptions(in.key, in.content, in.sig, opts)
	}
	_, ok = bv.Verify(rand.Reader)
	return ok
}

// keyUsable reports whether a public key is a canonical encoding of a
// point not of small order: what a device key must be.
func keyUsable(key []byte) bool {
	var c curve.CompressedEdwardsY
	if _, err := c.SetBytes(key); err != nil {
		return false
	}
	var p curve.EdwardsPoint
	if _, err := p.SetCompressedY(&c); err != nil {
		return false
	}
	return !p.IsSmallOrder() && c.IsCanonicalVartime()
}
