package tasmota

import (
	"bytes"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
	"github.com/mqtttocsv/mqtttocsv/internal/wall"
)

// Decoder reads Tasmota SENSOR payloads. It is a small scanner written for this one shape
// (an object with "Time" and the meter object of flat values), chosen over encoding/json
// by measurement: it decodes a message in one pass without allocating, and it refuses one
// bad value without losing the rest of the message. It still checks the whole payload is
// valid JSON. A Decoder is not safe for concurrent use.
type Decoder struct {
	Meter      []byte
	Schema     *Schema
	Location   *time.Location // for epoch-seconds Time (Tasmota "Time 3")
	MaxPayload int

	buf     []byte // the payload being read
	pos     int
	scratch []byte // unescaped strings
	stack   []byte // nesting while skipping values

	// The last ISO Time read and its value: a meter sends many messages per second, all
	// with the same Time.
	lastTimeText []byte
	lastTime     wall.Time
}

// NewDecoder returns a decoder for the meter name and columns.
func NewDecoder(meter string, schema *Schema, loc *time.Location, maxPayload int) *Decoder {
	return &Decoder{Meter: []byte(meter), Schema: schema, Location: loc, MaxPayload: maxPayload}
}

type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

var (
	errEOF       = &syntaxError{"the JSON ends too early"}
	errSyntax    = &syntaxError{"invalid JSON"}
	errControl   = &syntaxError{"a control character inside a JSON string"}
	errEscape    = &syntaxError{"an invalid escape inside a JSON string"}
	errTrailing  = &syntaxError{"text after the JSON object"}
	errNotObject = &syntaxError{"the payload is not a JSON object"}
)

// Decode reads payload into r (reset first). A refused message returns a *refusal.Error;
// refused values of a usable message are listed in r.Skips.
func (d *Decoder) Decode(payload []byte, r *Reading) error {
	r.Reset()
	if d.MaxPayload > 0 && len(payload) > d.MaxPayload {
		return refusal.New(refusal.TooLarge, "payload of %d bytes is over max_payload (%d)", len(payload), d.MaxPayload)
	}
	d.buf, d.pos = payload, 0
	err := d.decode(r)
	d.buf = nil // not a defer: decode has too many returns for an open-coded one
	return err
}

func (d *Decoder) decode(r *Reading) error {
	haveTime, haveMeter := false, false
	var timeErr *refusal.Error
	var meterErr string

	d.ws()
	if d.pos >= len(d.buf) {
		return refusal.New(refusal.NotJSON, "empty payload")
	}
	if d.buf[d.pos] != '{' {
		if bytes.HasPrefix(d.buf[d.pos:], []byte("\xef\xbb\xbf")) {
			return refusal.New(refusal.NotJSON, "the payload starts with a byte order mark")
		}
		return refusal.New(refusal.NotJSON, "%s", errNotObject.msg)
	}
	d.pos++
	first := true
	for {
		d.ws()
		if d.pos >= len(d.buf) {
			return notJSON(errEOF)
		}
		if d.buf[d.pos] == '}' {
			d.pos++
			break
		}
		if !first {
			if d.buf[d.pos] != ',' {
				return notJSON(errSyntax)
			}
			d.pos++
			d.ws()
		}
		first = false
		key, err := d.key()
		if err != nil {
			return notJSON(err)
		}
		switch {
		case string(key) == "Time":
			haveTime = true
			timeErr = nil
			if err := d.timeValue(r, &timeErr); err != nil {
				return notJSON(err)
			}
		case bytes.Equal(key, d.Meter):
			if d.peek() != '{' {
				meterErr = "meter object \"" + string(d.Meter) + "\" is not an object"
				if err := d.skip(); err != nil {
					return notJSON(err)
				}
				continue
			}
			haveMeter = true
			if err := d.meter(r); err != nil {
				return notJSON(err)
			}
		default:
			if err := d.skip(); err != nil {
				return notJSON(err)
			}
		}
	}
	d.ws()
	if d.pos != len(d.buf) {
		return notJSON(errTrailing)
	}
	if !haveMeter {
		if meterErr != "" {
			return refusal.New(refusal.NoMeter, "%s", meterErr)
		}
		return refusal.New(refusal.NoMeter, "no meter object %q", d.Meter)
	}
	if !haveTime {
		return refusal.New(refusal.BadTime, "no Time")
	}
	if timeErr != nil {
		return timeErr
	}
	if r.Set == 0 && !r.Summary {
		return refusal.New(refusal.NoValues, "the meter object has no usable value")
	}
	return nil
}

