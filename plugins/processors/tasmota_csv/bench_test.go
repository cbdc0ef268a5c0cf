package tasmota_csv

import (
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/testutil"

	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/internal/wall"
)

// infoLogger is a quiet logger at info level: the benchmarks measure the work, not the
// debug lines a test logger asks for.
type infoLogger struct{ testutil.Logger }

func (infoLogger) Level() telegraf.LogLevel { return telegraf.Info }
func (infoLogger) Warnf(string, ...any)     {}
func (infoLogger) Errorf(string, ...any)    {}
func (infoLogger) Infof(string, ...any)     {}

func benchPlugin(b *testing.B) (*TasmotaCSV, telegraf.Accumulator) {
	b.Helper()
	p := New()
	p.OutDir = b.TempDir()
	p.FlushInterval = config.Duration(time.Hour)
	p.Log = infoLogger{}
	p.now = func() time.Time { return start }
	if err := p.Init(); err != nil {
		b.Fatal(err)
	}
	acc := &testutil.NopAccumulator{}
	if err := p.Start(acc); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	return p, acc
}

// metrics returns n metrics of one device, ten per second from 2026-01-14T10:00:00.
func benchMetrics(n int, fields func(i int) map[string]any) []telegraf.Metric {
	t0 := wall.FromCivil(2026, 1, 14, 10, 0, 0)
	ms := make([]telegraf.Metric, n)
	for i := range ms {
		f := fields(i)
		f["Time"] = (t0 + wall.Time(i/10)).String()
		ms[i] = testutil.MustMetric("tasmota", map[string]string{"topic": "tele/bench/SENSOR"}, f, time.Unix(int64(i), 0))
	}
	return ms
}

// BenchmarkAdd is the path of the messages that arrive many times a second: one value,
// aggregated per second; the rows are flushed every 10000 messages.
func BenchmarkAdd(b *testing.B) {
	p, acc := benchPlugin(b)
	ms := benchMetrics(10000, func(i int) map[string]any { return map[string]any{"Pi": 0.001 * float64(i%500)} })
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Add(ms[i%len(ms)], acc); err != nil {
			b.Fatal(err)
		}
		if i%len(ms) == len(ms)-1 {
			p.Flush()
		}
	}
}

// BenchmarkAddSummary is the path of the summary messages: every attribute, one TS row
// written at once.
func BenchmarkAddSummary(b *testing.B) {
	p, acc := benchPlugin(b)
	ms := benchMetrics(1000, func(i int) map[string]any {
		f := map[string]any{"TS": "260114100949W", "NS": 353234363435.0}
		for j, c := range config.DefaultColumns {
			f[c] = float64(i) + 0.001*float64(j)
		}
		return f
	})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Add(ms[i%len(ms)], acc); err != nil {
			b.Fatal(err)
		}
	}
}
