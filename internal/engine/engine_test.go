package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/internal/engine"
	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
)

const (
	enFile = dev + "/energie_20260114_1021.csv"
	tsFile = dev + "/ts_summary_20260114_1021.csv"
)

func TestSummaryAndPerSecondRows(t *testing.T) {
	h := newHarness(t, nil, engine.Params{})
	h.msg(topic, `{"Time":"2026-01-14T10:09:40","z":{"TS":"260114100949W","NS":353234363435,"Pi":0.0,"Po":1.411,"U1":230.1}}`)
	// the summary row is on disk at once
	h.expectFile(tsFile, tsHeader+tsRow("2026-01-14T10:09:40", "260114100949W", "353234363435", map[string]string{"Pi": "0", "Po": "1.411", "U1": "230.1"}))
	h.val("2026-01-14T10:09:41", `"Pi":0.1`)
	h.val("2026-01-14T10:09:41", `"Pi":0.2`)
	h.val("2026-01-14T10:09:41", `"Po":2.0`)
	h.val("2026-01-14T10:09:42", `"Pi":0.512`)
	if _, err := os.Stat(filepath.Join(h.dir, enFile)); err == nil {
		t.Fatal("energie file written before a flush")
	}
	h.e.Flush(false)
	// only the seconds before the device's newest second
	h.expectFile(enFile, enHeader+enRow("2026-01-14T10:09:41", map[string]string{"Pi": "0.3", "Po": "2"}, 3))
	if st := h.e.Stats(); st.Buffered != 1 || st.RowsEnergie != 1 || st.RowsTS != 1 {
		t.Fatalf("stats %+v", st)
	}
	h.close()
	h.expectFile(enFile, enHeader+
		enRow("2026-01-14T10:09:41", map[string]string{"Pi": "0.3", "Po": "2"}, 3)+
		enRow("2026-01-14T10:09:42", map[string]string{"Pi": "0.512"}, 1))
	st := h.e.Stats()
	if st.Received != 5 || st.Refused.Total() != 0 || st.Buffered != 0 || st.Devices != 1 || len(st.Files) != 2 {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(st.Summary(), "messages 5, refused 0 (none), rows written: ts 1, energie 2, files 2") {
		t.Fatalf("summary %q", st.Summary())
	}
}

func TestFlushRulePerDevice(t *testing.T) {
	h := newHarness(t, nil, engine.Params{})
	h.msg("tele/a/SENSOR", `{"Time":"2026-01-14T10:09:41","z":{"Pi":1}}`)
	h.msg("tele/b/SENSOR", `{"Time":"2026-01-14T10:09:50","z":{"Pi":2}}`)
	h.msg("tele/a/SENSOR", `{"Time":"2026-01-14T10:09:42","z":{"Pi":3}}`)
	h.e.Flush(false)
	// a: 41 is before its newest (42); b: 50 is its newest, kept although a's clock is behind
	h.expectFile("a/energie_20260114_1021.csv", enHeader+enRow("2026-01-14T10:09:41", map[string]string{"Pi": "1"}, 1))
	if _, err := os.Stat(filepath.Join(h.dir, "b/energie_20260114_1021.csv")); err == nil {
		t.Fatal("b's newest second written at Flush(false)")
	}
	h.e.Flush(false) // nothing new: nothing written
	h.expectFile("a/energie_20260114_1021.csv", enHeader+enRow("2026-01-14T10:09:41", map[string]string{"Pi": "1"}, 1))
	h.close()
	h.expectFile("a/energie_20260114_1021.csv", enHeader+enRow("2026-01-14T10:09:41", map[string]string{"Pi": "1"}, 1)+enRow("2026-01-14T10:09:42", map[string]string{"Pi": "3"}, 1))
	h.expectFile("b/energie_20260114_1021.csv", enHeader+enRow("2026-01-14T10:09:50", map[string]string{"Pi": "2"}, 1))
}

func TestRowsAscendingOrder(t *testing.T) {
	h := newHarness(t, nil, engine.Params{})
	for _, s := range []int{45, 41, 43, 42, 44, 41} {
		h.val(fmt.Sprintf("2026-01-14T10:09:%02d", s), `"Pi":1`)
	}
	h.close()
	want := enHeader + enRow("2026-01-14T10:09:41", map[string]string{"Pi": "2"}, 2)
	for s := 42; s <= 45; s++ {
		want += enRow(fmt.Sprintf("2026-01-14T10:09:%02d", s), map[string]string{"Pi": "1"}, 1)
	}
	h.expectFile(enFile, want)
}

func TestAggregationModes(t *testing.T) {
	tests := []struct {
		mode string
		pi   string
		po   string
	}{
		{"sum", "0.3", "-1"},
		{"mean", "0.1", "-0.5"},
		{"min", "0", "-2"},
		{"max", "0.2", "1"},
		{"first", "0.1", "1"},
		{"last", "0.2", "-2"},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			h := newHarness(t, func(o *config.Options) { o.Aggregation = tc.mode }, engine.Params{})
			h.val("2026-01-14T10:09:41", `"Pi":0.1,"Po":1`)
			h.val("2026-01-14T10:09:41", `"Pi":0.0`)
			h.val("2026-01-14T10:09:41", `"Pi":0.2,"Po":-2`)
			h.val("2026-01-14T10:09:41", `"U1":"bad"`)
			h.close()
			// the message with only a bad value is refused (no_values): 3 merged
			h.expectFile(enFile, enHeader+enRow("2026-01-14T10:09:41", map[string]string{"Pi": tc.pi, "Po": tc.po}, 3))
		})
	}
}