func notJSON(err error) error {
	if se, ok := err.(*syntaxError); ok {
		return refusal.New(refusal.NotJSON, "%s", se.msg)
	}
	return err
}

func (d *Decoder) ws() {
	if d.pos < len(d.buf) && d.buf[d.pos] > ' ' {
		return // the common case: compact JSON
	}
	d.wsSlow()
}

func (d *Decoder) wsSlow() {
	for d.pos < len(d.buf) {
		switch d.buf[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *Decoder) peek() byte {
	if d.pos < len(d.buf) {
		return d.buf[d.pos]
	}
	return 0
}

// key reads `"name"` and the colon after it, with whitespace around.
func (d *Decoder) key() ([]byte, error) {
	if d.peek() != '"' {
		return nil, errSyntax
	}
	k, err := d.str()
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.peek() != ':' {
		return nil, errSyntax
	}
	d.pos++
	d.ws()
	return k, nil
}

// str reads a JSON string at d.pos and returns its content: a slice of the payload when it
// has no escapes, else the unescaped text in d.scratch (valid until the next str call).
func (d *Decoder) str() ([]byte, error) {
	b := d.buf
	start := d.pos + 1 // after the opening quote
	for i := start; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			d.pos = i + 1
			return b[start:i], nil
		}
		if c == '\\' || c < 0x20 {
			break // escapes and errors: strSlow
		}
	}
	return d.strSlow()
}

// strSlow is str for strings with escapes, and for errors.
func (d *Decoder) strSlow() ([]byte, error) {
	d.pos++ // opening quote
	start := d.pos
	escaped := false
	for {
		if d.pos >= len(d.buf) {
			return nil, errEOF
		}
		c := d.buf[d.pos]
		switch {
		case c == '"':
			raw := d.buf[start:d.pos]
			d.pos++
			if !escaped {
				return raw, nil
			}
			return d.unescape(raw)
		case c == '\\':
			escaped = true
			d.pos += 2
		case c < 0x20:
			return nil, errControl
		default:
			d.pos++
		}
	}
}

func (d *Decoder) unescape(raw []byte) ([]byte, error) {
	out := d.scratch[:0]
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(raw) {
			return nil, errEscape
		}
		switch raw[i] {
		case '"', '\\', '/':
			out = append(out, raw[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(raw[i+1:])
			if !ok {
				return nil, errEscape
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					if v, ok := hex4(raw[i+3:]); ok {
						r2 = v
					}
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, errEscape
		}
	}
	d.scratch = out
	return out, nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// number checks the JSON number grammar at d.pos and returns its text.
func (d *Decoder) number() ([]byte, error) {
	start := d.pos
	b := d.buf
	i := d.pos
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return nil, errSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return nil, errSyntax
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return nil, errSyntax
		}
	}
	d.pos = i
	return b[start:i], nil
}

// word reads a bare word (true, false, null, or the NaN/Infinity some firmwares print).
func (d *Decoder) word() []byte {
	start := d.pos
	if d.pos < len(d.buf) && d.buf[d.pos] == '-' {
		d.pos++
	}
	for d.pos < len(d.buf) {
		c := d.buf[d.pos]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			d.pos++
			continue
		}
		break
	}
	return d.buf[start:d.pos]
}

