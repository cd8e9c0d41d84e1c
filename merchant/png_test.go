package merchant_test

import (
	"bytes"
	"image/png"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	tongbao "github.com/tongbao/tongbao"
	"github.com/tongbao/tongbao/merchant"
)

// readQR decodes the QR code in a PNG image with an independent reader.
func readQR(tb testing.TB, image []byte) string {
	tb.Helper()
	img, err := png.Decode(bytes.NewReader(image))
	if err != nil {
		tb.Fatalf("png.Decode: %v", err)
	}
	bitmap, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		tb.Fatal(err)
	}
	hints := map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_CHARACTER_SET: "UTF-8",
		// The image is the symbol alone, as rendered: read it as such
		// (finding a symbol in a photo is the camera app's part).
		gozxing.DecodeHintType_PURE_BARCODE: true}
	result, err := qrcode.NewQRCodeReader().Decode(bitmap, hints)
	if err != nil {
		tb.Fatalf("reading the QR code: %v", err)
	}
	return result.GetText()
}

func TestPNGReadsBack(t *testing.T) {
	longest := merchant.CollectionCode{Kind: merchant.Dynamic, Wallet: mustID(t, walletText), Operator: mustID(t, operatorText),
		MerchantCategory: "5812", Amount: 999999999999, OrderID: strings.Repeat("O", 25), ExpiresAt: dynamicCode(t).ExpiresAt,
		MerchantName: strings.Repeat("N", 25), MerchantCity: strings.Repeat("C", 15), LocalName: strings.Repeat("面", 25), LocalCity: strings.Repeat("海", 15)}
	longestPayload, err := merchant.Encode(longest)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		payload string
		size    int
	}{
		{"static with a Chinese name", exampleStatic, 256},
		{"dynamic", exampleDynamic, 512},
		{"every field at its longest, smallest image", longestPayload, merchant.PNGSizeMin},
	} {
		t.Run(tt.name, func(t *testing.T) {
			image, err := merchant.PNG(tt.payload, tt.size)
			if err != nil {
				t.Fatal(err)
			}
			if got := readQR(t, image); got != tt.payload {
				t.Errorf("read %q; want %q", got, tt.payload)
			}
		})
	}
}

func TestPNGRefuses(t *testing.T) {
	for _, tt := range []struct {
		name    string
		payload string
		size    int
	}{
		{"not a collection code", "https://example.com/", 256},
		{"too small", exampleStatic, merchant.PNGSizeMin - 1},
		{"too large", exampleStatic, merchant.PNGSizeMax + 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := merchant.PNG(tt.payload, tt.size)
			if code := tongbao.ErrorCode(err); code != tongbao.EINVALID {
				t.Errorf("error %v (code %q); want %q", err, code, tongbao.EINVALID)
			}
		})
	}
}
