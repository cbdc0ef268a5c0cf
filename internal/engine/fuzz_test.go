package engine_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/internal/engine"
	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
)

// FuzzEngineMessage: any topic and payload, live or replay, with or without {device}: no
// panic, and every file created stays inside the output folder.
func FuzzEngineMessage(f *testing.F) {
	f.Add("tele/tasmota_EB7D9F/SENSOR", []byte(`{"Time":"2026-01-14T10:09:41","z":{"Pi":0.512}}`), uint8(0))
	f.Add("tele/tasmota_EB7D9F/SENSOR", []byte(`{"Time":"2026-01-14T10:09:40","z":{"TS":"260114100949W","NS":353234363435,"Pi":0.0,"Po":1.411}}`), uint8(1))
	f.Add("tele/../SENSOR", []byte(`{"Time":"2026-01-14T10:09:41","z":{"Pi":1}}`), uint8(0))
	f.Add("tele/a\u2215b/SENSOR", []byte(`{"Time":1768385380,"z":{"Pi":NaN,"Po":1}}`), uint8(2))
	f.Add("..", []byte(`{"Time":"2026-01-15T00:00:00","z":{"Pi":1e400}}`), uint8(3))
	f.Add("tele/%2F/SENSOR", []byte(`{"Time":"2026-01-14T23:59:59.999+01:00","z":{"TS":"=1","U1":-0}}`), uint8(1))
	f.Add("", []byte(``), uint8(0))
	f.Fuzz(func(t *testing.T, topic string, payload []byte, mode uint8) {
		parent := t.TempDir()
		out := filepath.Join(parent, "out")
		o := config.Default()
		o.OutDir = out
		o.Timezone = "UTC"
		if mode&1 != 0 {
			o.TSFile = "ts_{date}_{time}.csv"
			o.EnergieFile = "energie_{date}_{time}.csv"
		}
		o.DeviceSegment = int(mode>>2)%5 - 2
		p := engine.Params{Log: mqtttest.NewLogger(nil), DataClock: mode&2 != 0, Verbose: true}
		if !p.DataClock {
			p.Now = fixedNow
		}
		e, err := engine.New(o, p)
		if err != nil {
			t.Fatal(err)
		}
		e.HandleMessage(topic, payload)
		e.HandleMessage("tele/good/SENSOR", []byte(`{"Time":"2026-01-14T10:09:41","z":{"Pi":1}}`))
		e.HandleMessage(topic, payload)
		e.Flush(false)
		e.Reopen()
		e.HandleMessage(topic, payload)
		_ = e.Close()
		st := e.Stats()
		if st.Received != 4 {
			t.Fatalf("received %d", st.Received)
		}
		entries, _ := os.ReadDir(parent)
		if len(entries) != 1 {
			t.Fatalf("created beside the output folder: %v", entries)
		}
		filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			if d.Type()&fs.ModeSymlink != 0 {
				t.Fatalf("symlink %s", p)
			}
			rel, err := filepath.Rel(out, p)
			if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
				t.Fatalf("%s outside %s", p, out)
			}
			if !d.IsDir() && !strings.HasSuffix(p, ".csv") {
				t.Fatalf("unexpected file %s", rel)
			}
			return nil
		})
	})
}
