package sink_test

import (
	"strings"
	"testing"

	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
	"github.com/mqtttocsv/mqtttocsv/internal/sink"
)

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		tmpl      string
		ok        bool
		hasDevice bool
		expanded  string // for device "meter1", date 20260114, time 1009
	}{
		{"{device}/ts_summary_{date}_{time}.csv", true, true, "meter1/ts_summary_20260114_1009.csv"},
		{"{device}/energie_{date}_{time}.csv", true, true, "meter1/energie_20260114_1009.csv"},
		{"ts_summary_{date}_{time}.csv", true, false, "ts_summary_20260114_1009.csv"},
		{"energie.csv", true, false, "energie.csv"},
		{"{date}/{device}.csv", true, true, "20260114/meter1.csv"},
		{"a/b/c/{device}_{device}.csv", true, true, "a/b/c/meter1_meter1.csv"},
		{"./{device}.csv", true, true, "meter1.csv"},
		{"x/./{device}.csv", true, true, "x/meter1.csv"},
		{"a//{device}.csv", true, true, "a/meter1.csv"},
		{"x/../{device}.csv", true, true, "meter1.csv"}, // stays inside after cleaning
		{"{date}..csv", true, false, "20260114..csv"},
		{"..{device}.csv", true, true, "..meter1.csv"},
		// refused
		{"", false, false, ""},
		{"/var/log/{device}.csv", false, false, ""},
		{"/{device}.csv", false, false, ""},
		{`\{device}.csv`, false, false, ""},
		{`C:\data\{device}.csv`, false, false, ""},
		{"C:/data/{device}.csv", false, false, ""},
		{"../{device}.csv", false, false, ""},
		{"{device}/../../x.csv", false, false, ""},
		{"a/../../{device}.csv", false, false, ""},
		{"..", false, false, ""},
		{"{device}/..", false, false, ""},
		{"{unknown}.csv", false, false, ""},
		{"{Device}.csv", false, false, ""},
		{"{}.csv", false, false, ""},
		{"{device.csv", false, false, ""},
		{"a\x00b.csv", false, false, ""},
		{`a\b.csv`, false, false, ""},
		{"{device}/", false, false, ""},
		{".", false, false, ""},
		{"./", false, false, ""},
	}
	for _, tc := range tests {
		tp, err := sink.ParseTemplate(tc.tmpl)
		if (err == nil) != tc.ok {
			t.Errorf("ParseTemplate(%q): err %v, want ok %v", tc.tmpl, err, tc.ok)
			continue
		}
		if !tc.ok {
			if err.Error() == "" || !strings.Contains(err.Error(), "") {
				t.Errorf("ParseTemplate(%q): empty error", tc.tmpl)
			}
			continue
		}
		if tp.HasDevice != tc.hasDevice {
			t.Errorf("ParseTemplate(%q).HasDevice = %v", tc.tmpl, tp.HasDevice)
		}
		if got := tp.Expand("meter1", "20260114", "1009"); got != tc.expanded {
			t.Errorf("Expand(%q) = %q, want %q", tc.tmpl, got, tc.expanded)
		}
	}
}

func TestTemplateErrorsSayWhatToFix(t *testing.T) {
	tests := []struct{ tmpl, want string }{
		{"/abs/{device}.csv", "absolute"},
		{"../{device}.csv", ".."},
		{"{nope}.csv", "{nope}"},
		{"{device", "unclosed"},
	}
	for _, tc := range tests {
		_, err := sink.ParseTemplate(tc.tmpl)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseTemplate(%q) = %v, want it to mention %q", tc.tmpl, err, tc.want)
		}
	}
}

// TestNameTime: {time} is the start's HHMM for files of the start day and 0000 for any
// other day.
func TestNameTime(t *testing.T) {
	s := newSink(t, nil, mqtttest.NewLogger(nil), 0)
	tests := []struct {
		kind sink.Kind
		day  int64
		want string
	}{
		{sink.TS, 20467, "m/ts_summary_20260114_1009.csv"},
		{sink.Energie, 20467, "m/energie_20260114_1009.csv"},
		{sink.Energie, 20468, "m/energie_20260115_0000.csv"},
		{sink.TS, 20466, "m/ts_summary_20260113_0000.csv"},
	}
	for _, tc := range tests {
		if got := s.Name(tc.kind, "m", tc.day); got != tc.want {
			t.Errorf("Name(%d, %d) = %q, want %q", tc.kind, tc.day, got, tc.want)
		}
	}
	s.SetStart(20468, "2359")
	if got := s.Name(sink.Energie, "m", 20468); got != "m/energie_20260115_2359.csv" {
		t.Errorf("after SetStart: %q", got)
	}
	if got := s.Name(sink.Energie, "m", 20467); got != "m/energie_20260114_0000.csv" {
		t.Errorf("after SetStart, other day: %q", got)
	}
}
