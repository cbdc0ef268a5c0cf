package engine_test

import (
	"testing"

	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/internal/engine"
)

// TestLastMillisecondOfTheDay: a message stamped 23:59:59.999 (Tasmota "Time 4") belongs to
// the day it names, even when the flush that writes it happens after midnight.
func TestLastMillisecondOfTheDay(t *testing.T) {
	h := newHarness(t, nil, engine.Params{})
	h.val("2026-01-14T23:59:59.999", `"Pi":1`)
	h.val("2026-01-15T00:00:00.000", `"Pi":2`)
	h.val("2026-01-15T00:00:00.001", `"Pi":3`)
	h.close()
	h.expectFile(dev+"/energie_20260114_1021.csv", enHeader+enRow("2026-01-14T23:59:59", map[string]string{"Pi": "1"}, 1))
	h.expectFile(dev+"/energie_20260115_0000.csv", enHeader+enRow("2026-01-15T00:00:00", map[string]string{"Pi": "5"}, 2))
}

// TestAutumnDSTHour documents what happens when the device's clock goes back (the autumn
// change): the wall time is kept as sent, so the repeated hour's rows come again, after the
// first pass's rows, in the same day's file: Time goes back from 02:59:59 to 02:00:00 once.
// Each pass's seconds keep their own rows (the first pass was written long before the
// second came); summary rows are all kept, their TS ending in S (summer) then W (winter).
// Nothing is merged across the passes and nothing is dropped.
func TestAutumnDSTHour(t *testing.T) {
	h := newHarness(t, func(o *config.Options) { o.Timezone = "Europe/Paris" }, engine.Params{})
	h.msg(topic, `{"Time":"2026-10-25T02:30:00","z":{"TS":"261025023000S","Pi":1}}`)
	h.val("2026-10-25T02:30:01", `"Pi":0.5`)
	h.val("2026-10-25T02:59:58", `"Pi":0.25`)
	h.val("2026-10-25T02:59:59", `"Pi":0.25`)
	h.e.Flush(false) // the ticker, which runs many times in the real hour between the passes
	// The clock goes back from 03:00 summer time to 02:00 winter time.
	h.val("2026-10-25T02:00:00", `"Pi":0.75`)
	h.msg(topic, `{"Time":"2026-10-25T02:30:00","z":{"TS":"261025023000W","Pi":2}}`)
	h.val("2026-10-25T02:30:01", `"Pi":0.5`)
	h.val("2026-10-25T03:00:00", `"Pi":0.125`)
	h.close()
	h.expectFile(dev+"/energie_20261025_0000.csv", enHeader+
		enRow("2026-10-25T02:30:01", map[string]string{"Pi": "0.5"}, 1)+
		enRow("2026-10-25T02:59:58", map[string]string{"Pi": "0.25"}, 1)+
		enRow("2026-10-25T02:00:00", map[string]string{"Pi": "0.75"}, 1)+
		enRow("2026-10-25T02:30:01", map[string]string{"Pi": "0.5"}, 1)+
		enRow("2026-10-25T02:59:59", map[string]string{"Pi": "0.25"}, 1)+
		enRow("2026-10-25T03:00:00", map[string]string{"Pi": "0.125"}, 1))
	h.expectFile(dev+"/ts_summary_20261025_0000.csv", tsHeader+
		tsRow("2026-10-25T02:30:00", "261025023000S", "", map[string]string{"Pi": "1"})+
		tsRow("2026-10-25T02:30:00", "261025023000W", "", map[string]string{"Pi": "2"}))
}

// TestFarClockStillWritten: a device clock years away from ours still gets its rows, under
// its own dates, with one warning.
func TestFarClockStillWritten(t *testing.T) {
	h := newHarness(t, nil, engine.Params{})
	h.val("2099-03-01T12:00:00", `"Pi":1`)
	h.val("2099-03-01T12:00:01", `"Pi":1`)
	h.val("1999-03-01T12:00:00", `"Pi":2`)
	h.close()
	h.expectFile(dev+"/energie_20990301_0000.csv", enHeader+
		enRow("2099-03-01T12:00:00", map[string]string{"Pi": "1"}, 1)+
		enRow("2099-03-01T12:00:01", map[string]string{"Pi": "1"}, 1))
	h.expectFile(dev+"/energie_19990301_0000.csv", enHeader+enRow("1999-03-01T12:00:00", map[string]string{"Pi": "2"}, 1))
	if n := h.log.Count("WARN"); n != 1 {
		t.Errorf("%d warnings about the device clock, want 1 (once an hour per device)", n)
	}
}