// nonFinite lists the words some firmwares write for a failed reading: they refuse that
// value only, so the rest of the message is kept.
func nonFinite(w []byte) bool {
	switch string(w) {
	case "NaN", "nan", "Infinity", "-Infinity", "inf", "-inf", "Inf", "-Inf":
		return true
	}
	return false
}

// literal reads JSON number text as mant × 10^exp when it is a plain decimal (no exponent
// part) of at most 15 significant digits and at most 300 decimals; mant has no trailing
// zero, and zero is 0 × 10^0. Such a decimal is exactly the shortest form of the float64
// it parses to (float64 tells apart every decimal of 15 significant digits, in its normal
// range), so it is the decimal the sums would get from formatting that float64.
func literal(text []byte) (mant int64, exp int32, ok bool) {
	i, neg := 0, false
	if len(text) > 0 && text[0] == '-' {
		i, neg = 1, true
	}
	sig, frac, inFrac := 0, 0, false
	for ; i < len(text); i++ {
		c := text[i]
		switch {
		case c >= '0' && c <= '9':
			if inFrac {
				frac++
			}
			if mant == 0 && c == '0' {
				continue // a leading zero
			}
			if sig++; sig > 15 {
				return 0, 0, false
			}
			mant = mant*10 + int64(c-'0')
		case c == '.':
			inFrac = true
		default: // an exponent part
			return 0, 0, false
		}
	}
	if mant == 0 {
		return 0, 0, true
	}
	if frac > 300 {
		return 0, 0, false
	}
	exp = int32(-frac)
	for mant%10 == 0 {
		mant /= 10
		exp++
	}
	if neg {
		mant = -mant
	}
	return mant, exp, true
}

// pow10 are the powers of ten a float64 holds exactly.
var pow10 = [23]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat converts JSON number text without copying it.
func parseFloat(b []byte) (float64, error) {
	return strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
}

// meter reads the meter object of flat attribute values.
func (d *Decoder) meter(r *Reading) error {
	d.pos++ // {
	first := true
	for {
		d.ws()
		if d.pos >= len(d.buf) {
			return errEOF
		}
		if d.buf[d.pos] == '}' {
			d.pos++
			return nil
		}
		if !first {
			if d.buf[d.pos] != ',' {
				return errSyntax
			}
			d.pos++
			d.ws()
		}
		first = false
		name, err := d.key()
		if err != nil {
			return err
		}
		col := d.Schema.Lookup(name)
		if col < 0 {
			r.Skips = append(r.Skips, Skip{Reason: refusal.UnknownAttribute, Name: clip(name), Detail: "not among the columns"})
			if err := d.skip(); err != nil {
				return err
			}
			continue
		}
		if col == ColTS {
			r.Summary = true
		}
		if err := d.value(r, col); err != nil {
			return err
		}
	}
}

// value reads the value of column col into r, or records why it was refused.
func (d *Decoder) value(r *Reading, col int) error {
	c := d.peek()
	switch {
	case c == '-' || c >= '0' && c <= '9':
		if c == '-' && d.pos+1 < len(d.buf) && (d.buf[d.pos+1] == 'I' || d.buf[d.pos+1] == 'i') {
			if !nonFinite(d.word()) {
				return errSyntax
			}
			d.badValue(r, col, "not a finite number")
			return nil
		}
		text, err := d.number()
		if err != nil {
			return err
		}
		mant, exp, ok := literal(text)
		var v float64
		if ok && exp >= -22 && exp <= 22 {
			// strconv's own exact case: mant and 10^|exp| are exact float64s, and one
			// division or product is rounded correctly.
			v = float64(mant)
			if exp < 0 {
				v /= pow10[-exp]
			} else {
				v *= pow10[exp]
			}
		} else if v, err = parseFloat(text); err != nil || math.IsInf(v, 0) {
			d.badValue(r, col, "the number "+clip(text)+" is out of range")
			return nil
		}
		if col == ColTS {
			// A numeric TS is kept as text in the number format of every other value.
			var tmp [32]byte
			r.SetText(appendNumber(tmp[:0], v))
			return nil
		}
		if ok {
			r.SetExact(col, v, mant, exp)
		} else {
			r.SetNum(col, v)
		}
	case c == '"':
		s, err := d.str()
		if err != nil {
			return err
		}
		if col != ColTS {
			d.badValue(r, col, "a string where a number is expected")
			return nil
		}
		if !utf8.Valid(s) {
			d.badValue(r, col, "text that is not valid UTF-8")
			return nil
		}
		r.SetText(s)
	case c == '{' || c == '[':
		if err := d.skip(); err != nil {
			return err
		}
		d.badValue(r, col, "an object or array where a value is expected")
	default:
		w := d.word()
		switch {
		case string(w) == "null" || string(w) == "true" || string(w) == "false":
			d.badValue(r, col, string(w)+" where a value is expected")
		case nonFinite(w):
			d.badValue(r, col, "not a finite number")
		default:
			return errSyntax
		}
	}
	return nil
}

