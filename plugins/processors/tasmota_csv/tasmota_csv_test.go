package tasmota_csv

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/influxdata/telegraf"
	telegrafconfig "github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/parsers/json"
	"github.com/influxdata/telegraf/plugins/processors"
	"github.com/influxdata/telegraf/testutil"
	"github.com/stretchr/testify/require"

	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
	"github.com/mqtttocsv/mqtttocsv/internal/sink"
	"github.com/mqtttocsv/mqtttocsv/plugins/processors/tasmota_csv/csvtest"
)

const topic = "tele/dev1/SENSOR"

// start is the program start the tests give the engine: the capture's first message.
var start = time.Date(2026, 1, 14, 23, 58, 50, 0, time.Local)

// newPlugin returns a started processor writing to a temporary folder, with a flush
// interval long enough that only the test flushes.
func newPlugin(t *testing.T, acc telegraf.Accumulator, set func(*TasmotaCSV)) *TasmotaCSV {
	t.Helper()
	p := New()
	p.OutDir = t.TempDir()
	p.FlushInterval = config.Duration(time.Hour)
	p.Log = testutil.Logger{Name: "processors.tasmota_csv", Quiet: true}
	p.now = func() time.Time { return start }
	if set != nil {
		set(p)
	}
	require.NoError(t, p.Init())
	require.NoError(t, p.Start(acc))
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func sensor(fields map[string]any) telegraf.Metric {
	return testutil.MustMetric("tasmota", map[string]string{"topic": topic}, fields, time.Unix(1700000000, 0))
}

func readFile(t *testing.T, p *TasmotaCSV, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.OutDir, filepath.FromSlash(name)))
	require.NoError(t, err)
	return string(b)
}

const (
	tsHeader      = "Time,TS,NS,Pi,Po,B1,B2,E1,E2,P1i,P2i,P3i,P1o,P2o,P3o,I1,I2,I3,U1,U2,U3\n"
	energieHeader = "Time,Pi,Po,B1,B2,E1,E2,P1i,P2i,P3i,P1o,P2o,P3o,I1,I2,I3,U1,U2,U3,count\n"
)

// tsRow is a TS file row: Time, TS, NS, then the default columns given as "Pi=0.3".
func tsRow(tm, ts, ns string, kv ...string) string {
	cells := append([]string{tm, ts, ns}, make([]string, len(config.DefaultColumns))...)
	setCells(cells[3:], kv)
	return strings.Join(cells, ",") + "\n"
}

// enRow is an energie file row: Time, the default columns given as "Pi=0.3", count.
func enRow(tm string, count int, kv ...string) string {
	cells := append([]string{tm}, make([]string, len(config.DefaultColumns))...)
	setCells(cells[1:], kv)
	return strings.Join(append(cells, strconv.Itoa(count)), ",") + "\n"
}

func setCells(cells []string, kv []string) {
	for _, x := range kv {
		k, v, _ := strings.Cut(x, "=")
		for i, c := range config.DefaultColumns {
			if c == k {
				cells[i] = v
			}
		}
	}
}

func TestRegistered(t *testing.T) {
	creator, ok := processors.Processors[PluginName]
	require.True(t, ok, "processors.tasmota_csv is not registered")
	p, ok := creator().(*TasmotaCSV)
	require.True(t, ok)
	require.Equal(t, config.Default(), p.Options)
	require.NotEmpty(t, p.SampleConfig())
}

// The commented-out values of sample.conf are the defaults, so the documentation cannot
// drift from the code.
func TestSampleConfigShowsTheDefaults(t *testing.T) {
	uncomment := regexp.MustCompile(`(?m)^  # ([a-z_]+ = )`)
	conf := uncomment.ReplaceAllString(sampleConfig, "  $1")
	var file struct {
		Processors struct {
			TasmotaCSV []*TasmotaCSV `toml:"tasmota_csv"`
		} `toml:"processors"`
	}
	md, err := toml.Decode(conf, &file)
	require.NoError(t, err)
	require.Empty(t, md.Undecoded())
	require.Len(t, file.Processors.TasmotaCSV, 1)
	want := config.Default()
	want.OutDir = "/var/lib/tasmota-csv"
	require.Equal(t, want, file.Processors.TasmotaCSV[0].Options)
	for _, key := range []string{"out_dir", "ts_file", "energie_file", "meter", "columns", "aggregation", "flush_interval",
		"timezone", "device_tag", "device_segment", "field_prefix", "drop_original", "emit_aggregates", "max_payload", "max_pending_rows"} {
		require.Contains(t, sampleConfig, key+" = ", "sample.conf does not document %s", key)
	}
}

