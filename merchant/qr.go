// Package merchant holds what a merchant wallet collects with: the QR
// payloads of its collection codes, payment requests (dynamic codes paid
// at most once) and their refunds. It is pure domain code: no database,
// no HTTP; its records are kept behind Store (merchantsql).
package merchant

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	tongbao "github.com/tongbao/tongbao"
)

// Limits of a collection code's payload and fields, from the EMVCo
// merchant-presented QR specification where it sets one.
const (
	PayloadMax          = 512 // characters of a whole payload
	FieldMax            = 99  // characters of one field's value: the length has two digits
	MerchantCategoryLen = 4   // digits of an ISO 18245 code
	MerchantNameMax     = 25  // characters
	MerchantCityMax     = 15  // characters
	LocalNameMax        = 25  // characters
	LocalCityMax        = 15  // characters
	OrderIDMax          = 25  // characters of the bill number field
	AmountTextMax       = 13  // characters of the amount field
	ExpiresUnixMax      = 9999999999
)

// GloballyUniqueID names tongbao in the templates it owns (the merchant
// account information template and the payment-system template of the
// additional data), so a reader can tell them from other networks'.
const GloballyUniqueID = "cn.tongbao"

// Language is the language of the alternate-language template: the
// merchant's name and city in Chinese characters.
const Language = "ZH"

// Fixed values of every tongbao collection code.
const (
	payloadFormat   = "01"
	currencyNumeric = "156" // ISO 4217 numeric code of CNY
	countryCode     = "CN"
)

// Tags of the top-level data objects, and of the sub-fields of the
// templates.
const (
	tagPayloadFormat    = "00"
	tagInitiation       = "01"
	tagAccount          = "26"
	tagMerchantCategory = "52"
	tagCurrency         = "53"
	tagAmount           = "54"
	tagCountry          = "58"
	tagMerchantName     = "59"
	tagMerchantCity     = "60"
	tagAdditional       = "62"
	tagCRC              = "63"
	tagLocal            = "64"

	subGUI      = "00" // in 26 and in the template 50 of 62
	subWallet   = "01" // in 26
	subOperator = "02" // in 26
	subOrderID  = "01" // in 62: the bill number
	subTongbao  = "50" // in 62: tongbao's payment-system template
	subExpires  = "01" // in the template 50 of 62
	subLanguage = "00" // in 64
	subName     = "01" // in 64
	subCity     = "02" // in 64
)

// Kind tells a static collection code, printed once and paid many times
// with an amount the payer enters, from a dynamic one, made for one order
// with its amount and expiry fixed by the merchant.
type Kind uint8

// The kinds of collection code.
const (
	Static  Kind = 1
	Dynamic Kind = 2
)

