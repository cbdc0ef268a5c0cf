package engine_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/internal/engine"
	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
	"github.com/mqtttocsv/mqtttocsv/internal/sink"
)

const (
	tsHeader = "Time,TS,NS,Pi,Po,B1,B2,E1,E2,P1i,P2i,P3i,P1o,P2o,P3o,I1,I2,I3,U1,U2,U3\n"
	enHeader = "Time,Pi,Po,B1,B2,E1,E2,P1i,P2i,P3i,P1o,P2o,P3o,I1,I2,I3,U1,U2,U3,count\n"
	topic    = "tele/tasmota_EB7D9F/SENSOR"
	dev      = "tasmota_EB7D9F"
)

var columns = config.DefaultColumns

// fixedNow is a clock standing at 2026-01-14 10:21:07 UTC.
func fixedNow() time.Time { return time.Date(2026, 1, 14, 10, 21, 7, 0, time.UTC) }

type harness struct {
	t   testing.TB
	dir string
	log *mqtttest.Logger
	e   *engine.Engine
}

// newHarness starts an engine on a new temp folder (UTC, live clock at fixedNow unless
// p says otherwise); opt edits the options.
func newHarness(t testing.TB, opt func(*config.Options), p engine.Params) *harness {
	t.Helper()
	dir := t.TempDir()
	return openHarness(t, dir, opt, p)
}

func openHarness(t testing.TB, dir string, opt func(*config.Options), p engine.Params) *harness {
	t.Helper()
	o := config.Default()
	o.OutDir = dir
	o.Timezone = "UTC"
	if opt != nil {
		opt(&o)
	}
	log := mqtttest.NewLogger(nil)
	if p.Log == nil {
		p.Log = log
	}
	if p.Now == nil && !p.DataClock {
		p.Now = fixedNow
	}
	e, err := engine.New(o, p)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, dir: dir, log: log, e: e}
}

func (h *harness) msg(topic, payload string) { h.e.HandleMessage(topic, []byte(payload)) }

// val sends a single-attribute style message.
func (h *harness) val(tm, body string) {
	h.msg(topic, `{"Time":"`+tm+`","z":{`+body+`}}`)
}

func (h *harness) close() {
	h.t.Helper()
	if err := h.e.Close(); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) file(name string) string {
	h.t.Helper()
	b, err := os.ReadFile(filepath.Join(h.dir, filepath.FromSlash(name)))
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

func (h *harness) expectFile(name, want string) {
	h.t.Helper()
	if got := h.file(name); got != want {
		h.t.Fatalf("%s:\n%s\nwant:\n%s", name, got, want)
	}
}

func (h *harness) refused(r refusal.Reason) uint64 {
	st := h.e.Stats()
	return st.Refused.Get(r)
}

// files lists the regular files under the output folder, slash-separated.
func (h *harness) files() []string {
	h.t.Helper()
	var out []string
	filepath.WalkDir(h.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			h.t.Fatal(err)
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(h.dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// enRow builds an energie row: vals maps column names to cell text.
func enRow(tm string, vals map[string]string, count int) string {
	var b strings.Builder
	b.WriteString(tm)
	for _, c := range columns {
		b.WriteByte(',')
		b.WriteString(vals[c])
	}
	fmt.Fprintf(&b, ",%d\n", count)
	return b.String()
}

// tsRow builds a TS row.
func tsRow(tm, ts, ns string, vals map[string]string) string {
	var b strings.Builder
	b.WriteString(tm + "," + ts + "," + ns)
	for _, c := range columns {
		b.WriteByte(',')
		b.WriteString(vals[c])
	}
	b.WriteByte('\n')
	return b.String()
}

// faultFS wraps the real output folder and injects errors.
type faultFS struct {
	inner    sink.FS
	mu       sync.Mutex
	openErr  error
	writeErr error
	shortN   int
	opens    int
}

func (f *faultFS) set(openErr, writeErr error, shortN int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.openErr, f.writeErr, f.shortN = openErr, writeErr, shortN
}

func (f *faultFS) OpenAppend(name string) (sink.File, int64, error) {
	f.mu.Lock()
	err := f.openErr
	f.opens++
	f.mu.Unlock()
	if err != nil {
		return nil, 0, &os.PathError{Op: "open", Path: name, Err: err}
	}
	h, size, err := f.inner.OpenAppend(name)
	if err != nil {
		return nil, 0, err
	}
	return &faultFile{fs: f, f: h}, size, nil
}

type faultFile struct {
	fs *faultFS
	f  sink.File
}

func (f *faultFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	err, short := f.fs.writeErr, f.fs.shortN
	f.fs.mu.Unlock()
	if err == nil {
		return f.f.Write(p)
	}
	n := min(short, len(p))
	if n > 0 {
		if m, werr := f.f.Write(p[:n]); werr != nil {
			return m, werr
		}
	}
	return n, &os.PathError{Op: "write", Path: "x", Err: err}
}
func (f *faultFile) Sync() error               { return f.f.Sync() }
func (f *faultFile) Close() error              { return f.f.Close() }
func (f *faultFile) Truncate(size int64) error { return f.f.Truncate(size) }
