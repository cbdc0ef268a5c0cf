package tasmota_csv

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/influxdata/telegraf/testutil"

	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/internal/sink"
)

// FuzzLineProtocol is the execd binary's path: any bytes on stdin are read with Telegraf's
// influx stream parser, as the execd shim reads them, and every metric goes through the
// processor, with flushes in between, then Stop. The input is framed as cmd/tasmota-csv
// frames stdin for the shim: a line break after a last partial line, then its
// end-of-input line, on which the processor drains. (Without that framing, Telegraf
// v1.37's stream parser loops forever on a stream that ends in a backslash, e.g. "a\":
// seed-trailing-backslash-hang.) It runs under two configurations: the defaults with
// emit_aggregates, and one device per folder (templates without {device}) with the
// device at topic segment 1, "last" aggregation and drop_original.
//
// Properties: it never panics; every metric passes through (unless dropped) and every
// energie row is emitted once; every file created is a .csv file inside the output
// folder; and each file holds one header, first, then whole rows of as many cells as the
// header, each starting with a Time (read as CSV: a TS may hold quoted commas and line
// breaks).
//
// The seed corpus is testdata/fuzz/FuzzLineProtocol (realistic and hostile lines);
// `go test` replays it, `make fuzz` explores from it.
func FuzzLineProtocol(f *testing.F) {
	f.Add([]byte(`tasmota,topic=tele/tasmota_EB7D9F/SENSOR TS="260114100949W",NS=353234363435,Pi=0,Po=1.411,Time="2026-01-14T10:09:40" 1768385380123456789` + "\n" +
		`tasmota,topic=tele/tasmota_EB7D9F/SENSOR Pi=0.512,Time="2026-01-14T10:09:41" 1768385381123456789` + "\n"))
	f.Add([]byte(`tasmota,topic=tele/../SENSOR Pi=1,Time=true 1` + "\n" + "tasmota,topic=tele/\xff/SENSOR TS=\"a,\\\"b\r\n\",Time=\"2026-01-14T10:00:00\" 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// A hang is a failure with its input kept, not a stalled fuzzer.
		watchdog := time.AfterFunc(20*time.Second, func() {
			debug.SetTraceback("all")
			panic(fmt.Sprintf("FuzzLineProtocol: input of %d bytes still running after 20s: %.2000q", len(data), data))
		})
		defer watchdog.Stop()
		fuzzLineProtocol(t, data, func(p *TasmotaCSV) { p.EmitAggregates = true })
		fuzzLineProtocol(t, data, func(p *TasmotaCSV) {
			p.TSFile, p.EnergieFile = "ts_{date}_{time}.csv", "energie_{date}_{time}.csv"
			p.DeviceSegment = 1
			p.Aggregation = "last"
			p.DropOriginal = true
		})
	})
}

// endOfInput is the measurement of the line cmd/tasmota-csv appends to its input.
const endOfInput = "tasmota_csv_internal_end_of_input"

func fuzzLineProtocol(t *testing.T, data []byte, set func(*TasmotaCSV)) {
	start := time.Date(2026, 1, 14, 10, 21, 7, 0, time.UTC)
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	acc := &testutil.Accumulator{}
	p := New()
	p.OutDir = out
	p.FlushInterval = config.Duration(time.Hour) // only the data clock and the test flush
	p.Timezone = "UTC"
	p.Log = testutil.Logger{Name: "processors.tasmota_csv", Quiet: true}
	p.now = func() time.Time { return start }
	dir, err := sink.OpenDir(out)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	p.fs = fastDir{dir}
	set(p)
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(acc); err != nil {
		t.Fatal(err)
	}
	framed := append([]byte(nil), data...)
	if len(framed) > 0 && framed[len(framed)-1] != '\n' {
		framed = append(framed, '\n')
	}
	framed = append(framed, endOfInput+" done=true\n"...)
	parser := influx.NewStreamParser(bytes.NewReader(framed))
	parser.SetTimeFunc(func() time.Time { return start }) // a line without time stamp
	n := 0
	for {
		m, err := parser.Next()
		if errors.Is(err, influx.EOF) {
			break
		}
		var perr *influx.ParseError
		if errors.As(err, &perr) {
			continue // the shim logs it and goes on
		}
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		if m.Name() == endOfInput {
			p.Drain()
			continue
		}
		if err := p.Add(m, acc); err != nil {
			t.Fatal(err)
		}
		n++
		if n%3 == 0 {
			p.Flush()
		}
	}
	p.Stop()
	st := p.Stats()
	if st.Received != uint64(n) {
		t.Fatalf("received %d of %d metrics", st.Received, n)
	}
	want := 0
	if !p.DropOriginal {
		want += n
	}
	if p.EmitAggregates {
		want += int(st.RowsEnergie)
	}
	if got := len(acc.GetTelegrafMetrics()); got != want {
		t.Fatalf("%d metrics out of %d, %d rows written: want %d", got, n, st.RowsEnergie, want)
	}

	entries, _ := os.ReadDir(parent)
	if len(entries) > 1 {
		t.Fatalf("created beside the output folder: %v", entries)
	}
	err = filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(out, path)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			t.Fatalf("%s is outside %s", path, out)
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(rel, ".csv") {
			t.Fatalf("unexpected file %s (%v)", rel, d.Type())
		}
		checkCSV(t, path, rel)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
}

// fastDir is the real output folder (sink.DirFS, through os.Root: no name can leave it)
// without fsync, which has no bearing on the properties and made the fuzzer 100 times
// slower.
type fastDir struct{ *sink.DirFS }

func (d fastDir) OpenAppend(name string) (sink.File, int64, error) {
	f, size, err := d.DirFS.OpenAppend(name)
	if err != nil {
		return nil, 0, err
	}
	return noSync{f}, size, nil
}

type noSync struct{ sink.File }

func (noSync) Sync() error { return nil }

// checkCSV requires one header, first, then whole rows of as many cells as the header,
// each starting with a Time.
func checkCSV(t *testing.T, path, rel string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	header := energieHeader
	if strings.HasPrefix(filepath.Base(rel), "ts_") {
		header = tsHeader
	}
	if !bytes.HasPrefix(b, []byte(header)) {
		t.Fatalf("%s does not start with its header:\n%.300q", rel, b)
	}
	if !bytes.HasSuffix(b, []byte("\n")) {
		t.Fatalf("%s ends with a partial row:\n%.300q", rel, b[max(0, len(b)-300):])
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = strings.Count(header, ",") + 1
	r.ReuseRecord = true
	records := 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v\n%.1000q", rel, err, b)
		}
		records++
		if records == 1 {
			continue
		}
		if strings.Join(rec, ",")+"\n" == header {
			t.Fatalf("%s: a second header at record %d", rel, records)
		}
		if _, err := time.Parse("2006-01-02T15:04:05", rec[0]); err != nil {
			t.Fatalf("%s: record %d starts with %q, not a Time", rel, records, rec[0])
		}
	}
	if records < 2 {
		t.Fatalf("%s has no row", rel)
	}
}
