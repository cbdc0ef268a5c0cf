package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Format is an output format of the report.
type Format int

// The output formats.
const (
	FormatTable Format = iota
	FormatCSV
	FormatJSON
	FormatMarkdown
)

// ParseFormat reads table, csv, json or markdown (md).
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "table", "":
		return FormatTable, nil
	case "csv":
		return FormatCSV, nil
	case "json":
		return FormatJSON, nil
	case "markdown", "md":
		return FormatMarkdown, nil
	}
	return 0, fmt.Errorf("unknown format %q: use table, csv, json or markdown", s)
}

// Notes explain how the figures are obtained; they end the table and
// markdown outputs and are part of the JSON output.
var Notes = []string{
	"counter: last minus first E1 (import) / E2 (export) / B1 / B2 of the day's TS summary rows (kWh, kvarh).",
	"integrated: sum over the seconds of the per-second mean Pi / Po (kW) x 1 s / 3600 = kWh; an energie row holds the sum of the values of one second, the mean is the sum divided by the messages that carried the attribute (the row's count shared among the attributes present; rows of the same second are merged by adding sums and counts); seconds without data add nothing.",
	"peaks, voltages and currents are per-second means; coverage = seconds with data / 86400; a gap is more than 60 s between two seconds with data.",
}

// Write writes the summaries in the given format.
func Write(w io.Writer, f Format, sums []Summary) error {
	switch f {
	case FormatCSV:
		return writeCSV(w, sums)
	case FormatJSON:
		return writeJSON(w, sums)
	case FormatMarkdown:
		return writeMarkdown(w, sums)
	}
	return writeTable(w, sums)
}