// Compiled into Telegraf, the plugin is configured by Telegraf's own loader.
func TestTelegrafConfigLoader(t *testing.T) {
	c := telegrafconfig.NewConfig()
	err := c.LoadConfigData([]byte(`
[[processors.tasmota_csv]]
  out_dir = "/tmp/x"
  ts_file = "ts_{date}.csv"
  energie_file = "en_{date}.csv"
  meter = "SML"
  columns = ["Pi", "Po"]
  aggregation = "mean"
  flush_interval = "5s"
  timezone = "UTC"
  device_tag = "dev"
  device_segment = 1
  field_prefix = "SML_"
  drop_original = true
  emit_aggregates = true
  max_payload = 1000
  max_pending_rows = 10
`), "test.conf")
	require.NoError(t, err)
	require.Len(t, c.Processors, 1)
	p, ok := c.Processors[0].Processor.(*TasmotaCSV)
	require.True(t, ok, "%T", c.Processors[0].Processor)
	require.Equal(t, config.Options{
		OutDir: "/tmp/x", TSFile: "ts_{date}.csv", EnergieFile: "en_{date}.csv", Meter: "SML",
		Columns: []string{"Pi", "Po"}, Aggregation: "mean", FlushInterval: config.Duration(5 * time.Second),
		Timezone: "UTC", DeviceTag: "dev", DeviceSegment: 1, FieldPrefix: "SML_", DropOriginal: true,
		EmitAggregates: true, MaxPayload: 1000, MaxPendingRows: 10,
	}, p.Options)

	// A misspelt key is an error, not a silent default.
	c = telegrafconfig.NewConfig()
	err = c.LoadConfigData([]byte("[[processors.tasmota_csv]]\n  out_dirr = \"/tmp/x\"\n"), "test.conf")
	require.ErrorContains(t, err, "out_dirr")
}

func TestInitRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name string
		set  func(*TasmotaCSV)
		want string
	}{
		{"out_dir", func(p *TasmotaCSV) { p.OutDir = " " }, "out_dir is empty"},
		{"absolute template", func(p *TasmotaCSV) { p.TSFile = "/etc/x.csv" }, "ts_file"},
		{"climbing template", func(p *TasmotaCSV) { p.EnergieFile = "../x_{date}.csv" }, "energie_file"},
		{"same templates", func(p *TasmotaCSV) { p.EnergieFile = p.TSFile }, "the two files need different names"},
		{"meter", func(p *TasmotaCSV) { p.Meter = "" }, "meter is empty"},
		{"no columns", func(p *TasmotaCSV) { p.Columns = nil }, "columns is empty"},
		{"reserved column", func(p *TasmotaCSV) { p.Columns = []string{"Pi", "TS"} }, `"TS" is written by the program itself`},
		{"duplicate column", func(p *TasmotaCSV) { p.Columns = []string{"Pi", "Pi"} }, "listed twice"},
		{"aggregation", func(p *TasmotaCSV) { p.Aggregation = "avg" }, "use one of sum, mean, min, max, first, last"},
		{"flush_interval", func(p *TasmotaCSV) { p.FlushInterval = config.Duration(time.Millisecond) }, "use 1s or more"},
		{"timezone", func(p *TasmotaCSV) { p.Timezone = "Mars/Olympus" }, "IANA name"},
		{"device_tag", func(p *TasmotaCSV) { p.DeviceTag = "" }, "device_tag is empty"},
		{"device_tag spaces", func(p *TasmotaCSV) { p.DeviceTag = "topic " }, "has spaces around it"},
		{"field_prefix spaces", func(p *TasmotaCSV) { p.FieldPrefix = "z " }, "field_prefix"},
		{"max_payload", func(p *TasmotaCSV) { p.MaxPayload = 0 }, "max_payload"},
		{"max_pending_rows", func(p *TasmotaCSV) { p.MaxPendingRows = -1 }, "max_pending_rows"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := New()
			c.set(p)
			err := p.Init()
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
			require.Contains(t, err.Error(), "processors.tasmota_csv")
		})
	}
	// Every mistake is reported at once.
	p := New()
	p.Aggregation, p.Meter = "avg", ""
	err := p.Init()
	require.ErrorContains(t, err, "aggregation")
	require.ErrorContains(t, err, "meter")
}

func TestStartFailsOnUnusableFolder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	p := New()
	p.OutDir = filepath.Join(file, "sub")
	require.NoError(t, p.Init())
	err := p.Start(&testutil.Accumulator{})
	require.ErrorContains(t, err, "output folder")
}

