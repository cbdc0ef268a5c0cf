package tasmota

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// shortest is the decimal form the sums used before literal existed: the shortest
// round-trip digits of v, as mant × 10^exp.
func shortest(v float64) (int64, int32) {
	s := strconv.FormatFloat(v, 'e', -1, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	m, e, _ := strings.Cut(s, "e")
	digits := strings.Replace(m, ".", "", 1)
	mant, _ := strconv.ParseInt(digits, 10, 64)
	exp, _ := strconv.Atoi(e)
	if neg {
		mant = -mant
	}
	return mant, int32(exp - (len(digits) - 1))
}

// TestLiteralIsShortest: every number literal accepts is exactly the shortest decimal form
// of the float64 it parses to, and the decoder's value is strconv's.
func TestLiteralIsShortest(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	texts := []string{"0", "-0", "0.0", "-0.000", "1", "10", "100", "1.50", "0.1", "0.2", "0.3",
		"353234363435", "999999999999999", "123456789012345", "0.000000000000000000000000001",
		"12345.678", "230.1", "-1.411", "0.512", "1e5", "1.5E-3", "1234567890123456",
		"0." + strings.Repeat("0", 299) + "1", "0." + strings.Repeat("0", 300) + "1",
		"100000000000000000000000", "4503599627370497", "9007199254740993"}
	for range 50000 {
		digits := 1 + rng.IntN(17)
		var b strings.Builder
		if rng.IntN(2) == 0 {
			b.WriteByte('-')
		}
		n := rng.Uint64() % uint64(math.Pow10(min(digits, 19)))
		s := strconv.FormatUint(n, 10)
		point := rng.IntN(len(s) + 25)
		switch {
		case point < len(s) && point > 0:
			b.WriteString(s[:point] + "." + s[point:])
		case point >= len(s):
			b.WriteString("0." + strings.Repeat("0", point-len(s)) + s)
		default:
			b.WriteString(s)
		}
		texts = append(texts, b.String())
	}
	for _, text := range texts {
		want, err := strconv.ParseFloat(text, 64)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		mant, exp, ok := literal([]byte(text))
		if !ok {
			continue
		}
		if want == 0 {
			if mant != 0 || exp != 0 {
				t.Errorf("%s: literal %d e%d, want 0 e0", text, mant, exp)
			}
			continue
		}
		if m, e := shortest(want); m != mant || e != exp {
			t.Errorf("%s: literal %d e%d, shortest form of %v is %d e%d", text, mant, exp, want, m, e)
		}
	}
	for _, text := range texts {
		d := NewDecoder("z", NewSchema([]string{"Pi"}), time.UTC, 0)
		var r Reading
		if err := d.Decode([]byte(`{"Time":"2026-01-14T10:09:41","z":{"Pi":`+text+`}}`), &r); err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		want, _ := strconv.ParseFloat(text, 64)
		if want == 0 {
			want = 0
		}
		if got := r.Num[FirstColumn]; math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("%s: decoded %v, strconv says %v", text, got, want)
		}
	}
}

// FuzzDecodeCaches: a decoder that has read other messages before (its Time cache warm)
// reads every payload exactly as a fresh one does, and every exact decimal it gives is
// the shortest form of its value.
func FuzzDecodeCaches(f *testing.F) {
	for _, s := range []string{
		`{"Time":"2026-01-14T10:09:41","z":{"Pi":0.512}}`,
		`{"Time":"2026-01-14T10:09:41","z":{"Pi":0.5120,"Po":-3,"U1":230.10}}`,
		`{"Time":"2026-01-14T10:09:41.5","z":{"Pi":1}}`,
		`{"Time":"2026-01-14T10:09:41"  ,"z":{"Pi":1e3}}`,
		`{"Time":"2026-01-14T10:09:4","z":{"Pi":1}}`,
		`{"Time":"2026-01-14T10:09:41\"","z":{"Pi":1}}`,
		`{"Time":"2026-01-14T10:09:41\u0022","z":{"Pi":1}}`,
		`{"Time":"\u0032026-01-14T10:09:41","z":{"Pi":1}}`,
		`{"Time":1768385381,"z":{"Pi":1}}`,
		`{"Time":"2026-01-14T10:09:41","z":{"Pi":123456789012345,"Po":1234567890123456}}`,
	} {
		f.Add([]byte(s))
	}
	schema := NewSchema([]string{"Pi", "Po", "U1"})
	warm := NewDecoder("z", schema, time.UTC, 64<<10)
	var rw, rf Reading
	f.Fuzz(func(t *testing.T, payload []byte) {
		_ = warm.Decode([]byte(`{"Time":"2026-01-14T10:09:41","z":{"Pi":1}}`), &rw)
		errW := warm.Decode(payload, &rw)
		fresh := NewDecoder("z", schema, time.UTC, 64<<10)
		errF := fresh.Decode(payload, &rf)
		if fmt.Sprint(errW) != fmt.Sprint(errF) {
			t.Fatalf("warm decoder: %v, fresh: %v", errW, errF)
		}
		if errF != nil {
			return
		}
		if rw.Time != rf.Time || rw.Set != rf.Set || rw.Exact != rf.Exact || rw.Summary != rf.Summary ||
			string(rw.Text) != string(rf.Text) || fmt.Sprint(rw.Skips) != fmt.Sprint(rf.Skips) {
			t.Fatalf("warm decoder read %+v, fresh %+v", rw, rf)
		}
		for i := range 64 {
			if !rf.Has(i) || i == ColTS {
				continue
			}
			if math.Float64bits(rw.Num[i]) != math.Float64bits(rf.Num[i]) {
				t.Fatalf("column %d: warm %v, fresh %v", i, rw.Num[i], rf.Num[i])
			}
			if rf.Exact&(1<<i) == 0 {
				continue
			}
			if rw.Mant[i] != rf.Mant[i] || rw.Exp[i] != rf.Exp[i] {
				t.Fatalf("column %d: warm %de%d, fresh %de%d", i, rw.Mant[i], rw.Exp[i], rf.Mant[i], rf.Exp[i])
			}
			m, e := shortest(rf.Num[i])
			if rf.Num[i] == 0 {
				m, e = 0, 0
			}
			if m != rf.Mant[i] || e != rf.Exp[i] {
				t.Fatalf("column %d: exact %de%d, shortest form of %v is %de%d", i, rf.Mant[i], rf.Exp[i], rf.Num[i], m, e)
			}
		}
	})
}
