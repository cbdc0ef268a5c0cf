package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	influxser "github.com/influxdata/telegraf/plugins/serializers/influx"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/internal/hostiletest"
	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
	"github.com/mqtttocsv/mqtttocsv/plugins/processors/tasmota_csv/csvtest"
)

const (
	hostileDevice = "tasmota_EB7D9F"
	hostileTopic  = "tele/" + hostileDevice + "/SENSOR"
	tsHeaderLine  = "Time,TS,NS,Pi,Po,B1,B2,E1,E2,P1i,P2i,P3i,P1o,P2o,P3o,I1,I2,I3,U1,U2,U3\n"
	enHeaderLine  = "Time,Pi,Po,B1,B2,E1,E2,P1i,P2i,P3i,P1o,P2o,P3o,I1,I2,I3,U1,U2,U3,count\n"
)

// lpCase is a hostile line of line protocol, as no Telegraf sends it but as anything
// writing to the program's stdin could.
type lpCase struct {
	name string
	// line, without its line break: {T} is the ISO time of the case's second, {N} the
	// same second in nanoseconds, {E} in seconds.
	line     string
	parseErr bool // the shim's influx parser refuses it (an E! line, nothing passed on)
	refused  map[refusal.Reason]uint64
	en       map[string]string // the energie row it makes
	count    int               // its count, 1 when 0
	ts       []string          // the TS row it makes: TS, NS and Pi cells
	device   string            // the device of its rows, when not hostileDevice
	at       string            // the Time of its rows, when not the case's second
}