// machine formats a figure for CSV and JSON: rounded to 6 decimals (below
// the meters' resolution, above float noise), shortest form, no exponent.
func machine(n Num) string {
	if !n.Valid() {
		return ""
	}
	v := math.Round(float64(n)*1e6) / 1e6
	if v == 0 {
		v = 0 // no "-0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// MarshalJSON writes null for an unknown figure.
func (n Num) MarshalJSON() ([]byte, error) {
	if !n.Valid() {
		return []byte("null"), nil
	}
	return []byte(machine(n)), nil
}

// UnmarshalJSON reads a number or null.
func (n *Num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = nan
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*n = Num(v)
	return nil
}

// human formats a figure for people with the given decimals, "-" if unknown.
func human(n Num, decimals int) string {
	if !n.Valid() {
		return "-"
	}
	s := strconv.FormatFloat(float64(n), 'f', decimals, 64)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// CSVHeader is the header of the CSV output, one row per device-day.
var CSVHeader = []string{"device", "date", "import_kwh_counter", "import_kwh_integrated",
	"export_kwh_counter", "export_kwh_integrated", "reactive_b1_kvarh", "reactive_b2_kvarh",
	"peak_import_kw", "peak_import_time", "peak_export_kw", "peak_export_time",
	"u1_min_v", "u1_mean_v", "u1_max_v", "u2_min_v", "u2_mean_v", "u2_max_v",
	"u3_min_v", "u3_mean_v", "u3_max_v", "i1_max_a", "i2_max_a", "i3_max_a",
	"seconds", "coverage_pct", "first", "last", "gap_count", "gaps", "ts_rows", "energie_rows"}

// safeCell protects a text cell from spreadsheet formula injection.
func safeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func writeCSV(w io.Writer, sums []Summary) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, s := range sums {
		gaps := make([]string, len(s.Gaps))
		for i, g := range s.Gaps {
			gaps[i] = g.From + "-" + g.To
		}
		rec := []string{safeCell(s.Device), s.Date,
			machine(s.ImportKWhCounter), machine(s.ImportKWhIntegrated),
			machine(s.ExportKWhCounter), machine(s.ExportKWhIntegrated),
			machine(s.ReactiveB1Kvarh), machine(s.ReactiveB2Kvarh),
			machine(s.PeakImportKW), s.PeakImportTime, machine(s.PeakExportKW), s.PeakExportTime}
		for _, p := range s.Phases {
			rec = append(rec, machine(p.UMin), machine(p.UMean), machine(p.UMax))
		}
		for _, p := range s.Phases {
			rec = append(rec, machine(p.IMax))
		}
		rec = append(rec, strconv.Itoa(s.Seconds), machine(s.CoveragePct), s.First, s.Last,
			strconv.Itoa(s.GapCount), strings.Join(gaps, ";"),
			strconv.Itoa(s.TSRows), strconv.Itoa(s.EnergieRows))
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// JSONReport is the document written by the json format.
type JSONReport struct {
	Notes []string  `json:"notes"`
	Days  []Summary `json:"days"`
}

func writeJSON(w io.Writer, sums []Summary) error {
	if sums == nil {
		sums = []Summary{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(JSONReport{Notes: Notes, Days: sums})
}

// section is one table of the human formats.
type section struct {
	title  string
	header []string
	rows   [][]string
}

func sections(sums []Summary) []section {
	energy := section{title: "Energy (kWh, reactive kvarh): counters from the TS rows, integrated from the per-second power",
		header: []string{"DEVICE", "DATE", "IMPORT counter", "IMPORT integrated", "EXPORT counter",
			"EXPORT integrated", "REACTIVE B1", "REACTIVE B2"}}
	power := section{title: "Peak power (kW, per-second mean) and coverage",
		header: []string{"DEVICE", "DATE", "PEAK IMPORT", "AT", "PEAK EXPORT", "AT",
			"SECONDS", "COVERAGE %", "FIRST", "LAST", "GAPS >1 min", "TS ROWS"}}
	volt := section{title: "Voltage min/mean/max (V) and current max (A), per-second means",
		header: []string{"DEVICE", "DATE", "U1 min/mean/max", "U2 min/mean/max",
			"U3 min/mean/max", "I1 max", "I2 max", "I3 max"}}
	gaps := section{title: "Gaps longer than a minute",
		header: []string{"DEVICE", "DATE", "FROM", "TO", "DURATION"}}
	for _, s := range sums {
		dev := orDash(s.Device)
		energy.rows = append(energy.rows, []string{dev, s.Date,
			human(s.ImportKWhCounter, 3), human(s.ImportKWhIntegrated, 3),
			human(s.ExportKWhCounter, 3), human(s.ExportKWhIntegrated, 3),
			human(s.ReactiveB1Kvarh, 3), human(s.ReactiveB2Kvarh, 3)})
		power.rows = append(power.rows, []string{dev, s.Date,
			human(s.PeakImportKW, 3), orDash(s.PeakImportTime),
			human(s.PeakExportKW, 3), orDash(s.PeakExportTime),
			strconv.Itoa(s.Seconds), human(s.CoveragePct, 2), orDash(s.First), orDash(s.Last),
			strconv.Itoa(s.GapCount), strconv.Itoa(s.TSRows)})
		vr := []string{dev, s.Date}
		for _, p := range s.Phases {
			vr = append(vr, human(p.UMin, 1)+"/"+human(p.UMean, 1)+"/"+human(p.UMax, 1))
		}
		for _, p := range s.Phases {
			vr = append(vr, human(p.IMax, 2))
		}
		volt.rows = append(volt.rows, vr)
		for _, g := range s.Gaps {
			gaps.rows = append(gaps.rows, []string{dev, s.Date, g.From, g.To, duration(g.Seconds)})
		}
	}
	out := []section{energy, power, volt}
	if len(gaps.rows) > 0 {
		out = append(out, gaps)
	}
	return out
}

// duration writes seconds as 5m00s, 1h37m03s or 45s.
func duration(sec int) string {
	h, m, s := sec/3600, sec/60%60, sec%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm%02ds", h, m, s)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}

func writeTable(w io.Writer, sums []Summary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(sums) == 0 {
		fmt.Fprintln(tw, "no data")
	}
	for i, sec := range sections(sums) {
		if len(sums) == 0 {
			break
		}
		if i > 0 {
			fmt.Fprintln(tw)
		}
		fmt.Fprintln(tw, sec.title)
		fmt.Fprintln(tw, strings.Join(sec.header, "\t"))
		for _, r := range sec.rows {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
	}
	fmt.Fprintln(tw)
	for _, n := range Notes {
		fmt.Fprintln(tw, "* "+n)
	}
	return tw.Flush()
}

func mdCell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}

func writeMarkdown(w io.Writer, sums []Summary) error {
	var b strings.Builder
	b.WriteString("# Energy report\n")
	if len(sums) == 0 {
		b.WriteString("\nNo data.\n")
	} else {
		for _, sec := range sections(sums) {
			fmt.Fprintf(&b, "\n## %s\n\n", sec.title)
			b.WriteString("| " + strings.Join(sec.header, " | ") + " |\n")
			b.WriteString("|" + strings.Repeat(" --- |", len(sec.header)) + "\n")
			for _, r := range sec.rows {
				cells := make([]string, len(r))
				for i, c := range r {
					cells[i] = mdCell(c)
				}
				b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
			}
		}
	}
	b.WriteString("\n")
	for _, n := range Notes {
		b.WriteString("- " + n + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
