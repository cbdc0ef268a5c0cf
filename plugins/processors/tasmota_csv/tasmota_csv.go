// Package tasmota_csv is the Telegraf processor of the project: it writes the metrics that
// inputs.mqtt_consumer makes of a Tasmota smart-meter reader's SENSOR messages to the same
// daily CSV files as the standalone mqtttocsv, through the same core (internal/engine).
//
// It runs compiled into a custom Telegraf build (processors.tasmota_csv) or as an external
// processors.execd plugin (cmd/tasmota-csv on Telegraf's execd shim).
package tasmota_csv

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/processors"

	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/internal/csvrow"
	"github.com/mqtttocsv/mqtttocsv/internal/engine"
	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
	"github.com/mqtttocsv/mqtttocsv/internal/sink"
	"github.com/mqtttocsv/mqtttocsv/internal/tasmota"
	"github.com/mqtttocsv/mqtttocsv/internal/wall"
)

//go:embed sample.conf
var sampleConfig string

// PluginName is the name the processor is registered under: [[processors.tasmota_csv]].
const PluginName = "tasmota_csv"

// AggregateMeasurement is the name of the metrics emit_aggregates produces.
const AggregateMeasurement = "energie"

// TimeField is the field carrying the device's Time, as Telegraf's JSON parsers name it.
const TimeField = "Time"

// TasmotaCSV is the processor. The embedded Options are the keys of the SPEC, shared with
// the standalone's configuration file.
type TasmotaCSV struct {
	config.Options
	Log telegraf.Logger `toml:"-"`

	// Set by tests and front doors before Start.
	now func() time.Time
	fs  sink.FS

	loc    *time.Location
	schema *tasmota.Schema

	// life guards the engine's lifetime: Add holds it for reading, Stop and Close for
	// writing, so no message reaches an engine that is closed.
	life   sync.RWMutex
	eng    *engine.Engine
	acc    telegraf.Accumulator
	closed bool

	ticker   *time.Ticker
	quit     chan struct{}
	done     sync.WaitGroup
	stopTick sync.Once

	// emitMu serialises the emission of written rows, so that the energie metrics leave
	// in the order of the rows. The engine hands the rows over through OnRow while it
	// holds its own lock, from a flush or from a message that moved its data clock on.
	emitMu sync.Mutex
	rowsMu sync.Mutex
	rows   []engine.Row

	rd  tasmota.Reading // reused: Add is called sequentially
	num []byte          // scratch for a numeric TS
}

// SampleConfig returns the plugin's sample configuration.
func (*TasmotaCSV) SampleConfig() string { return sampleConfig }

// Init checks every option; the error says what to fix.
func (p *TasmotaCSV) Init() error {
	var errs []error
	if err := p.Options.Validate(); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(p.DeviceTag) != p.DeviceTag {
		errs = append(errs, fmt.Errorf("device_tag %q has spaces around it: write the tag name alone", p.DeviceTag))
	}
	if strings.ContainsAny(p.FieldPrefix, " \t\r\n") {
		errs = append(errs, fmt.Errorf("field_prefix %q contains spaces: Telegraf field names from the JSON parsers have none", p.FieldPrefix))
	}
	if len(errs) > 0 {
		return fmt.Errorf("processors.%s: invalid configuration: %w", PluginName, errors.Join(errs...))
	}
	loc, err := config.LoadLocation(p.Timezone)
	if err != nil {
		return fmt.Errorf("processors.%s: timezone: %w", PluginName, err)
	}
	p.loc = loc
	p.schema = tasmota.NewSchema(p.Columns)
	return nil
}

// Start opens the output folder and starts the flush ticker.
func (p *TasmotaCSV) Start(acc telegraf.Accumulator) error {
	if p.schema == nil {
		if err := p.Init(); err != nil {
			return err
		}
	}
	var log engine.Logger = nopLogger{}
	if p.Log != nil {
		log = p.Log
	}
	params := engine.Params{
		Log:     log,
		FS:      p.fs,
		Now:     p.now,
		Verbose: p.Log != nil && p.Log.Level().Includes(telegraf.Debug),
	}
	if p.EmitAggregates {
		params.OnRow = p.collect
	}
	eng, err := engine.New(p.Options, params)
	if err != nil {
		return fmt.Errorf("processors.%s: %w", PluginName, err)
	}
	p.life.Lock()
	p.eng, p.acc, p.closed = eng, acc, false
	p.life.Unlock()

	p.quit = make(chan struct{})
	p.ticker = time.NewTicker(time.Duration(p.FlushInterval))
	p.done.Add(1)
	go p.tick()
	return nil
}

func (p *TasmotaCSV) tick() {
	defer p.done.Done()
	for {
		select {
		case <-p.quit:
			return
		case <-p.ticker.C:
			p.flush(false, true)
		}
	}
}

