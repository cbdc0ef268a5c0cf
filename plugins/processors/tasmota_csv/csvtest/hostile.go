package csvtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/parsers/json_v2"

	"github.com/mqtttocsv/mqtttocsv/internal/hostiletest"
	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
)

// This file is what Telegraf makes of the hostile catalogue of internal/hostiletest, for the
// tests of the processor (json_v2 → Add) and of the execd binary (json_v2 → influx
// serializer → line protocol on stdin → the shim's influx parser → Add).

// Expect is what a front door makes of one catalogue case.
type Expect struct {
	// Parser: Telegraf's json_v2 parser refuses the payload (inputs.mqtt_consumer logs
	// and drops it): it never reaches the processor, which counts nothing for it.
	Parser  bool
	Refused map[refusal.Reason]uint64 // exactly these refusals are counted by the processor
	En      map[string]string         // the energie row, nil for none
	Count   int                       // its count (1 when En is set and Count is 0)
	TS      []string                  // the TS row: TS, NS and Pi cells
}

// RowCount is the count written in the energie row: Count, or 1 when it is 0.
func (e Expect) RowCount() int {
	if e.Count == 0 {
		return 1
	}
	return e.Count
}

func one(r refusal.Reason) map[refusal.Reason]uint64 { return hostiletest.One(r) }

var parserRefuses = Expect{Parser: true}

// pluginDiffs are the cases where the processor behind json_v2 (set up as sample.conf)
// does not do what the standalone does with the raw payload. None is a bug of the
// processor: the processor gets what json_v2 made of the payload, and json_v2 reads JSON
// its own way.
//
//   - json_v2 checks the payload with gjson.Valid, which refuses the NaN, Infinity and nan
//     literals that Tasmota can send: the whole message is lost where the standalone drops
//     only the value (or refuses the Time).
//   - json_v2 skips a UTF-8 byte order mark; the standalone refuses it as not JSON.
//   - json_v2 drops null values: a null value is not counted as refused, and a null Time
//     leaves a metric without Time, which the processor writes at the metric's time stamp
//     (inputs.mqtt_consumer's arrival time; here the case's second), as it does for a
//     Time that json_time_key or timestamp_path has consumed.
//   - json_v2 makes one metric per element of an array (a value or the meter object
//     itself), flattens a nested object into fields named "Pi_v", drops empty nested
//     arrays, names the field of a scalar meter "" and makes no field of an empty meter
//     object, and reads the first of two meter objects.
//   - A required Time path that is missing is a parse error of json_v2.
//   - max_payload is the standalone's: the processor gets parsed metrics, not payloads
//     (the broker's max packet size bounds them in Telegraf).
var pluginDiffs = map[string]Expect{
	"BOM":                             {En: map[string]string{"Pi": "1"}},
	"NaN value":                       parserRefuses,
	"Infinity value":                  parserRefuses,
	"-Infinity value":                 parserRefuses,
	"nan literal":                     parserRefuses,
	"only NaN":                        parserRefuses,
	"Time NaN":                        parserRefuses,
	"Time missing":                    parserRefuses,
	"null value":                      {En: map[string]string{"Po": "8"}},
	"Time null":                       {En: map[string]string{"Pi": "1"}},
	"array value":                     {En: map[string]string{"Pi": "3", "Po": "20"}, Count: 2},                    // {Pi:1,Po:10} and {Pi:2,Po:10}
	"object value":                    {Refused: one(refusal.UnknownAttribute), En: map[string]string{"Po": "11"}}, // "Pi_v"
	"deeply nested arrays as a value": {En: map[string]string{"Po": "12"}},
	"z as array":                      {En: map[string]string{"Pi": "1"}},
	// The field "" is not a column, and then the message has no usable value: refused whole,
	// its values are not counted one by one (as in the standalone).
	"z as string":             {Refused: one(refusal.NoValues)},
	"z as number":             {Refused: one(refusal.NoValues)},
	"empty meter object":      {Refused: one(refusal.NoMeter)},
	"duplicate meter objects": {En: map[string]string{"Pi": "1"}},
	"10 MiB payload":          {Refused: one(refusal.TooLarge)}, // max_payload bounds the text of a metric
}

// execdDiffs are the cases where the execd binary does not do what the processor does
// with json_v2's metrics: processors.execd sends them with Telegraf's influx serializer,
// which drops the fields it cannot write (±Inf, an empty field name), and the shim reads
// them back with the influx parser.
var execdDiffs = map[string]Expect{
	"1e400":       {En: map[string]string{"Po": "5"}},
	"-1e400":      {En: map[string]string{"Po": "6"}},
	"z as string": {Refused: one(refusal.NoMeter)}, // only Time is left
	"z as number": {Refused: one(refusal.NoMeter)},
	"Time 1e400":  {En: map[string]string{"Pi": "1"}}, // no Time left: the metric's time stamp
}

