package merchant

import (
	qrcode "github.com/skip2/go-qrcode"

	tongbao "github.com/tongbao/tongbao"
)

// Limits of a rendered collection code, in pixels a side.
const (
	PNGSizeMin = 128 // below this a phone camera struggles with a full payload
	PNGSizeMax = 2048
)

// PNGRecovery is the error correction level of rendered codes: medium,
// which restores up to 15% of the symbol, enough for a scuffed counter
// sticker without making the modules too small for a cheap camera.
const PNGRecovery = qrcode.Medium

// PNG renders payload as a QR code in a square PNG image of at most sizePx
// pixels a side (a whole number of pixels per module, so at least the
// symbol's modules). It renders only payloads that Decode accepts, so a server never
// prints a code no wallet can pay, and returns an EINVALID error for any
// other, or for a size outside PNGSizeMin to PNGSizeMax.
func PNG(payload string, sizePx int) ([]byte, error) {
	if sizePx < PNGSizeMin || sizePx > PNGSizeMax {
		return nil, tongbao.Errorf(tongbao.EINVALID, "collection code: image size must be %d to %d pixels", PNGSizeMin, PNGSizeMax)
	}
	if _, err := Decode(payload); err != nil {
		return nil, err
	}
	q, err := qrcode.New(payload, PNGRecovery)
	if err == nil {
		// Every module gets the same whole number of pixels, as many as
		// fit: modules of uneven widths (a symbol scaled to any size)
		// are what readers misjudge. The image is then at most sizePx.
		modules := len(q.Bitmap()) // with the quiet zone
		var png []byte
		if png, err = q.PNG(-max(1, sizePx/modules)); err == nil {
			return png, nil
		}
	}
	return nil, &tongbao.Error{Code: tongbao.EINTERNAL, Message: "collection code: rendering failed", Err: err}
}
