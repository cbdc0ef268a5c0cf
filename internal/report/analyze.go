package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// SecondsPerDay is the length of a day on the wall clock, used for the
// coverage (days of a daylight-saving change are counted as 86400 s too).
const SecondsPerDay = 86400

// GapThreshold is the longest run without data (in seconds) that is not a gap.
const GapThreshold = 60

// Divide says how the sums of an energie row become per-second means.
type Divide int

const (
	// DivideAuto shares the row's message count equally between the
	// attributes present in the row (one attribute per message).
	DivideAuto Divide = iota
	// DivideCount divides every value by the row's count.
	DivideCount
	// DivideNone takes the values as they are (aggregation other than sum).
	DivideNone
)

// ParseDivide reads "auto", "count" or "none".
func ParseDivide(s string) (Divide, error) {
	switch strings.ToLower(s) {
	case "auto", "":
		return DivideAuto, nil
	case "count":
		return DivideCount, nil
	case "none":
		return DivideNone, nil
	}
	return 0, fmt.Errorf("unknown divide mode %q: use auto, count or none", s)
}

func (d Divide) String() string {
	switch d {
	case DivideCount:
		return "count"
	case DivideNone:
		return "none"
	}
	return "auto"
}

// Options tune Scan.
type Options struct {
	Divide Divide
	// Warnings receives one line per file with unreadable rows or that is
	// skipped; nil discards them.
	Warnings io.Writer
}

// Key names one device-day.
type Key struct {
	Device string
	Date   string // YYYY-MM-DD
}

// Set is the result of Scan: the input files and the device-days they hold.
type Set struct {
	opt   Options
	files []*inFile
	keys  []Key
	// BadRows is the number of rows skipped as unreadable in all files.
	BadRows int
	// Skipped lists the files that are not ts_summary or energie files.
	Skipped []string
}

// Scan finds the CSV files under paths (files or folders), reads each once to
// learn which device-days it holds, and reports unreadable rows and unusable
// files to opt.Warnings. A path that does not exist gives a *PathError. No
// usable file at all is an error.
func Scan(paths []string, opt Options) (*Set, error) {
	if len(paths) == 0 {
		return nil, errors.New("no PATH given")
	}
	names, err := findFiles(paths)
	if err != nil {
		return nil, err
	}
	warn := opt.Warnings
	if warn == nil {
		warn = io.Discard
	}
	s := &Set{opt: opt}
	seen := map[Key]bool{}
	for _, name := range names {
		f := &inFile{path: name, device: deviceOf(name), days: map[string]int{}}
		kind, bad, err := readFile(name, func(r *row) { f.days[r.date]++ })
		if err != nil {
			fmt.Fprintf(warn, "warning: %s skipped: %v\n", name, err)
			s.Skipped = append(s.Skipped, name)
			continue
		}
		if bad.n > 0 {
			fmt.Fprintf(warn, "warning: %s: %d unreadable row(s) skipped (first at %s)\n", name, bad.n, bad.first)
			s.BadRows += bad.n
		}
		f.kind = kind
		s.files = append(s.files, f)
		for d := range f.days {
			k := Key{f.device, d}
			if !seen[k] {
				seen[k] = true
				s.keys = append(s.keys, k)
			}
		}
	}
	if len(s.files) == 0 {
		return nil, fmt.Errorf("no ts_summary or energie CSV file found in %s", strings.Join(paths, " "))
	}
	sort.Slice(s.keys, func(i, j int) bool {
		a, b := s.keys[i], s.keys[j]
		if a.Device != b.Device {
			return a.Device < b.Device
		}
		return a.Date < b.Date
	})
	return s, nil
}

// Keys returns the device-days found, sorted by device then date.
func (s *Set) Keys() []Key { return append([]Key(nil), s.keys...) }

// Len is the number of device-days.
func (s *Set) Len() int { return len(s.keys) }

// Quantities kept per second, in Second.V.
const (
	QPi = iota
	QPo
	QP1i
	QP2i
	QP3i
	QP1o
	QP2o
	QP3o
	QI1
	QI2
	QI3
	QU1
	QU2
	QU3
	NQ
)

// QNames are the column names of the quantities of Second.V.
var QNames = [NQ]string{"Pi", "Po", "P1i", "P2i", "P3i", "P1o", "P2o", "P3o",
	"I1", "I2", "I3", "U1", "U2", "U3"}

var qCol = [NQ]int{cPi, cPo, cP1i, cP2i, cP3i, cP1o, cP2o, cP3o, cI1, cI2, cI3, cU1, cU2, cU3}

