// Package engine is the shared core of both front doors. It takes messages (topic and
// payload, or an already decoded Reading from Telegraf), writes summary rows at once,
// aggregates the other messages per device and per second, and flushes them to the daily
// files. It owns the SPEC rules that tie the parts together: the TS/energie split, the
// flush rule ("seconds before the device's newest second"), late messages, closing the
// files of a day that has ended, single-device templates, and the refusal counters.
package engine

import (
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/mqtttocsv/mqtttocsv/internal/aggregate"
	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/internal/csvrow"
	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
	"github.com/mqtttocsv/mqtttocsv/internal/sink"
	"github.com/mqtttocsv/mqtttocsv/internal/tasmota"
	"github.com/mqtttocsv/mqtttocsv/internal/wall"
)

// Logger is the part of telegraf.Logger the core uses; the standalone has its own.
type Logger interface {
	Errorf(format string, args ...any)
	Warnf(format string, args ...any)
	Infof(format string, args ...any)
	Debugf(format string, args ...any)
}

// Params are what a front door adds to the Options.
type Params struct {
	Log Logger
	// FS is the output folder; nil opens Options.OutDir.
	FS sink.FS
	// Now is the wall clock (tests set it); nil is time.Now.
	Now func() time.Time
	// DataClock makes the messages' own Time the clock (replay): the start is the first
	// usable message and only the data clock flushes (a flush whenever data time crosses a
	// flush_interval boundary; it also runs live, beside the ticker). Without it, the
	// start is Now and the front door also calls Flush on a ticker.
	DataClock bool
	// Verbose logs every message and every refusal at debug level.
	Verbose bool
	// OnRow, when set, receives each energie row as it is written (emit_aggregates).
	OnRow func(Row)
}

// Row is a written per-second row, for emit_aggregates.
type Row struct {
	Device  string
	Time    wall.Time
	Count   uint32
	Columns []string  // the configured columns
	Values  []float64 // by column
	Has     []bool    // by column
}

// Stats are the counters shown in the exit summary and the status line.
type Stats struct {
	Received    uint64
	Refused     refusal.Counts
	RowsTS      uint64
	RowsEnergie uint64
	Buffered    int // per-second rows not written yet
	Pending     int // rows waiting for the disk
	Files       []string
	Devices     int
}

// Engine is safe for concurrent use: the MQTT callback and the flush ticker share it.
type Engine struct {
	mu      sync.Mutex
	o       config.Options
	p       Params
	mode    aggregate.Mode
	schema  *tasmota.Schema
	ncols   int
	dec     *tasmota.Decoder
	rd      tasmota.Reading
	sink    *sink.Sink
	dir     *sink.DirFS
	loc     *time.Location
	devices map[string]*device // by raw device segment
	byName  map[string]*device // by safe name
	single  bool               // a template without {device}: one device only
	owner   string
	refused refusal.Counts
	recv    uint64
	started bool
	period  int64 // flush interval in seconds, for the data clock
	bucket  int64 // data clock: current flush_interval bucket
	// nextBucket is the first time of the bucket after e.bucket: times before it need
	// no division to know they are in no later bucket.
	nextBucket wall.Time
	buf        []byte
	keys       []wall.Time
	free       []*row
	// The source of the last usable message and its device: messages come in runs
	// from the same device (a capture reuses the topic string, so the comparison is
	// mostly a pointer comparison).
	lastSource string
	lastDev    *device
}

type device struct {
	name     string
	newest   wall.Time
	seen     bool
	rows     map[wall.Time]*row
	warnedAt wall.Time
	// The row the last message went to (nil after a flush): the next messages
	// mostly belong to the same second.
	lastTime wall.Time
	lastRow  *row
}

type row struct {
	count uint32
	set   uint64
	cells []aggregate.Cell
}

// New validates the options and opens the output folder.
func New(o config.Options, p Params) (*Engine, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	mode, _ := aggregate.ParseMode(o.Aggregation)
	loc, _ := config.LoadLocation(o.Timezone)
	tsT, _ := sink.ParseTemplate(o.TSFile)
	enT, _ := sink.ParseTemplate(o.EnergieFile)
	e := &Engine{
		o: o, p: p, mode: mode, loc: loc,
		schema:  tasmota.NewSchema(o.Columns),
		devices: map[string]*device{},
		byName:  map[string]*device{},
		single:  !tsT.HasDevice || !enT.HasDevice,
		period:  int64(time.Duration(o.FlushInterval) / time.Second),
	}
	e.ncols = e.schema.Len()
	e.dec = tasmota.NewDecoder(o.Meter, e.schema, loc, o.MaxPayload)
	fsys := p.FS
	if fsys == nil {
		d, err := sink.OpenDir(o.OutDir)
		if err != nil {
			return nil, err
		}
		e.dir, fsys = d, d
	}
	tsNames := append([]string{"Time"}, make([]string, e.ncols)...)
	for i := 0; i < e.ncols; i++ {
		tsNames[i+1] = e.schema.Name(i)
	}
	enNames := append(append([]string{"Time"}, o.Columns...), "count")
	so := sink.Options{
		FS:         fsys,
		Templates:  [2]sink.Template{tsT, enT},
		Headers:    [2][]byte{csvrow.Header(tsNames), csvrow.Header(enNames)},
		MaxPending: o.MaxPendingRows,
		Log:        p.Log,
	}
	if !p.DataClock {
		now := p.Now()
		so.StartDay = wall.FromTime(now).Day()
		so.StartHHMM = now.Format("1504")
		e.started = true
	}
	e.sink = sink.New(so)
	return e, nil
}