func TestPassThroughUnchanged(t *testing.T) {
	acc := &testutil.Accumulator{}
	p := newPlugin(t, acc, nil)
	in := []telegraf.Metric{
		sensor(map[string]any{"TS": "260114100949W", "NS": 353234363435.0, "Pi": 0.0, "Po": 1.411, "Time": "2026-01-14T10:09:40"}),
		sensor(map[string]any{"Pi": 0.512, "Time": "2026-01-14T10:09:41"}),
		sensor(map[string]any{"Pi": "bad", "Time": "2026-01-14T10:09:41"}),
		testutil.MustMetric("cpu", map[string]string{"cpu": "cpu0"}, map[string]any{"usage_idle": 99.5}, time.Unix(1, 0)),
	}
	want := make([]telegraf.Metric, len(in))
	for i, m := range in {
		want[i] = m.Copy()
		require.NoError(t, p.Add(m, acc))
	}
	p.Stop()
	testutil.RequireMetricsEqual(t, want, acc.GetTelegrafMetrics())
	require.Equal(t, tsHeader+tsRow("2026-01-14T10:09:40", "260114100949W", "353234363435", "Pi=0", "Po=1.411"),
		readFile(t, p, "dev1/ts_summary_20260114_2358.csv"))
	require.Equal(t, energieHeader+enRow("2026-01-14T10:09:41", 1, "Pi=0.512"),
		readFile(t, p, "dev1/energie_20260114_2358.csv"))
}

func TestDropOriginal(t *testing.T) {
	acc := &testutil.Accumulator{}
	p := newPlugin(t, acc, func(p *TasmotaCSV) { p.DropOriginal = true })
	tracked := 0
	m, _ := metric.WithTracking(sensor(map[string]any{"Pi": 1.0, "Time": "2026-01-14T10:09:41"}), func(telegraf.DeliveryInfo) { tracked++ })
	require.NoError(t, p.Add(m, acc))
	p.Stop()
	require.Empty(t, acc.GetTelegrafMetrics())
	require.Equal(t, 1, tracked, "a dropped metric must be marked as handled (Drop)")
	require.Equal(t, energieHeader+enRow("2026-01-14T10:09:41", 1, "Pi=1"), readFile(t, p, "dev1/energie_20260114_2358.csv"))
}

func TestEmitAggregates(t *testing.T) {
	acc := &testutil.Accumulator{}
	p := newPlugin(t, acc, func(p *TasmotaCSV) {
		p.EmitAggregates = true
		p.DropOriginal = true
		p.Timezone = "Europe/Paris"
	})
	for _, f := range []map[string]any{
		{"Pi": 0.1, "Time": "2026-01-14T10:09:41"},
		{"Pi": 0.2, "U1": 230.5, "Time": "2026-01-14T10:09:41"},
		{"Po": int64(2), "Time": "2026-01-14T10:09:42"},
		{"TS": "x", "Pi": 5.0, "Time": "2026-01-14T10:09:42"}, // a summary: TS file only
	} {
		require.NoError(t, p.Add(sensor(f), acc))
	}
	p.Flush() // 10:09:41 is before the newest second: written and emitted
	paris, _ := time.LoadLocation("Europe/Paris")
	first := metric.New("energie", map[string]string{"device": "dev1"}, nil, time.Date(2026, 1, 14, 10, 9, 41, 0, paris))
	first.AddField("Pi", 0.3)
	first.AddField("U1", 230.5)
	first.AddField("count", int64(2))
	testutil.RequireMetricsEqual(t, []telegraf.Metric{first}, acc.GetTelegrafMetrics())

	p.Stop() // the rest at the stop
	second := metric.New("energie", map[string]string{"device": "dev1"}, nil, time.Date(2026, 1, 14, 10, 9, 42, 0, paris))
	second.AddField("Po", 2.0)
	second.AddField("count", int64(1))
	testutil.RequireMetricsEqual(t, []telegraf.Metric{first, second}, acc.GetTelegrafMetrics())
	// The fields come in column order.
	var keys []string
	for _, f := range acc.GetTelegrafMetrics()[0].FieldList() {
		keys = append(keys, f.Key)
	}
	require.Equal(t, []string{"Pi", "U1", "count"}, keys)
}

