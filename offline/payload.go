package offline

import (
	"encoding/binary"
	"fmt"
	"strings"

	tongbao "github.com/tongbao/tongbao"
)

// How a token travels between two devices with no network: as the text
// of a QR code, or as an NFC record.
//
// The QR text is "TB1:" then the token in base45 (RFC 9285), as the EU
// digital COVID certificates carry their COSE: base45 uses only the
// characters of a QR code's alphanumeric mode, which packs them at 5.5
// bits each. There is no compression: a token is mostly a signature and
// a key, which do not compress.
//
// The NFC form is one NDEF record (NFC Forum NDEF 1.0) of media type
// TypeToken whose payload is the token's bytes.

// QRPrefix starts the QR text of a token.
const QRPrefix = "TB1:"

// ErrPayload refuses a QR text or NFC record that does not carry a token.
var ErrPayload = tongbao.Sentinel(tongbao.EINVALID, "offline-malformed", "not a tongbao offline payload")

const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// EncodeQR returns the QR text of a token.
func EncodeQR(raw []byte) string {
	var b strings.Builder
	b.Grow(len(QRPrefix) + (len(raw)+1)/2*3)
	b.WriteString(QRPrefix)
	for i := 0; i+1 < len(raw); i += 2 {
		n := int(raw[i])<<8 | int(raw[i+1])
		b.WriteByte(base45Alphabet[n%45])
		b.WriteByte(base45Alphabet[n/45%45])
		b.WriteByte(base45Alphabet[n/2025])
	}
	if len(raw)%2 == 1 {
		n := int(raw[len(raw)-1])
		b.WriteByte(base45Alphabet[n%45])
		b.WriteByte(base45Alphabet[n/45])
	}
	return b.String()
}

// DecodeQR returns the token in a QR text. It refuses a text that is not
// the one encoding of some bytes (a value past a group's range), so
// EncodeQR(DecodeQR(s)) == s.
func DecodeQR(s string) ([]byte, error) {
	body, ok := strings.CutPrefix(s, QRPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: the text does not start with %s", ErrPayload, QRPrefix)
	}
	if len(body)%3 == 1 || len(body) > 3*TokenSizeMax {
		return nil, fmt.Errorf("%w: base45 of a wrong length", ErrPayload)
	}
	out := make([]byte, 0, len(body)/3*2+1)
	for i := 0; i < len(body); i += 3 {
		end := min(i+3, len(body))
		n, mul := 0, 1
		for _, c := range []byte(body[i:end]) {
			v := strings.IndexByte(base45Alphabet, c)
			if v < 0 {
				return nil, fmt.Errorf("%w: %q is not a base45 character", ErrPayload, c)
			}
			n += v * mul
			mul *= 45
		}
		if end-i == 3 {
			if n > 0xffff {
				return nil, fmt.Errorf("%w: a base45 group out of range", ErrPayload)
			}
			out = append(out, byte(n>>8), byte(n))
			continue
		}
		if n > 0xff {
			return nil, fmt.Errorf("%w: a base45 group out of range", ErrPayload)
		}
		out = append(out, byte(n))
	}
	return out, nil
}

// NDEF header bits.
const (
	ndefMB    = 0x80 // message begin
	ndefME    = 0x40 // message end
	ndefSR    = 0x10 // short record: a one-byte payload length
	ndefMedia = 0x02 // TNF: a media type (RFC 2046)
)

// EncodeNFC returns a token as a one-record NDEF message.
func EncodeNFC(raw []byte) []byte {
	typ := []byte(TypeToken)
	out := []byte{ndefMB | ndefME | ndefMedia, byte(len(typ))}
	if len(raw) < 256 {
		out[0] |= ndefSR
		out = append(out, byte(len(raw)))
	} else {
		out = binary.BigEndian.AppendUint32(out, uint32(len(raw)))
	}
	out = append(out, typ...)
	return append(out, raw...)
}

// DecodeNFC returns the token in a one-record NDEF message.
func DecodeNFC(msg []byte) ([]byte, error) {
	if len(msg) < 3 || msg[0]&0x07 != ndefMedia || msg[0]&(ndefMB|ndefME) != ndefMB|ndefME || msg[0]&0x08 != 0 {
		return nil, fmt.Errorf("%w: not a one-record NDEF message of a media type", ErrPayload)
	}
	typeLen, rest := int(msg[1]), msg[2:]
	var n int
	if msg[0]&ndefSR != 0 {
		n, rest = int(rest[0]), rest[1:]
	} else {
		if len(rest) < 4 {
			return nil, ErrPayload
		}
		n, rest = int(binary.BigEndian.Uint32(rest)), rest[4:]
	}
	if len(rest) != typeLen+n || string(rest[:typeLen]) != TypeToken || n > TokenSizeMax {
		return nil, fmt.Errorf("%w: the record is not a token", ErrPayload)
	}
	return rest[typeLen:], nil
}