// Schema is the column layout, for front doors that decode on their own (Telegraf).
func (e *Engine) Schema() *tasmota.Schema { return e.schema }

// Location is the configured time zone.
func (e *Engine) Location() *time.Location { return e.loc }

// Decoder returns a new payload decoder with the engine's settings, for a front door that
// decodes payloads itself.
func (e *Engine) Decoder() *tasmota.Decoder {
	return tasmota.NewDecoder(e.o.Meter, e.schema, e.loc, e.o.MaxPayload)
}

// HandleMessage takes one MQTT message.
func (e *Engine) HandleMessage(topic string, payload []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.recv++
	d := e.lastDev
	if d == nil || topic != e.lastSource {
		d = e.devices[topic]
	}
	if d != nil { // a known source: device and register have nothing to add
		if err := e.dec.Decode(payload, &e.rd); err != nil {
			e.refuse(topic, err)
			return
		}
		e.lastSource, e.lastDev = topic, d
		e.handle(topic, d, &e.rd)
		return
	}
	dev, name, err := e.device(topic)
	if err != nil {
		e.refuse(topic, err)
		return
	}
	if err := e.dec.Decode(payload, &e.rd); err != nil {
		e.refuse(topic, err)
		return
	}
	e.handle(topic, e.register(topic, name, dev), &e.rd)
}

// HandleReading takes a message decoded by the front door. source is the topic (or
// another tag carrying the device).
func (e *Engine) HandleReading(source string, r *tasmota.Reading) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.recv++
	d := e.lastDev
	name := ""
	cached := d != nil && source == e.lastSource
	if !cached {
		var err error
		if d, name, err = e.device(source); err != nil {
			e.refuse(source, err)
			return
		}
	}
	if r.Set == 0 && !r.Summary {
		e.refuse(source, refusal.New(refusal.NoValues, "the meter object has no usable value"))
		return
	}
	if !cached {
		d = e.register(source, name, d)
	}
	e.handle(source, d, r)
}

// Refuse counts a message refused by the front door itself (it was received).
func (e *Engine) Refuse(source string, err *refusal.Error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.recv++
	e.refuse(source, err)
}

func (e *Engine) refuse(source string, err error) {
	re, ok := err.(*refusal.Error)
	if !ok {
		re = &refusal.Error{Reason: refusal.NotJSON, Detail: err.Error()}
	}
	e.refused.Add(re.Reason)
	if e.p.Verbose {
		e.p.Log.Debugf("refused message on %q: %s: %s", source, re.Reason, re.Detail)
	}
}

// device finds the device of a topic: a segment of it, or the whole value when it has
// no "/" (a device_tag that carries the name itself). It returns the device (nil when it has
// sent nothing usable yet) and its safe name; register records it once a message is usable,
// so that unusable messages neither grow the device table nor take the files of a template
// without {device}.
func (e *Engine) device(source string) (*device, string, error) {
	if d, ok := e.devices[source]; ok {
		return d, d.name, nil
	}
	seg := source
	if containsSlash(source) {
		s, ok := tasmota.TopicSegment(source, e.o.DeviceSegment)
		if !ok {
			return nil, "", refusal.New(refusal.UnsafeDevice, "topic has no segment %d", e.o.DeviceSegment)
		}
		seg = s
	}
	name, err := tasmota.SafeName(seg)
	if err != nil {
		return nil, "", err
	}
	if e.single && e.owner != "" && name != e.owner {
		return nil, "", refusal.New(refusal.SecondDevice,
			"device %q is refused: the file templates have no {device} and already hold %q; add {device} to ts_file and energie_file", name, e.owner)
	}
	return e.byName[name], name, nil
}

