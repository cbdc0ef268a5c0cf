package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/mqtttocsv/mqtttocsv/internal/engine"
	"github.com/mqtttocsv/mqtttocsv/internal/sink"
)

// discardFS takes every write and keeps nothing: the benchmarks measure the engine, not
// the disk.
type discardFS struct{}

func (discardFS) OpenAppend(string) (sink.File, int64, error) { return discardFile{}, 0, nil }

type discardFile struct{}

func (discardFile) Write(p []byte) (int, error) { return len(p), nil }
func (discardFile) Sync() error                 { return nil }
func (discardFile) Close() error                { return nil }
func (discardFile) Truncate(int64) error        { return nil }

func benchEngine(b *testing.B) *engine.Engine {
	h := newHarness(b, nil, engine.Params{FS: discardFS{}})
	return h.e
}

// BenchmarkHandleSingle: one single-attribute message aggregated into its second (ten
// messages a second, the flush every 60 s of data is part of the cost).
func BenchmarkHandleSingle(b *testing.B) {
	e := benchEngine(b)
	const n = 3600
	payloads := make([][]byte, n)
	start := time.Date(2026, 1, 14, 10, 0, 0, 0, time.UTC)
	for i := range payloads {
		payloads[i] = fmt.Appendf(nil, `{"Time":"%s","z":{"Pi":0.%03d}}`, start.Add(time.Duration(i/10)*time.Second).Format("2006-01-02T15:04:05"), i%1000)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.HandleMessage(topic, payloads[i%n])
		i++
		if i%600 == 0 {
			e.Flush(false)
		}
	}
}

// BenchmarkHandleSummary: a summary message written at once as a TS row.
func BenchmarkHandleSummary(b *testing.B) {
	e := benchEngine(b)
	p := []byte(`{"Time":"2026-01-14T10:09:40","z":{"TS":"260114100949W","NS":353234363435,"Pi":0.0,"Po":1.411,"B1":12345.678,"B2":23456.789,"E1":1.5,"E2":2.5,"P1i":0.1,"P2i":0.2,"P3i":0.3,"P1o":0,"P2o":0,"P3o":0,"I1":1.5,"I2":1.6,"I3":1.7,"U1":230.1,"U2":231,"U3":229.9}}`)
	b.ReportAllocs()
	for b.Loop() {
		e.HandleMessage(topic, p)
	}
}

// BenchmarkFlushRows: formatting and writing 60 per-second rows of 18 columns each (one
// minute of a busy meter), per op.
func BenchmarkFlushRows(b *testing.B) {
	e := benchEngine(b)
	start := time.Date(2026, 1, 14, 10, 0, 0, 0, time.UTC)
	var msgs [][]byte
	for s := 0; s <= 60; s++ {
		tm := start.Add(time.Duration(s) * time.Second).Format("2006-01-02T15:04:05")
		for k := 0; k < 3; k++ {
			msgs = append(msgs, fmt.Appendf(nil, `{"Time":"%s","z":{"Pi":0.1%d,"Po":1.4%d,"B1":1,"B2":2,"E1":3,"E2":4,"P1i":0.1,"P2i":0.2,"P3i":0.3,"P1o":0,"P2o":0,"P3o":0,"I1":1.5,"I2":1.6,"I3":1.7,"U1":230.1,"U2":231,"U3":229.9}}`, tm, k, k))
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for _, m := range msgs {
			e.HandleMessage(topic, m)
		}
		b.StartTimer()
		e.Flush(true)
	}
}
