package report

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The hand-made day in testdata/day/meter1 (see testdata/README.md):
//
//	energie_20260114_0000.csv  10:00:00-10:15:20  921 s  Pi=3.6 P1i=3.6 I1=15 U=230/232/228, count 6 (6 attributes)
//	                           10:15:21-10:16:39   79 s  Pi=7.2 alone, count 2 -> 3.6 kW
//	                           + a row with Pi "abc" and a row with count 0 (skipped)
//	energie_20260114_1021.csv  10:21:39-10:22:57   79 s  Po=1.8 U=240/236/226, count 4; other column order
//	                           10:21:39 again: Po=5.4 count 1 (late) -> merged (1.8+5.4)/2 = 3.6 kW
//	                           12:00:00 Pi=7.2 count 1; + a row with too few cells (skipped)
//	ts_summary_*               E1 100 -> 101.5, E2 50 -> 50.04, B1 10 -> 10.25, B2 20 -> 20.125;
//	                           + a row with Time "yesterday" (skipped)
//
// Import integrated: (1000 s x 3.6 kW + 7.2 kW x 1 s) / 3600 = 1.002 kWh.
// Export integrated: (78 s x 1.8 kW + 3.6 kW x 1 s) / 3600 = 0.04 kWh.
// Seconds 921+79+79+1 = 1080 = 1.25 % of 86400.
// U1 mean over the 1000 seconds with voltages: (921x230 + 79x240)/1000 = 230.79.
const handDay = "testdata/day"

func handSummary(t *testing.T, mode Divide) (Summary, string) {
	t.Helper()
	var warn bytes.Buffer
	sums, err := Analyze([]string{handDay}, Options{Divide: mode, Warnings: &warn})
	require.NoError(t, err)
	require.Len(t, sums, 1)
	return sums[0], warn.String()
}

func num(t *testing.T, want float64, got Num, what string) {
	t.Helper()
	require.True(t, got.Valid(), "%s is unknown, want %v", what, want)
	assert.InDelta(t, want, float64(got), 1e-9, what)
}

func TestHandDayFigures(t *testing.T) {
	s, warn := handSummary(t, DivideAuto)

	assert.Equal(t, "meter1", s.Device, "device is the folder name")
	assert.Equal(t, "2026-01-14", s.Date)
	assert.Equal(t, 3, s.TSRows)
	assert.Equal(t, 921+79+79+1+1, s.EnergieRows, "rows read (the late row too)")

	num(t, 1.5, s.ImportKWhCounter, "import counter")
	num(t, 0.04, s.ExportKWhCounter, "export counter")
	num(t, 0.25, s.ReactiveB1Kvarh, "B1")
	num(t, 0.125, s.ReactiveB2Kvarh, "B2")
	num(t, 1.002, s.ImportKWhIntegrated, "import integrated")
	num(t, 0.04, s.ExportKWhIntegrated, "export integrated")

	num(t, 7.2, s.PeakImportKW, "peak import")
	assert.Equal(t, "12:00:00", s.PeakImportTime)
	num(t, 3.6, s.PeakExportKW, "peak export (late row merged)")
	assert.Equal(t, "10:21:39", s.PeakExportTime)

	num(t, 230, s.Phases[0].UMin, "U1 min")
	num(t, 230.79, s.Phases[0].UMean, "U1 mean")
	num(t, 240, s.Phases[0].UMax, "U1 max")
	num(t, 232, s.Phases[1].UMin, "U2 min")
	num(t, 232.316, s.Phases[1].UMean, "U2 mean")
	num(t, 236, s.Phases[1].UMax, "U2 max")
	num(t, 226, s.Phases[2].UMin, "U3 min")
	num(t, 227.842, s.Phases[2].UMean, "U3 mean")
	num(t, 228, s.Phases[2].UMax, "U3 max")
	num(t, 15, s.Phases[0].IMax, "I1 max")
	assert.False(t, s.Phases[1].IMax.Valid(), "I2 never sent: unknown, not 0")
	assert.False(t, s.Phases[2].IMax.Valid(), "I3 never sent: unknown, not 0")

	assert.Equal(t, 1080, s.Seconds)
	num(t, 1.25, s.CoveragePct, "coverage")
	assert.Equal(t, "10:00:00", s.First)
	assert.Equal(t, "12:00:00", s.Last)
	assert.Equal(t, 2, s.GapCount)
	assert.Equal(t, []Gap{
		{From: "10:16:39", To: "10:21:39", Seconds: 300},
		{From: "10:22:57", To: "12:00:00", Seconds: 5823},
	}, s.Gaps)

	// Every unreadable row is skipped and reported, file by file.
	assert.Contains(t, warn, "energie_20260114_0000.csv: 2 unreadable row(s)")
	assert.Contains(t, warn, `Pi is "abc", not a number`)
	assert.Contains(t, warn, "energie_20260114_1021.csv: 1 unreadable row(s)")
	assert.Contains(t, warn, "ts_summary_20260114_0000.csv: 1 unreadable row(s)")
	assert.Contains(t, warn, `unreadable Time "yesterday"`)
}