func TestSumsWithoutNoise(t *testing.T) {
	h := newHarness(t, nil, engine.Params{})
	for i := 0; i < 10; i++ {
		h.val("2026-01-14T10:09:41", `"Pi":0.1,"Po":-0.01,"U1":1e-7`)
	}
	h.val("2026-01-14T10:09:42", `"Pi":353234363435,"Po":0.001`)
	h.val("2026-01-14T10:09:42", `"Pi":0.001,"Po":-0.001`)
	h.close()
	h.expectFile(enFile, enHeader+
		enRow("2026-01-14T10:09:41", map[string]string{"Pi": "1", "Po": "-0.1", "U1": "0.000001"}, 10)+
		enRow("2026-01-14T10:09:42", map[string]string{"Pi": "353234363435.001", "Po": "0"}, 2))
}

func TestNumberFormsInFiles(t *testing.T) {
	h := newHarness(t, nil, engine.Params{})
	h.msg(topic, `{"Time":"2026-01-14T10:09:40","z":{"TS":"=cmd","NS":3.5e11,"Pi":-0.0,"Po":2.0,"B1":1e-7,"B2":1e21,"E1":12345678.9}}`)
	h.close()
	h.expectFile(tsFile, tsHeader+tsRow("2026-01-14T10:09:40", "'=cmd", "350000000000", map[string]string{"Pi": "0", "Po": "2", "B1": "0.0000001", "B2": "1000000000000000000000", "E1": "12345678.9"}))
}

func TestTSTextQuoting(t *testing.T) {
	tests := []struct{ ts, want string }{
		{`260114100949W`, `260114100949W`},
		{`a,b`, `"a,b"`},
		{`say \"x\"`, `"say ""x"""`},
		{`+33`, `'+33`},
		{`-1`, `'-1`},
		{`@x`, `'@x`},
		{`\tx`, "'\tx"},
		{`\rx`, "\"'\rx\""},
		{`line\nbreak`, "\"line\nbreak\""},
	}
	for _, tc := range tests {
		h := newHarness(t, nil, engine.Params{})
		h.msg(topic, `{"Time":"2026-01-14T10:09:40","z":{"TS":"`+tc.ts+`"}}`)
		h.close()
		h.expectFile(tsFile, tsHeader+tsRow("2026-01-14T10:09:40", tc.want, "", nil))
	}
}