func lpCases() []lpCase {
	const m = "tasmota,topic=" + hostileTopic + " "
	one := hostiletest.One
	var fields strings.Builder
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&fields, "x%d=%di,", i, i)
	}
	long := strings.Repeat("a", 10000)
	return []lpCase{
		{name: "not line protocol", line: "this is not line protocol", parseErr: true},
		{name: "measurement only", line: "tasmota", parseErr: true},
		{name: "tags only", line: "tasmota,topic=" + hostileTopic, parseErr: true},
		{name: "no fields", line: m + "{N}", parseErr: true},
		{name: "empty field value", line: m + `Pi=,Time="{T}" {N}`, parseErr: true},
		{name: "field without value", line: m + "Pi {N}", parseErr: true},
		{name: "bad timestamp", line: m + `Pi=1,Time="{T}" soon`, parseErr: true},
		{name: "timestamp overflow", line: m + `Pi=1,Time="{T}" 99999999999999999999`, parseErr: true},
		{name: "float out of range", line: m + `Pi=1e400,Time="{T}" {N}`, parseErr: true},
		{name: "NaN", line: m + `Pi=NaN,Time="{T}" {N}`, parseErr: true},
		{name: "empty tag value", line: `tasmota,topic= Pi=1,Time="{T}" {N}`, parseErr: true},
		{name: "NUL bytes", line: "\x00\x00\x00", parseErr: true},
		{name: "1 MiB of garbage", line: strings.Repeat("x", 1<<20), parseErr: true},
		{name: "1 MiB of spaces and commas", line: strings.Repeat(", =", 1<<18), parseErr: true},
		{name: "comment", line: "# tasmota,topic=" + hostileTopic + ` Pi=1,Time="{T}" {N}`},
		{name: "blank line", line: ""},
		{name: "2 MiB string", line: m + `TS="` + strings.Repeat("y", 2<<20) + `",NS=1,Time="{T}" {N}`, refused: one(refusal.TooLarge)}, // over max_payload
		{name: "10 000 fields", line: m + fields.String() + `Pi=5,Time="{T}" {N}`, refused: map[refusal.Reason]uint64{refusal.UnknownAttribute: 10000}, en: map[string]string{"Pi": "5"}},
		{name: "invalid UTF-8 in a key and a string", line: m + "P\xffi=1,TS=\"\xff\xfe\",NS=2,Time=\"{T}\" {N}",
			refused: map[refusal.Reason]uint64{refusal.UnknownAttribute: 1, refusal.BadValue: 1}, ts: []string{"", "2", ""}},
		{name: "invalid UTF-8 in the measurement", line: "tas\xffmota,topic=" + hostileTopic + ` Pi=1,Time="{T}" {N}`, en: map[string]string{"Pi": "1"}},
		{name: "invalid UTF-8 in the topic", line: "tasmota,topic=tele/d\xffv/SENSOR Pi=2,Time=\"{T}\" {N}", en: map[string]string{"Pi": "2"}, device: "d_v"},
		{name: "fields of wrong types", line: m + `Pi="0.5",Po=true,U1=7i,U2=8u,U3=F,Time="{T}" {N}`,
			refused: map[refusal.Reason]uint64{refusal.BadValue: 3}, en: map[string]string{"U1": "7", "U2": "8"}},
		{name: "TS of wrong type", line: m + `TS=true,NS="x",Pi=3,Time="{T}" {N}`, refused: map[refusal.Reason]uint64{refusal.BadValue: 2}, ts: []string{"", "", "3"}},
		{name: "numeric TS", line: m + `TS=260114100949i,Time="{T}" {N}`, ts: []string{"260114100949", "", ""}},
		{name: "Time bool", line: m + `Pi=1,Time=true {N}`, refused: one(refusal.BadTime)},
		{name: "Time garbage string", line: m + `Pi=1,Time="garbage" {N}`, refused: one(refusal.BadTime)},
		{name: "Time of 10 000 characters", line: m + `Pi=1,Time="{T}` + long + `" {N}`, refused: one(refusal.BadTime)},
		{name: "Time huge float", line: m + `Pi=1,Time=1e300 {N}`, refused: one(refusal.BadTime)},
		{name: "Time huge integer", line: m + `Pi=1,Time=9223372036854775807i {N}`, refused: one(refusal.BadTime)},
		{name: "Time huge unsigned", line: m + `Pi=1,Time=18446744073709551615u {N}`, refused: one(refusal.BadTime)},
		{name: "Time far in the past", line: m + `Pi=1,Time=-1e12 {N}`, refused: one(refusal.BadTime)},
		{name: "Time empty", line: m + `Pi=1,Time="" {N}`, refused: one(refusal.BadTime)},
		{name: "Time as epoch float", line: m + `Pi=2,Time={E} {N}`, en: map[string]string{"Pi": "2"}},
		{name: "Time as epoch integer", line: m + `Pi=3,Time={E}i {N}`, en: map[string]string{"Pi": "3"}},
		{name: "no Time and no time stamp", line: m + `Pi=1`, at: "now"}, // written at the time it is read
		{name: "only Time", line: m + `Time="{T}" {N}`, refused: one(refusal.NoMeter)},
		{name: "missing topic tag", line: `tasmota Pi=1,Time="{T}" {N}`, refused: one(refusal.UnsafeDevice)},
		{name: "another tag only", line: `tasmota,host=h Pi=1,Time="{T}" {N}`, refused: one(refusal.UnsafeDevice)},
		{name: "topic tele/../SENSOR", line: `tasmota,topic=tele/../SENSOR Pi=1,Time="{T}" {N}`, refused: one(refusal.UnsafeDevice)},
		{name: "topic tele/./SENSOR", line: `tasmota,topic=tele/./SENSOR Pi=1,Time="{T}" {N}`, refused: one(refusal.UnsafeDevice)},
		{name: "topic tele//SENSOR", line: `tasmota,topic=tele//SENSOR Pi=1,Time="{T}" {N}`, refused: one(refusal.UnsafeDevice)},
		{name: "topic .. alone", line: `tasmota,topic=.. Pi=1,Time="{T}" {N}`, refused: one(refusal.UnsafeDevice)},
		{name: "topic of 10 000 characters", line: `tasmota,topic=tele/` + long + `/SENSOR Pi=1,Time="{T}" {N}`, refused: one(refusal.UnsafeDevice)},
		{name: "topic ../../etc/passwd", line: `tasmota,topic=../../etc/passwd Pi=4,Time="{T}" {N}`, en: map[string]string{"Pi": "4"}, device: "etc"},
		{name: "topic with escaped space, comma and equals", line: `tasmota,topic=tele/a\ b\,c\=d/SENSOR Pi=5,Time="{T}" {N}`, en: map[string]string{"Pi": "5"}, device: "a_b_c_d"},
		{name: "tag key of 10 000 characters", line: "tasmota," + long + "=b,topic=" + hostileTopic + ` Pi=6,Time="{T}" {N}`, en: map[string]string{"Pi": "6"}},
		{name: "tag value of 10 000 characters", line: "tasmota,host=" + long + ",topic=" + hostileTopic + ` Pi=7,Time="{T}" {N}`, en: map[string]string{"Pi": "7"}},
		{name: "measurement of 10 000 characters", line: long + ",topic=" + hostileTopic + ` Pi=8,Time="{T}" {N}`, en: map[string]string{"Pi": "8"}},
		{name: "field key of 10 000 characters", line: m + long + `=1,Pi=9,Time="{T}" {N}`, refused: one(refusal.UnknownAttribute), en: map[string]string{"Pi": "9"}},
		{name: "duplicate fields", line: m + `Pi=1,Pi=2,Time="{T}" {N}`, en: map[string]string{"Pi": "2"}},
		{name: "duplicate topic tags", line: "tasmota,topic=tele/other/SENSOR,topic=" + hostileTopic + ` Pi=3,Time="{T}" {N}`, en: map[string]string{"Pi": "3"}},
		{name: "NUL in a field key", line: m + "Pi\x00=1,Po=4,Time=\"{T}\" {N}", refused: one(refusal.UnknownAttribute), en: map[string]string{"Po": "4"}},
		{name: "line break inside a string", line: m + `TS="a` + "\n" + `b",NS=3,Time="{T}" {N}`, ts: []string{"\"a\nb\"", "3", ""}},
		{name: "formula in TS", line: m + `TS="=HYPERLINK(\"x\")",Time="{T}" {N}`, ts: []string{`"'=HYPERLINK(""x"")"`, "", ""}},
		{name: "CRLF line ending", line: m + `Pi=6,Time="{T}" {N}` + "\r", en: map[string]string{"Pi": "6"}},
		{name: "time stamp before 1970, no Time", line: m + `Pi=7 -1000000000`, en: map[string]string{"Pi": "7"}, at: "1969-12-31T23:59:59"},
		{name: "time stamp in 2100, no Time", line: m + `Pi=8 4102444800000000000`, en: map[string]string{"Pi": "8"}, at: "2100-01-01T00:00:00"},
	}
}

