package sink

import (
	"sort"

	"github.com/mqtttocsv/mqtttocsv/internal/wall"
)

// Kind is one of the two files of a device-day.
type Kind uint8

// The two kinds of file.
const (
	TS Kind = iota
	Energie
)

// Logger is the part of telegraf.Logger the sink uses.
type Logger interface {
	Errorf(format string, args ...any)
	Warnf(format string, args ...any)
	Infof(format string, args ...any)
}

// Options configure a Sink.
type Options struct {
	FS         FS
	Templates  [2]Template // by Kind
	Headers    [2][]byte   // header lines, with their newline
	StartDay   int64       // the day whose files get StartHHMM as {time}
	StartHHMM  string
	MaxPending int // rows kept in memory while writes fail
	Log        Logger
}

type key struct {
	device string
	day    int64
	kind   Kind
}

type file struct {
	name     string
	kind     Kind
	f        File
	size     int64
	pending  []byte // rows not on disk yet, whole rows only
	nPending int
	dirty    bool // written since the last fsync
}

// Sink owns the open files. It is not safe for concurrent use: the engine serialises it.
type Sink struct {
	o        Options
	files    map[key]*file
	names    map[string]struct{}
	pending  int
	failing  bool
	dropped  uint64
	written  [2]uint64
	lastErr  error
	scratchK []key
}

// New returns a sink.
func New(o Options) *Sink {
	if o.MaxPending <= 0 {
		o.MaxPending = 100000
	}
	return &Sink{o: o, files: map[key]*file{}, names: map[string]struct{}{}}
}

// Name is the file name of a device-day, relative to the output folder.
func (s *Sink) Name(kind Kind, device string, day int64) string {
	hhmm := "0000"
	if day == s.o.StartDay {
		hhmm = s.o.StartHHMM
	}
	return s.o.Templates[kind].Expand(device, wall.DateString(day), hhmm)
}

// SetStart sets the start day and time, for replay where "start" is the first message.
func (s *Sink) SetStart(day int64, hhmm string) {
	s.o.StartDay, s.o.StartHHMM = day, hhmm
}

// Append queues nrows whole rows for a device-day file and writes them at once. When the
// disk refuses, they stay queued for the next Retry, up to MaxPending rows in all; rows
// past that bound are dropped and counted.
func (s *Sink) Append(kind Kind, device string, day int64, rows []byte, nrows int) {
	k := key{device, day, kind}
	f := s.files[k]
	if f == nil {
		f = &file{name: s.Name(kind, device, day), kind: kind}
		s.files[k] = f
	}
	f.pending = append(f.pending, rows...)
	f.nPending += nrows
	s.pending += nrows
	s.flushFile(f)
	// Still not on disk and over the bound: drop these rows, unless part of them already
	// went to the file (a partial write that could not be taken back), which would leave
	// half a row.
	if s.pending > s.o.MaxPending && len(f.pending) >= len(rows) && f.nPending >= nrows {
		f.pending = f.pending[:len(f.pending)-len(rows)]
		f.nPending -= nrows
		s.pending -= nrows
		s.dropped += uint64(nrows)
	}
}