func TestFieldPrefixWithTheJSONParser(t *testing.T) {
	// Telegraf's json parser flattens {"z":{"Pi":1}} into z_Pi and keeps strings only
	// when json_string_fields names them.
	parser := &json.Parser{MetricName: "tasmota", StringFields: []string{"Time", "z_TS"}}
	require.NoError(t, parser.Init())
	acc := &testutil.Accumulator{}
	p := newPlugin(t, acc, func(p *TasmotaCSV) { p.FieldPrefix = "z_" })
	for _, payload := range []string{
		`{"Time":"2026-01-14T10:09:40","z":{"TS":"260114100949W","NS":353234363435,"Pi":0.0,"Po":1.411}}`,
		`{"Time":"2026-01-14T10:09:41","z":{"Pi":0.512},"other":5}`,
		`{"Time":"2026-01-14T10:09:41","ENERGY":{"Power":3}}`,
	} {
		ms, err := parser.Parse([]byte(payload))
		require.NoError(t, err)
		for _, m := range ms {
			m.AddTag("topic", topic)
			require.NoError(t, p.Add(m, acc))
		}
	}
	p.Stop()
	require.Equal(t, tsHeader+tsRow("2026-01-14T10:09:40", "260114100949W", "353234363435", "Pi=0", "Po=1.411"),
		readFile(t, p, "dev1/ts_summary_20260114_2358.csv"))
	require.Equal(t, energieHeader+enRow("2026-01-14T10:09:41", 1, "Pi=0.512"),
		readFile(t, p, "dev1/energie_20260114_2358.csv"))
	st := p.Stats()
	require.Equal(t, uint64(1), st.Refused.Get(refusal.NoMeter), "the ENERGY message has no z_ field")
	require.Zero(t, st.Refused.Get(refusal.UnknownAttribute), "fields without the prefix are ignored, not refused")
}

func TestDeviceTag(t *testing.T) {
	t.Run("a tag holding the name", func(t *testing.T) {
		acc := &testutil.Accumulator{}
		p := newPlugin(t, acc, func(p *TasmotaCSV) { p.DeviceTag = "device" })
		m := testutil.MustMetric("tasmota", map[string]string{"device": "kitchen meter", "topic": topic},
			map[string]any{"Pi": 1.0, "Time": "2026-01-14T10:09:41"}, time.Unix(0, 0))
		require.NoError(t, p.Add(m, acc))
		p.Stop()
		// The name is made safe for a file name.
		require.Equal(t, energieHeader+enRow("2026-01-14T10:09:41", 1, "Pi=1"), readFile(t, p, "kitchen_meter/energie_20260114_2358.csv"))
	})
	t.Run("device_segment", func(t *testing.T) {
		acc := &testutil.Accumulator{}
		p := newPlugin(t, acc, func(p *TasmotaCSV) { p.DeviceSegment = 1 })
		m := testutil.MustMetric("tasmota", map[string]string{"topic": "home/meterA/tele/SENSOR"},
			map[string]any{"Pi": 1.0, "Time": "2026-01-14T10:09:41"}, time.Unix(0, 0))
		require.NoError(t, p.Add(m, acc))
		p.Stop()
		require.FileExists(t, filepath.Join(p.OutDir, "meterA", "energie_20260114_2358.csv"))
	})
	t.Run("missing tag", func(t *testing.T) {
		acc := &testutil.Accumulator{}
		p := newPlugin(t, acc, func(p *TasmotaCSV) { p.DeviceTag = "device" })
		m := sensor(map[string]any{"Pi": 1.0, "Time": "2026-01-14T10:09:41"})
		require.NoError(t, p.Add(m, acc))
		st := p.Stats()
		require.Equal(t, uint64(1), st.Received)
		require.Equal(t, uint64(1), st.Refused.Get(refusal.UnsafeDevice))
		require.Len(t, acc.GetTelegrafMetrics(), 1, "a refused metric still passes through")
	})
	t.Run("unsafe device", func(t *testing.T) {
		acc := &testutil.Accumulator{}
		p := newPlugin(t, acc, nil)
		m := testutil.MustMetric("tasmota", map[string]string{"topic": "tele/../SENSOR"},
			map[string]any{"Pi": 1.0, "Time": "2026-01-14T10:09:41"}, time.Unix(0, 0))
		require.NoError(t, p.Add(m, acc))
		p.Stop()
		require.Equal(t, uint64(1), refusedOf(p, refusal.UnsafeDevice))
		require.Empty(t, csvtest.ReadTree(t, p.OutDir))
	})
}

