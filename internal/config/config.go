// Package config holds the one TOML vocabulary shared by both front doors: the keys of
// [[processors.tasmota_csv]] in Telegraf and of the standalone's --config file. It only
// parses and validates; what the keys mean is implemented by the packages that own them.
package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mqtttocsv/mqtttocsv/internal/sink"
)

// DefaultColumns are the meter attributes of the seed, in file order. The TS file adds
// TS and NS in front of them, the energie file adds count after them.
var DefaultColumns = []string{
	"Pi", "Po", "B1", "B2", "E1", "E2",
	"P1i", "P2i", "P3i", "P1o", "P2o", "P3o",
	"I1", "I2", "I3", "U1", "U2", "U3",
}

// Aggregation modes for the per-second rows.
const (
	AggSum   = "sum"
	AggMean  = "mean"
	AggMin   = "min"
	AggMax   = "max"
	AggFirst = "first"
	AggLast  = "last"
)

// MaxColumns bounds the column list: the core tracks which columns a row holds in a
// 64-bit set, and the TS file also needs the TS and NS columns.
const MaxColumns = 62

// Options are the SPEC's keys. Both front doors start from Default(), decode TOML on top,
// then call Validate.
type Options struct {
	OutDir         string   `toml:"out_dir"`
	TSFile         string   `toml:"ts_file"`
	EnergieFile    string   `toml:"energie_file"`
	Meter          string   `toml:"meter"`
	Columns        []string `toml:"columns"`
	Aggregation    string   `toml:"aggregation"`
	FlushInterval  Duration `toml:"flush_interval"`
	Timezone       string   `toml:"timezone"`
	DeviceTag      string   `toml:"device_tag"`
	DeviceSegment  int      `toml:"device_segment"`
	FieldPrefix    string   `toml:"field_prefix"`
	DropOriginal   bool     `toml:"drop_original"`
	EmitAggregates bool     `toml:"emit_aggregates"`
	MaxPayload     int      `toml:"max_payload"`
	// MaxPendingRows bounds the rows kept in memory while the disk refuses writes.
	MaxPendingRows int `toml:"max_pending_rows"`
}

// Default returns the SPEC's defaults.
func Default() Options {
	return Options{
		OutDir:         ".",
		TSFile:         "{device}/ts_summary_{date}_{time}.csv",
		EnergieFile:    "{device}/energie_{date}_{time}.csv",
		Meter:          "z",
		Columns:        append([]string(nil), DefaultColumns...),
		Aggregation:    AggSum,
		FlushInterval:  Duration(60 * time.Second),
		Timezone:       "Local",
		DeviceTag:      "topic",
		DeviceSegment:  -2,
		MaxPayload:     64 << 10,
		MaxPendingRows: 100000,
	}
}

// Validate checks every option and says what to fix.
func (o *Options) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if strings.TrimSpace(o.OutDir) == "" {
		add("out_dir is empty: set it to the folder the CSV files go to")
	}
	if _, err := sink.ParseTemplate(o.TSFile); err != nil {
		add("ts_file: %v", err)
	}
	if _, err := sink.ParseTemplate(o.EnergieFile); err != nil {
		add("energie_file: %v", err)
	}
	if o.TSFile == o.EnergieFile && o.TSFile != "" {
		add("ts_file and energie_file are the same template %q: the two files need different names", o.TSFile)
	}
	if o.Meter == "" {
		add("meter is empty: set it to the meter name of the SML script (default \"z\")")
	}
	if len(o.Columns) == 0 {
		add("columns is empty: list the meter attributes to write (default %q)", DefaultColumns)
	}
	if len(o.Columns) > MaxColumns {
		add("columns has %d names: at most %d are supported", len(o.Columns), MaxColumns)
	}
	seen := map[string]bool{}
	for _, c := range o.Columns {
		switch {
		case c == "":
			add("columns: an empty column name")
		case c == "Time" || c == "TS" || c == "NS" || c == "count":
			add("columns: %q is written by the program itself: remove it from columns", c)
		case seen[c]:
			add("columns: %q is listed twice", c)
		case strings.ContainsAny(c, ",\"\r\n"):
			add("columns: %q contains a comma, quote or line break", c)
		}
		seen[c] = true
	}
	switch o.Aggregation {
	case AggSum, AggMean, AggMin, AggMax, AggFirst, AggLast:
	default:
		add("aggregation %q is unknown: use one of sum, mean, min, max, first, last", o.Aggregation)
	}
	if o.FlushInterval < Duration(time.Second) {
		add("flush_interval %s is too short: use 1s or more (default 60s)", time.Duration(o.FlushInterval))
	}
	if _, err := LoadLocation(o.Timezone); err != nil {
		add("timezone: %v", err)
	}
	if o.DeviceTag == "" {
		add("device_tag is empty: name the tag that carries the MQTT topic (default \"topic\")")
	}
	if o.MaxPayload <= 0 {
		add("max_payload %d must be a positive number of bytes (default 65536)", o.MaxPayload)
	}
	if o.MaxPendingRows <= 0 {
		add("max_pending_rows %d must be positive (default 100000)", o.MaxPendingRows)
	}
	return errors.Join(errs...)
}

// LoadLocation is time.LoadLocation with "" meaning Local and an error that says what to use.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: use \"Local\", \"UTC\" or an IANA name such as \"Europe/Paris\"", name)
	}
	return loc, nil
}

// Duration is a time.Duration that reads "60s", "1m" or a number of seconds from TOML.
// It has the same text form as Telegraf's config.Duration, so a plugin config file means the
// same thing in Telegraf's loader and in the standalone.
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	s := strings.Trim(string(b), `"'`)
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		*d = Duration(n * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration: write it like \"60s\" or \"1m\"", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// String returns the duration as time.Duration prints it.
func (d Duration) String() string { return time.Duration(d).String() }
