package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func checkPNG(t *testing.T, name string) {
	t.Helper()
	f, err := os.Open(name)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err, "%s is a PNG", name)
	assert.Equal(t, 1200, img.Bounds().Dx(), "12 in at 100 dpi")
	assert.Equal(t, 900, img.Bounds().Dy(), "9 in at 100 dpi")
}

func checkSVG(t *testing.T, name string) {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	var doc struct {
		XMLName xml.Name
		Width   string `xml:"width,attr"`
		Height  string `xml:"height,attr"`
		Inner   []byte `xml:",innerxml"`
	}
	require.NoError(t, xml.Unmarshal(b, &doc), "%s is XML", name)
	assert.Equal(t, "svg", doc.XMLName.Local)
	assert.Equal(t, "864pt", doc.Width, "12 in")
	assert.Equal(t, "648pt", doc.Height, "9 in")
	// The labels a reader needs are in the picture.
	for _, s := range []string{"meter1", "2026-01-14", "power (kW)", "voltage (V)", "12:00", "207-253 V band", "TS summary Pi"} {
		assert.Contains(t, string(b), s, "SVG text")
	}
	// The hand-made day has data from 09:xx to 12:xx: the axes show those hours, not a
	// sliver of a 24-hour axis.
	assert.Contains(t, string(b), ">09:00<")
	assert.Contains(t, string(b), ">13:00<")
	assert.NotContains(t, string(b), ">24:00<")
}

func TestViewWindow(t *testing.T) {
	secs := func(ts ...int) []Second {
		var out []Second
		for _, v := range ts {
			out = append(out, Second{T: v})
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		day    Day
		lo, hi int
	}{
		{"no data", Day{}, 0, SecondsPerDay},
		{"three hours", Day{Seconds: secs(10*3600, 12*3600+59*60)}, 10 * 3600, 13 * 3600},
		{"a few minutes", Day{Seconds: secs(10*3600+60, 10*3600+600)}, 10 * 3600, 12 * 3600},
		{"late evening", Day{Seconds: secs(23*3600 + 30)}, 22 * 3600, SecondsPerDay},
		{"summary rows count", Day{Seconds: secs(10 * 3600), TS: []TSRow{{T: 14*3600 + 5}}}, 10 * 3600, 15 * 3600},
		{"most of the day", Day{Seconds: secs(3600, 20*3600)}, 0, SecondsPerDay},
	} {
		lo, hi := viewWindow(&tc.day)
		assert.Equal(t, [2]int{tc.lo, tc.hi}, [2]int{lo, hi}, tc.name)
	}
}

func TestPlotPNGAndSVG(t *testing.T) {
	dir := t.TempDir()
	set, err := Scan([]string{handDay}, Options{})
	require.NoError(t, err)
	_, err = set.Each(func(d *Day) error {
		if err := WritePlot(d, filepath.Join(dir, "day.png")); err != nil {
			return err
		}
		return WritePlot(d, filepath.Join(dir, "day.svg"))
	})
	require.NoError(t, err)
	checkPNG(t, filepath.Join(dir, "day.png"))
	checkSVG(t, filepath.Join(dir, "day.svg"))

	assert.ErrorContains(t, CheckPlotName("day.jpg"), ".png or .svg")
	assert.NoError(t, CheckPlotName("DAY.PNG"))
}

func TestLinesBreakAtGaps(t *testing.T) {
	set, err := Scan([]string{handDay}, Options{})
	require.NoError(t, err)
	var segsPi, segsU1 []int
	_, err = set.Each(func(d *Day) error {
		for _, s := range segments(d.Seconds, QPi, 0) {
			segsPi = append(segsPi, len(s))
		}
		for _, s := range segments(d.Seconds, QU1, 0) {
			segsU1 = append(segsU1, len(s))
		}
		return nil
	})
	require.NoError(t, err)
	// Pi: 10:00:00-10:16:39 then, after 1h43 without Pi, the lone noon second.
	assert.Equal(t, []int{1000, 1}, segsPi)
	// U1: 10:00:00-10:15:20, then 10:21:39-10:22:57 (6 min 19 s without U1).
	assert.Equal(t, []int{921, 79}, segsU1)
}

func TestThinningKeepsPeaks(t *testing.T) {
	var secs []Second
	for s := range SecondsPerDay {
		var sc Second
		for q := range sc.V {
			sc.V[q] = math.NaN()
		}
		sc.V[QPi] = 1
		if s == 43210 {
			sc.V[QPi] = 9.5 // a one-second spike
		}
		secs = append(secs, Second{T: s, V: sc.V})
	}
	segs := segments(secs, QPi, 0)
	require.Len(t, segs, 1)
	assert.Less(t, len(segs[0]), maxPlotPoints, "thinned for drawing")
	peak := 0.0
	for _, p := range segs[0] {
		peak = math.Max(peak, p.Y)
	}
	assert.Equal(t, 9.5, peak, "the spike is still drawn")
}

// TestSeveralDeviceDays runs the whole report on two devices over two days
// and checks that one picture per device-day is written, with its name.
func TestSeveralDeviceDays(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	write(t, filepath.Join(data, "meter1", "energie_20260114_0000.csv"),
		"Time,Pi,Po,U1,count\n2026-01-14T08:00:00,3.6,0,230,3\n2026-01-14T08:00:01,3.6,0,231,3\n")
	write(t, filepath.Join(data, "meter1", "energie_20260115_0000.csv"),
		"Time,Pi,Po,U1,count\n2026-01-15T08:00:00,1.8,0,229,3\n")
	write(t, filepath.Join(data, "meter2", "energie_20260114_2359.csv"),
		"Time,Pi,Po,U1,count\n2026-01-14T23:59:59,0,2,240,3\n2026-01-15T00:00:00,0,2,241,3\n")
	write(t, filepath.Join(data, "meter2", "ts_summary_20260115_0000.csv"),
		"Time,TS,Pi,Po,E1,E2\n2026-01-15T00:00:30,x,0,2,10,20\n2026-01-15T00:05:30,x,0,2,10,20.1\n")

	var stdout, stderr bytes.Buffer
	plotBase := filepath.Join(dir, "pics", "day.svg")
	require.NoError(t, os.MkdirAll(filepath.Dir(plotBase), 0o755))
	out := filepath.Join(dir, "report.csv")
	err := Run(Config{Paths: []string{data}, Out: out, Plot: plotBase, Format: FormatCSV}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	assert.Empty(t, stdout.String(), "--out writes to the file, not to stdout")

	entries, err := os.ReadDir(filepath.Dir(plotBase))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		checkSVGSize(t, filepath.Join(filepath.Dir(plotBase), e.Name()))
	}
	sort.Strings(names)
	assert.Equal(t, []string{"day_meter1_20260114.svg", "day_meter1_20260115.svg",
		"day_meter2_20260114.svg", "day_meter2_20260115.svg"}, names)
	assert.Contains(t, stderr.String(), "day_meter2_20260115.svg")

	rep, err := os.ReadFile(out)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(rep)), "\n")
	require.Len(t, lines, 5, "header and one row per device-day")
	assert.True(t, strings.HasPrefix(lines[4], "meter2,2026-01-15,0,0,0.1,0.000556,"), lines[4])

	// With exactly one device-day the name is used as given.
	one := filepath.Join(dir, "one.png")
	stderr.Reset()
	err = Run(Config{Paths: []string{filepath.Join(data, "meter1", "energie_20260115_0000.csv")}, Plot: one}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	checkPNG(t, one)
	assert.Contains(t, stdout.String(), "meter1")
}