func TestTimeFieldAndMetricTimestamp(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	acc := &testutil.Accumulator{}
	p := newPlugin(t, acc, func(p *TasmotaCSV) { p.Timezone = "Europe/Paris" })
	add := func(fields map[string]any, ts time.Time) {
		t.Helper()
		m := testutil.MustMetric("tasmota", map[string]string{"topic": topic}, fields, ts)
		require.NoError(t, p.Add(m, acc))
	}
	metricTime := time.Date(2026, 1, 14, 9, 0, 0, 0, time.UTC) // 10:00:00 in Paris
	// Time as sent wins over the metric's time stamp: the wall time is kept as is.
	add(map[string]any{"Pi": 1.0, "Time": "2026-01-14T10:09:40"}, metricTime)
	add(map[string]any{"Pi": 2.0, "Time": "2026-01-14T10:09:41.789"}, metricTime)                                   // Time 4: fraction dropped
	add(map[string]any{"Pi": 3.0, "Time": "2026-01-14T10:09:42+05:00"}, metricTime)                                 // SetOption52: offset dropped
	add(map[string]any{"Pi": 4.0, "Time": float64(time.Date(2026, 1, 14, 10, 9, 43, 0, paris).Unix())}, metricTime) // Time 3
	add(map[string]any{"Pi": 5.0, "Time": time.Date(2026, 1, 14, 10, 9, 44, 0, paris).Unix()}, metricTime)          // as an integer
	add(map[string]any{"Pi": 6.0, "Time": "1768381785"}, metricTime)                                                // epoch digits as text
	// No Time field: the metric's time stamp, shown in timezone.
	add(map[string]any{"Pi": 7.0}, metricTime)
	// An unreadable Time refuses the message; it does not fall back to the time stamp.
	add(map[string]any{"Pi": 100.0, "Time": "2026-13-14T10:09:40"}, metricTime)
	add(map[string]any{"Pi": 100.0, "Time": true}, metricTime)
	p.Stop()
	require.Equal(t, energieHeader+
		enRow("2026-01-14T10:00:00", 1, "Pi=7")+
		enRow("2026-01-14T10:09:40", 1, "Pi=1")+
		enRow("2026-01-14T10:09:41", 1, "Pi=2")+
		enRow("2026-01-14T10:09:42", 1, "Pi=3")+
		enRow("2026-01-14T10:09:43", 1, "Pi=4")+
		enRow("2026-01-14T10:09:44", 1, "Pi=5")+
		enRow("2026-01-14T10:09:45", 1, "Pi=6"),
		readFile(t, p, "dev1/energie_20260114_2358.csv"))
	require.Equal(t, uint64(2), refusedOf(p, refusal.BadTime))
}

func TestRefusedValues(t *testing.T) {
	acc := &testutil.Accumulator{}
	p := newPlugin(t, acc, nil)
	add := func(fields map[string]any) {
		t.Helper()
		require.NoError(t, p.Add(sensor(fields), acc))
	}
	add(map[string]any{"Time": "2026-01-14T10:09:41", "Pi": "1.5", "Po": 0.25, "Xx": 3.0}) // only Pi and Xx are refused
	add(map[string]any{"Time": "2026-01-14T10:09:41", "Pi": true, "U1": uint64(230)})
	add(map[string]any{"Time": "2026-01-14T10:09:41", "Pi": math.NaN(), "U2": math.Inf(1), "U3": int64(-4)})
	add(map[string]any{"Time": "2026-01-14T10:09:41", "Pi": -0.0})
	add(map[string]any{"Time": "2026-01-14T10:09:41"})                       // no meter field
	add(map[string]any{"Time": "2026-01-14T10:09:41", "Pi": "x", "Zz": 1.0}) // nothing usable
	// A summary: a numeric TS is written like every number, a bad NS is an empty cell.
	add(map[string]any{"Time": "2026-01-14T10:09:40", "TS": 260114100949.0, "NS": "abc", "Pi": 2.5})
	add(map[string]any{"Time": "2026-01-14T10:09:40", "TS": false, "Pi": 1.0}) // still a summary
	add(map[string]any{"Time": "2026-01-14T10:09:40", "TS": "=1+2", "Pi": 1.0})
	p.Stop()
	require.Equal(t, energieHeader+enRow("2026-01-14T10:09:41", 4, "Pi=0", "Po=0.25", "U1=230", "U3=-4"),
		readFile(t, p, "dev1/energie_20260114_2358.csv"))
	require.Equal(t, tsHeader+
		tsRow("2026-01-14T10:09:40", "260114100949", "", "Pi=2.5")+
		tsRow("2026-01-14T10:09:40", "", "", "Pi=1")+
		tsRow("2026-01-14T10:09:40", "'=1+2", "", "Pi=1"),
		readFile(t, p, "dev1/ts_summary_20260114_2358.csv"))
	st := p.Stats()
	// Pi string, Pi bool, Pi NaN, U2 Inf, NS string, TS bool; the values of a message
	// refused as a whole (no usable value) are not counted one by one, as in the standalone.
	require.Equal(t, uint64(6), st.Refused.Get(refusal.BadValue))
	require.Equal(t, uint64(1), st.Refused.Get(refusal.UnknownAttribute))
	require.Equal(t, uint64(1), st.Refused.Get(refusal.NoMeter))
	require.Equal(t, uint64(1), st.Refused.Get(refusal.NoValues))
	require.Equal(t, uint64(9), st.Received)
}

