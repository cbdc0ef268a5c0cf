// Package hostiletest is the catalogue of hostile MQTT payloads that the tests of every
// front door send between good messages: the standalone's engine (internal/engine), the
// Telegraf processor through Telegraf's json_v2 parser (plugins/processors/tasmota_csv)
// and the execd binary through line protocol (cmd/tasmota-csv). One list, so that a case
// added for one front door is tried on all of them.
package hostiletest

import (
	"fmt"
	"strings"

	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
)

// Case is one payload of the catalogue. In Payload, {T} stands for the ISO time of the
// case's own second and {E} for the same second in epoch seconds (the tests run in UTC);
// At replaces them.
type Case struct {
	Name    string
	Payload string
	Refused map[refusal.Reason]uint64 // exactly these refusals are counted by the standalone
	En      map[string]string         // the energie row the message makes, nil for none
	Count   int                       // its count (1 when En is set and Count is 0)
	TS      []string                  // the TS row it makes: TS, NS and Pi cells
}

// Base is the epoch second of 2026-01-14T10:00:00Z, the second 0 of the tests.
const Base = 1768384800

// Second is the ISO time of second s after Base: 2026-01-14T10:00:00 plus s seconds.
func Second(s int) string {
	return fmt.Sprintf("2026-01-14T%02d:%02d:%02d", 10+s/3600, s/60%60, s%60)
}

// At is the payload of the case sent at second s after Base.
func (c Case) At(s int) string {
	p := strings.ReplaceAll(c.Payload, "{T}", Second(s))
	return strings.ReplaceAll(p, "{E}", fmt.Sprint(Base+s))
}

// RowCount is the count written in the case's energie row: Count, or 1 when it is 0.
func (c Case) RowCount() int {
	if c.Count == 0 {
		return 1
	}
	return c.Count
}

// One is a refusal counted once.
func One(r refusal.Reason) map[refusal.Reason]uint64 { return map[refusal.Reason]uint64{r: 1} }

