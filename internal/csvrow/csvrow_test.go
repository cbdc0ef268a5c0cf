package csvrow_test

import (
	"bytes"
	"encoding/csv"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/mqtttocsv/mqtttocsv/internal/csvrow"
)

func TestAppendNumber(t *testing.T) {
	a, b := 0.1, 0.2
	point3 := a + b
	tests := []struct {
		in   float64
		want string
	}{
		{0.0, "0"},
		{math.Copysign(0, -1), "0"},
		{2.0, "2"},
		{-2.0, "-2"},
		{1.411, "1.411"},
		{0.512, "0.512"},
		{353234363435, "353234363435"},
		{1e-7, "0.0000001"},
		{-1e-7, "-0.0000001"},
		{1.5e-10, "0.00000000015"},
		{1e21, "1000000000000000000000"},
		{1e22, "10000000000000000000000"},
		{123456789012345678, "123456789012345680"},
		{point3, "0.30000000000000004"}, // a float sum: the aggregate avoids it, not the formatter
		{230.1, "230.1"},
		{math.MaxInt64, "9223372036854776000"},
		{5e-324, "0." + strings.Repeat("0", 323) + "5"},
	}
	for _, tc := range tests {
		got := string(csvrow.AppendNumber(nil, tc.in))
		if got != tc.want {
			t.Errorf("AppendNumber(%v) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.ContainsAny(got, "eE+") {
			t.Errorf("AppendNumber(%v) = %q uses exponent form", tc.in, got)
		}
		back, err := strconv.ParseFloat(got, 64)
		if err != nil || back != tc.in {
			t.Errorf("AppendNumber(%v) = %q reads back as %v, %v", tc.in, got, back, err)
		}
	}
	// appends, does not overwrite
	if got := string(csvrow.AppendNumber([]byte("x,"), 1)); got != "x,1" {
		t.Errorf("append: %q", got)
	}
}

func TestAppendNumberLarge(t *testing.T) {
	got := string(csvrow.AppendNumber(nil, math.MaxFloat64))
	if strings.ContainsAny(got, "eE") || len(got) != 309 {
		t.Errorf("MaxFloat64: %d chars %q", len(got), got)
	}
	if back, _ := strconv.ParseFloat(got, 64); back != math.MaxFloat64 {
		t.Errorf("MaxFloat64 reads back as %v", back)
	}
}

func TestAppendText(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"260114100949W", "260114100949W"},
		{"plain text", "plain text"},
		{"a,b", `"a,b"`},
		{`say "hi"`, `"say ""hi"""`},
		{"two\nlines", "\"two\nlines\""},
		{"cr\rinside", "\"cr\rinside\""},
		{"=1+2", "'=1+2"},
		{"+33", "'+33"},
		{"-1", "'-1"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"\rx", "\"'\rx\""},
		{"=HYPERLINK(\"http://x\",\"y\")", "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""},
		{"a=b", "a=b"},
		{"é€", "é€"},
		{"'quoted", "'quoted"},
	}
	for _, tc := range tests {
		got := string(csvrow.AppendText(nil, []byte(tc.in)))
		if got != tc.want {
			t.Errorf("AppendText(%q) = %q, want %q", tc.in, got, tc.want)
		}
		// RFC 4180: a reader gets the text back (with the guard quote if any)
		r := csv.NewReader(strings.NewReader("k," + got + "\n"))
		r.LazyQuotes = false
		rec, err := r.Read()
		if err != nil {
			t.Errorf("AppendText(%q) = %q does not read back: %v", tc.in, got, err)
			continue
		}
		want := tc.in
		if len(tc.in) > 0 && strings.ContainsRune("=+-@\t\r", rune(tc.in[0])) {
			want = "'" + tc.in
		}
		if len(rec) != 2 || rec[1] != want && !(tc.in == "" && rec[1] == "") {
			t.Errorf("AppendText(%q) reads back as %q", tc.in, rec)
		}
	}
}

func TestHeader(t *testing.T) {
	got := csvrow.Header([]string{"Time", "Pi", "Po", "count"})
	if !bytes.Equal(got, []byte("Time,Pi,Po,count\n")) {
		t.Errorf("Header = %q", got)
	}
	got = csvrow.Header([]string{"Time", "a,b", "=x"})
	if !bytes.Equal(got, []byte("Time,\"a,b\",'=x\n")) {
		t.Errorf("Header quoting = %q", got)
	}
}
