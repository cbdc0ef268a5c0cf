// Package csvrow formats CSV cells: numbers in their shortest exact decimal form, text per
// RFC 4180 with the spreadsheet formula-injection guard. It owns the SPEC's "Values" rule.
package csvrow

import (
	"bytes"
	"strconv"
)

// AppendNumber appends v in the shortest decimal form that reads back to the same float64,
// never in exponent form: 0.0 → "0", 2.0 → "2", 353234363435 → "353234363435".
func AppendNumber(b []byte, v float64) []byte {
	if v == 0 {
		return append(b, '0') // also turns -0 into 0
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// AppendText appends a text cell. A leading = + - @ tab or CR gets a ' so that a spreadsheet
// shows the text instead of running it as a formula; a comma, quote or line break makes the
// cell quoted, with quotes doubled.
func AppendText(b []byte, s []byte) []byte {
	guard := len(s) > 0 && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r')
	if !bytes.ContainsAny(s, ",\"\r\n") {
		if guard {
			b = append(b, '\'')
		}
		return append(b, s...)
	}
	b = append(b, '"')
	if guard {
		b = append(b, '\'')
	}
	for _, c := range s {
		if c == '"' {
			b = append(b, '"')
		}
		b = append(b, c)
	}
	return append(b, '"')
}

// Header is a header line from column names.
func Header(names []string) []byte {
	var b []byte
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendText(b, []byte(n))
	}
	return append(b, '\n')
}