// TestStartTimeLive: {time} is HHMM of the start (Params.Now) for the start day, 0000 for
// other days.
func TestStartTimeLive(t *testing.T) {
	h := newHarness(t, nil, engine.Params{Now: func() time.Time { return time.Date(2026, 1, 14, 23, 58, 30, 0, time.UTC) }})
	h.val("2026-01-14T23:59:59", `"Pi":1`)
	h.val("2026-01-15T00:00:00", `"Pi":2`)
	h.msg(topic, `{"Time":"2026-01-13T12:00:00","z":{"TS":"x"}}`)
	h.close()
	want := []string{
		dev + "/energie_20260114_2358.csv",
		dev + "/energie_20260115_0000.csv",
		dev + "/ts_summary_20260113_0000.csv",
	}
	if got := h.files(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("files %v, want %v", got, want)
	}
}

// TestStartTimeReplay: in replay "start" is the first usable message's Time.
func TestStartTimeReplay(t *testing.T) {
	h := newHarness(t, nil, engine.Params{DataClock: true})
	h.msg(topic, `not json`)
	h.msg(topic, `{"Time":"2026-01-14T08:00:00","ENERGY":{}}`)
	h.val("2026-01-14T10:09:41", `"Pi":1`)
	h.val("2026-01-14T07:00:00", `"Pi":1`) // earlier, but not first
	h.val("2026-01-15T00:00:01", `"Pi":1`)
	h.close()
	want := []string{dev + "/energie_20260114_1009.csv", dev + "/energie_20260115_0000.csv"}
	if got := h.files(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("files %v, want %v", got, want)
	}
	h.expectFile(dev+"/energie_20260114_1009.csv", enHeader+
		enRow("2026-01-14T07:00:00", map[string]string{"Pi": "1"}, 1)+
		enRow("2026-01-14T10:09:41", map[string]string{"Pi": "1"}, 1))
}

func TestRestartSameMinuteOneHeader(t *testing.T) {
	dir := t.TempDir()
	h := openHarness(t, dir, nil, engine.Params{})
	h.msg(topic, `{"Time":"2026-01-14T10:09:40","z":{"TS":"a"}}`)
	h.val("2026-01-14T10:09:41", `"Pi":1`)
	h.close()
	h2 := openHarness(t, dir, nil, engine.Params{})
	h2.msg(topic, `{"Time":"2026-01-14T10:09:50","z":{"TS":"b"}}`)
	h2.val("2026-01-14T10:09:51", `"Pi":2`)
	h2.close()
	h2.expectFile(tsFile, tsHeader+tsRow("2026-01-14T10:09:40", "a", "", nil)+tsRow("2026-01-14T10:09:50", "b", "", nil))
	h2.expectFile(enFile, enHeader+enRow("2026-01-14T10:09:41", map[string]string{"Pi": "1"}, 1)+enRow("2026-01-14T10:09:51", map[string]string{"Pi": "2"}, 1))
}

// TestLateMessage: a message for a second already written makes a new row at the next
// flush; the row on disk is not rewritten.
func TestLateMessage(t *testing.T) {
	h := newHarness(t, nil, engine.Params{})
	h.val("2026-01-14T10:09:41", `"Pi":1`)
	h.val("2026-01-14T10:09:42", `"Pi":2`)
	h.e.Flush(false)
	first := enHeader + enRow("2026-01-14T10:09:41", map[string]string{"Pi": "1"}, 1)
	h.expectFile(enFile, first)
	h.val("2026-01-14T10:09:41", `"Pi":5`) // late
	h.val("2026-01-14T10:09:41", `"Po":1`) // late
	h.e.Flush(false)
	second := first + enRow("2026-01-14T10:09:41", map[string]string{"Pi": "5", "Po": "1"}, 2)
	h.expectFile(enFile, second)
	h.close()
	h.expectFile(enFile, second+enRow("2026-01-14T10:09:42", map[string]string{"Pi": "2"}, 1))
}