func TestOptionsReachTheFiles(t *testing.T) {
	acc := &testutil.Accumulator{}
	p := newPlugin(t, acc, func(p *TasmotaCSV) {
		p.TSFile = "ts_{date}.csv"
		p.EnergieFile = "energie/{device}-{date}.csv"
		p.Meter = "SML"
		p.Columns = []string{"Po", "Pi"}
		p.Aggregation = "max"
	})
	for _, f := range []map[string]any{
		{"Pi": 0.1, "Po": 7.0, "Time": "2026-01-14T10:09:41"},
		{"Pi": 0.3, "Time": "2026-01-14T10:09:41"},
		{"Pi": 0.2, "Time": "2026-01-14T10:09:41"},
		{"TS": "t", "Pi": 1.0, "Time": "2026-01-14T10:09:41"},
	} {
		require.NoError(t, p.Add(sensor(f), acc))
	}
	// A template without {device} takes one device only.
	other := testutil.MustMetric("tasmota", map[string]string{"topic": "tele/dev2/SENSOR"},
		map[string]any{"TS": "t", "Time": "2026-01-14T10:09:41"}, time.Unix(0, 0))
	require.NoError(t, p.Add(other, acc))
	p.Stop()
	require.Equal(t, "Time,Po,Pi,count\n2026-01-14T10:09:41,7,0.3,3\n", readFile(t, p, "energie/dev1-20260114.csv"))
	require.Equal(t, "Time,TS,NS,Po,Pi\n2026-01-14T10:09:41,t,,,1\n", readFile(t, p, "ts_20260114.csv"))
	require.Equal(t, uint64(1), refusedOf(p, refusal.SecondDevice))
}

func TestAggregationModes(t *testing.T) {
	for mode, want := range map[string]string{"sum": "0.6", "mean": "0.2", "min": "0.1", "max": "0.3", "first": "0.2", "last": "0.3"} {
		t.Run(mode, func(t *testing.T) {
			acc := &testutil.Accumulator{}
			p := newPlugin(t, acc, func(p *TasmotaCSV) { p.Aggregation = mode })
			for _, v := range []float64{0.2, 0.1, 0.3} {
				require.NoError(t, p.Add(sensor(map[string]any{"Pi": v, "Time": "2026-01-14T10:09:41"}), acc))
			}
			p.Stop()
			require.Equal(t, energieHeader+enRow("2026-01-14T10:09:41", 3, "Pi="+want), readFile(t, p, "dev1/energie_20260114_2358.csv"))
		})
	}
}

func TestFlushTicker(t *testing.T) {
	acc := &testutil.Accumulator{}
	p := newPlugin(t, acc, func(p *TasmotaCSV) {
		p.FlushInterval = config.Duration(time.Second)
		p.EmitAggregates = true
		p.DropOriginal = true
	})
	require.NoError(t, p.Add(sensor(map[string]any{"Pi": 1.0, "Time": "2026-01-14T10:09:41"}), acc))
	require.NoError(t, p.Add(sensor(map[string]any{"Pi": 2.0, "Time": "2026-01-14T10:09:42"}), acc))
	// Within a few ticks, 10:09:41 (before the newest second) is on disk; 10:09:42 is not.
	name := filepath.Join(p.OutDir, "dev1", "energie_20260114_2358.csv")
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(name)
		return string(b) == energieHeader+enRow("2026-01-14T10:09:41", 1, "Pi=1")
	}, 5*time.Second, 50*time.Millisecond)
	acc.Wait(1)
	require.Equal(t, "energie", acc.GetTelegrafMetrics()[0].Name())
	p.Stop()
	require.Equal(t, energieHeader+enRow("2026-01-14T10:09:41", 1, "Pi=1")+enRow("2026-01-14T10:09:42", 1, "Pi=2"), readFile(t, p, "dev1/energie_20260114_2358.csv"))
}