// Catalogue returns the hostile payloads, each with what the standalone makes of it.
func Catalogue() []Case {
	one := One
	deepArr := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	deepObj := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	var many strings.Builder
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&many, `"x%d":%d,`, i, i)
	}
	long := strings.Repeat("A", 1000)
	return []Case{
		{Name: "not JSON", Payload: `hello world`, Refused: one(refusal.NotJSON)},
		{Name: "truncated JSON", Payload: `{"Time":"{T}","z":{"Pi":1`, Refused: one(refusal.NotJSON)},
		{Name: "truncated in a string", Payload: `{"Time":"{T}","z":{"TS":"abc`, Refused: one(refusal.NotJSON)},
		{Name: "empty payload", Payload: ``, Refused: one(refusal.NotJSON)},
		{Name: "whitespace payload", Payload: " \r\n\t", Refused: one(refusal.NotJSON)},
		{Name: "BOM", Payload: "\xef\xbb\xbf" + `{"Time":"{T}","z":{"Pi":1}}`, Refused: one(refusal.NotJSON)},
		{Name: "NaN value", Payload: `{"Time":"{T}","z":{"Pi":NaN,"Po":1}}`, Refused: one(refusal.BadValue), En: map[string]string{"Po": "1"}},
		{Name: "Infinity value", Payload: `{"Time":"{T}","z":{"Pi":Infinity,"Po":2}}`, Refused: one(refusal.BadValue), En: map[string]string{"Po": "2"}},
		{Name: "-Infinity value", Payload: `{"Time":"{T}","z":{"Pi":-Infinity,"Po":3}}`, Refused: one(refusal.BadValue), En: map[string]string{"Po": "3"}},
		{Name: "nan literal", Payload: `{"Time":"{T}","z":{"Pi":nan,"Po":4}}`, Refused: one(refusal.BadValue), En: map[string]string{"Po": "4"}},
		{Name: "only NaN", Payload: `{"Time":"{T}","z":{"Pi":NaN}}`, Refused: one(refusal.NoValues)}, // the message is refused whole
		{Name: "1e400", Payload: `{"Time":"{T}","z":{"Pi":1e400,"Po":5}}`, Refused: one(refusal.BadValue), En: map[string]string{"Po": "5"}},
		{Name: "-1e400", Payload: `{"Time":"{T}","z":{"Pi":-1e400,"Po":6}}`, Refused: one(refusal.BadValue), En: map[string]string{"Po": "6"}},
		{Name: "1e-400 underflows to 0", Payload: `{"Time":"{T}","z":{"Pi":1e-400}}`, Refused: nil, En: map[string]string{"Pi": "0"}},
		{Name: "number as string", Payload: `{"Time":"{T}","z":{"Pi":"0.5","Po":7}}`, Refused: one(refusal.BadValue), En: map[string]string{"Po": "7"}},
		{Name: "null value", Payload: `{"Time":"{T}","z":{"Pi":null,"Po":8}}`, Refused: one(refusal.BadValue), En: map[string]string{"Po": "8"}},
		{Name: "bool values", Payload: `{"Time":"{T}","z":{"Pi":true,"Po":false,"U1":9}}`, Refused: map[refusal.Reason]uint64{refusal.BadValue: 2}, En: map[string]string{"U1": "9"}},
		{Name: "array value", Payload: `{"Time":"{T}","z":{"Pi":[1,2],"Po":10}}`, Refused: one(refusal.BadValue), En: map[string]string{"Po": "10"}},
		{Name: "object value", Payload: `{"Time":"{T}","z":{"Pi":{"v":1},"Po":11}}`, Refused: one(refusal.BadValue), En: map[string]string{"Po": "11"}},
		{Name: "deeply nested arrays as a value", Payload: `{"Time":"{T}","z":{"Pi":` + deepArr + `,"Po":12}}`, Refused: one(refusal.BadValue), En: map[string]string{"Po": "12"}},
		{Name: "z as array", Payload: `{"Time":"{T}","z":[{"Pi":1}]}`, Refused: one(refusal.NoMeter)},
		{Name: "z as string", Payload: `{"Time":"{T}","z":"{\"Pi\":1}"}`, Refused: one(refusal.NoMeter)},
		{Name: "z as null", Payload: `{"Time":"{T}","z":null}`, Refused: one(refusal.NoMeter)},
		{Name: "z as number", Payload: `{"Time":"{T}","z":1}`, Refused: one(refusal.NoMeter)},
		{Name: "no meter: other sensor", Payload: `{"Time":"{T}","ENERGY":{"Power":100}}`, Refused: one(refusal.NoMeter)},
		{Name: "no meter: STATE", Payload: `{"Time":"{T}","Uptime":"0T01:00:00","Wifi":{"RSSI":80}}`, Refused: one(refusal.NoMeter)},
		{Name: "duplicate keys", Payload: `{"Time":"{T}","z":{"Pi":1,"Pi":2,"Po":3}}`, En: map[string]string{"Pi": "2", "Po": "3"}},
		{Name: "duplicate meter objects", Payload: `{"Time":"{T}","z":{"Pi":1},"z":{"Po":2}}`, En: map[string]string{"Pi": "1", "Po": "2"}},
		{Name: "10 000 attributes", Payload: `{"Time":"{T}","z":{` + many.String() + `"Pi":13}}`, Refused: map[refusal.Reason]uint64{refusal.UnknownAttribute: 10000}, En: map[string]string{"Pi": "13"}},
		{Name: "10 000 levels inside z", Payload: `{"Time":"{T}","z":{"deep":` + deepObj + `,"Pi":14}}`, Refused: one(refusal.UnknownAttribute), En: map[string]string{"Pi": "14"}},
		{Name: "10 000 levels at top level", Payload: `{"deep":` + deepObj + `,"Time":"{T}","z":{"Pi":15}}`, En: map[string]string{"Pi": "15"}},
		{Name: "10 000 levels as the payload", Payload: deepArr, Refused: one(refusal.NotJSON)},
		{Name: "10 001 unclosed levels", Payload: `{"Time":"{T}","z":{"Pi":` + strings.Repeat("[", 10001), Refused: one(refusal.NotJSON)},
		{Name: "10 MiB payload", Payload: `{"Time":"{T}","z":{"TS":"` + strings.Repeat("x", 10<<20) + `"}}`, Refused: one(refusal.TooLarge)},
		{Name: "invalid UTF-8 in TS", Payload: "{\"Time\":\"{T}\",\"z\":{\"TS\":\"\xff\xfe\",\"NS\":1}}", Refused: one(refusal.BadValue), TS: []string{"", "1", ""}},
		{Name: "invalid UTF-8 in a key", Payload: "{\"Time\":\"{T}\",\"z\":{\"P\xffi\":1,\"Pi\":16}}", Refused: one(refusal.UnknownAttribute), En: map[string]string{"Pi": "16"}},
		{Name: "invalid UTF-8 outside strings", Payload: "{\"Time\":\"{T}\",\"z\":{\"Pi\":\xff}}", Refused: one(refusal.NotJSON)},
		{Name: "control character in a string", Payload: "{\"Time\":\"{T}\",\"z\":{\"TS\":\"a\x01b\"}}", Refused: one(refusal.NotJSON)},
		{Name: "newline in a string", Payload: "{\"Time\":\"{T}\",\"z\":{\"TS\":\"a\nb\"}}", Refused: one(refusal.NotJSON)},
		{Name: "escaped control characters in TS", Payload: `{"Time":"{T}","z":{"TS":"\r\n=1+1","NS":2}}`, TS: []string{"\"'\r\n=1+1\"", "2", ""}},
		{Name: "lone surrogate in TS", Payload: `{"Time":"{T}","z":{"TS":"\ud800x","NS":3}}`, TS: []string{"\uFFFDx", "3", ""}},
		{Name: "NUL escape in a key", Payload: `{"Time":"{T}","z":{"Pi\u0000":1,"Po":17}}`, Refused: one(refusal.UnknownAttribute), En: map[string]string{"Po": "17"}},
		{Name: "Time with milliseconds", Payload: `{"Time":"{T}.987","z":{"Pi":18}}`, En: map[string]string{"Pi": "18"}},
		{Name: "Time with offset", Payload: `{"Time":"{T}+05:30","z":{"Pi":19}}`, En: map[string]string{"Pi": "19"}},
		{Name: "Time with Z", Payload: `{"Time":"{T}Z","z":{"Pi":20}}`, En: map[string]string{"Pi": "20"}},
		{Name: "Time as epoch number", Payload: `{"Time":{E},"z":{"Pi":21}}`, En: map[string]string{"Pi": "21"}},
		{Name: "Time as epoch string", Payload: `{"Time":"{E}","z":{"Pi":22}}`, En: map[string]string{"Pi": "22"}},
		{Name: "Time month 13", Payload: `{"Time":"2026-13-14T10:00:00","z":{"Pi":1}}`, Refused: one(refusal.BadTime)},
		{Name: "Time hour 25", Payload: `{"Time":"2026-01-14T25:00:00","z":{"Pi":1}}`, Refused: one(refusal.BadTime)},
		{Name: "Time Feb 30", Payload: `{"Time":"2026-02-30T10:00:00","z":{"Pi":1}}`, Refused: one(refusal.BadTime)},
		{Name: "Time empty", Payload: `{"Time":"","z":{"Pi":1}}`, Refused: one(refusal.BadTime)},
		{Name: "Time missing", Payload: `{"z":{"Pi":1}}`, Refused: one(refusal.BadTime)},
		{Name: "Time null", Payload: `{"Time":null,"z":{"Pi":1}}`, Refused: one(refusal.BadTime)},
		{Name: "Time NaN", Payload: `{"Time":NaN,"z":{"Pi":1}}`, Refused: one(refusal.BadTime)},
		{Name: "Time 1e400", Payload: `{"Time":1e400,"z":{"Pi":1}}`, Refused: one(refusal.BadTime)},
		{Name: "Time invalid UTF-8", Payload: "{\"Time\":\"2026-01-14T10:00:0\xff\",\"z\":{\"Pi\":1}}", Refused: one(refusal.BadTime)},
		{Name: "attribute name of 1000 characters", Payload: `{"Time":"{T}","z":{"` + long + `":1,"Pi":23}}`, Refused: one(refusal.UnknownAttribute), En: map[string]string{"Pi": "23"}},
		{Name: "TS as a number", Payload: `{"Time":"{T}","z":{"TS":260114100949,"NS":4}}`, TS: []string{"260114100949", "4", ""}},
		{Name: "trailing garbage", Payload: `{"Time":"{T}","z":{"Pi":1}}garbage`, Refused: one(refusal.NotJSON)},
		{Name: "second object", Payload: `{"Time":"{T}","z":{"Pi":1}}{"Time":"{T}","z":{"Pi":1}}`, Refused: one(refusal.NotJSON)},
		{Name: "top-level array", Payload: `[{"Time":"{T}","z":{"Pi":1}}]`, Refused: one(refusal.NotJSON)},
		{Name: "number as the payload", Payload: `42`, Refused: one(refusal.NotJSON)},
		{Name: "string as the payload", Payload: `"{\"Time\":\"{T}\"}"`, Refused: one(refusal.NotJSON)},
		{Name: "null as the payload", Payload: `null`, Refused: one(refusal.NotJSON)},
		{Name: "LWT", Payload: `Offline`, Refused: one(refusal.NotJSON)},
		{Name: "empty meter object", Payload: `{"Time":"{T}","z":{}}`, Refused: one(refusal.NoValues)},
		{Name: "1000-digit number", Payload: `{"Time":"{T}","z":{"Pi":0.` + strings.Repeat("1", 1000) + `}}`, En: map[string]string{"Pi": "0.1111111111111111"}},
		{Name: "negative zero", Payload: `{"Time":"{T}","z":{"Pi":-0.0}}`, En: map[string]string{"Pi": "0"}},
		{Name: "bad escape", Payload: `{"Time":"{T}","z":{"TS":"\x41"}}`, Refused: one(refusal.NotJSON)},
		{Name: "minus word", Payload: `{"Time":"{T}","z":{"Pi":-Inferno}}`, Refused: one(refusal.NotJSON)},
		{Name: "single quotes", Payload: `{'Time':'{T}','z':{'Pi':1}}`, Refused: one(refusal.NotJSON)},
		{Name: "comment", Payload: `{"Time":"{T}",/*x*/"z":{"Pi":1}}`, Refused: one(refusal.NotJSON)},
	}
}

// Good returns the good messages the tests send after case i, at second s: a summary
// after every fifth case, otherwise two single-attribute messages for that second (whose
// row sums U1 0.1 + 0.2, to be written 0.3).
func Good(i, s int) []string {
	if i%5 == 4 {
		return []string{fmt.Sprintf(`{"Time":"%s","z":{"TS":"good%d","NS":%d,"Pi":%d.5}}`, Second(s), i, i, i)}
	}
	return []string{
		fmt.Sprintf(`{"Time":"%s","z":{"Pi":%d.5,"U1":0.1}}`, Second(s), i),
		fmt.Sprintf(`{"Time":"%s","z":{"U1":0.2}}`, Second(s)),
	}
}