func (d *Decoder) badValue(r *Reading, col int, why string) {
	r.Skips = append(r.Skips, Skip{Reason: refusal.BadValue, Name: d.Schema.Name(col), Detail: why})
}

func appendNumber(b []byte, v float64) []byte {
	if v == 0 {
		return append(b, '0')
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// clip shortens a name for a log line.
func clip(b []byte) string {
	const max = 64
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "…"
	}
	return strconv.Quote(string(b))
}

// skip passes over any JSON value, checking its syntax. It keeps its own stack instead of
// recursing, so deep nesting costs memory in proportion, never a stack overflow.
func (d *Decoder) skip() error {
	stack := d.stack[:0]
	defer func() { d.stack = stack[:0] }()
	for {
		d.ws()
		if d.pos >= len(d.buf) {
			return errEOF
		}
		c := d.buf[d.pos]
		switch {
		case c == '{' || c == '[':
			stack = append(stack, c)
			d.pos++
			d.ws()
			if d.peek() == '}' && c == '{' || d.peek() == ']' && c == '[' {
				d.pos++
				stack = stack[:len(stack)-1]
				break
			}
			if c == '{' {
				if _, err := d.key(); err != nil {
					return err
				}
			}
			continue
		case c == '"':
			if _, err := d.str(); err != nil {
				return err
			}
		case c == '-' || c >= '0' && c <= '9':
			if c == '-' && d.pos+1 < len(d.buf) && (d.buf[d.pos+1] == 'I' || d.buf[d.pos+1] == 'i') {
				if !nonFinite(d.word()) {
					return errSyntax
				}
				break
			}
			if _, err := d.number(); err != nil {
				return err
			}
		default:
			w := d.word()
			if string(w) != "null" && string(w) != "true" && string(w) != "false" && !nonFinite(w) {
				return errSyntax
			}
		}
		// after a value: close containers or expect the next element
		for {
			if len(stack) == 0 {
				return nil
			}
			d.ws()
			if d.pos >= len(d.buf) {
				return errEOF
			}
			top := stack[len(stack)-1]
			c := d.buf[d.pos]
			if top == '{' && c == '}' || top == '[' && c == ']' {
				d.pos++
				stack = stack[:len(stack)-1]
				continue
			}
			if c != ',' {
				return errSyntax
			}
			d.pos++
			d.ws()
			if top == '{' {
				if _, err := d.key(); err != nil {
					return err
				}
			}
			break
		}
	}
}

// timeValue reads Time: an ISO string (optionally with milliseconds or an offset, which are
// dropped: the wall time is kept as sent) or epoch seconds (shown in the configured zone).
func (d *Decoder) timeValue(r *Reading, terr **refusal.Error) error {
	c := d.peek()
	switch {
	case c == '"':
		// The same Time as the last message: compared in place, without scanning the
		// string first (the cached text holds no quote, backslash or control character,
		// so raw bytes equal to it and followed by a quote are that string).
		if n := len(d.lastTimeText); n != 0 {
			if end := d.pos + 1 + n; end < len(d.buf) && d.buf[end] == '"' && string(d.buf[d.pos+1:end]) == string(d.lastTimeText) {
				d.pos = end + 1
				r.Time = d.lastTime
				return nil
			}
		}
		s, err := d.str()
		if err != nil {
			return err
		}
		t, perr := ParseTime(s, d.Location)
		if perr != nil {
			*terr = perr
			return nil
		}
		r.Time = t
		if len(s) >= 19 { // an ISO form, which does not depend on d.Location
			d.lastTimeText = append(d.lastTimeText[:0], s...)
			d.lastTime = t
		}
	case c == '-' || c >= '0' && c <= '9':
		text, err := d.number()
		if err != nil {
			return err
		}
		v, err := parseFloat(text)
		t, perr := epoch(v, err == nil, d.Location)
		if perr != nil {
			*terr = perr
			return nil
		}
		r.Time = t
	default:
		if err := d.skip(); err != nil {
			return err
		}
		*terr = refusal.New(refusal.BadTime, "Time is not a string or a number")
	}
	return nil
}

func epoch(v float64, ok bool, loc *time.Location) (wall.Time, *refusal.Error) {
	// The bounds keep the year within the four digits of the Time column.
	if !ok || math.IsNaN(v) || v < -6e10 || v > 2.5e11 {
		return 0, refusal.New(refusal.BadTime, "epoch Time %v is out of range", v)
	}
	return wall.FromTime(time.Unix(int64(math.Floor(v)), 0).In(loc)), nil
}

// ParseTime reads the Time forms Tasmota sends: "2026-01-14T10:09:40", with a fraction
// ("Time 4"), with "Z" or an offset ("SetOption52"), or epoch seconds as digits.
func ParseTime(s []byte, loc *time.Location) (wall.Time, *refusal.Error) {
	if len(s) > 0 && len(s) <= 12 && allDigits(s) {
		v, err := parseFloat(s)
		return epoch(v, err == nil, loc)
	}
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return 0, refusal.New(refusal.BadTime, "Time %s is not YYYY-MM-DDTHH:MM:SS", clip(s))
	}
	y, ok1 := digits(s[0:4])
	mo, ok2 := digits(s[5:7])
	dd, ok3 := digits(s[8:10])
	h, ok4 := digits(s[11:13])
	mi, ok5 := digits(s[14:16])
	se, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return 0, refusal.New(refusal.BadTime, "Time %s has a non-digit in its date or time", clip(s))
	}
	if y < 1 || mo < 1 || mo > 12 || dd < 1 || dd > wall.DaysIn(y, mo) || h > 23 || mi > 59 || se > 59 {
		return 0, refusal.New(refusal.BadTime, "Time %s is not a valid date and time", clip(s))
	}
	rest := s[19:]
	if len(rest) > 0 && (rest[0] == '.' || rest[0] == ',') {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 1 {
			return 0, refusal.New(refusal.BadTime, "Time %s has an empty fraction", clip(s))
		}
		rest = rest[i:]
	}
	switch {
	case len(rest) == 0:
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case (rest[0] == '+' || rest[0] == '-') && validOffset(rest[1:]):
	default:
		return 0, refusal.New(refusal.BadTime, "Time %s has an unreadable zone offset", clip(s))
	}
	return wall.FromCivil(y, mo, dd, h, mi, se), nil
}

func validOffset(b []byte) bool {
	var hh, mm int
	var ok1, ok2 bool
	switch len(b) {
	case 2:
		hh, ok1 = digits(b)
		ok2 = true
	case 4:
		hh, ok1 = digits(b[:2])
		mm, ok2 = digits(b[2:])
	case 5:
		if b[2] != ':' {
			return false
		}
		hh, ok1 = digits(b[:2])
		mm, ok2 = digits(b[3:])
	default:
		return false
	}
	return ok1 && ok2 && hh <= 14 && mm <= 59
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func allDigits(b []byte) bool {
	_, ok := digits(b)
	return ok
}