// Add writes the metric's reading through the engine and passes the metric on, unless
// drop_original is set.
func (p *TasmotaCSV) Add(m telegraf.Metric, acc telegraf.Accumulator) error {
	p.life.RLock()
	if p.eng != nil && !p.closed {
		p.handle(m)
	}
	p.life.RUnlock()
	if p.EmitAggregates {
		// The message may have moved the engine's data clock past a flush_interval
		// boundary, which writes the rows of the seconds before it.
		p.emitMu.Lock()
		p.emit(p.takeRows())
		p.emitMu.Unlock()
	}
	if p.DropOriginal {
		m.Drop()
		return nil
	}
	acc.AddMetric(m)
	return nil
}

// handle converts one metric to a Reading and gives it to the engine.
func (p *TasmotaCSV) handle(m telegraf.Metric) {
	source, ok := m.GetTag(p.DeviceTag)
	if !ok {
		p.eng.Refuse(m.Name(), refusal.New(refusal.UnsafeDevice,
			"metric %q has no tag %q: set device_tag to the tag that carries the topic", m.Name(), p.DeviceTag))
		return
	}
	r := &p.rd
	r.Reset()
	var timeField *telegraf.Field
	meter := false
	text := 0 // bytes of text, for max_payload
	for _, f := range m.FieldList() {
		if v, ok := f.Value.(string); ok {
			text += len(f.Key) + len(v)
		}
		if f.Key == TimeField {
			timeField = f
			continue
		}
		name := f.Key
		if p.FieldPrefix != "" {
			if !strings.HasPrefix(name, p.FieldPrefix) {
				continue
			}
			name = name[len(p.FieldPrefix):]
		}
		meter = true
		col := p.schema.LookupString(name)
		if col < 0 {
			r.Skips = append(r.Skips, tasmota.Skip{Reason: refusal.UnknownAttribute, Name: quote(name), Detail: "not among the columns"})
			continue
		}
		if col == tasmota.ColTS {
			r.Summary = true
		}
		p.value(r, col, f.Value)
	}
	// max_payload, as the standalone applies it to the payload: Telegraf has parsed the
	// message already, so the bound is on the text it carries (numbers are small).
	if text > p.MaxPayload {
		p.eng.Refuse(source, refusal.New(refusal.TooLarge, "metric %q carries %d bytes of text, over max_payload (%d)", m.Name(), text, p.MaxPayload))
		return
	}
	if !meter {
		p.eng.Refuse(source, refusal.New(refusal.NoMeter, "metric %q has no meter field (field_prefix %q)", m.Name(), p.FieldPrefix))
		return
	}
	if timeField != nil {
		t, rerr := p.wallTime(timeField.Value)
		if rerr != nil {
			p.eng.Refuse(source, rerr)
			return
		}
		r.Time = t
	} else {
		r.Time = wall.FromTime(m.Time().In(p.loc))
	}
	p.eng.HandleReading(source, r)
}

// value stores one field value in column col, or records why it is refused, with the
// rules of the payload decoder: numbers are numbers, TS is text, anything else is refused.
func (p *TasmotaCSV) value(r *tasmota.Reading, col int, v any) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	case string:
		if col != tasmota.ColTS {
			p.bad(r, col, "a string where a number is expected")
			return
		}
		if !utf8.ValidString(x) {
			p.bad(r, col, "text that is not valid UTF-8")
			return
		}
		r.Text = append(r.Text[:0], x...)
		r.Set |= 1 << tasmota.ColTS
		return
	case bool:
		p.bad(r, col, strconv.FormatBool(x)+" where a value is expected")
		return
	default:
		p.bad(r, col, fmt.Sprintf("a value of type %T", v))
		return
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		p.bad(r, col, "not a finite number")
		return
	}
	if col == tasmota.ColTS {
		// A numeric TS is written as text, in the number format of every other value.
		p.num = csvrow.AppendNumber(p.num[:0], f)
		r.SetText(p.num)
		return
	}
	r.SetNum(col, f)
}

func (p *TasmotaCSV) bad(r *tasmota.Reading, col int, why string) {
	r.Skips = append(r.Skips, tasmota.Skip{Reason: refusal.BadValue, Name: p.schema.Name(col), Detail: why})
}

// wallTime reads the Time field as the standalone reads the payload's Time: a string in
// any form Tasmota sends, or a number of epoch seconds shown in timezone.
func (p *TasmotaCSV) wallTime(v any) (wall.Time, *refusal.Error) {
	switch x := v.(type) {
	case string:
		return tasmota.ParseTime([]byte(x), p.loc)
	case float64:
		return tasmota.EpochTime(x, p.loc)
	case int64:
		return tasmota.EpochTime(float64(x), p.loc)
	case uint64:
		return tasmota.EpochTime(float64(x), p.loc)
	}
	return 0, refusal.New(refusal.BadTime, "Time is not a string or a number")
}

type nopLogger struct{}

func (nopLogger) Errorf(string, ...any) {}
func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Debugf(string, ...any) {}