// Standalone is what the standalone makes of c, in the terms of Expect.
func Standalone(c hostiletest.Case) Expect {
	return Expect{Refused: c.Refused, En: c.En, Count: c.Count, TS: c.TS}
}

// Plugin is what the processor makes of c's payload parsed by json_v2 set up as in
// sample.conf: a payload the standalone refuses as not JSON is refused by json_v2 too,
// and everything else is as in the standalone except pluginDiffs.
func Plugin(c hostiletest.Case) Expect {
	if e, ok := pluginDiffs[c.Name]; ok {
		return e
	}
	if c.Refused[refusal.NotJSON] > 0 {
		return parserRefuses
	}
	return Standalone(c)
}

// Execd is what the execd binary makes of c's payload parsed by json_v2 and sent as line
// protocol by processors.execd.
func Execd(c hostiletest.Case) Expect {
	if e, ok := execdDiffs[c.Name]; ok {
		return e
	}
	return Plugin(c)
}

// CheckDiffNames fails when a difference names a case the catalogue does not have (a
// renamed case would silently lose its expectation).
func CheckDiffNames(t testing.TB) {
	t.Helper()
	names := map[string]bool{}
	for _, c := range hostiletest.Catalogue() {
		names[c.Name] = true
	}
	for _, m := range []map[string]Expect{pluginDiffs, execdDiffs} {
		for n := range m {
			if !names[n] {
				t.Errorf("no catalogue case %q", n)
			}
		}
	}
}

// tooSlowForJSONv2 are the cases json_v2 takes minutes to parse: it merges the fields of
// an object one by one, each time copying the metric, which is about cubic in the number
// of fields (10 000 attributes: more than ten minutes). inputs.mqtt_consumer would stall
// on such a message, a Telegraf problem the processor cannot help; the tests build the
// metric json_v2 makes of it instead (FlatJSONv2, checked against json_v2 at a smaller
// size).
var tooSlowForJSONv2 = map[string]bool{"10 000 attributes": true}

// HostileMetrics returns the metrics inputs.mqtt_consumer makes of c's payload sent at
// second s after hostiletest.Base with Telegraf's json_v2 parser set up as in sample.conf:
// tagged with topic and time stamped at that second (the arrival time), or the parser's
// error.
func HostileMetrics(parser *json_v2.Parser, c hostiletest.Case, s int, topic string) ([]telegraf.Metric, error) {
	payload := []byte(c.At(s))
	var ms []telegraf.Metric
	var err error
	if tooSlowForJSONv2[c.Name] {
		var m telegraf.Metric
		if m, err = FlatJSONv2(payload, "z"); err == nil {
			ms = []telegraf.Metric{m}
		}
	} else {
		ms, err = parser.Parse(payload)
	}
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		m.AddTag("topic", topic)
		m.SetTime(time.Unix(int64(hostiletest.Base+s), 0))
	}
	return ms, nil
}

// FlatJSONv2 is the metric json_v2 (set up as in sample.conf) makes of a payload with a
// string Time and a flat meter object of numbers, strings and booleans: the meter's
// values as fields in their order, then Time. Its time stamp is left at zero.
func FlatJSONv2(payload []byte, meter string) (telegraf.Metric, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	tok := func() (json.Token, error) {
		tk, err := dec.Token()
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return tk, err
	}
	if tk, err := tok(); err != nil || tk != json.Delim('{') {
		return nil, fmt.Errorf("not an object: %v %v", tk, err)
	}
	m := metric.New("tasmota", map[string]string{}, nil, time.Unix(0, 0))
	var timeValue any
	for dec.More() {
		k, err := tok()
		if err != nil {
			return nil, err
		}
		switch k {
		case "Time":
			if err := dec.Decode(&timeValue); err != nil {
				return nil, err
			}
		case meter:
			if tk, err := tok(); err != nil || tk != json.Delim('{') {
				return nil, fmt.Errorf("meter is not an object: %v %v", tk, err)
			}
			for dec.More() {
				name, err := tok()
				if err != nil {
					return nil, err
				}
				v, err := tok()
				if err != nil {
					return nil, err
				}
				switch x := v.(type) {
				case json.Number:
					f, err := x.Float64()
					if err != nil {
						return nil, err
					}
					m.AddField(name.(string), f)
				case string, bool:
					m.AddField(name.(string), x)
				default:
					return nil, fmt.Errorf("meter value %v is not flat", v)
				}
			}
			if _, err := tok(); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("unexpected key %v", k)
		}
	}
	if timeValue == nil {
		return nil, fmt.Errorf("no Time")
	}
	m.AddField("Time", timeValue)
	return m, nil
}