func checkSVGSize(t *testing.T, name string) {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	var doc struct {
		Width  string `xml:"width,attr"`
		Height string `xml:"height,attr"`
	}
	require.NoError(t, xml.Unmarshal(b, &doc))
	assert.Equal(t, "864pt", doc.Width)
	assert.Equal(t, "648pt", doc.Height)
}

// writeSampleDay writes a realistic day of a household with solar panels:
// every attribute sent once a second (count = attributes present), a TS
// summary every 5 minutes with counters that follow the power, and a
// 20-minute outage of the recorder at 14:10.
func writeSampleDay(t *testing.T, dir string) (importKWh, exportKWh float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	var en, ts strings.Builder
	en.WriteString("Time,Pi,Po,B1,B2,E1,E2,P1i,P2i,P3i,P1o,P2o,P3o,I1,I2,I3,U1,U2,U3,count\n")
	ts.WriteString("Time,TS,NS,Pi,Po,B1,B2,E1,E2,P1i,P2i,P3i,P1o,P2o,P3o,I1,I2,I3,U1,U2,U3\n")
	e1, e2, b1, b2 := 15397.878, 34.25, 10017.763, 11931.218
	kettle := 0
	f := func(v float64) string { return fmt.Sprintf("%.3f", v) }
	for s := range SecondsPerDay {
		h := float64(s) / 3600
		load := 0.25 + 0.05*math.Sin(h)
		load += 1.2 * math.Exp(-math.Pow((h-7.5)/0.7, 2))   // breakfast
		load += 2.2 * math.Exp(-math.Pow((h-19.3)/1.3, 2))  // evening
		load += 0.6 * math.Exp(-math.Pow((h-12.8)/0.4, 2))  // lunch
		if kettle == 0 && rng.Float64() < 0.0004 && h > 6 { // a kettle or oven now and then
			kettle = 120 + rng.IntN(300)
		}
		if kettle > 0 {
			load += 2.0
			kettle--
		}
		load += 0.08 * rng.NormFloat64()
		pv := 0.0
		if h > 7.8 && h < 17.2 {
			pv = 4.2 * math.Pow(math.Sin(math.Pi*(h-7.8)/9.4), 1.5) * (0.85 + 0.15*rng.Float64())
		}
		net := load - pv
		pi, po := math.Max(net, 0), math.Max(-net, 0)
		e1 += pi / 3600
		e2 += po / 3600
		b1 += 0.2 * pi / 3600
		b2 += 0.1 * po / 3600
		u := [3]float64{}
		for p := range u {
			u[p] = 231 + 2.5*math.Sin(h/24*2*math.Pi+float64(p)) + 5*po/4.2 + 0.6*rng.NormFloat64() - float64(p)
		}
		share := [3]float64{0.5, 0.3, 0.2}
		var pin, pout, cur [3]float64
		for p := range 3 {
			pin[p], pout[p] = pi*share[p], po/3
			cur[p] = (pin[p] + pout[p]) * 1000 / u[p]
		}
		clock := fmt.Sprintf("2026-03-21T%02d:%02d:%02d", s/3600, s/60%60, s%60)
		if s%300 == 0 {
			fmt.Fprintf(&ts, "%s,260321%02d%02d%02dW,353234363435,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n",
				clock, s/3600, s/60%60, s%60, f(pi), f(po), f(b1), f(b2), f(e1), f(e2),
				f(pin[0]), f(pin[1]), f(pin[2]), f(pout[0]), f(pout[1]), f(pout[2]),
				f(cur[0]), f(cur[1]), f(cur[2]), f(u[0]), f(u[1]), f(u[2]))
		}
		if s >= 14*3600+600 && s < 14*3600+1800 {
			continue // recorder down: no per-second rows
		}
		importKWh += pi / 3600
		exportKWh += po / 3600
		fmt.Fprintf(&en, "%s,%s,%s,,,,,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,14\n", clock, f(pi), f(po),
			f(pin[0]), f(pin[1]), f(pin[2]), f(pout[0]), f(pout[1]), f(pout[2]),
			f(cur[0]), f(cur[1]), f(cur[2]), f(u[0]), f(u[1]), f(u[2]))
	}
	write(t, filepath.Join(dir, "house", "energie_20260321_0000.csv"), en.String())
	write(t, filepath.Join(dir, "house", "ts_summary_20260321_0000.csv"), ts.String())
	return importKWh, exportKWh
}

