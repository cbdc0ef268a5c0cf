package config

import (
	"strings"
	"testing"
	"time"
)

// TestValidate: every bad option is refused with a message that names it and says what to
// use, and all mistakes are reported at once.
func TestValidate(t *testing.T) {
	good := Default()
	if err := good.Validate(); err != nil {
		t.Fatalf("the defaults are refused: %v", err)
	}
	for _, tc := range []struct {
		edit func(*Options)
		want string
	}{
		{func(o *Options) { o.OutDir = " " }, "out_dir is empty"},
		{func(o *Options) { o.TSFile = "/var/ts.csv" }, "is absolute"},
		{func(o *Options) { o.EnergieFile = "../{device}.csv" }, "climbs out"},
		{func(o *Options) { o.EnergieFile = "{dev}.csv" }, "only {device}, {date} and {time}"},
		{func(o *Options) { o.EnergieFile = o.TSFile }, "need different names"},
		{func(o *Options) { o.Meter = "" }, "meter is empty"},
		{func(o *Options) { o.Columns = nil }, "columns is empty"},
		{func(o *Options) { o.Columns = []string{"Pi", "Pi"} }, `"Pi" is listed twice`},
		{func(o *Options) { o.Columns = []string{"Pi", "count"} }, "written by the program itself"},
		{func(o *Options) { o.Columns = []string{"a,b"} }, "comma"},
		{func(o *Options) { o.Columns = make([]string, 63) }, "at most 62"},
		{func(o *Options) { o.Aggregation = "median" }, "use one of sum, mean, min, max, first, last"},
		{func(o *Options) { o.FlushInterval = Duration(500 * time.Millisecond) }, "use 1s or more"},
		{func(o *Options) { o.Timezone = "Mars/Olympus" }, "IANA name"},
		{func(o *Options) { o.DeviceTag = "" }, "device_tag is empty"},
		{func(o *Options) { o.MaxPayload = 0 }, "max_payload"},
		{func(o *Options) { o.MaxPendingRows = -1 }, "max_pending_rows"},
	} {
		o := Default()
		tc.edit(&o)
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error with %q, got %v", tc.want, err)
		}
	}
	o := Default()
	o.Meter, o.Aggregation = "", "median"
	if err := o.Validate(); err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("two mistakes should give two lines: %v", err)
	}
}

// TestDuration: the forms a user writes in TOML, as Telegraf reads them.
func TestDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		`"60s"`: time.Minute, "1m": time.Minute, "90": 90 * time.Second, "1.5": 1500 * time.Millisecond, "'2h'": 2 * time.Hour,
	} {
		var d Duration
		if err := d.UnmarshalText([]byte(in)); err != nil || time.Duration(d) != want {
			t.Errorf("%s: got %v, %v; want %v", in, time.Duration(d), err, want)
		}
	}
	var d Duration
	if err := d.UnmarshalText([]byte("soon")); err == nil || !strings.Contains(err.Error(), `"60s"`) {
		t.Errorf("a bad duration should say how to write one: %v", err)
	}
}