// register records the device of a usable message.
func (e *Engine) register(source, name string, d *device) *device {
	if d == nil {
		d = e.byName[name]
	}
	if d == nil {
		d = &device{name: name, rows: map[wall.Time]*row{}}
		e.byName[name] = d
	}
	if e.single && e.owner == "" {
		e.owner = name
	}
	if _, ok := e.devices[source]; !ok && len(e.devices) < 100000 { // bound the cache against topic floods
		e.devices[source] = d
	}
	// Every message from source resolves to d (same segment, same safe name): HandleMessage
	// may skip device and register for the next ones.
	e.lastSource, e.lastDev = source, d
	return d
}

func containsSlash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return true
		}
	}
	return false
}

func (e *Engine) handle(source string, d *device, r *tasmota.Reading) {
	for i := range r.Skips {
		sk := &r.Skips[i]
		e.refused.Add(sk.Reason)
		if e.p.Verbose {
			e.p.Log.Debugf("refused value on %q: %s %s: %s", source, sk.Reason, sk.Name, sk.Detail)
		}
	}
	if e.p.Verbose {
		kind := "value"
		if r.Summary {
			kind = "summary"
		}
		e.p.Log.Debugf("message on %q: %s at %s", source, kind, r.Time)
	}
	if !e.started {
		e.started = true
		h, m := 0, 0
		_, _, _, h, m, _ = r.Time.Civil()
		e.sink.SetStart(r.Time.Day(), fmt.Sprintf("%02d%02d", h, m))
	}
	if !e.p.DataClock {
		e.checkClock(d, r.Time)
	}
	if !d.seen || r.Time > d.newest {
		d.newest, d.seen = r.Time, true
	}
	if r.Summary {
		e.writeSummary(d, r)
	} else {
		rw := d.lastRow
		if rw == nil || d.lastTime != r.Time {
			rw = d.rows[r.Time]
			if rw == nil {
				rw = e.newRow()
				d.rows[r.Time] = rw
			}
			d.lastTime, d.lastRow = r.Time, rw
		}
		for set := r.Set; set != 0; set &= set - 1 {
			i := trailingZeros(set)
			if i >= tasmota.FirstColumn {
				if r.Exact&(1<<uint(i)) != 0 {
					rw.cells[i].AddExact(e.mode, r.Num[i], r.Mant[i], r.Exp[i])
				} else {
					rw.cells[i].Add(e.mode, r.Num[i])
				}
				rw.set |= 1 << uint(i)
			} else if e.p.Verbose {
				e.p.Log.Debugf("%s is only written in summary rows", e.schema.Name(i))
			}
		}
		rw.count++
	}
	// The data clock also runs live: in real time it agrees with the ticker, and when a
	// broker delivers hours of queued messages at once (after a downtime) it writes them as
	// replay would, in constant memory.
	if e.period > 0 && r.Time >= e.nextBucket {
		b := int64(r.Time) / e.period
		if b > e.bucket {
			if e.bucket != 0 {
				e.flush(false, false)
			}
			e.bucket = b
			e.nextBucket = wall.Time((b + 1) * e.period)
		}
	}
}

// checkClock warns once an hour per device when its clock is a day or more away from ours:
// its rows are still written, under its own dates.
func (e *Engine) checkClock(d *device, t wall.Time) {
	now := wall.FromTime(e.p.Now().In(e.loc))
	diff := int64(t - now)
	if diff < 0 {
		diff = -diff
	}
	if diff >= wall.SecondsPerDay && (d.warnedAt == 0 || int64(now-d.warnedAt) >= 3600) {
		d.warnedAt = now
		e.p.Log.Warnf("device %q sends Time %s, far from this machine's %s: check its time zone and NTP settings; rows are written under the device's dates", d.name, t, now)
	}
}

func trailingZeros(x uint64) int { return bits.TrailingZeros64(x) }

func (e *Engine) newRow() *row {
	if n := len(e.free); n > 0 {
		rw := e.free[n-1]
		e.free = e.free[:n-1]
		return rw
	}
	return &row{cells: make([]aggregate.Cell, e.ncols)}
}

func (e *Engine) freeRow(rw *row) {
	for set := rw.set; set != 0; set &= set - 1 {
		rw.cells[trailingZeros(set)].Reset()
	}
	rw.set, rw.count = 0, 0
	if len(e.free) < 4096 {
		e.free = append(e.free, rw)
	}
}

// writeSummary writes a TS row at once: Time, TS, NS, then the columns.
func (e *Engine) writeSummary(d *device, r *tasmota.Reading) {
	b := r.Time.AppendISO(e.buf[:0])
	for i := 0; i < e.ncols; i++ {
		b = append(b, ',')
		switch {
		case !r.Has(i):
		case i == tasmota.ColTS:
			b = csvrow.AppendText(b, r.Text)
		default:
			b = csvrow.AppendNumber(b, r.Num[i])
		}
	}
	b = append(b, '\n')
	e.buf = b
	e.sink.Append(sink.TS, d.name, r.Time.Day(), b, 1)
}