// TestSampleDay renders a realistic day. Set REPORT_SAMPLE_PNG=/tmp/report-sample.png
// to keep the picture and look at it.
func TestSampleDay(t *testing.T) {
	dir := t.TempDir()
	wantIn, wantOut := writeSampleDay(t, dir)
	set, err := Scan([]string{dir}, Options{})
	require.NoError(t, err)
	png := filepath.Join(dir, "sample.png")
	if p := os.Getenv("REPORT_SAMPLE_PNG"); p != "" {
		png = p
	}
	sums, err := set.Each(func(d *Day) error { return WritePlot(d, png) })
	require.NoError(t, err)
	checkPNG(t, png)
	require.Len(t, sums, 1)
	s := sums[0]
	assert.Equal(t, "house", s.Device)
	assert.Equal(t, SecondsPerDay-1200, s.Seconds)
	assert.Equal(t, []Gap{{From: "14:09:59", To: "14:30:00", Seconds: 1201}}, s.Gaps)
	// The integration follows the data to the rounding of the CSV (3 decimals).
	assert.InDelta(t, wantIn, float64(s.ImportKWhIntegrated), 0.01)
	assert.InDelta(t, wantOut, float64(s.ExportKWhIntegrated), 0.01)
	// The counters also cover the outage, so they read more than the integration.
	assert.Greater(t, float64(s.ExportKWhCounter), float64(s.ExportKWhIntegrated))
	assert.Less(t, float64(s.Phases[0].UMax), VoltHigh)
	assert.Greater(t, float64(s.Phases[2].UMin), VoltLow)
}