func TestReopen(t *testing.T) {
	acc := &testutil.Accumulator{}
	p := newPlugin(t, acc, nil)
	require.NoError(t, p.Add(sensor(map[string]any{"TS": "a", "Time": "2026-01-14T10:09:40"}), acc))
	name := filepath.Join(p.OutDir, "dev1", "ts_summary_20260114_2358.csv")
	require.NoError(t, os.Rename(name, name+".1")) // logrotate
	p.Reopen()
	require.NoError(t, p.Add(sensor(map[string]any{"TS": "b", "Time": "2026-01-14T10:09:41"}), acc))
	p.Stop()
	rotated, err := os.ReadFile(name + ".1")
	require.NoError(t, err)
	require.Equal(t, tsHeader+tsRow("2026-01-14T10:09:40", "a", ""), string(rotated))
	require.Equal(t, tsHeader+tsRow("2026-01-14T10:09:41", "b", ""), readFile(t, p, "dev1/ts_summary_20260114_2358.csv"))
}

func TestRestartAppendsWithOneHeader(t *testing.T) {
	dir := t.TempDir()
	for _, pi := range []float64{1, 2} {
		acc := &testutil.Accumulator{}
		p := newPlugin(t, acc, func(p *TasmotaCSV) { p.OutDir = dir })
		require.NoError(t, p.Add(sensor(map[string]any{"Pi": pi, "Time": "2026-01-14T10:09:41"}), acc))
		p.Stop()
	}
	b, err := os.ReadFile(filepath.Join(dir, "dev1", "energie_20260114_2358.csv"))
	require.NoError(t, err)
	require.Equal(t, energieHeader+enRow("2026-01-14T10:09:41", 1, "Pi=1")+enRow("2026-01-14T10:09:41", 1, "Pi=2"), string(b))
}

func TestStopAndCloseAreIdempotent(t *testing.T) {
	acc := &testutil.Accumulator{}
	p := newPlugin(t, acc, func(p *TasmotaCSV) { p.EmitAggregates = true })
	require.NoError(t, p.Add(sensor(map[string]any{"Pi": 1.0, "Time": "2026-01-14T10:09:41"}), acc))
	require.NoError(t, p.Close()) // no accumulator use: for a front door whose output is gone
	p.Stop()
	require.NoError(t, p.Close())
	require.Len(t, acc.GetTelegrafMetrics(), 1, "only the pass-through metric")
	// Metrics after the stop still pass through and are not written.
	require.NoError(t, p.Add(sensor(map[string]any{"Pi": 2.0, "Time": "2026-01-14T10:09:42"}), acc))
	require.Len(t, acc.GetTelegrafMetrics(), 2)
	require.Equal(t, energieHeader+enRow("2026-01-14T10:09:41", 1, "Pi=1"), readFile(t, p, "dev1/energie_20260114_2358.csv"))
}

// failFS refuses every open, like a full disk or a folder without permission.
type failFS struct{}

func (failFS) OpenAppend(string) (sink.File, int64, error) {
	return nil, 0, errors.New("no space left on device")
}

func TestWriteErrorsAreReportedAtStop(t *testing.T) {
	acc := &testutil.Accumulator{}
	p := newPlugin(t, acc, func(p *TasmotaCSV) { p.fs = failFS{} })
	require.NoError(t, p.Add(sensor(map[string]any{"TS": "a", "Time": "2026-01-14T10:09:40"}), acc))
	require.Equal(t, 1, p.Stats().Pending)
	err := p.Close()
	require.ErrorContains(t, err, "could not be written")
	require.ErrorContains(t, err, "no space left")
}

// TestSameFilesAsStandalone feeds the capture through Telegraf's json_v2 parser (set up
// as in sample.conf) and the processor, flushing where the replay's data clock flushed,
// and compares the files with the standalone's replay byte for byte, names included.
func TestSameFilesAsStandalone(t *testing.T) {
	c := csvtest.LoadCapture(t, csvtest.CapturePath(t))
	ref := csvtest.Replay(t, config.Default(), c.Messages, len(c.NotMessages), t.TempDir())
	want := ref.Snapshots[len(ref.Snapshots)-1]
	require.NotEmpty(t, want)
	parser := csvtest.JSONv2(t, "z")

	acc := &testutil.NopAccumulator{}
	p := newPlugin(t, acc, nil)
	for i, seg := range ref.Segments {
		for _, m := range csvtest.Metrics(parser, seg, start) {
			require.NoError(t, p.Add(m, acc))
		}
		if i < len(ref.Segments)-1 {
			p.Flush()
			if d := csvtest.Diff(ref.Snapshots[i], csvtest.ReadTree(t, p.OutDir)); d != "" {
				t.Fatalf("after segment %d the files differ from the replay's:\n%s", i, d)
			}
		}
	}
	p.Stop()
	if d := csvtest.Diff(want, csvtest.ReadTree(t, p.OutDir)); d != "" {
		t.Fatalf("the files differ from the replay's:\n%s", d)
	}
	// The refusals are counted as the standalone counts them, except not_json: json_v2
	// drops the messages that are not JSON before the plugin sees them.
	st := p.Stats()
	require.Equal(t, ref.Stats.RowsTS, st.RowsTS)
	require.Equal(t, ref.Stats.RowsEnergie, st.RowsEnergie)
	for _, r := range []refusal.Reason{refusal.NoMeter, refusal.BadTime, refusal.UnsafeDevice, refusal.BadValue, refusal.UnknownAttribute} {
		require.Equal(t, ref.Stats.Refused.Get(r), st.Refused.Get(r), "refused %s", r)
	}
}