// flushFile writes a file's queued rows in one write, opening the file (and writing the
// header of an empty one) if needed.
func (s *Sink) flushFile(f *file) {
	if len(f.pending) == 0 {
		return
	}
	buf := f.pending
	if f.f == nil {
		h, size, err := s.o.FS.OpenAppend(f.name)
		if err != nil {
			s.fail(f.name, err)
			return
		}
		f.f, f.size = h, size
		s.names[f.name] = struct{}{}
	}
	// The header goes with the first write that reaches an empty file, also when an
	// earlier write to the open file failed.
	if f.size == 0 {
		buf = append(append([]byte(nil), s.o.Headers[f.kind]...), f.pending...)
	}
	n, err := f.f.Write(buf)
	if err != nil {
		// Take back a partial row: the file must only ever hold whole rows.
		if n > 0 && f.f.Truncate(f.size) != nil {
			// Could not take it back: what was written stays, the rest is retried.
			f.size += int64(n)
			head := len(buf) - len(f.pending)
			if n > head {
				f.pending = f.pending[n-head:]
			} else {
				// part of the header went out: the rest of it goes first next time
				f.pending = append(append([]byte(nil), buf[n:head]...), f.pending...)
			}
		}
		s.fail(f.name, err)
		return
	}
	f.size += int64(n)
	f.dirty = true
	s.pending -= f.nPending
	s.written[f.kind] += uint64(f.nPending)
	f.pending = f.pending[:0]
	f.nPending = 0
	// The episode ends when every kept row is on disk, not when one file of several works.
	if s.failing && s.pending == 0 {
		s.failing = false
		s.o.Log.Infof("writing again: the rows kept in memory are on disk (%s)", f.name)
	}
}

// fail logs the first error of an episode only: a full disk must not flood the log.
func (s *Sink) fail(name string, err error) {
	s.lastErr = err
	if !s.failing {
		s.failing = true
		s.o.Log.Errorf("cannot write %s: %v; rows are kept in memory (up to %d) and retried at each flush", name, err, s.o.MaxPending)
	}
}

// Retry writes every queued row, in file order.
func (s *Sink) Retry() {
	for _, k := range s.sortedKeys() {
		s.flushFile(s.files[k])
	}
}

// Sync fsyncs every file written since the last Sync.
func (s *Sink) Sync() {
	for _, f := range s.files {
		if f.f != nil && f.dirty {
			if err := f.f.Sync(); err != nil {
				s.fail(f.name, err)
				continue
			}
			f.dirty = false
		}
	}
}

// CloseBefore closes a device's files of days before day (their day has ended). Files
// with queued rows stay known so that Retry still writes them.
func (s *Sink) CloseBefore(device string, day int64) {
	for k, f := range s.files {
		if k.device == device && k.day < day && len(f.pending) == 0 {
			s.closeFile(f)
			delete(s.files, k)
		}
	}
}

func (s *Sink) closeFile(f *file) {
	if f.f == nil {
		return
	}
	if f.dirty {
		if err := f.f.Sync(); err != nil {
			s.fail(f.name, err)
		}
	}
	if err := f.f.Close(); err != nil {
		s.fail(f.name, err)
	}
	f.f, f.dirty = nil, false
}

// Reopen closes every file; each is opened again (append) at its next write. This is what
// SIGHUP does, so that logrotate can move the files away.
func (s *Sink) Reopen() {
	for _, f := range s.files {
		s.closeFile(f)
	}
}

// Close writes what it can, fsyncs and closes everything.
func (s *Sink) Close() {
	s.Retry()
	for k, f := range s.files {
		s.closeFile(f)
		if len(f.pending) == 0 {
			delete(s.files, k)
		}
	}
}

// Stats are the sink's counters.
type Stats struct {
	RowsTS, RowsEnergie uint64
	Pending             int
	Dropped             uint64
	Files               []string
	LastError           error
}

// Stats returns the counters and the names of the files written, sorted.
func (s *Sink) Stats() Stats {
	names := make([]string, 0, len(s.names))
	for n := range s.names {
		names = append(names, n)
	}
	sort.Strings(names)
	return Stats{RowsTS: s.written[TS], RowsEnergie: s.written[Energie], Pending: s.pending, Dropped: s.dropped, Files: names, LastError: s.lastErr}
}

func (s *Sink) sortedKeys() []key {
	ks := s.scratchK[:0]
	for k, f := range s.files {
		if len(f.pending) > 0 {
			ks = append(ks, k)
		}
	}
	sort.Slice(ks, func(i, j int) bool {
		a, b := ks[i], ks[j]
		if a.device != b.device {
			return a.device < b.device
		}
		if a.day != b.day {
			return a.day < b.day
		}
		return a.kind < b.kind
	})
	s.scratchK = ks
	return ks
}