// Flush writes, for every device, the rows of the seconds before its newest second (all
// rows when final), then retries what the disk refused before and fsyncs.
func (e *Engine) Flush(final bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flush(final, true)
}

// flush is Flush; ticker is false for the flushes of the data clock.
func (e *Engine) flush(final, ticker bool) {
	names := make([]string, 0, len(e.byName))
	for n := range e.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		d := e.byName[n]
		e.flushDevice(d, final)
		if !final && d.seen {
			e.sink.CloseBefore(d.name, d.newest.Day())
		}
	}
	e.sink.Retry()
	// Live, every flush of the ticker is fsynced: that bounds what a power cut can take
	// to one flush_interval. The data clock's flushes, many in a row when a broker
	// delivers a backlog, leave theirs to the next tick, which keeps that bound without
	// an fsync per flush_interval of data. A replay can be run again, so it fsyncs only
	// when it closes a file and at the end, which keeps it from waiting on the disk at
	// every flush_interval of data.
	if final || ticker && !e.p.DataClock {
		e.sink.Sync()
	}
}

func (e *Engine) flushDevice(d *device, final bool) {
	keys := e.keys[:0]
	for t := range d.rows {
		if final || t < d.newest {
			keys = append(keys, t)
		}
	}
	if len(keys) == 0 {
		return
	}
	d.lastRow = nil // its row may be written and freed below
	slices.Sort(keys)
	b := e.buf[:0]
	day, n := keys[0].Day(), 0
	for _, t := range keys {
		if t.Day() != day {
			e.sink.Append(sink.Energie, d.name, day, b, n)
			b, day, n = b[:0], t.Day(), 0
		}
		rw := d.rows[t]
		b = t.AppendISO(b)
		for i := tasmota.FirstColumn; i < e.ncols; i++ {
			b = append(b, ',')
			if rw.set&(1<<uint(i)) != 0 {
				b = rw.cells[i].AppendTo(b, e.mode)
			}
		}
		b = append(b, ',')
		b = appendUint(b, uint64(rw.count))
		b = append(b, '\n')
		n++
		if e.p.OnRow != nil {
			e.p.OnRow(e.exportRow(d, t, rw))
		}
		delete(d.rows, t)
		e.freeRow(rw)
	}
	e.sink.Append(sink.Energie, d.name, day, b, n)
	e.buf, e.keys = b, keys
}

func (e *Engine) exportRow(d *device, t wall.Time, rw *row) Row {
	n := e.ncols - tasmota.FirstColumn
	out := Row{Device: d.name, Time: t, Count: rw.count, Columns: e.o.Columns, Values: make([]float64, n), Has: make([]bool, n)}
	for i := tasmota.FirstColumn; i < e.ncols; i++ {
		if rw.set&(1<<uint(i)) != 0 {
			out.Values[i-tasmota.FirstColumn] = rw.cells[i].Float(e.mode)
			out.Has[i-tasmota.FirstColumn] = true
		}
	}
	return out
}

func appendUint(b []byte, v uint64) []byte {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(b, tmp[i:]...)
}

// Reopen closes the files so that the next write reopens them (SIGHUP, logrotate).
func (e *Engine) Reopen() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sink.Reopen()
}

// Close writes everything, fsyncs and closes the files.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.flush(true, true)
	e.sink.Close()
	st := e.sink.Stats()
	if e.dir != nil {
		e.dir.Close()
	}
	if st.Pending > 0 {
		return fmt.Errorf("%d rows could not be written: %v", st.Pending, st.LastError)
	}
	return nil
}

// Stats returns the counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.sink.Stats()
	s := Stats{Received: e.recv, Refused: e.refused, RowsTS: st.RowsTS, RowsEnergie: st.RowsEnergie, Pending: st.Pending, Files: st.Files, Devices: len(e.byName)}
	s.Refused[refusal.Dropped] += st.Dropped
	for _, d := range e.byName {
		s.Buffered += len(d.rows)
	}
	return s
}

// Summary is the one-line exit summary.
func (s Stats) Summary() string {
	refused := s.Refused.String()
	if refused == "" {
		refused = "none"
	}
	return fmt.Sprintf("messages %d, refused %d (%s), rows written: ts %d, energie %d, files %d",
		s.Received, s.Refused.Total()-s.Refused.Get(refusal.BadValue)-s.Refused.Get(refusal.UnknownAttribute)-s.Refused.Get(refusal.Dropped),
		refused, s.RowsTS, s.RowsEnergie, len(s.Files))
}