func (c lpCase) lineAt(s int) string {
	l := strings.ReplaceAll(c.line, "{T}", hostiletest.Second(s))
	l = strings.ReplaceAll(l, "{N}", strconv.FormatInt(int64(hostiletest.Base+s)*1e9, 10))
	return strings.ReplaceAll(l, "{E}", strconv.Itoa(hostiletest.Base+s))
}

// fileRows are expected rows by file name.
type fileRows map[string][]string

func (f fileRows) add(device, tm string, en map[string]string, count int, ts []string) {
	date := strings.ReplaceAll(tm[:10], "-", "")
	if en != nil {
		if count == 0 {
			count = 1
		}
		cells := []string{tm}
		for _, c := range config.DefaultColumns {
			cells = append(cells, en[c])
		}
		name := device + "/energie_" + date + ".csv"
		f[name] = append(f[name], strings.Join(append(cells, strconv.Itoa(count)), ",")+"\n")
	}
	if ts != nil {
		cells := []string{tm, ts[0], ts[1]}
		for _, c := range config.DefaultColumns {
			if c == "Pi" {
				cells = append(cells, ts[2])
			} else {
				cells = append(cells, "")
			}
		}
		name := device + "/ts_" + date + ".csv"
		f[name] = append(f[name], strings.Join(cells, ",")+"\n")
	}
}

// merged adds the rows to the standalone's files (new files get a header), each file's
// rows in the order of their Time.
func (f fileRows) merged(ref csvtest.Tree) csvtest.Tree {
	out := csvtest.Tree{}
	for name, b := range ref {
		out[name] = b
	}
	for name, rows := range f {
		var header string
		var lines []string
		if b, ok := out[name]; ok {
			h, body, _ := strings.Cut(string(b), "\n")
			header = h + "\n"
			for _, l := range strings.SplitAfter(body, "\n") {
				if l != "" {
					lines = append(lines, l) // the standalone's good rows hold no line break
				}
			}
		} else if strings.Contains(name, "/ts_") {
			header = tsHeaderLine
		} else {
			header = enHeaderLine
		}
		lines = append(lines, rows...)
		sort.SliceStable(lines, func(i, j int) bool { return lines[i][:19] < lines[j][:19] })
		out[name] = []byte(header + strings.Join(lines, ""))
	}
	return out
}

var stoppedLine = regexp.MustCompile(`I! stopped: messages ([0-9]+), refused [0-9]+ \(([^)]*)\)`)

