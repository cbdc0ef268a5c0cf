package tasmota_test

import (
	"testing"
	"time"

	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
	"github.com/mqtttocsv/mqtttocsv/internal/tasmota"
)

func TestParseTime(t *testing.T) {
	paris := mustLoc(t, "Europe/Paris")
	tests := []struct {
		name string
		in   string
		loc  *time.Location
		want string // "" when refused
	}{
		{"plain", "2026-01-14T10:09:40", time.UTC, "2026-01-14T10:09:40"},
		{"space separator", "2026-01-14 10:09:40", time.UTC, "2026-01-14T10:09:40"},
		{"Time 4 milliseconds", "2026-01-14T10:09:40.123", time.UTC, "2026-01-14T10:09:40"},
		{"Time 4 fraction .999 not rounded", "2026-01-14T23:59:59.999", time.UTC, "2026-01-14T23:59:59"},
		{"comma fraction", "2026-01-14T10:09:40,5", time.UTC, "2026-01-14T10:09:40"},
		{"SetOption52 offset kept as wall time", "2026-01-14T10:09:40+01:00", time.UTC, "2026-01-14T10:09:40"},
		{"negative offset", "2026-01-14T10:09:40-05:00", time.UTC, "2026-01-14T10:09:40"},
		{"offset hhmm", "2026-01-14T10:09:40+0100", time.UTC, "2026-01-14T10:09:40"},
		{"offset hh", "2026-01-14T10:09:40+01", time.UTC, "2026-01-14T10:09:40"},
		{"Z", "2026-01-14T10:09:40Z", time.UTC, "2026-01-14T10:09:40"},
		{"fraction and offset", "2026-01-14T10:09:40.123+01:00", paris, "2026-01-14T10:09:40"},
		{"epoch digits in UTC", "1768385380", time.UTC, "2026-01-14T10:09:40"},
		{"epoch digits in Paris", "1768385380", paris, "2026-01-14T11:09:40"},
		{"epoch digits summer in Paris", "1784025000", paris, "2026-07-14T12:30:00"},
		{"leap day", "2024-02-29T12:00:00", time.UTC, "2024-02-29T12:00:00"},
		{"midnight", "2026-01-15T00:00:00", time.UTC, "2026-01-15T00:00:00"},
		// malformed
		{"month 13", "2026-13-14T10:09:40", time.UTC, ""},
		{"month 0", "2026-00-14T10:09:40", time.UTC, ""},
		{"hour 25", "2026-01-14T25:09:40", time.UTC, ""},
		{"hour 24", "2026-01-14T24:00:00", time.UTC, ""},
		{"minute 60", "2026-01-14T10:60:40", time.UTC, ""},
		{"second 60", "2026-01-14T10:09:60", time.UTC, ""},
		{"Feb 30", "2026-02-30T10:09:40", time.UTC, ""},
		{"Feb 29 not leap", "2026-02-29T10:09:40", time.UTC, ""},
		{"Apr 31", "2026-04-31T10:09:40", time.UTC, ""},
		{"day 0", "2026-01-00T10:09:40", time.UTC, ""},
		{"year 0", "0000-01-14T10:09:40", time.UTC, ""},
		{"empty", "", time.UTC, ""},
		{"date only", "2026-01-14", time.UTC, ""},
		{"no separator", "2026-01-14X10:09:40", time.UTC, ""},
		{"letters", "2026-0a-14T10:09:40", time.UTC, ""},
		{"empty fraction", "2026-01-14T10:09:40.", time.UTC, ""},
		{"bad offset", "2026-01-14T10:09:40+1", time.UTC, ""},
		{"offset 15h", "2026-01-14T10:09:40+15:00", time.UTC, ""},
		{"offset no colon", "2026-01-14T10:09:40+01-00", time.UTC, ""},
		{"trailing garbage", "2026-01-14T10:09:40abc", time.UTC, ""},
		{"unicode digits", "２０２６-01-14T10:09:40", time.UTC, ""},
		{"epoch too large", "999999999999", time.UTC, ""},
		{"epoch 13 digits", "1768385380000", time.UTC, ""},
		{"negative epoch text", "-1", time.UTC, ""},
		{"spaces", "  2026-01-14T10:09:40", time.UTC, ""},
	}
	for _, tc := range tests {
		got, err := tasmota.ParseTime([]byte(tc.in), tc.loc)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%s: ParseTime(%q) = %s, want a refusal", tc.name, tc.in, got)
		case tc.want == "" && err.Reason != refusal.BadTime:
			t.Errorf("%s: ParseTime(%q) reason %s, want bad_time", tc.name, tc.in, err.Reason)
		case tc.want != "" && err != nil:
			t.Errorf("%s: ParseTime(%q) refused: %v", tc.name, tc.in, err)
		case tc.want != "" && got.String() != tc.want:
			t.Errorf("%s: ParseTime(%q) = %s, want %s", tc.name, tc.in, got, tc.want)
		}
	}
}

