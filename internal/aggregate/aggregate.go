// Package aggregate combines the values a device sends within one second into one row
// (sum, mean, min, max, first or last per column, plus the count of messages). It owns the
// SPEC's "Per-second rows" arithmetic: sums are exact decimals, so 0.1 + 0.2 is 0.3.
package aggregate

import (
	"fmt"
	"math"
	"strconv"

	"github.com/cockroachdb/apd/v3"

	"github.com/mqtttocsv/mqtttocsv/internal/csvrow"
)

// Mode is how the values of one column within a second are combined.
type Mode uint8

// The modes of the `aggregation` option.
const (
	Sum Mode = iota
	Mean
	Min
	Max
	First
	Last
)

// ParseMode reads an `aggregation` value.
func ParseMode(s string) (Mode, error) {
	switch s {
	case "sum", "":
		return Sum, nil
	case "mean":
		return Mean, nil
	case "min":
		return Min, nil
	case "max":
		return Max, nil
	case "first":
		return First, nil
	case "last":
		return Last, nil
	}
	return 0, fmt.Errorf("aggregation %q is unknown: use sum, mean, min, max, first or last", s)
}

// ctx adds without rounding anything a meter sends: 40 digits hold any two float64 values
// of similar magnitude exactly.
var ctx = apd.Context{
	Precision:   40,
	MaxExponent: apd.MaxExponent,
	MinExponent: apd.MinExponent,
	Traps:       apd.DefaultTraps &^ apd.Inexact &^ apd.Rounded,
}

// meanCtx divides for the mean: 17 digits is all a float64 can carry.
var meanCtx = apd.Context{
	Precision:   17,
	MaxExponent: apd.MaxExponent,
	MinExponent: apd.MinExponent,
	Traps:       apd.DefaultTraps &^ apd.Inexact &^ apd.Rounded,
}

// Cell accumulates one column of one row.
type Cell struct {
	dec apd.Decimal // sum and mean
	f   float64     // min, max, first, last
	n   uint32      // values seen
}

// Add merges v into c. Each value enters the sum as its shortest decimal form, the one the
// SPEC writes, so the row is the exact sum of the numbers a user would see one by one.
func (c *Cell) Add(m Mode, v float64) {
	if m == Sum || m == Mean {
		if c.n == 0 {
			setShortest(&c.dec, v)
			c.n++
			return
		}
		var x apd.Decimal
		setShortest(&x, v)
		c.addDecimal(&x)
		return
	}
	c.addFloat(m, v)
}

// AddExact is Add for a value whose shortest decimal form is already known:
// v = mant × 10^exp, mant without trailing zeros (tasmota.Reading.Exact). It spares
// formatting v to find that form.
func (c *Cell) AddExact(m Mode, v float64, mant int64, exp int32) {
	if m == Sum || m == Mean {
		if c.n == 0 {
			setFinite(&c.dec, mant, exp)
			c.n++
			return
		}
		var x apd.Decimal
		setFinite(&x, mant, exp)
		c.addDecimal(&x)
		return
	}
	c.addFloat(m, v)
}

// addDecimal adds x to a cell that has values already.
func (c *Cell) addDecimal(x *apd.Decimal) {
	if _, err := ctx.Add(&c.dec, &c.dec, x); err != nil {
		// Only reachable with exponents past ±100000, which no float64 has.
		c.dec.Set(x)
	}
	c.n++
}

func (c *Cell) addFloat(m Mode, v float64) {
	switch m {
	case Min:
		if c.n == 0 || v < c.f {
			c.f = v
		}
	case Max:
		if c.n == 0 || v > c.f {
			c.f = v
		}
	case First:
		if c.n == 0 {
			c.f = v
		}
	case Last:
		c.f = v
	}
	c.n++
}

// Empty reports whether no value was added.
func (c *Cell) Empty() bool { return c.n == 0 }

// Reset empties c for reuse.
func (c *Cell) Reset() { c.n = 0 }

// Float is the combined value as a float64 (for metrics).
func (c *Cell) Float(m Mode) float64 {
	switch m {
	case Sum:
		f, _ := c.dec.Float64()
		return f
	case Mean:
		var q, n apd.Decimal
		n.SetInt64(int64(c.n))
		_, _ = meanCtx.Quo(&q, &c.dec, &n)
		f, _ := q.Float64()
		return f
	}
	return c.f
}

// AppendTo appends the combined value as a CSV number.
func (c *Cell) AppendTo(b []byte, m Mode) []byte {
	switch m {
	case Sum:
		return appendDecimal(b, &c.dec)
	case Mean:
		if c.n == 1 {
			return appendDecimal(b, &c.dec)
		}
		return csvrow.AppendNumber(b, c.Float(m))
	}
	return csvrow.AppendNumber(b, c.f)
}

// setFinite is d.SetFinite(mant, exp), a little faster.
func setFinite(d *apd.Decimal, mant int64, exp int32) {
	u := uint64(mant)
	if mant < 0 {
		u = -u
	}
	d.Coeff.SetUint64(u)
	d.Negative = mant < 0
	d.Exponent = exp
	d.Form = apd.Finite
}

// setShortest sets d to the shortest decimal that reads back as v, without allocating.
func setShortest(d *apd.Decimal, v float64) {
	var buf [32]byte
	s := strconv.AppendFloat(buf[:0], v, 'e', -1, 64) // like -1.2345e-05
	neg := false
	if s[0] == '-' {
		neg = true
		s = s[1:]
	}
	var mant int64
	digits := 0
	i := 0
	for ; i < len(s) && s[i] != 'e'; i++ {
		if s[i] == '.' {
			continue
		}
		mant = mant*10 + int64(s[i]-'0')
		digits++
	}
	exp, sign := 0, 1
	for i++; i < len(s); i++ {
		switch c := s[i]; {
		case c == '-':
			sign = -1
		case c >= '0' && c <= '9':
			exp = exp*10 + int(c-'0')
		}
	}
	exp *= sign
	if neg {
		mant = -mant
	}
	d.SetFinite(mant, int32(exp-(digits-1)))
}

// appendDecimal writes d in the SPEC's number form. A decimal of at most 15 significant
// digits is exactly what the shortest float64 form would print, so it is written directly;
// longer ones go through float64 like every other number.
func appendDecimal(b []byte, d *apd.Decimal) []byte {
	if d.Form == apd.Finite && d.Coeff.IsUint64() {
		coef, exp := d.Coeff.Uint64(), int(d.Exponent)
		if coef == 0 {
			return append(b, '0')
		}
		for coef%10 == 0 {
			coef /= 10
			exp++
		}
		if coef < 1e15 && exp > -400 && exp < 400 {
			if d.Negative {
				b = append(b, '-')
			}
			var tmp [20]byte
			digits := strconv.AppendUint(tmp[:0], coef, 10)
			switch {
			case exp >= 0:
				b = append(b, digits...)
				for ; exp > 0; exp-- {
					b = append(b, '0')
				}
			case -exp >= len(digits):
				b = append(b, '0', '.')
				for k := -exp - len(digits); k > 0; k-- {
					b = append(b, '0')
				}
				b = append(b, digits...)
			default:
				cut := len(digits) + exp
				b = append(b, digits[:cut]...)
				b = append(b, '.')
				b = append(b, digits[cut:]...)
			}
			return b
		}
	}
	f, _ := d.Float64()
	if math.IsInf(f, 0) {
		// A sum past float64's range: write the exact decimal, still without an exponent.
		return append(b, d.Text('f')...)
	}
	return csvrow.AppendNumber(b, f)
}