// Second is the per-second mean of each quantity; NaN when missing.
type Second struct {
	T int // second of the day, 0..86399
	V [NQ]float64
}

// TSRow is one row of a TS file (values NaN when missing).
type TSRow struct {
	T                      int // second of the day
	Pi, Po, E1, E2, B1, B2 float64
}

// Day is everything known about one device-day. Seconds and TS are sorted by
// time.
type Day struct {
	Summary Summary
	Seconds []Second
	TS      []TSRow
}

type secAcc struct {
	sum [NQ]float64
	n   [NQ]float64
}

// Each reads the device-days one at a time (memory stays bounded by one
// day), computes their summaries and, when fn is not nil, calls it with the
// whole day (for plotting). It returns the summaries in Keys order.
func (s *Set) Each(fn func(*Day) error) ([]Summary, error) {
	var out []Summary
	idx := make([]int32, SecondsPerDay)
	for _, k := range s.keys {
		for i := range idx {
			idx[i] = -1
		}
		var accs []secAcc
		var ts []TSRow
		var energieRows int
		for _, f := range s.files {
			if f.device != k.Device || f.days[k.Date] == 0 {
				continue
			}
			_, _, err := readFile(f.path, func(r *row) {
				if r.date != k.Date {
					return
				}
				if f.kind == kindTS {
					ts = append(ts, TSRow{T: r.sec, Pi: r.vals[cPi], Po: r.vals[cPo],
						E1: r.vals[cE1], E2: r.vals[cE2], B1: r.vals[cB1], B2: r.vals[cB2]})
					return
				}
				energieRows++
				if r.present == 0 {
					return
				}
				w := weight(s.opt.Divide, r)
				i := idx[r.sec]
				if i < 0 {
					i = int32(len(accs))
					idx[r.sec] = i
					accs = append(accs, secAcc{})
				}
				a := &accs[i]
				for q, c := range qCol {
					if v := r.vals[c]; !math.IsNaN(v) {
						a.sum[q] += v
						a.n[q] += w
					}
				}
			})
			if err != nil {
				return out, fmt.Errorf("%s: %w", f.path, err)
			}
		}
		d := &Day{TS: ts}
		sort.SliceStable(d.TS, func(i, j int) bool { return d.TS[i].T < d.TS[j].T })
		d.Seconds = make([]Second, 0, len(accs))
		for t, i := range idx {
			if i < 0 {
				continue
			}
			sc := Second{T: t}
			a := &accs[i]
			for q := range sc.V {
				sc.V[q] = math.NaN()
				if a.n[q] > 0 {
					sc.V[q] = a.sum[q] / a.n[q]
				}
			}
			d.Seconds = append(d.Seconds, sc)
		}
		d.Summary = summarize(k, d, energieRows)
		out = append(out, d.Summary)
		if fn != nil {
			if err := fn(d); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// weight is the number of messages a row's value of one attribute stands for.
func weight(mode Divide, r *row) float64 {
	switch mode {
	case DivideNone:
		return 1
	case DivideCount:
		if math.IsNaN(r.count) {
			return 1
		}
		return r.count
	}
	if math.IsNaN(r.count) || r.present == 0 {
		return 1
	}
	return r.count / float64(r.present)
}

// Analyze is Scan followed by Each without a callback.
func Analyze(paths []string, opt Options) ([]Summary, error) {
	s, err := Scan(paths, opt)
	if err != nil {
		return nil, err
	}
	return s.Each(nil)
}

// Num is a figure of the report; NaN means unknown (null in JSON, empty in
// CSV, "-" in tables).
type Num float64

// Valid tells whether the figure is known.
func (n Num) Valid() bool { return !math.IsNaN(float64(n)) }

var nan = Num(math.NaN())

// Gap is a run of more than GapThreshold seconds without data.
type Gap struct {
	From    string `json:"from"` // HH:MM:SS, last second with data
	To      string `json:"to"`   // HH:MM:SS, next second with data
	Seconds int    `json:"seconds"`
}

// Phase holds the figures of one phase.
type Phase struct {
	UMin  Num `json:"u_min_v"`
	UMean Num `json:"u_mean_v"`
	UMax  Num `json:"u_max_v"`
	IMax  Num `json:"i_max_a"`
}

// Summary holds the figures of one device-day. Times are HH:MM:SS of the
// CSV's wall clock, "" when unknown.
type Summary struct {
	Device      string `json:"device"`
	Date        string `json:"date"`
	TSRows      int    `json:"ts_rows"`
	EnergieRows int    `json:"energie_rows"`

	ImportKWhCounter    Num `json:"import_kwh_counter"`
	ImportKWhIntegrated Num `json:"import_kwh_integrated"`
	ExportKWhCounter    Num `json:"export_kwh_counter"`
	ExportKWhIntegrated Num `json:"export_kwh_integrated"`
	ReactiveB1Kvarh     Num `json:"reactive_b1_kvarh"`
	ReactiveB2Kvarh     Num `json:"reactive_b2_kvarh"`

	PeakImportKW   Num    `json:"peak_import_kw"`
	PeakImportTime string `json:"peak_import_time"`
	PeakExportKW   Num    `json:"peak_export_kw"`
	PeakExportTime string `json:"peak_export_time"`

	Phases [3]Phase `json:"phases"`

	Seconds     int    `json:"seconds"`
	CoveragePct Num    `json:"coverage_pct"`
	First       string `json:"first"`
	Last        string `json:"last"`
	GapCount    int    `json:"gap_count"`
	Gaps        []Gap  `json:"gaps"`
}

func clock(sec int) string {
	return fmt.Sprintf("%02d:%02d:%02d", sec/3600, sec/60%60, sec%60)
}

// counterDiff is last minus first of the known values, in time order.
func counterDiff(ts []TSRow, get func(TSRow) float64) Num {
	first, last := math.NaN(), math.NaN()
	n := 0
	for _, r := range ts {
		v := get(r)
		if math.IsNaN(v) {
			continue
		}
		if n == 0 {
			first = v
		}
		last = v
		n++
	}
	if n < 2 {
		return nan
	}
	return Num(last - first)
}

func summarize(k Key, d *Day, energieRows int) Summary {
	s := Summary{Device: k.Device, Date: k.Date, TSRows: len(d.TS), EnergieRows: energieRows,
		Gaps: []Gap{}}
	s.ImportKWhCounter = counterDiff(d.TS, func(r TSRow) float64 { return r.E1 })
	s.ExportKWhCounter = counterDiff(d.TS, func(r TSRow) float64 { return r.E2 })
	s.ReactiveB1Kvarh = counterDiff(d.TS, func(r TSRow) float64 { return r.B1 })
	s.ReactiveB2Kvarh = counterDiff(d.TS, func(r TSRow) float64 { return r.B2 })

	s.ImportKWhIntegrated, s.PeakImportKW, s.PeakImportTime = integrate(d.Seconds, QPi)
	s.ExportKWhIntegrated, s.PeakExportKW, s.PeakExportTime = integrate(d.Seconds, QPo)

	for p := range 3 {
		min, mean, max := stats(d.Seconds, QU1+p)
		s.Phases[p] = Phase{UMin: min, UMean: mean, UMax: max}
		_, _, s.Phases[p].IMax = stats(d.Seconds, QI1+p)
	}

	s.Seconds = len(d.Seconds)
	s.CoveragePct = Num(float64(s.Seconds) / SecondsPerDay * 100)
	if len(d.Seconds) > 0 {
		s.First = clock(d.Seconds[0].T)
		s.Last = clock(d.Seconds[len(d.Seconds)-1].T)
	}
	for i := 1; i < len(d.Seconds); i++ {
		a, b := d.Seconds[i-1].T, d.Seconds[i].T
		if b-a > GapThreshold {
			s.Gaps = append(s.Gaps, Gap{From: clock(a), To: clock(b), Seconds: b - a})
		}
	}
	s.GapCount = len(s.Gaps)
	return s
}

// integrate returns the energy in kWh (sum of per-second kW / 3600) and the
// peak with the time of its first occurrence.
func integrate(secs []Second, q int) (kwh, peak Num, at string) {
	kwh, peak = nan, nan
	sum, n := 0.0, 0
	best, bestT := math.Inf(-1), 0
	for _, sc := range secs {
		v := sc.V[q]
		if math.IsNaN(v) {
			continue
		}
		sum += v
		n++
		if v > best {
			best, bestT = v, sc.T
		}
	}
	if n == 0 {
		return kwh, peak, ""
	}
	return Num(sum / 3600), Num(best), clock(bestT)
}

func stats(secs []Second, q int) (min, mean, max Num) {
	lo, hi, sum, n := math.Inf(1), math.Inf(-1), 0.0, 0
	for _, sc := range secs {
		v := sc.V[q]
		if math.IsNaN(v) {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
		sum += v
		n++
	}
	if n == 0 {
		return nan, nan, nan
	}
	return Num(lo), Num(sum / float64(n)), Num(hi)
}