func TestDivideModes(t *testing.T) {
	// count: every value divided by the row's count. Block A Pi 3.6/6 = 0.6.
	// (921 x 0.6 + 79 x 3.6 + 7.2) / 3600 = 844.2 / 3600 = 0.2345 kWh.
	s, _ := handSummary(t, DivideCount)
	num(t, 0.2345, s.ImportKWhIntegrated, "import integrated, divide count")
	num(t, 230.0/6, s.Phases[0].UMin, "U1 min, divide count")

	// none: values taken as they are. (921 x 3.6 + 79 x 7.2 + 7.2) / 3600 = 1.081.
	s, _ = handSummary(t, DivideNone)
	num(t, 1.081, s.ImportKWhIntegrated, "import integrated, divide none")
	num(t, 7.2, s.PeakImportKW, "peak import, divide none")
	assert.Equal(t, "10:15:21", s.PeakImportTime)
	// The late row is averaged with its second: (1.8 + 5.4) / 2.
	num(t, 3.6, s.PeakExportKW, "peak export, divide none")

	_, err := ParseDivide("median")
	assert.Error(t, err)
}

func render(t *testing.T, f Format) string {
	t.Helper()
	sums, err := Analyze([]string{handDay}, Options{})
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, Write(&b, f, sums))
	return b.String()
}

func TestCSVOutput(t *testing.T) {
	recs, err := csv.NewReader(strings.NewReader(render(t, FormatCSV))).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, CSVHeader, recs[0])
	got := map[string]string{}
	for i, h := range recs[0] {
		got[h] = recs[1][i]
	}
	want := map[string]string{
		"device": "meter1", "date": "2026-01-14",
		"import_kwh_counter": "1.5", "import_kwh_integrated": "1.002",
		"export_kwh_counter": "0.04", "export_kwh_integrated": "0.04",
		"reactive_b1_kvarh": "0.25", "reactive_b2_kvarh": "0.125",
		"peak_import_kw": "7.2", "peak_import_time": "12:00:00",
		"peak_export_kw": "3.6", "peak_export_time": "10:21:39",
		"u1_min_v": "230", "u1_mean_v": "230.79", "u1_max_v": "240",
		"u2_mean_v": "232.316", "u3_mean_v": "227.842",
		"i1_max_a": "15", "i2_max_a": "", "i3_max_a": "",
		"seconds": "1080", "coverage_pct": "1.25", "first": "10:00:00", "last": "12:00:00",
		"gap_count": "2", "gaps": "10:16:39-10:21:39;10:22:57-12:00:00",
		"ts_rows": "3", "energie_rows": "1081",
	}
	for k, v := range want {
		assert.Equal(t, v, got[k], "column %s", k)
	}
}

