// Package csvtest is test support shared by the tests of the Telegraf processor and of its
// execd binary: the capture as MQTT messages, the standalone's reference files for it (the
// core run exactly as `mqtttocsv replay` runs it), the metrics Telegraf's json_v2 parser
// makes of each message with the parser settings of sample.conf, line protocol, and file
// trees to compare.
package csvtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/parsers/json_v2"
	"github.com/influxdata/telegraf/testutil"

	"github.com/mqtttocsv/mqtttocsv/internal/capture"
	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/internal/engine"
	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
)

// RepoRoot is the module's root folder (where go.mod is).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the source folder")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", "..", ".."))
}

// CapturePath is testdata/capture.jsonl.
func CapturePath(t testing.TB) string { return filepath.Join(RepoRoot(t), "testdata", "capture.jsonl") }

// Message is one MQTT message of a capture.
type Message struct {
	Topic   string
	Payload []byte
}

// Capture is a capture read as the replay reads it: its messages, and the lines that are
// not messages (they cannot be published, so the Telegraf path never sees them).
type Capture struct {
	Messages    []Message
	NotMessages []string // "line N: why"
}

// LoadCapture reads a capture file with the replay's reader.
func LoadCapture(t testing.TB, path string) Capture {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capture.NewReader(f, 2*config.Default().MaxPayload+4096)
	if err != nil {
		t.Fatal(err)
	}
	var c Capture
	for {
		topic, payload, err := r.Next()
		if err == io.EOF {
			return c
		}
		var le *capture.LineError
		if errors.As(err, &le) {
			c.NotMessages = append(c.NotMessages, le.Error())
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		c.Messages = append(c.Messages, Message{Topic: topic, Payload: append([]byte(nil), payload...)})
	}
}

// Reference is what the standalone writes for a capture.
type Reference struct {
	// Segments split the messages after each flush the data clock made: a live front
	// door that has written every past second after each segment (a flush tick) has
	// written what the replay had at that point.
	Segments [][]Message
	// Snapshots are the output folder after each segment; the last one is the final
	// state, after the stop.
	Snapshots []Tree
	Stats     engine.Stats
}

// Replay runs the core over msgs exactly as `mqtttocsv replay` does (data clock, the
// messages' own Time), into dir, and records where it flushed.
func Replay(t testing.TB, o config.Options, msgs []Message, notMessages int, dir string) Reference {
	t.Helper()
	o.OutDir = dir
	flushed := false
	eng, err := engine.New(o, engine.Params{Log: nopLogger{}, DataClock: true, OnRow: func(engine.Row) { flushed = true }})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < notMessages; i++ {
		eng.Refuse("capture", refusal.New(refusal.NotJSON, "not a message"))
	}
	var ref Reference
	start := 0
	for i, m := range msgs {
		eng.HandleMessage(m.Topic, m.Payload)
		if flushed {
			flushed = false
			ref.Segments = append(ref.Segments, msgs[start:i+1])
			ref.Snapshots = append(ref.Snapshots, ReadTree(t, dir))
			start = i + 1
		}
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	ref.Segments = append(ref.Segments, msgs[start:])
	ref.Snapshots = append(ref.Snapshots, ReadTree(t, dir))
	ref.Stats = eng.Stats()
	return ref
}

// Live runs the core over msgs as the standalone's live mode does when all of them arrive
// within one flush interval: one final flush at the stop. now is the program's start.
func Live(t testing.TB, o config.Options, msgs []Message, dir string, now time.Time) engine.Stats {
	t.Helper()
	o.OutDir = dir
	eng, err := engine.New(o, engine.Params{Log: nopLogger{}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		eng.HandleMessage(m.Topic, m.Payload)
	}
	if err := eng.Close(); err != nil {
		t.Fatal(err)
	}
	return eng.Stats()
}

// quietLogger is a telegraf.Logger that prints nothing.
type quietLogger struct{ testutil.Logger }

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Debug(...any)          {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Error(...any)          {}

type nopLogger struct{}

func (nopLogger) Errorf(string, ...any) {}
func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Debugf(string, ...any) {}

// JSONv2 returns Telegraf's json_v2 parser set up as in sample.conf: measurement
// "tasmota", the Time field with its JSON type, the meter object's values as fields.
func JSONv2(t testing.TB, meter string) *json_v2.Parser {
	t.Helper()
	p := &json_v2.Parser{Configs: []json_v2.Config{{
		MeasurementName: "tasmota",
		Fields:          []json_v2.DataSet{{Path: "Time"}},
		JSONObjects:     []json_v2.Object{{Path: meter, Optional: true}},
	}}, Log: quietLogger{}}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	return p
}

// Metrics are the metrics inputs.mqtt_consumer makes of msgs with parser: the topic in tag
// "topic", time stamps base plus the message's index in nanoseconds. Messages the parser
// rejects (inputs.mqtt_consumer logs and drops them) give none.
func Metrics(parser telegraf.Parser, msgs []Message, base time.Time) []telegraf.Metric {
	var out []telegraf.Metric
	for i, m := range msgs {
		ms, err := parser.Parse(m.Payload)
		if err != nil {
			continue
		}
		for _, x := range ms {
			x.AddTag("topic", m.Topic)
			x.SetTime(base.Add(time.Duration(i)))
			out = append(out, x)
		}
	}
	return out
}

// LineProtocol encodes metrics as influx line protocol, nanosecond precision.
func LineProtocol(t testing.TB, ms []telegraf.Metric) []byte {
	t.Helper()
	var enc lineprotocol.Encoder
	enc.SetPrecision(lineprotocol.Nanosecond)
	for _, m := range ms {
		enc.StartLine(m.Name())
		for _, tag := range m.TagList() { // sorted by key, as line protocol wants
			enc.AddTag(tag.Key, tag.Value)
		}
		for _, f := range m.FieldList() {
			v, ok := lineprotocol.NewValue(f.Value)
			if !ok {
				t.Fatalf("field %s of %s: %T has no line-protocol form", f.Key, m.Name(), f.Value)
			}
			enc.AddField(f.Key, v)
		}
		enc.EndLine(m.Time())
		if err := enc.Err(); err != nil {
			t.Fatalf("encoding %s: %v", m.Name(), err)
		}
	}
	return enc.Bytes()
}

// Point is a decoded line-protocol line, for comparisons.
type Point struct {
	Name   string
	Tags   map[string]string
	Fields map[string]any
	Keys   []string // the field keys in line order
	Time   time.Time
}

// Metric is the Telegraf metric of p, fields in line order.
func (p Point) Metric() telegraf.Metric {
	m := metric.New(p.Name, p.Tags, nil, p.Time)
	for _, k := range p.Keys {
		m.AddField(k, p.Fields[k])
	}
	return m
}

func (p Point) String() string {
	keys := make([]string, 0, len(p.Fields))
	for k := range p.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %v", p.Name, p.Tags)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%#v", k, p.Fields[k])
	}
	fmt.Fprintf(&b, " %d", p.Time.UnixNano())
	return b.String()
}

// DecodeLineProtocol reads line protocol, nanosecond precision.
func DecodeLineProtocol(t testing.TB, b []byte) []Point {
	t.Helper()
	dec := lineprotocol.NewDecoderWithBytes(b)
	var out []Point
	for dec.Next() {
		name, err := dec.Measurement()
		if err != nil {
			t.Fatalf("line protocol: %v", err)
		}
		p := Point{Name: string(name), Tags: map[string]string{}, Fields: map[string]any{}}
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				t.Fatalf("line protocol: %v", err)
			}
			if k == nil {
				break
			}
			p.Tags[string(k)] = string(v)
		}
		for {
			k, v, err := dec.NextField()
			if err != nil {
				t.Fatalf("line protocol: %v", err)
			}
			if k == nil {
				break
			}
			p.Fields[string(k)] = v.Interface()
			p.Keys = append(p.Keys, string(k))
		}
		if p.Time, err = dec.Time(lineprotocol.Nanosecond, time.Time{}); err != nil {
			t.Fatalf("line protocol: %v", err)
		}
		out = append(out, p)
	}
	return out
}