// TestDayChange: rows of a day that ended go to that day's files, which are closed; a
// late row for that day goes to its file too.
func TestDayChange(t *testing.T) {
	dir := t.TempDir()
	ffs := &faultFS{}
	h := openHarness(t, dir, nil, engine.Params{})
	h.close()
	d, err := openDirFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	ffs.inner = d
	h = openHarness(t, dir, nil, engine.Params{FS: ffs})
	h.val("2026-01-14T23:59:58", `"Pi":1`)
	h.val("2026-01-14T23:59:59", `"Pi":2`)
	h.msg(topic, `{"Time":"2026-01-14T23:59:59","z":{"TS":"s1"}}`)
	h.val("2026-01-15T00:00:00", `"Pi":3`)
	h.val("2026-01-15T00:00:01", `"Pi":4`)
	h.e.Flush(false)
	h.expectFile(enFile, enHeader+
		enRow("2026-01-14T23:59:58", map[string]string{"Pi": "1"}, 1)+
		enRow("2026-01-14T23:59:59", map[string]string{"Pi": "2"}, 1))
	h.expectFile(dev+"/energie_20260115_0000.csv", enHeader+enRow("2026-01-15T00:00:00", map[string]string{"Pi": "3"}, 1))
	opens := ffs.opens
	h.val("2026-01-14T23:59:59", `"Po":9`) // late, for the closed day
	h.e.Flush(false)
	if ffs.opens != opens+1 {
		t.Fatalf("the closed day's file was not closed (opens %d -> %d)", opens, ffs.opens)
	}
	h.close()
	h.expectFile(enFile, enHeader+
		enRow("2026-01-14T23:59:58", map[string]string{"Pi": "1"}, 1)+
		enRow("2026-01-14T23:59:59", map[string]string{"Pi": "2"}, 1)+
		enRow("2026-01-14T23:59:59", map[string]string{"Po": "9"}, 1))
	h.expectFile(dev+"/energie_20260115_0000.csv", enHeader+
		enRow("2026-01-15T00:00:00", map[string]string{"Pi": "3"}, 1)+
		enRow("2026-01-15T00:00:01", map[string]string{"Pi": "4"}, 1))
	h.expectFile(tsFile, tsHeader+tsRow("2026-01-14T23:59:59", "s1", "", nil))
}

func TestDeviceFromTopic(t *testing.T) {
	tests := []struct {
		segment int
		topic   string
		device  string // "" when refused with unsafe_device
	}{
		{-2, "tele/tasmota_EB7D9F/SENSOR", "tasmota_EB7D9F"},
		{-2, "tele/my meter/SENSOR", "my_meter"},
		{-2, "tele/compteur-é/SENSOR", "compteur-_"},
		{-2, "tele/a\u2215b/SENSOR", "a_b"},
		{-2, "home/tele/a.b_c-d/SENSOR", "a.b_c-d"},
		{1, "tele/dev1/SENSOR", "dev1"},
		{0, "dev0/tele/SENSOR", "dev0"},
		{-1, "tele/SENSOR/lastseg", "lastseg"},
		{2, "a/b/c/d", "c"},
		{-2, "tele//SENSOR", ""},
		{-2, "tele/./SENSOR", ""},
		{-2, "tele/../SENSOR", ""},
		{-2, "tele/" + strings.Repeat("x", 129) + "/SENSOR", ""},
		{5, "tele/dev/SENSOR", ""},
		{-4, "tele/dev/SENSOR", ""},
	}
	for _, tc := range tests {
		h := newHarness(t, func(o *config.Options) { o.DeviceSegment = tc.segment }, engine.Params{})
		h.msg(tc.topic, `{"Time":"2026-01-14T10:09:41","z":{"Pi":1}}`)
		h.close()
		files := h.files()
		if tc.device == "" {
			if h.refused(refusal.UnsafeDevice) != 1 || len(files) != 0 {
				t.Errorf("%q seg %d: refused %v, files %v", tc.topic, tc.segment, refusedMap(h), files)
			}
			continue
		}
		if len(files) != 1 || files[0] != tc.device+"/energie_20260114_1021.csv" {
			t.Errorf("%q seg %d: files %v, want device %q", tc.topic, tc.segment, files, tc.device)
		}
	}
}