func TestJSONOutput(t *testing.T) {
	out := render(t, FormatJSON)
	var doc JSONReport
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	require.Len(t, doc.Days, 1)
	assert.NotEmpty(t, doc.Notes, "the JSON says how the figures are made")
	d := doc.Days[0]
	num(t, 1.5, d.ImportKWhCounter, "import counter")
	num(t, 1.002, d.ImportKWhIntegrated, "import integrated")
	num(t, 0.04, d.ExportKWhIntegrated, "export integrated")
	num(t, 230.79, d.Phases[0].UMean, "U1 mean")
	assert.Equal(t, "10:21:39", d.PeakExportTime)
	assert.Equal(t, []Gap{{"10:16:39", "10:21:39", 300}, {"10:22:57", "12:00:00", 5823}}, d.Gaps)

	// Unknown figures are null, not 0.
	var raw struct {
		Days []map[string]json.RawMessage `json:"days"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &raw))
	var phases []map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw.Days[0]["phases"], &phases))
	assert.Equal(t, "null", string(phases[1]["i_max_a"]))
	assert.Equal(t, "15", string(phases[0]["i_max_a"]))
}

// mdTables returns the markdown tables by section title: header then rows.
func mdTables(t *testing.T, md string) map[string][][]string {
	t.Helper()
	out := map[string][][]string{}
	title := ""
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "## ") {
			title = strings.TrimPrefix(line, "## ")
			continue
		}
		if !strings.HasPrefix(line, "|") {
			continue
		}
		require.True(t, strings.HasSuffix(line, "|"), "table line %q", line)
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if cells[0] == "---" {
			continue
		}
		out[title] = append(out[title], cells)
	}
	return out
}

func cellOf(t *testing.T, table [][]string, col string) string {
	t.Helper()
	require.GreaterOrEqual(t, len(table), 2)
	for i, h := range table[0] {
		if h == col {
			return table[1][i]
		}
	}
	t.Fatalf("no column %q in %v", col, table[0])
	return ""
}

func TestMarkdownOutput(t *testing.T) {
	md := render(t, FormatMarkdown)
	tables := mdTables(t, md)
	var energy, power, volt, gaps [][]string
	for title, tb := range tables {
		switch {
		case strings.HasPrefix(title, "Energy"):
			energy = tb
		case strings.HasPrefix(title, "Peak power"):
			power = tb
		case strings.HasPrefix(title, "Voltage"):
			volt = tb
		case strings.HasPrefix(title, "Gaps"):
			gaps = tb
		}
	}
	for _, tb := range [][][]string{energy, power, volt, gaps} {
		require.NotNil(t, tb, "sections: %v", tables)
		for _, r := range tb {
			assert.Len(t, r, len(tb[0]), "every row has as many cells as the header")
		}
	}
	assert.Equal(t, "meter1", cellOf(t, energy, "DEVICE"))
	assert.Equal(t, "1.500", cellOf(t, energy, "IMPORT counter"))
	assert.Equal(t, "1.002", cellOf(t, energy, "IMPORT integrated"))
	assert.Equal(t, "0.040", cellOf(t, energy, "EXPORT counter"))
	assert.Equal(t, "0.040", cellOf(t, energy, "EXPORT integrated"))
	assert.Equal(t, "0.250", cellOf(t, energy, "REACTIVE B1"))
	assert.Equal(t, "0.125", cellOf(t, energy, "REACTIVE B2"))
	assert.Equal(t, "7.200", cellOf(t, power, "PEAK IMPORT"))
	assert.Equal(t, "1080", cellOf(t, power, "SECONDS"))
	assert.Equal(t, "1.25", cellOf(t, power, "COVERAGE %"))
	assert.Equal(t, "2", cellOf(t, power, "GAPS >1 min"))
	assert.Equal(t, "230.0/230.8/240.0", cellOf(t, volt, "U1 min/mean/max"))
	assert.Equal(t, "15.00", cellOf(t, volt, "I1 max"))
	assert.Equal(t, "-", cellOf(t, volt, "I2 max"))
	require.Len(t, gaps, 3)
	assert.Equal(t, []string{"meter1", "2026-01-14", "10:16:39", "10:21:39", "5m00s"}, gaps[1])
	assert.Equal(t, []string{"meter1", "2026-01-14", "10:22:57", "12:00:00", "1h37m03s"}, gaps[2])
	assert.Contains(t, md, "x 1 s / 3600", "the integration method is stated")
}

func TestTableOutputIsAligned(t *testing.T) {
	out := render(t, FormatTable)
	lines := strings.Split(out, "\n")
	// Each header is followed by its row; columns start at the same offsets.
	checked := 0
	for i, l := range lines {
		if !strings.HasPrefix(l, "DEVICE") || i+1 >= len(lines) {
			continue
		}
		row := lines[i+1]
		require.True(t, strings.HasPrefix(row, "meter1"), "row under %q: %q", l, row)
		hdrCols := columnStarts(l)
		rowCols := columnStarts(row)
		for _, c := range rowCols {
			assert.Contains(t, hdrCols, c, "a value starts where a header starts\n%s\n%s", l, row)
		}
		checked++
	}
	assert.Equal(t, 4, checked, "energy, power, voltage and gap tables")
	assert.Contains(t, out, "1.500")
	assert.Contains(t, out, "1.002")
	assert.Contains(t, out, "10:16:39  10:21:39  5m00s")
	assert.Contains(t, out, "230.0/230.8/240.0")
	assert.Contains(t, out, "x 1 s / 3600", "the integration method is stated")
}

// columnStarts returns the offsets where a cell starts after a run of 2+ spaces.
func columnStarts(l string) []int {
	starts := []int{0}
	for i := 2; i < len(l); i++ {
		if l[i] != ' ' && l[i-1] == ' ' && l[i-2] == ' ' {
			starts = append(starts, i)
		}
	}
	return starts
}

func TestEmptyAndBadInputs(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "dev", "notes.csv"), "a,b\n1,2\n")
	write(t, filepath.Join(dir, "dev", "empty.csv"), "")
	write(t, filepath.Join(dir, "dev", "ts_summary_20260114_0000.csv"), "\x00\x01garbage\n")
	var warn bytes.Buffer
	_, err := Analyze([]string{dir}, Options{Warnings: &warn})
	require.Error(t, err, "nothing usable is an error")
	assert.Contains(t, err.Error(), "no ts_summary or energie CSV file")
	assert.Contains(t, warn.String(), "notes.csv skipped")
	assert.Contains(t, warn.String(), "empty.csv skipped")

	_, err = Analyze([]string{filepath.Join(dir, "missing")}, Options{})
	var pe *PathError
	require.ErrorAs(t, err, &pe, "a PATH that does not exist")
	assert.Contains(t, err.Error(), "missing")

	// A file given twice (directly and through its folder) counts once.
	sums, err := Analyze([]string{handDay, filepath.Join(handDay, "meter1", "ts_summary_20260114_1021.csv")}, Options{})
	require.NoError(t, err)
	require.Len(t, sums, 1)
	assert.Equal(t, 3, sums[0].TSRows)
}

func TestDayComesFromTimeColumn(t *testing.T) {
	dir := t.TempDir()
	// A file named for the 14th holding rows of the 14th and the 15th.
	write(t, filepath.Join(dir, "m", "energie_20260114_2359.csv"),
		"Time,Pi,count\n2026-01-14T23:59:59,3.6,1\n2026-01-15T00:00:00,7.2,1\n2026-01-15T00:00:01,7.2,1\n")
	sums, err := Analyze([]string{dir}, Options{})
	require.NoError(t, err)
	require.Len(t, sums, 2)
	assert.Equal(t, "2026-01-14", sums[0].Date)
	assert.Equal(t, 1, sums[0].Seconds)
	num(t, 0.001, sums[0].ImportKWhIntegrated, "day 14")
	assert.Equal(t, "2026-01-15", sums[1].Date)
	assert.Equal(t, 2, sums[1].Seconds)
	num(t, 0.004, sums[1].ImportKWhIntegrated, "day 15")
	assert.False(t, sums[1].ImportKWhCounter.Valid(), "no TS rows: counter unknown")
}

func write(t *testing.T, name, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(name), 0o755))
	require.NoError(t, os.WriteFile(name, []byte(content), 0o644))
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"table", "csv", "json", "markdown", "md"} {
		_, err := ParseFormat(s)
		assert.NoError(t, err, s)
	}
	_, err := ParseFormat("xml")
	assert.ErrorContains(t, err, "table, csv, json or markdown")
	assert.Equal(t, "0", machine(Num(-1e-9)), "no -0 nor float noise")
	assert.Equal(t, "7.755", machine(Num(15397.878-15390.123)))
	assert.Equal(t, "353234363435", machine(Num(353234363435)), "no exponent")
}

func TestJunkRowsAreSkippedNotFatal(t *testing.T) {
	dir := t.TempDir()
	// Time is not the first column; short, long, quoted and binary rows.
	write(t, filepath.Join(dir, "m", "energie_20260114_0000.csv"), "count,Time,Pi\n"+
		"junk\n"+
		"1,2026-01-14T08:00:00,3.6,extra\n"+
		"1,\"2026-01-14T08:00:01,3.6\n"+
		"\x00\xff\xfe,\x01,\x02\n"+
		"1,2026-01-14T08:00:02,NaN\n"+
		"1,2026-01-14T08:00:03,-Inf\n"+
		"-1,2026-01-14T08:00:04,3.6\n"+
		"count,Time,Pi\n"+
		"1,2026-01-14T24:00:00,3.6\n"+
		"2,2026-01-14T08:00:05,7.2\n")
	var warn bytes.Buffer
	sums, err := Analyze([]string{dir}, Options{Warnings: &warn})
	require.NoError(t, err)
	require.Len(t, sums, 1)
	assert.Equal(t, 1, sums[0].Seconds, "only the last row is readable")
	num(t, 3.6, sums[0].PeakImportKW, "7.2 over 2 messages")
	assert.Contains(t, warn.String(), "unreadable row(s) skipped")
}

func TestGzipAndDeviceNames(t *testing.T) {
	dir := t.TempDir()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte("Time,Pi,count\n2026-01-14T08:00:00,3.6,1\n"))
	require.NoError(t, zw.Close())
	write(t, filepath.Join(dir, "meter9", "energie_20260114_0000.csv.gz"), b.String())
	sums, err := Analyze([]string{dir}, Options{})
	require.NoError(t, err)
	require.Len(t, sums, 1)
	assert.Equal(t, "meter9", sums[0].Device)
	num(t, 0.001, sums[0].ImportKWhIntegrated, "gzip file read")

	assert.Equal(t, "", deviceOf("energie_20260114_0000.csv"), "a file in the current folder has no device")
	assert.Equal(t, "m1", deviceOf(filepath.Join("data", "m1", "x.csv")))
}