// TestTimeForms runs the Time forms through whole payloads: as a string, and epoch seconds
// as a JSON number and as a digit string, shown in the configured zone.
func TestTimeForms(t *testing.T) {
	paris := mustLoc(t, "Europe/Paris")
	tests := []struct {
		name string
		time string // the JSON value of Time
		loc  *time.Location
		want string // "" when refused with bad_time
	}{
		{"plain", `"2026-01-14T10:09:40"`, time.UTC, "2026-01-14T10:09:40"},
		{"Time 4", `"2026-01-14T10:09:40.123"`, time.UTC, "2026-01-14T10:09:40"},
		{"SetOption52", `"2026-01-14T10:09:40+01:00"`, paris, "2026-01-14T10:09:40"},
		{"Z", `"2026-01-14T10:09:40Z"`, paris, "2026-01-14T10:09:40"},
		{"Time 3 number UTC", `1768385380`, time.UTC, "2026-01-14T10:09:40"},
		{"Time 3 number Paris", `1768385380`, paris, "2026-01-14T11:09:40"},
		{"Time 3 number with fraction", `1768385380.75`, time.UTC, "2026-01-14T10:09:40"},
		{"Time 3 string Paris", `"1768385380"`, paris, "2026-01-14T11:09:40"},
		{"Time 3 exponent number", `1.76838538e9`, time.UTC, "2026-01-14T10:09:40"},
		{"month 13", `"2026-13-14T10:09:40"`, time.UTC, ""},
		{"hour 25", `"2026-01-14T25:09:40"`, time.UTC, ""},
		{"Feb 30", `"2026-02-30T10:09:40"`, time.UTC, ""},
		{"empty", `""`, time.UTC, ""},
		{"null", `null`, time.UTC, ""},
		{"true", `true`, time.UTC, ""},
		{"object", `{"a":1}`, time.UTC, ""},
		{"array", `[2026,1,14]`, time.UTC, ""},
		{"1e400", `1e400`, time.UTC, ""},
		{"negative huge", `-1e15`, time.UTC, ""},
	}
	for _, tc := range tests {
		d := newDecoder(t, tc.loc)
		var r tasmota.Reading
		err := d.Decode([]byte(`{"Time":`+tc.time+`,"z":{"Pi":0.5}}`), &r)
		if tc.want == "" {
			if reasonOf(t, err) != int(refusal.BadTime) {
				t.Errorf("%s: err %v, want bad_time", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: refused: %v", tc.name, err)
			continue
		}
		if got := r.Time.String(); got != tc.want {
			t.Errorf("%s: Time %s, want %s", tc.name, got, tc.want)
		}
	}
	// missing Time
	d := newDecoder(t, time.UTC)
	var r tasmota.Reading
	if err := d.Decode([]byte(`{"z":{"Pi":0.5}}`), &r); reasonOf(t, err) != int(refusal.BadTime) {
		t.Errorf("missing Time: %v", err)
	}
	// the last Time wins, as in encoding/json
	if err := d.Decode([]byte(`{"Time":"bad","Time":"2026-01-14T10:09:40","z":{"Pi":0.5}}`), &r); err != nil || r.Time.String() != "2026-01-14T10:09:40" {
		t.Errorf("duplicate Time: %v %s", err, r.Time)
	}
}