// String names the kind: "static" or "dynamic".
func (k Kind) String() string {
	switch k {
	case Static:
		return "static"
	case Dynamic:
		return "dynamic"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// initiation is the EMVCo point of initiation method of the kind.
func (k Kind) initiation() string {
	if k == Dynamic {
		return "12"
	}
	return "11"
}

// CollectionCode is what a merchant-presented QR code tells the payer's
// wallet: whom to pay and, for a dynamic code, how much for which order
// until when. The currency is always CNY.
type CollectionCode struct {
	Kind     Kind
	Wallet   tongbao.ID // the merchant wallet that is paid
	Operator tongbao.ID // the operator that keeps that wallet
	// MerchantCategory is the wallet's ISO 18245 merchant category code.
	MerchantCategory string
	// Amount, OrderID and ExpiresAt belong to dynamic codes only. ExpiresAt
	// is carried in whole Unix seconds; Encode drops any fraction.
	Amount    tongbao.Amount
	OrderID   string
	ExpiresAt time.Time
	// MerchantName and MerchantCity are printable ASCII, shown as given
	// (pass a masked name to show a masked one).
	MerchantName string
	MerchantCity string
	// LocalName and LocalCity, both optional, are the name and city in
	// Chinese characters (any printable Unicode); a city needs a name.
	LocalName string
	LocalCity string
}

func invalid(format string, args ...any) error {
	return tongbao.Errorf(tongbao.EINVALID, "collection code: "+format, args...)
}

// Validate reports whether c can be encoded, with an EINVALID error that
// names the first field that cannot.
func (c CollectionCode) Validate() error {
	if c.Kind != Static && c.Kind != Dynamic {
		return invalid("kind must be static or dynamic")
	}
	if c.Wallet.IsZero() {
		return invalid("wallet id is missing")
	}
	if c.Operator.IsZero() {
		return invalid("operator id is missing")
	}
	if len(c.MerchantCategory) != MerchantCategoryLen || !numeric(c.MerchantCategory) {
		return invalid("merchant category code must be %d digits", MerchantCategoryLen)
	}
	if err := checkText("merchant name", c.MerchantName, MerchantNameMax, true); err != nil {
		return err
	}
	if err := checkText("merchant city", c.MerchantCity, MerchantCityMax, true); err != nil {
		return err
	}
	if err := checkLocal("local name", c.LocalName, LocalNameMax); err != nil {
		return err
	}
	if err := checkLocal("local city", c.LocalCity, LocalCityMax); err != nil {
		return err
	}
	if c.LocalCity != "" && c.LocalName == "" {
		return invalid("a local city needs a local name")
	}
	if c.Kind == Static {
		if c.Amount != 0 {
			return invalid("a static code carries no amount: the payer enters it")
		}
		if c.OrderID != "" || !c.ExpiresAt.IsZero() {
			return invalid("a static code carries no order id and no expiry")
		}
		return nil
	}
	if c.Amount <= 0 {
		return invalid("a dynamic code needs an amount above zero")
	}
	if len(c.Amount.String()) > AmountTextMax {
		return invalid("amount %s is longer than %d characters", c.Amount, AmountTextMax)
	}
	if c.OrderID == "" {
		return invalid("a dynamic code needs an order id")
	}
	if err := checkText("order id", c.OrderID, OrderIDMax, false); err != nil {
		return err
	}
	if c.ExpiresAt.IsZero() {
		return invalid("a dynamic code needs an expiry")
	}
	if u := c.ExpiresAt.Unix(); u < 1 || u > ExpiresUnixMax {
		return invalid("expiry %d is not a Unix time of 1 to 10 digits", u)
	}
	return nil
}

// checkText checks a field of the EMVCo common character set: printable
// ASCII. Spaces at the ends are refused so a value reads back the same.
func checkText(name, s string, max int, required bool) error {
	if s == "" {
		if required {
			return invalid("%s is missing", name)
		}
		return nil
	}
	if len(s) > max {
		return invalid("%s is longer than %d characters", name, max)
	}
	if !printableASCII(s) {
		return invalid("%s may hold only printable ASCII", name)
	}
	if strings.TrimSpace(s) != s {
		return invalid("%s may not start or end with a space", name)
	}
	return nil
}

// checkLocal checks an optional alternate-language field: printable UTF-8.
func checkLocal(name, s string, max int) error {
	if s == "" {
		return nil
	}
	if !utf8.ValidString(s) {
		return invalid("%s is not UTF-8", name)
	}
	if utf8.RuneCountInString(s) > max {
		return invalid("%s is longer than %d characters", name, max)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return invalid("%s may hold only printable characters", name)
		}
	}
	if strings.TrimSpace(s) != s {
		return invalid("%s may not start or end with a space", name)
	}
	return nil
}

func numeric(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Encode returns the QR payload of c: EMVCo merchant-presented TLV fields
// in ascending tag order, closed by the CRC field. It returns an EINVALID
// error if c is not valid.
func Encode(c CollectionCode) (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	var b strings.Builder
	put := func(tag, value string) {
		n := utf8.RuneCountInString(value)
		if n > FieldMax {
			panic(fmt.Sprintf("merchant: field %s of %d characters passed validation", tag, n))
		}
		fmt.Fprintf(&b, "%s%02d%s", tag, n, value)
	}
	sub := func(pairs ...string) string {
		var t strings.Builder
		for i := 0; i < len(pairs); i += 2 {
			if pairs[i+1] != "" {
				fmt.Fprintf(&t, "%s%02d%s", pairs[i], utf8.RuneCountInString(pairs[i+1]), pairs[i+1])
			}
		}
		return t.String()
	}
	put(tagPayloadFormat, payloadFormat)
	put(tagInitiation, c.Kind.initiation())
	put(tagAccount, sub(subGUI, GloballyUniqueID, subWallet, c.Wallet.String(), subOperator, c.Operator.String()))
	put(tagMerchantCategory, c.MerchantCategory)
	put(tagCurrency, currencyNumeric)
	if c.Kind == Dynamic {
		put(tagAmount, c.Amount.String())
	}
	put(tagCountry, countryCode)
	put(tagMerchantName, c.MerchantName)
	put(tagMerchantCity, c.MerchantCity)
	if c.Kind == Dynamic {
		expires := strconv.FormatInt(c.ExpiresAt.Unix(), 10)
		put(tagAdditional, sub(subOrderID, c.OrderID, subTongbao, sub(subGUI, GloballyUniqueID, subExpires, expires)))
	}
	if c.LocalName != "" {
		put(tagLocal, sub(subLanguage, Language, subName, c.LocalName, subCity, c.LocalCity))
	}
	b.WriteString(tagCRC + "04")
	fmt.Fprintf(&b, "%04X", CRC16(b.String()))
	payload := b.String()
	if n := utf8.RuneCountInString(payload); n > PayloadMax {
		panic(fmt.Sprintf("merchant: payload of %d characters passed validation", n))
	}
	return payload, nil
}

// CRC16 returns the CRC-16/CCITT-FALSE of s (polynomial 0x1021, initial
// value 0xFFFF, no reflection, no final xor): the checksum EMVCo puts in
// field 63, computed over the payload up to and including "6304".
func CRC16(s string) uint16 {
	crc := uint16(0xFFFF)
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for bit := 0; bit < 8; bit++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// field is one data object of a payload or of a template.
type field struct {
	tag, value string
}

// parseTLV splits s into its data objects. A length counts characters, as
// EMVCo's does, so a UTF-8 value of the alternate-language template is
// read by its characters; s must already be valid UTF-8. A tag may appear
// once.
func parseTLV(where, s string) ([]field, error) {
	var fields []field
	seen := map[string]bool{}
	for i := 0; i < len(s); {
		if len(s)-i < 4 || !numeric(s[i:i+4]) {
			return nil, invalid("%s: data object at character %d has no two-digit tag and length", where, i)
		}
		tag := s[i : i+2]
		n, _ := strconv.Atoi(s[i+2 : i+4])
		i += 4
		start := i
		for k := 0; k < n; k++ {
			if i >= len(s) {
				return nil, invalid("%s: field %s of length %d runs past the end", where, tag, n)
			}
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
		}
		if n == 0 {
			return nil, invalid("%s: field %s is empty", where, tag)
		}
		if seen[tag] {
			return nil, invalid("%s: field %s appears twice", where, tag)
		}
		seen[tag] = true
		fields = append(fields, field{tag, s[start:i]})
	}
	return fields, nil
}

// Decode reads a collection code from a QR payload. It refuses, with an
// EINVALID error that says why, anything that Encode would not write the
// same way in substance: a bad checksum or length, a missing mandatory
// field, a field tongbao does not support, an amount that is not a
// positive decimal with at most two fraction digits, a dynamic code
// without amount, order id or expiry, a static code with any of them, and
// text outside the character set of its field. Other networks'
// merchant account templates (02–25, 27–51) and the unreserved templates
// (80–99) are skipped, so one printed code may serve several networks.
func Decode(payload string) (CollectionCode, error) {
	c, err := decode(payload)
	if err != nil {
		return CollectionCode{}, err
	}
	return c, nil
}

func decode(payload string) (CollectionCode, error) {
	var c CollectionCode
	if len(payload) > PayloadMax*utf8.UTFMax || utf8.RuneCountInString(payload) > PayloadMax {
		return c, invalid("payload is longer than %d characters", PayloadMax)
	}
	if !utf8.ValidString(payload) {
		return c, invalid("payload is not UTF-8")
	}
	if len(payload) < 8 || payload[len(payload)-8:len(payload)-4] != tagCRC+"04" {
		return c, invalid("payload does not end with the checksum field 6304")
	}
	sum, err := strconv.ParseUint(payload[len(payload)-4:], 16, 16)
	if err != nil {
		return c, invalid("checksum %q is not four hexadecimal digits", payload[len(payload)-4:])
	}
	if want := CRC16(payload[:len(payload)-4]); uint16(sum) != want {
		return c, invalid("checksum %04X does not match the payload (%04X)", sum, want)
	}
	fields, err := parseTLV("payload", payload)
	if err != nil {
		return c, err
	}
	if fields[0].tag != tagPayloadFormat || fields[0].value != payloadFormat {
		return c, invalid("payload does not start with the payload format indicator 000201")
	}
	if fields[len(fields)-1].tag != tagCRC {
		return c, invalid("checksum field 63 is not the last")
	}
	got := map[string]string{}
	for _, f := range fields {
		got[f.tag] = f.value
		if f.tag != tagLocal && !printableASCII(f.value) {
			return c, invalid("field %s may hold only printable ASCII", f.tag)
		}
		switch t, _ := strconv.Atoi(f.tag); {
		case f.tag == tagPayloadFormat, f.tag == tagInitiation, f.tag == tagAccount,
			f.tag == tagMerchantCategory, f.tag == tagCurrency, f.tag == tagAmount,
			f.tag == tagCountry, f.tag == tagMerchantName, f.tag == tagMerchantCity,
			f.tag == tagAdditional, f.tag == tagCRC, f.tag == tagLocal:
		case t >= 2 && t <= 51, t >= 80:
			// another network's account, or an unreserved template: not ours
		default:
			return c, invalid("field %s is not supported", f.tag)
		}
	}
	for _, tag := range []string{tagInitiation, tagAccount, tagMerchantCategory, tagCurrency, tagCountry, tagMerchantName, tagMerchantCity} {
		if _, ok := got[tag]; !ok {
			return c, invalid("mandatory field %s is missing", tag)
		}
	}
	switch got[tagInitiation] {
	case Static.initiation():
		c.Kind = Static
	case Dynamic.initiation():
		c.Kind = Dynamic
	default:
		return c, invalid("point of initiation %q is neither 11 (static) nor 12 (dynamic)", got[tagInitiation])
	}
	if got[tagCurrency] != currencyNumeric {
		return c, invalid("currency %q is not supported: only 156 (CNY)", got[tagCurrency])
	}
	if got[tagCountry] != countryCode {
		return c, invalid("country %q is not supported: only CN", got[tagCountry])
	}
	if err := decodeAccount(&c, got[tagAccount]); err != nil {
		return c, err
	}
	c.MerchantCategory = got[tagMerchantCategory]
	c.MerchantName = got[tagMerchantName]
	c.MerchantCity = got[tagMerchantCity]
	if s, ok := got[tagAmount]; ok {
		if c.Kind == Static {
			return c, invalid("a static code carries no amount: the payer enters it")
		}
		if c.Amount, err = decodeAmount(s); err != nil {
			return c, err
		}
	}
	if s, ok := got[tagAdditional]; ok {
		if c.Kind == Static {
			return c, invalid("a static code carries no order id and no expiry")
		}
		if err := decodeAdditional(&c, s); err != nil {
			return c, err
		}
	}
	if s, ok := got[tagLocal]; ok {
		if err := decodeLocal(&c, s); err != nil {
			return c, err
		}
	}
	return c, c.Validate()
}

func decodeAccount(c *CollectionCode, s string) error {
	fields, err := parseTLV("merchant account template 26", s)
	if err != nil {
		return err
	}
	got := map[string]string{}
	for _, f := range fields {
		if f.tag != subGUI && f.tag != subWallet && f.tag != subOperator {
			return invalid("merchant account template 26: field %s is not supported", f.tag)
		}
		got[f.tag] = f.value
	}
	if got[subGUI] != GloballyUniqueID {
		return invalid("merchant account template 26 is not tongbao's (%q)", got[subGUI])
	}
	if c.Wallet, err = decodeID("wallet", got[subWallet]); err != nil {
		return err
	}
	if c.Operator, err = decodeID("operator", got[subOperator]); err != nil {
		return err
	}
	return nil
}

// decodeID reads an id in its 36-character UUID form only, so that every
// accepted payload has one spelling of its ids (lower-case hex).
func decodeID(name, s string) (tongbao.ID, error) {
	id, err := tongbao.ParseID(s)
	if err != nil || len(s) != 36 || id.String() != s {
		return tongbao.ID{}, invalid("%s id %q is not a lower-case UUID", name, s)
	}
	if id.IsZero() {
		return tongbao.ID{}, invalid("%s id is zero", name)
	}
	return id, nil
}

func decodeAmount(s string) (tongbao.Amount, error) {
	if len(s) > AmountTextMax || strings.Trim(s, "0123456789.") != "" {
		return 0, invalid("amount %q is not a decimal of at most %d characters", s, AmountTextMax)
	}
	a, err := tongbao.ParseAmount(s)
	if err != nil {
		return 0, invalid("amount %q is not a decimal with at most two fraction digits", s)
	}
	if a <= 0 {
		return 0, invalid("amount %q is not above zero", s)
	}
	return a, nil
}

func decodeAdditional(c *CollectionCode, s string) error {
	fields, err := parseTLV("additional data template 62", s)
	if err != nil {
		return err
	}
	for _, f := range fields {
		switch f.tag {
		case subOrderID:
			c.OrderID = f.value
		case subTongbao:
			if err := decodeTongbaoData(c, f.value); err != nil {
				return err
			}
		default:
			return invalid("additional data template 62: field %s is not supported", f.tag)
		}
	}
	return nil
}

func decodeTongbaoData(c *CollectionCode, s string) error {
	fields, err := parseTLV("additional data template 62, template 50", s)
	if err != nil {
		return err
	}
	got := map[string]string{}
	for _, f := range fields {
		if f.tag != subGUI && f.tag != subExpires {
			return invalid("additional data template 62, template 50: field %s is not supported", f.tag)
		}
		got[f.tag] = f.value
	}
	if got[subGUI] != GloballyUniqueID {
		return invalid("additional data template 62, template 50 is not tongbao's (%q)", got[subGUI])
	}
	e := got[subExpires]
	if e == "" || len(e) > 10 || !numeric(e) || e[0] == '0' {
		return invalid("expiry %q is not a Unix time of 1 to 10 digits", e)
	}
	u, _ := strconv.ParseInt(e, 10, 64)
	c.ExpiresAt = time.Unix(u, 0).UTC()
	return nil
}

func decodeLocal(c *CollectionCode, s string) error {
	fields, err := parseTLV("language template 64", s)
	if err != nil {
		return err
	}
	got := map[string]string{}
	for _, f := range fields {
		if f.tag != subLanguage && f.tag != subName && f.tag != subCity {
			return invalid("language template 64: field %s is not supported", f.tag)
		}
		got[f.tag] = f.value
	}
	if got[subLanguage] != Language {
		return invalid("language template 64: language %q is not supported: only ZH", got[subLanguage])
	}
	if got[subName] == "" {
		return invalid("language template 64: the name is missing")
	}
	c.LocalName, c.LocalCity = got[subName], got[subCity]
	return nil
}