// TestSingleDeviceTemplate: without {device}, a second device is refused and never mixed
// in; a device that only sends unusable messages does not take the files.
func TestSingleDeviceTemplate(t *testing.T) {
	single := func(o *config.Options) {
		o.TSFile = "ts_summary_{date}_{time}.csv"
		o.EnergieFile = "energie_{date}_{time}.csv"
	}
	h := newHarness(t, single, engine.Params{})
	h.msg("tele/other/SENSOR", `{"Time":"2026-01-14T10:09:40","ENERGY":{"Power":1}}`) // no meter
	h.msg("tele/other/LWT", `Online`)
	h.msg("tele/first/SENSOR", `{"Time":"2026-01-14T10:09:41","z":{"Pi":1}}`)
	h.msg("tele/second/SENSOR", `{"Time":"2026-01-14T10:09:41","z":{"Pi":100}}`)
	h.msg("tele/second/SENSOR", `{"Time":"2026-01-14T10:09:41","z":{"TS":"x"}}`)
	h.msg("tele/other/SENSOR", `{"Time":"2026-01-14T10:09:41","z":{"Pi":1000}}`)
	h.msg("tele/first/SENSOR", `{"Time":"2026-01-14T10:09:41","z":{"Pi":2}}`)
	h.close()
	if got := h.refused(refusal.SecondDevice); got != 3 {
		t.Fatalf("second_device %d, want 3 (%v)", got, refusedMap(h))
	}
	h.expectFile("energie_20260114_1021.csv", enHeader+enRow("2026-01-14T10:09:41", map[string]string{"Pi": "3"}, 2))
	if got := h.files(); len(got) != 1 {
		t.Fatalf("files %v", got)
	}
	if st := h.e.Stats(); st.Devices != 1 {
		t.Fatalf("devices %d", st.Devices)
	}
}

func TestMessageRefusals(t *testing.T) {
	h := newHarness(t, func(o *config.Options) { o.MaxPayload = 200 }, engine.Params{Verbose: true})
	h.val("2026-01-14T10:09:41", `"Pi":1`)
	h.msg("tele/"+dev+"/LWT", `Online`)
	h.msg("stat/"+dev+"/STATE", `{"Time":"2026-01-14T10:09:41","Uptime":"0T00:01:00"}`)
	h.msg(topic, `{"Time":"2026-01-14T10:09:41","ENERGY":{"Power":1}}`)
	h.val("2026-01-14T10:09:41", `"Pi":"x","Po":2`)                 // bad value, Po kept
	h.val("2026-01-14T10:09:41", `"Foo":1,"U1":230`)                // unknown attribute, U1 kept
	h.val("2026-01-14T10:09:41", `"Pi":1`+strings.Repeat(" ", 200)) // too large
	h.val("2026-13-14T10:09:41", `"Pi":1`)                          // bad time
	h.val("2026-01-14T10:09:41", ``)                                // no values
	h.close()
	st := h.e.Stats()
	want := map[string]uint64{"not_json": 1, "no_meter": 2, "bad_value": 1, "unknown_attribute": 1, "too_large": 1, "bad_time": 1, "no_values": 1}
	if fmt.Sprint(st.Refused.Map()) != fmt.Sprint(want) {
		t.Fatalf("refused %v, want %v", st.Refused.Map(), want)
	}
	h.expectFile(enFile, enHeader+enRow("2026-01-14T10:09:41", map[string]string{"Pi": "1", "Po": "2", "U1": "230"}, 3))
	if !strings.Contains(st.Summary(), "messages 9, refused 6 (") {
		t.Fatalf("summary %q", st.Summary())
	}
	// verbose: every refusal is shown
	if n := h.log.Count("DEBUG"); n < 8 {
		t.Fatalf("%d debug lines: %q", n, h.log.Lines())
	}
}

