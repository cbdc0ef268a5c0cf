package aggregate_test

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/mqtttocsv/mqtttocsv/internal/aggregate"
)

func cell(m aggregate.Mode, vs ...float64) *aggregate.Cell {
	c := &aggregate.Cell{}
	for _, v := range vs {
		c.Add(m, v)
	}
	return c
}

func text(c *aggregate.Cell, m aggregate.Mode) string { return string(c.AppendTo(nil, m)) }

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		want aggregate.Mode
		err  bool
	}{
		{"", aggregate.Sum, false},
		{"sum", aggregate.Sum, false},
		{"mean", aggregate.Mean, false},
		{"min", aggregate.Min, false},
		{"max", aggregate.Max, false},
		{"first", aggregate.First, false},
		{"last", aggregate.Last, false},
		{"avg", 0, true},
		{"SUM", 0, true},
	}
	for _, tc := range tests {
		got, err := aggregate.ParseMode(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("ParseMode(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestSumWithoutBinaryNoise(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want string
	}{
		{"0.1+0.2", []float64{0.1, 0.2}, "0.3"},
		{"single", []float64{0.512}, "0.512"},
		{"single zero", []float64{0}, "0"},
		{"negative zero", []float64{math.Copysign(0, -1)}, "0"},
		{"integer", []float64{2, 3}, "5"},
		{"ten 0.1", repeat(0.1, 10), "1"},
		{"thousand 0.001", repeat(0.001, 1000), "1"},
		{"many small", repeat(0.007, 3000), "21"},
		{"negatives", []float64{-0.1, -0.2}, "-0.3"},
		{"cancel", []float64{0.3, -0.1, -0.2}, "0"},
		{"sign change", []float64{0.1, -0.3}, "-0.2"},
		{"mixed magnitudes", []float64{353234363435, 0.001}, "353234363435.001"},
		{"mixed magnitudes 2", []float64{1e-7, 1}, "1.0000001"},
		{"tiny", []float64{1e-7, 2e-7}, "0.0000003"},
		{"meter values", []float64{1.411, 0.512, 0.077}, "2"},
		{"large integers", []float64{353234363435, 353234363435}, "706468726870"},
		{"1e21", []float64{1e21, 1e21}, "2000000000000000000000"},
	}
	for _, tc := range tests {
		c := cell(aggregate.Sum, tc.in...)
		got := text(c, aggregate.Sum)
		if got != tc.want {
			t.Errorf("%s: sum = %q, want %q", tc.name, got, tc.want)
		}
		if strings.ContainsAny(got, "eE+") || strings.Contains(got, "Inf") || strings.Contains(got, "NaN") {
			t.Errorf("%s: %q is not a plain decimal", tc.name, got)
		}
		want, _ := strconv.ParseFloat(tc.want, 64)
		if f := c.Float(aggregate.Sum); f != want {
			t.Errorf("%s: Float = %v, want %v", tc.name, f, want)
		}
	}
}

func TestSumOverflowStaysPlainDecimal(t *testing.T) {
	// Two float64 maxima add to a number past float64; the cell still writes a plain
	// decimal, never +Inf or an exponent.
	c := cell(aggregate.Sum, math.MaxFloat64, math.MaxFloat64)
	got := text(c, aggregate.Sum)
	if strings.ContainsAny(got, "eE+") || strings.Contains(got, "Inf") {
		t.Fatalf("sum of two MaxFloat64 = %q", got)
	}
	if !strings.HasPrefix(got, "35953862697246314") || len(got) != 309 {
		t.Fatalf("sum of two MaxFloat64 = %q (%d chars)", got, len(got))
	}
}

func TestModes(t *testing.T) {
	vals := []float64{0.5, -1.25, 3, 0.25}
	tests := []struct {
		mode aggregate.Mode
		in   []float64
		want string
	}{
		{aggregate.Sum, vals, "2.5"},
		{aggregate.Mean, vals, "0.625"},
		{aggregate.Min, vals, "-1.25"},
		{aggregate.Max, vals, "3"},
		{aggregate.First, vals, "0.5"},
		{aggregate.Last, vals, "0.25"},
		{aggregate.Mean, []float64{0.1, 0.2}, "0.15"},
		{aggregate.Mean, []float64{1, 2, 2}, "1.6666666666666667"},
		{aggregate.Mean, []float64{0.1}, "0.1"},
		{aggregate.Mean, []float64{353234363435, 353234363437}, "353234363436"},
		{aggregate.Min, []float64{2}, "2"},
		{aggregate.Max, []float64{-2, -3}, "-2"},
		{aggregate.Min, []float64{1e-7, 1}, "0.0000001"},
		{aggregate.First, []float64{0}, "0"},
		{aggregate.Last, []float64{7, 0}, "0"},
	}
	for _, tc := range tests {
		c := cell(tc.mode, tc.in...)
		if got := text(c, tc.mode); got != tc.want {
			t.Errorf("mode %d %v = %q, want %q", tc.mode, tc.in, got, tc.want)
		}
		want, _ := strconv.ParseFloat(tc.want, 64)
		if f := c.Float(tc.mode); f != want {
			t.Errorf("mode %d %v Float = %v, want %v", tc.mode, tc.in, f, want)
		}
	}
}

func TestResetAndReuse(t *testing.T) {
	for _, m := range []aggregate.Mode{aggregate.Sum, aggregate.Mean, aggregate.Min, aggregate.Max, aggregate.First, aggregate.Last} {
		c := cell(m, 100, 200)
		if c.Empty() {
			t.Fatalf("mode %d: Empty after Add", m)
		}
		c.Reset()
		if !c.Empty() {
			t.Fatalf("mode %d: not Empty after Reset", m)
		}
		c.Add(m, 0.7)
		if got := text(c, m); got != "0.7" {
			t.Errorf("mode %d: after Reset and Add(0.7) = %q", m, got)
		}
	}
	if !(&aggregate.Cell{}).Empty() {
		t.Fatal("zero Cell not empty")
	}
}

func TestSumDoesNotAllocate(t *testing.T) {
	var c aggregate.Cell
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(1000, func() {
		c.Reset()
		c.Add(aggregate.Sum, 0.512)
		c.Add(aggregate.Sum, 1.411)
		buf = c.AppendTo(buf[:0], aggregate.Sum)
	})
	if allocs > 0 {
		t.Errorf("sum of two values allocates %v times", allocs)
	}
}
