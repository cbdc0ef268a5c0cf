package sink_test

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
	"github.com/mqtttocsv/mqtttocsv/internal/sink"
)

// faultFS wraps the real output folder and injects errors.
type faultFS struct {
	inner    sink.FS
	mu       sync.Mutex
	openErr  error // OpenAppend fails with it
	writeErr error // Write fails with it...
	shortN   int   // ...after really writing this many bytes
	truncErr error // Truncate fails with it
	syncErr  error
	opens    int
	writes   int
}

func (f *faultFS) set(fn func(*faultFS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
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
	f.fs.writes++
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

func (f *faultFile) Sync() error {
	f.fs.mu.Lock()
	err := f.fs.syncErr
	f.fs.mu.Unlock()
	if err != nil {
		return err
	}
	return f.f.Sync()
}

func (f *faultFile) Close() error { return f.f.Close() }

func (f *faultFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	err := f.fs.truncErr
	f.fs.mu.Unlock()
	if err != nil {
		return err
	}
	return f.f.Truncate(size)
}

var (
	errNoSpace = syscall.ENOSPC
	errPerm    = syscall.EACCES
)

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustTemplate(t *testing.T, s string) sink.Template {
	t.Helper()
	tp, err := sink.ParseTemplate(s)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

const (
	tsHeader = "Time,TS,Pi\n"
	enHeader = "Time,Pi,count\n"
)

func newSink(t *testing.T, fsys sink.FS, log *mqtttest.Logger, maxPending int) *sink.Sink {
	t.Helper()
	return sink.New(sink.Options{
		FS:         fsys,
		Templates:  [2]sink.Template{mustTemplate(t, "{device}/ts_summary_{date}_{time}.csv"), mustTemplate(t, "{device}/energie_{date}_{time}.csv")},
		Headers:    [2][]byte{[]byte(tsHeader), []byte(enHeader)},
		StartDay:   20467, // 2026-01-14
		StartHHMM:  "1009",
		MaxPending: maxPending,
		Log:        log,
	})
}

func openDir(t *testing.T, dir string) *sink.DirFS {
	t.Helper()
	d, err := sink.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