// TestReplayDataClock: in replay the data time is the clock: a flush each time it passes a
// flush_interval boundary, and memory stays flat on a long capture.
func TestReplayDataClock(t *testing.T) {
	h := newHarness(t, nil, engine.Params{DataClock: true})
	h.val("2026-01-14T10:09:58", `"Pi":1`)
	h.val("2026-01-14T10:09:59", `"Pi":1`)
	if st := h.e.Stats(); st.RowsEnergie != 0 || st.Buffered != 2 {
		t.Fatalf("before the boundary: %+v", st)
	}
	h.val("2026-01-14T10:10:00", `"Pi":1`) // crosses 10:10:00
	if st := h.e.Stats(); st.RowsEnergie != 2 || st.Buffered != 1 {
		t.Fatalf("after the boundary: %+v", st)
	}
	h.close()

	// a long synthetic capture: two days, 3 messages a second, two devices
	h = newHarness(t, nil, engine.Params{DataClock: true})
	start := time.Date(2026, 1, 14, 0, 0, 0, 0, time.UTC)
	maxBuf := 0
	n := 0
	for s := 0; s < 2*86400; s += 1 {
		tm := start.Add(time.Duration(s) * time.Second).Format("2006-01-02T15:04:05")
		for k := 0; k < 3; k++ {
			h.msg("tele/m1/SENSOR", `{"Time":"`+tm+`","z":{"Pi":0.1}}`)
		}
		if s%7 == 0 {
			h.msg("tele/m2/SENSOR", `{"Time":"`+tm+`","z":{"Po":0.2}}`)
		}
		if s%300 == 0 {
			h.msg("tele/m1/SENSOR", `{"Time":"`+tm+`","z":{"TS":"x","NS":1}}`)
		}
		n++
		if s%97 == 0 {
			if b := h.e.Stats().Buffered; b > maxBuf {
				maxBuf = b
			}
		}
	}
	if maxBuf > 2*61 {
		t.Fatalf("buffered rows grew to %d", maxBuf)
	}
	h.close()
	st := h.e.Stats()
	wantRows := uint64(2*86400 + (2*86400+6)/7)
	if st.RowsEnergie != wantRows || st.Buffered != 0 {
		t.Fatalf("rows %d, want %d (%+v)", st.RowsEnergie, wantRows, st)
	}
	body := h.file("m1/energie_20260115_0000.csv")
	if lines := strings.Count(body, "\n"); lines != 86401 {
		t.Fatalf("day 2 of m1: %d lines", lines)
	}
	if !strings.Contains(body, "\n2026-01-15T12:00:00,0.3,") {
		t.Fatal("0.1*3 not 0.3")
	}
}

// TestLiveFlushIgnoresDataClock: without DataClock, nothing is flushed before Flush.
// TestLiveBacklogFlushesOnDataClock: live, a backlog of hours delivered at once (a broker
// emptying its queue after a downtime) is written as data time passes flush_interval
// boundaries, so memory does not grow with the backlog.
func TestLiveBacklogFlushesOnDataClock(t *testing.T) {
	h := newHarness(t, nil, engine.Params{})
	for s := 0; s < 3*3600; s++ {
		h.val(fmt.Sprintf("2026-01-14T%02d:%02d:%02d", 10+s/3600, s/60%60, s%60), `"Pi":1`)
	}
	if st := h.e.Stats(); st.RowsEnergie < 3*3600-60 || st.Buffered > 60 {
		t.Fatalf("after 3 hours of data: %d rows written, %d buffered", st.RowsEnergie, st.Buffered)
	}
	h.close()
	if st := h.e.Stats(); st.RowsEnergie != 3*3600 {
		t.Fatalf("%d rows written, want %d", st.RowsEnergie, 3*3600)
	}
}

func TestClockWarning(t *testing.T) {
	h := newHarness(t, nil, engine.Params{})
	h.val("2025-01-14T10:09:41", `"Pi":1`)
	h.val("2025-01-14T10:09:42", `"Pi":1`)
	h.close()
	if h.log.Count("WARN") != 1 {
		t.Fatalf("warnings: %q", h.log.Lines())
	}
	h.expectFile(dev+"/energie_20250114_0000.csv", enHeader+enRow("2025-01-14T10:09:41", map[string]string{"Pi": "1"}, 1)+enRow("2025-01-14T10:09:42", map[string]string{"Pi": "1"}, 1))
}

func TestTimezoneEpoch(t *testing.T) {
	if _, err := time.LoadLocation("Europe/Paris"); err != nil {
		t.Skip(err)
	}
	h := newHarness(t, func(o *config.Options) { o.Timezone = "Europe/Paris" }, engine.Params{})
	h.msg(topic, `{"Time":1768385380,"z":{"Pi":1}}`)
	h.msg(topic, `{"Time":"1768385380","z":{"Pi":2}}`)
	h.msg(topic, `{"Time":"2026-01-14T11:09:40+01:00","z":{"Pi":3}}`)
	h.msg(topic, `{"Time":"2026-01-14T11:09:40.999","z":{"Pi":4}}`)
	h.close()
	h.expectFile(enFile, enHeader+enRow("2026-01-14T11:09:40", map[string]string{"Pi": "10"}, 4))
}

