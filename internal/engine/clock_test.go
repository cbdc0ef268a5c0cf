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
// change): the wall time is kept as sent, so the seconds of the repeated hour that carry the
// same wall time are merged into one row, whose count shows it (here 2 messages, one from
// each pass). Summary rows are all kept; their TS ends in S (summer) then W (winter) to
// tell the passes apart. Nothing is dropped.
func TestAutumnDSTHour(t *testing.T) {
	h := newHarness(t, func(o *config.Options) { o.Timezone = "Europe/Paris" }, engine.Params{})
	h.msg(topic, `{"Time":"2026-10-25T02:30:00","z":{"TS":"261025023000S","Pi":1}}`)
	h.val("2026-10-25T02:30:01", `"Pi":0.5`)
	h.val("2026-10-25T02:59:59", `"Pi":0.25`)
	// The clock goes back from 03:00 summer time to 02:00 winter time.
	h.val("2026-10-25T02:00:00", `"Pi":0.75`)
	h.msg(topic, `{"Time":"2026-10-25T02:30:00","z":{"TS":"261025023000W","Pi":2}}`)
	h.val("2026-10-25T02:30:01", `"Pi":0.5`)
	h.close()
	h.expectFile(dev+"/energie_20261025_0000.csv", enHeader+
		enRow("2026-10-25T02:00:00", map[string]string{"Pi": "0.75"}, 1)+
		enRow("2026-10-25T02:30:01", map[string]string{"Pi": "1"}, 2)+
		enRow("2026-10-25T02:59:59", map[string]string{"Pi": "0.25"}, 1))
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
	if n := h.log.count("W"); n != 1 {
		t.Errorf("%d warnings about the device clock, want 1 (once an hour per device)", n)
	}
}