// TestReadmeExample runs the example of the README (testdata/telegraf/example.lp) and
// checks the metrics and files it shows.
func TestReadmeExample(t *testing.T) {
	dir := filepath.Join(csvtest.RepoRoot(t), "testdata", "telegraf")
	in, err := os.ReadFile(filepath.Join(dir, "example.lp"))
	require.NoError(t, err)
	acc := &testutil.Accumulator{}
	p := newPlugin(t, acc, func(p *TasmotaCSV) {
		p.EmitAggregates = true
		p.Timezone = "UTC"
		p.now = func() time.Time { return time.Date(2026, 1, 14, 10, 5, 0, 0, time.UTC) }
	})
	for _, pt := range csvtest.DecodeLineProtocol(t, in) {
		require.NoError(t, p.Add(pt.Metric(), acc))
	}
	p.Stop()

	wantOut, err := os.ReadFile(filepath.Join(dir, "example.out.lp"))
	require.NoError(t, err)
	var want, got []string
	for _, pt := range csvtest.DecodeLineProtocol(t, wantOut) {
		want = append(want, pt.String())
	}
	for _, pt := range csvtest.Points(acc.GetTelegrafMetrics()) {
		got = append(got, pt.String())
	}
	require.Equal(t, want, got)
	wantFiles := csvtest.ReadTree(t, filepath.Join(dir, "example"))
	if d := csvtest.Diff(wantFiles, csvtest.ReadTree(t, p.OutDir)); d != "" {
		t.Fatalf("files differ from testdata/telegraf/example:\n%s", d)
	}

	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	for _, l := range strings.Split(strings.TrimSpace(string(wantOut)), "\n") {
		require.True(t, strings.Contains(string(readme), l+"\n"), "the README's example lacks %q", l)
	}
	for name, b := range wantFiles {
		require.True(t, strings.Contains(string(readme), "==> "+name+" <==\n"+string(b)), "the README's example lacks %s:\n%s", name, b)
	}
}

func refusedOf(p *TasmotaCSV, r refusal.Reason) uint64 {
	st := p.Stats()
	return st.Refused.Get(r)
}

// The README shows sample.conf as it is, the way Telegraf's README generator keeps them.
func TestReadmeShowsSampleConfig(t *testing.T) {
	b, err := os.ReadFile("README.md")
	require.NoError(t, err)
	require.Contains(t, string(b), "```toml @sample.conf\n"+sampleConfig+"```\n")
}

// A message whose Time passes a flush_interval boundary makes the core write the rows of
// the seconds before it at once (its data clock): their aggregates leave with it.
func TestDataClockRowsAreEmittedAtOnce(t *testing.T) {
	acc := &testutil.Accumulator{}
	p := newPlugin(t, acc, func(p *TasmotaCSV) {
		p.FlushInterval = config.Duration(time.Minute)
		p.EmitAggregates = true
		p.DropOriginal = true
	})
	require.NoError(t, p.Add(sensor(map[string]any{"Pi": 1.0, "Time": "2026-01-14T10:09:41"}), acc))
	require.Empty(t, acc.GetTelegrafMetrics())
	require.NoError(t, p.Add(sensor(map[string]any{"Pi": 2.0, "Time": "2026-01-14T10:10:01"}), acc))
	ms := acc.GetTelegrafMetrics()
	require.Len(t, ms, 1)
	require.Equal(t, "energie", ms[0].Name())
	require.Equal(t, map[string]any{"Pi": 1.0, "count": int64(1)}, ms[0].Fields())
	require.Equal(t, energieHeader+enRow("2026-01-14T10:09:41", 1, "Pi=1"), readFile(t, p, "dev1/energie_20260114_2358.csv"))
}
