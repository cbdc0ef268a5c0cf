//go:build unix

package sink_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
	"github.com/mqtttocsv/mqtttocsv/internal/sink"
)

// TestPlantedFIFO: a FIFO planted under a file's name is refused at once; opening it for
// writing must not block the program until some reader shows up.
func TestPlantedFIFO(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "m"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(dir, "m", "energie_20260114_1009.csv"), 0o644); err != nil {
		t.Skip("mkfifo:", err)
	}
	log := mqtttest.NewLogger(nil)
	s := newSink(t, openDir(t, dir), log, 0)
	done := make(chan struct{})
	go func() {
		s.Append(sink.Energie, "m", day, []byte(row(1)), 1)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		// unblock the open so that the test process can end
		if f, err := os.OpenFile(filepath.Join(dir, "m", "energie_20260114_1009.csv"), os.O_RDONLY, 0); err == nil {
			defer f.Close()
		}
		<-done
		t.Fatal("opening a planted FIFO blocked")
	}
	if st := s.Stats(); st.Pending != 1 || log.Count("ERROR") != 1 {
		t.Fatalf("stats %+v, log %q", st, log.Lines())
	}
}