// TestHostileLineProtocol feeds the real binary the hostile catalogue of
// internal/hostiletest as processors.execd sends it (Telegraf's json_v2 parser set up as
// in sample.conf, then Telegraf's influx serializer), then hostile line protocol of its
// own, each case followed by good messages. The process stays up and exits 0 at the end
// of stdin; every line the shim can parse comes out on stdout unchanged; the refusals
// are those expected; every file is inside the output folder; and the files hold exactly
// the rows the standalone writes for the good messages, byte for byte, and the expected
// rows of the hostile cases.
func TestHostileLineProtocol(t *testing.T) {
	csvtest.CheckDiffNames(t)
	cases := hostiletest.Catalogue()
	extra := lpCases()
	parser := csvtest.JSONv2(t, "z")
	ser := &influxser.Serializer{} // processors.execd's data_format = "influx"
	require.NoError(t, ser.Init())

	var in bytes.Buffer
	var good []csvtest.Message
	rows := fileRows{}
	wantRefused := map[string]int{}
	received, parseErrors, serializeErrors := 0, 0, 0
	refuse := func(m map[refusal.Reason]uint64) {
		for r, n := range m {
			wantRefused[r.String()] += int(n)
		}
	}
	sendGood := func(i, gs int) {
		for _, g := range hostiletest.Good(i, gs) {
			msg := csvtest.Message{Topic: hostileTopic, Payload: []byte(g)}
			good = append(good, msg)
			ms, err := parser.Parse(msg.Payload)
			require.NoError(t, err)
			for _, m := range ms {
				m.AddTag("topic", hostileTopic)
				m.SetTime(time.Unix(int64(hostiletest.Base+gs), 0))
				b, err := ser.Serialize(m)
				require.NoError(t, err)
				in.Write(b)
				received++
			}
		}
	}
	for i, c := range cases {
		hs := 2 * i
		want := csvtest.Execd(c)
		ms, err := csvtest.HostileMetrics(parser, c, hs, hostileTopic)
		require.Equal(t, want.Parser, err != nil, "%s: json_v2: %.200v", c.Name, err)
		for _, m := range ms {
			b, err := ser.Serialize(m)
			if err != nil { // processors.execd logs it and drops the metric
				serializeErrors++
				continue
			}
			in.Write(b)
			received++
		}
		refuse(want.Refused)
		rows.add(hostileDevice, hostiletest.Second(hs), want.En, want.Count, want.TS)
		sendGood(i, hs+1)
	}
	nowCase := -1
	if time.Now().UTC().Format("20060102") == "20260114" {
		// The line without a time would write to the file of the good rows: not today.
		extra = slices.DeleteFunc(extra, func(c lpCase) bool { return c.at == "now" })
	}
	for j, c := range extra {
		i := len(cases) + j
		hs := 2 * i
		in.WriteString(c.lineAt(hs) + "\n")
		switch {
		case c.parseErr:
			parseErrors++
		case c.line == "" || strings.HasPrefix(c.line, "#"):
		default:
			received++
		}
		refuse(c.refused)
		dev, tm := hostileDevice, hostiletest.Second(hs)
		if c.device != "" {
			dev = c.device
		}
		if c.at == "now" {
			nowCase = j
		} else if c.at != "" {
			tm = c.at
		}
		rows.add(dev, tm, c.en, c.count, c.ts)
		sendGood(i, hs+1)
	}
	require.Zero(t, serializeErrors, "every metric json_v2 makes of the catalogue can be sent as line protocol")
	require.GreaterOrEqual(t, len(cases)+len(extra), 100)

	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	opts := []string{`flush_interval = "1h"`, `timezone = "UTC"`,
		`ts_file = "{device}/ts_{date}.csv"`, `energie_file = "{device}/energie_{date}.csv"`}
	started := time.Now()
	code, stdout, stderr := runOnce(t, in.Bytes(), "-config", pluginConf(t, out, opts...))
	require.Equal(t, exitOK, code, "%.4000s", stderr)
	require.NotContains(t, stderr, "panic")
	require.Equal(t, parseErrors, strings.Count(stderr, "E! Failed to parse metric"), "%.4000s", stderr)

	// Every line the shim parses is passed on unchanged (the shim's influx serializer
	// writes unsigned integers as integers, clamped to the largest one).
	wantOut := parseLines(t, in.Bytes())
	gotOut := parseLines(t, stdout)
	require.Len(t, gotOut, len(wantOut))
	for i, m := range wantOut {
		for _, f := range m.FieldList() {
			if u, ok := f.Value.(uint64); ok {
				m.AddField(f.Key, int64(min(u, math.MaxInt64)))
			}
		}
		if gotOut[i].Time().After(started) { // the line without a time stamp: parsed now
			m.SetTime(gotOut[i].Time())
		}
	}
	testutil.RequireMetricsEqual(t, wantOut, gotOut)

	// The refusals, in the summary of the stop.
	sm := stoppedLine.FindStringSubmatch(stderr)
	require.NotNil(t, sm, "no summary in:\n%.4000s", stderr)
	require.Equal(t, strconv.Itoa(received), sm[1], "messages")
	gotRefused := map[string]int{}
	for _, part := range strings.Split(sm[2], ", ") {
		if name, n, ok := strings.Cut(part, " "); ok {
			v, err := strconv.Atoi(n)
			require.NoError(t, err)
			gotRefused[name] = v
		}
	}
	for r, n := range wantRefused {
		if n == 0 {
			delete(wantRefused, r)
		}
	}
	require.Equal(t, wantRefused, gotRefused)

	// Every file is inside the output folder, a regular .csv file.
	entries, err := os.ReadDir(parent)
	require.NoError(t, err)
	require.Len(t, entries, 1, "created beside the output folder: %v", entries)
	require.NoError(t, filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(out, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
			return fmt.Errorf("%s is outside %s", p, out)
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(p, ".csv") {
			return fmt.Errorf("unexpected file %s (%v)", rel, d.Type())
		}
		return nil
	}))

	// The files: the standalone's rows for the good messages plus the hostile rows.
	got := csvtest.ReadTree(t, out)
	if nowCase >= 0 {
		// The line without Time or time stamp is written at the time the shim read it, in
		// the file of that day: check its row and leave that file out of the comparison.
		var found []string
		for _, day := range []time.Time{started, time.Now()} {
			name := hostileDevice + "/energie_" + day.UTC().Format("20060102") + ".csv"
			if b, ok := got[name]; ok {
				require.Regexp(t, `^`+regexp.QuoteMeta(enHeaderLine)+`[0-9-]{10}T[0-9:]{8},1,,,,,,,,,,,,,,,,,,1\n$`, string(b), "%s", name)
				delete(got, name)
				found = append(found, name)
			}
		}
		require.Len(t, found, 1, "the row of the line without a time")
	}
	o := config.Default()
	o.FlushInterval = config.Duration(time.Hour)
	o.Timezone = "UTC"
	o.TSFile, o.EnergieFile = "{device}/ts_{date}.csv", "{device}/energie_{date}.csv"
	refDir := t.TempDir()
	csvtest.Live(t, o, good, refDir, started)
	want := rows.merged(csvtest.ReadTree(t, refDir))
	if d := csvtest.Diff(want, got); d != "" {
		if len(d) > 4000 {
			d = d[:4000] + "…"
		}
		t.Fatalf("files differ:\n%s", d)
	}
}