func quote(name string) string {
	const max = 64
	if len(name) > max {
		return strconv.Quote(name[:max]) + "…"
	}
	return strconv.Quote(name)
}

// collect receives the rows the engine writes (emit_aggregates).
func (p *TasmotaCSV) collect(r engine.Row) {
	p.rowsMu.Lock()
	p.rows = append(p.rows, r)
	p.rowsMu.Unlock()
}

// takeRows returns the rows written since the last call.
func (p *TasmotaCSV) takeRows() []engine.Row {
	p.rowsMu.Lock()
	defer p.rowsMu.Unlock()
	rows := p.rows
	p.rows = nil
	return rows
}

// flush writes the rows of past seconds (every row when final) and, with emit_aggregates
// and emit, emits them. The metrics are emitted after the engine's locks are released, so
// a slow accumulator never holds up Add or Close.
func (p *TasmotaCSV) flush(final, emit bool) {
	p.emitMu.Lock()
	defer p.emitMu.Unlock()
	if !p.flushEngine(final) {
		return
	}
	if rows := p.takeRows(); emit {
		p.emit(rows)
	}
}

func (p *TasmotaCSV) flushEngine(final bool) bool {
	p.life.RLock()
	defer p.life.RUnlock()
	if p.eng == nil || p.closed {
		return false
	}
	p.eng.Flush(final)
	return true
}

func (p *TasmotaCSV) emit(rows []engine.Row) {
	if p.acc == nil || len(rows) == 0 {
		return
	}
	for i := range rows {
		p.acc.AddMetric(p.aggregate(&rows[i]))
	}
}

// aggregate is the metric of one written per-second row. A value beyond the range of a
// float64 (a sum of huge values, written exactly in the file) has no field: ±Inf is no
// value Telegraf can pass on (its influx and json serializers drop such fields).
func (p *TasmotaCSV) aggregate(r *engine.Row) telegraf.Metric {
	m := metric.New(AggregateMeasurement, map[string]string{"device": r.Device}, nil, r.Time.InLocation(p.loc))
	for i, c := range r.Columns {
		if r.Has[i] && !math.IsInf(r.Values[i], 0) && !math.IsNaN(r.Values[i]) {
			m.AddField(c, r.Values[i])
		}
	}
	m.AddField("count", int64(r.Count))
	return m
}

// Flush writes the rows of the seconds before each device's newest second now, as the
// flush ticker does.
func (p *TasmotaCSV) Flush() { p.flush(false, true) }

// Drain writes every buffered row now and emits its aggregates, without closing: for a
// front door whose accumulator closes before Stop is called (Telegraf's execd shim).
// Messages added after Drain are still written, at the next flush or at Stop.
func (p *TasmotaCSV) Drain() { p.flush(true, true) }

// Reopen closes the files so that the next write opens them again (SIGHUP, logrotate).
func (p *TasmotaCSV) Reopen() {
	p.life.RLock()
	defer p.life.RUnlock()
	if p.eng != nil && !p.closed {
		p.eng.Reopen()
	}
}

// Stats returns the engine's counters (zero before Start).
func (p *TasmotaCSV) Stats() engine.Stats {
	p.life.RLock()
	defer p.life.RUnlock()
	if p.eng == nil {
		return engine.Stats{}
	}
	return p.eng.Stats()
}

// Stop writes everything, emits the last aggregates, fsyncs and closes the files.
func (p *TasmotaCSV) Stop() {
	if err := p.shutdown(true); err != nil && p.Log != nil {
		p.Log.Errorf("%v", err)
	}
}

// Close is Stop without emitting anything: for a front door that stops after its
// accumulator is gone. It is safe to call more than once and concurrently with Add.
func (p *TasmotaCSV) Close() error { return p.shutdown(false) }

func (p *TasmotaCSV) shutdown(emit bool) error {
	p.stopTick.Do(func() {
		if p.quit != nil {
			p.ticker.Stop()
			close(p.quit)
			p.done.Wait()
		}
	})
	p.life.Lock()
	if p.eng == nil || p.closed {
		p.life.Unlock()
		return nil
	}
	p.eng.Flush(true)
	err := p.eng.Close()
	rows := p.takeRows()
	p.closed = true
	summary := p.eng.Stats().Summary()
	p.life.Unlock()

	if emit {
		p.emitMu.Lock()
		p.emit(rows)
		p.emitMu.Unlock()
	}
	if p.Log != nil {
		p.Log.Infof("stopped: %s", summary)
	}
	if err != nil {
		return fmt.Errorf("processors.%s: %w", PluginName, err)
	}
	return nil
}

// New returns the processor with the SPEC's defaults, as the registry creates it.
func New() *TasmotaCSV { return &TasmotaCSV{Options: config.Default()} }

func init() {
	processors.AddStreaming(PluginName, func() telegraf.StreamingProcessor { return New() })
}
