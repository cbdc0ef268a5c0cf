package engine_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/internal/engine"
	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
	"github.com/mqtttocsv/mqtttocsv/internal/sink"
)

// syncFS keeps nothing and counts the fsyncs and the bytes written.
type syncFS struct{ syncs, bytes atomic.Int64 }

func (s *syncFS) OpenAppend(string) (sink.File, int64, error) { return syncFile{s}, 0, nil }

type syncFile struct{ fs *syncFS }

func (f syncFile) Write(p []byte) (int, error) { f.fs.bytes.Add(int64(len(p))); return len(p), nil }
func (f syncFile) Sync() error                 { f.fs.syncs.Add(1); return nil }
func (syncFile) Close() error                  { return nil }
func (syncFile) Truncate(int64) error          { return nil }

// TestFsyncs: live, the data clock's flushes (a backlog delivered at once) write their rows
// but leave the fsync to the ticker's next flush; replay fsyncs at the end only.
func TestFsyncs(t *testing.T) {
	for _, dataClock := range []bool{false, true} {
		fs := &syncFS{}
		o := config.Default()
		o.OutDir = t.TempDir()
		o.Timezone = "UTC"
		e, err := engine.New(o, engine.Params{Log: mqtttest.NewLogger(nil), FS: fs, Now: fixedNow, DataClock: dataClock})
		if err != nil {
			t.Fatal(err)
		}
		// Ten minutes of data: nine flushes of the data clock.
		for s := 0; s < 600; s++ {
			e.HandleMessage(topic, fmt.Appendf(nil, `{"Time":"2026-01-14T10:%02d:%02d","z":{"Pi":1}}`, 10+s/60, s%60))
		}
		if st := e.Stats(); st.RowsEnergie < 500 {
			t.Fatalf("data clock %v: %d rows written by the data clock, want the minutes before the last", dataClock, st.RowsEnergie)
		}
		if n := fs.syncs.Load(); n != 0 {
			t.Errorf("data clock %v: %d fsyncs before any tick, want 0", dataClock, n)
		}
		if !dataClock {
			e.Flush(false) // the ticker
			if n := fs.syncs.Load(); n == 0 {
				t.Errorf("live: the ticker's flush did not fsync")
			}
		}
		before := fs.syncs.Load()
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if fs.syncs.Load() == before {
			t.Errorf("data clock %v: Close did not fsync", dataClock)
		}
	}
}