// parseLines parses line protocol as the shim does, skipping what it cannot parse.
func parseLines(t *testing.T, b []byte) []telegraf.Metric {
	t.Helper()
	p := influx.NewStreamParser(bytes.NewReader(b))
	var out []telegraf.Metric
	for {
		m, err := p.Next()
		if errors.Is(err, influx.EOF) {
			return out
		}
		var perr *influx.ParseError
		if errors.As(err, &perr) {
			continue
		}
		require.NoError(t, err)
		out = append(out, m)
	}
}

// A last line whose string never ends swallows the end of the input: the process still
// writes every row and exits 0.
func TestUnterminatedStringAtTheEnd(t *testing.T) {
	out := t.TempDir()
	in := `tasmota,topic=tele/d/SENSOR Pi=1,Time="2026-01-14T10:00:00" 1` + "\n" +
		`tasmota,topic=tele/d/SENSOR TS="never closed,Time="2026-01-14T10:00:01" 2` + "\n"
	code, stdout, stderr := runOnce(t, []byte(in), "-config", pluginConf(t, out, `energie_file = "{device}/energie_{date}.csv"`))
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, 1, lines(stdout))
	b, err := os.ReadFile(filepath.Join(out, "d", "energie_20260114.csv"))
	require.NoError(t, err)
	require.Equal(t, enHeaderLine+"2026-01-14T10:00:00,1,,,,,,,,,,,,,,,,,,1\n", string(b))
}

// Telegraf's influx stream parser loops forever on a stream that ends in a backslash; the
// program ends the shim's input with a line break and its own last line, so it never sees
// one.
func TestInputEndingInABackslash(t *testing.T) {
	for _, last := range []string{`a\`, "\x00\x80\x14=\"\\/\x800N00\"\\/\\", `tasmota,topic=tele/d/SENSOR Pi=2\`} {
		out := t.TempDir()
		in := `tasmota,topic=tele/d/SENSOR Pi=1,Time="2026-01-14T10:00:00" 1` + "\n" + last
		code, stdout, stderr := runOnce(t, []byte(in), "-config", pluginConf(t, out, `energie_file = "{device}/energie_{date}.csv"`))
		require.Equal(t, exitOK, code, stderr)
		require.Equal(t, 1, lines(stdout))
		require.Contains(t, stderr, "E! Failed to parse metric")
		b, err := os.ReadFile(filepath.Join(out, "d", "energie_20260114.csv"))
		require.NoError(t, err)
		require.Equal(t, enHeaderLine+"2026-01-14T10:00:00,1,,,,,,,,,,,,,,,,,,1\n", string(b))
	}
}