func TestOnRow(t *testing.T) {
	var got []engine.Row
	h := newHarness(t, nil, engine.Params{OnRow: func(r engine.Row) { got = append(got, r) }})
	h.val("2026-01-14T10:09:41", `"Pi":0.1`)
	h.val("2026-01-14T10:09:41", `"Pi":0.2,"U3":5`)
	h.close()
	if len(got) != 1 || got[0].Device != dev || got[0].Count != 2 || got[0].Values[0] != 0.3 || !got[0].Has[0] || got[0].Has[1] || got[0].Values[17] != 5 {
		t.Fatalf("%+v", got)
	}
}

func TestHandleReadingAndRefuse(t *testing.T) {
	h := newHarness(t, nil, engine.Params{})
	dec := h.e.Decoder()
	var r = new(readingT)
	if err := dec.Decode([]byte(`{"Time":"2026-01-14T10:09:41","z":{"Pi":1}}`), r); err != nil {
		t.Fatal(err)
	}
	h.e.HandleReading(topic, r)
	h.e.HandleReading("devname", r) // no slash: the value is the device itself
	r.Reset()
	h.e.HandleReading(topic, r) // no values
	h.e.Refuse(topic, refusal.New(refusal.NotJSON, "x"))
	h.close()
	st := h.e.Stats()
	if st.Received != 4 || st.Refused.Get(refusal.NoValues) != 1 || st.Refused.Get(refusal.NotJSON) != 1 {
		t.Fatalf("%+v", st)
	}
	h.expectFile("devname/energie_20260114_1021.csv", enHeader+enRow("2026-01-14T10:09:41", map[string]string{"Pi": "1"}, 1))
}

func TestNewRefusesBadOptions(t *testing.T) {
	for _, opt := range []func(*config.Options){
		func(o *config.Options) { o.EnergieFile = "/abs/{device}.csv" },
		func(o *config.Options) { o.TSFile = "../{device}.csv" },
		func(o *config.Options) { o.TSFile = "{device}/{hour}.csv" },
		func(o *config.Options) { o.Aggregation = "median" },
	} {
		o := config.Default()
		o.OutDir = t.TempDir()
		opt(&o)
		if _, err := engine.New(o, engine.Params{Log: mqtttest.NewLogger(nil)}); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

func refusedMap(h *harness) map[string]uint64 {
	st := h.e.Stats()
	return st.Refused.Map()
}

// TestConcurrentUse: the MQTT callback, the flush ticker, SIGHUP and the status line share
// the engine (run with -race).
func TestConcurrentUse(t *testing.T) {
	h := newHarness(t, nil, engine.Params{})
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				h.msg(fmt.Sprintf("tele/m%d/SENSOR", g), fmt.Sprintf(`{"Time":"%s","z":{"Pi":0.1}}`, sec(i/10)))
			}
		}(g)
	}
	go func() {
		for {
			select {
			case <-done:
				return
			default:
				h.e.Flush(false)
				h.e.Reopen()
				_ = h.e.Stats()
			}
		}
	}()
	wg.Wait()
	close(done)
	h.close()
	st := h.e.Stats()
	if st.Received != 2000 || st.RowsEnergie != 4*50 || st.Refused.Total() != 0 {
		t.Fatalf("%+v", st)
	}
	for g := 0; g < 4; g++ {
		body := h.file(fmt.Sprintf("m%d/energie_20260114_1021.csv", g))
		var sum int
		for _, line := range strings.Split(strings.TrimSpace(body), "\n")[1:] {
			var n int
			fmt.Sscanf(line[strings.LastIndexByte(line, ',')+1:], "%d", &n)
			sum += n
		}
		if sum != 500 {
			t.Fatalf("m%d: counts add to %d:\n%s", g, sum, body)
		}
	}
}