// Points converts metrics to Points.
func Points(ms []telegraf.Metric) []Point {
	out := make([]Point, len(ms))
	for i, m := range ms {
		out[i] = Point{Name: m.Name(), Tags: m.Tags(), Fields: m.Fields(), Time: m.Time()}
		for _, f := range m.FieldList() {
			out[i].Keys = append(out[i].Keys, f.Key)
		}
	}
	return out
}

// Tree is the files under a folder: slash-separated relative name → contents.
type Tree map[string][]byte

// ReadTree reads every regular file under dir (none when dir does not exist).
func ReadTree(t testing.TB, dir string) Tree {
	t.Helper()
	tr := Tree{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		tr[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

var timePart = regexp.MustCompile(`_[0-9]{4}(\.csv)$`)

// WithoutStartTime drops the {time} part of the default file names ("_HHMM" before
// ".csv"). It maps a live run's names onto a replay's: the replay names the files of the
// first message's day after that message's time, a live run after its own start.
func (tr Tree) WithoutStartTime() Tree {
	out := Tree{}
	for name, b := range tr {
		out[timePart.ReplaceAllString(name, "$1")] = b
	}
	return out
}

// Diff describes how got differs from want; "" when they are equal byte for byte.
func Diff(want, got Tree) string {
	names := map[string]bool{}
	for n := range want {
		names[n] = true
	}
	for n := range got {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var b strings.Builder
	for _, n := range sorted {
		w, inW := want[n]
		g, inG := got[n]
		switch {
		case !inG:
			fmt.Fprintf(&b, "missing %s (%d lines)\n", n, bytes.Count(w, []byte("\n")))
		case !inW:
			fmt.Fprintf(&b, "unexpected %s:\n%s\n", n, g)
		case !bytes.Equal(w, g):
			fmt.Fprintf(&b, "%s differs:\n%s", n, lineDiff(w, g))
		}
	}
	return b.String()
}

// lineDiff lists the lines of a file that differ, position by position.
func lineDiff(want, got []byte) string {
	wl := strings.SplitAfter(string(want), "\n")
	gl := strings.SplitAfter(string(got), "\n")
	var b strings.Builder
	n := max(len(wl), len(gl))
	shown := 0
	for i := 0; i < n && shown < 20; i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			fmt.Fprintf(&b, "  line %d: want %q\n          got  %q\n", i+1, w, g)
			shown++
		}
	}
	return b.String()
}

// CountHeaders counts the lines of a CSV file that start with "Time,".
func CountHeaders(b []byte) int {
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Time,") {
			n++
		}
	}
	return n
}
