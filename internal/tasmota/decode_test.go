package tasmota_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
	"github.com/mqtttocsv/mqtttocsv/internal/tasmota"
)

const ok = -1

func TestDecodeMessages(t *testing.T) {
	schema := tasmota.NewSchema(defaultColumns)
	col := func(n string) int { return schema.LookupString(n) }
	type val struct {
		name string
		v    float64
	}
	tests := []struct {
		name    string
		payload string
		reason  int // ok or a refusal.Reason
		summary bool
		ts      string
		vals    []val
		skips   []refusal.Reason
	}{
		{name: "single attribute", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":0.512}}`,
			reason: ok, vals: []val{{"Pi", 0.512}}},
		{name: "summary", payload: `{"Time":"2026-01-14T10:09:40","z":{"TS":"260114100949W","NS":353234363435,"Pi":0.0,"Po":1.411,"U1":230.1}}`,
			reason: ok, summary: true, ts: "260114100949W", vals: []val{{"NS", 353234363435}, {"Pi", 0}, {"Po", 1.411}, {"U1", 230.1}}},
		{name: "summary with numeric TS", payload: `{"Time":"2026-01-14T10:09:40","z":{"TS":260114100949,"Pi":1}}`,
			reason: ok, summary: true, ts: "260114100949", vals: []val{{"Pi", 1}}},
		{name: "whitespace everywhere", payload: " \n{ \"Time\" : \"2026-01-14T10:09:41\" ,\r\n\t\"z\" : { \"Pi\" : 2.0 } } \n",
			reason: ok, vals: []val{{"Pi", 2}}},
		{name: "other keys around", payload: `{"Other":{"a":[1,2,{"b":null}]},"Time":"2026-01-14T10:09:41","z":{"Pi":1},"ENERGY":{"Total":3}}`,
			reason: ok, vals: []val{{"Pi", 1}}},
		{name: "negative zero", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":-0.0}}`,
			reason: ok, vals: []val{{"Pi", 0}}},
		{name: "exponent", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":1e-7,"Po":1.5E+3}}`,
			reason: ok, vals: []val{{"Pi", 1e-7}, {"Po", 1500}}},
		{name: "escaped key", payload: `{"\u0054ime":"2026-01-14T10:09:41","\u007a":{"P\u0069":3}}`,
			reason: ok, vals: []val{{"Pi", 3}}},
		{name: "duplicate attribute: last wins", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":1,"Pi":2}}`,
			reason: ok, vals: []val{{"Pi", 2}}},
		// a bad value refuses only that value
		{name: "string value", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":"0.5","Po":1}}`,
			reason: ok, vals: []val{{"Po", 1}}, skips: []refusal.Reason{refusal.BadValue}},
		{name: "null value", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":null,"Po":1}}`,
			reason: ok, vals: []val{{"Po", 1}}, skips: []refusal.Reason{refusal.BadValue}},
		{name: "bool values", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":true,"Po":false,"U1":1}}`,
			reason: ok, vals: []val{{"U1", 1}}, skips: []refusal.Reason{refusal.BadValue, refusal.BadValue}},
		{name: "array and object values", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":[1],"Po":{"a":1},"U1":1}}`,
			reason: ok, vals: []val{{"U1", 1}}, skips: []refusal.Reason{refusal.BadValue, refusal.BadValue}},
		{name: "NaN and Infinity words", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":NaN,"Po":Infinity,"B1":-Infinity,"B2":nan,"E1":inf,"E2":-inf,"U1":1}}`,
			reason: ok, vals: []val{{"U1", 1}}, skips: []refusal.Reason{refusal.BadValue, refusal.BadValue, refusal.BadValue, refusal.BadValue, refusal.BadValue, refusal.BadValue}},
		{name: "1e400", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":1e400,"Po":-1e400,"U1":1}}`,
			reason: ok, vals: []val{{"U1", 1}}, skips: []refusal.Reason{refusal.BadValue, refusal.BadValue}},
		{name: "unknown attribute", payload: `{"Time":"2026-01-14T10:09:41","z":{"Xx":1,"Pi":1}}`,
			reason: ok, vals: []val{{"Pi", 1}}, skips: []refusal.Reason{refusal.UnknownAttribute}},
		{name: "TS null still a summary", payload: `{"Time":"2026-01-14T10:09:41","z":{"TS":null,"Pi":1}}`,
			reason: ok, summary: true, vals: []val{{"Pi", 1}}, skips: []refusal.Reason{refusal.BadValue}},
		{name: "TS invalid UTF-8", payload: "{\"Time\":\"2026-01-14T10:09:41\",\"z\":{\"TS\":\"\xff\xfe\",\"Pi\":1}}",
			reason: ok, summary: true, vals: []val{{"Pi", 1}}, skips: []refusal.Reason{refusal.BadValue}},
		{name: "NS as string", payload: `{"Time":"2026-01-14T10:09:41","z":{"TS":"x","NS":"353"}}`,
			reason: ok, summary: true, ts: "x", skips: []refusal.Reason{refusal.BadValue}},
		{name: "TS with formula", payload: `{"Time":"2026-01-14T10:09:41","z":{"TS":"=1+1"}}`,
			reason: ok, summary: true, ts: "=1+1"},
		{name: "TS with escapes", payload: `{"Time":"2026-01-14T10:09:41","z":{"TS":"a\"b\n\u00e9"}}`,
			reason: ok, summary: true, ts: "a\"b\né"},
		// message refusals
		{name: "empty", payload: ``, reason: int(refusal.NotJSON)},
		{name: "blank", payload: " \n ", reason: int(refusal.NotJSON)},
		{name: "not JSON", payload: `Online`, reason: int(refusal.NotJSON)},
		{name: "truncated", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":0.5`, reason: int(refusal.NotJSON)},
		{name: "truncated string", payload: `{"Time":"2026-01-14T10:0`, reason: int(refusal.NotJSON)},
		{name: "BOM", payload: "\xef\xbb\xbf{\"Time\":\"2026-01-14T10:09:41\",\"z\":{\"Pi\":1}}", reason: int(refusal.NotJSON)},
		{name: "array", payload: `[{"Time":"2026-01-14T10:09:41","z":{"Pi":1}}]`, reason: int(refusal.NotJSON)},
		{name: "number", payload: `42`, reason: int(refusal.NotJSON)},
		{name: "string", payload: `"x"`, reason: int(refusal.NotJSON)},
		{name: "trailing garbage", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":1}}x`, reason: int(refusal.NotJSON)},
		{name: "two objects", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":1}}{}`, reason: int(refusal.NotJSON)},
		{name: "trailing comma", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":1,}}`, reason: int(refusal.NotJSON)},
		{name: "single quotes", payload: `{'Time':'2026-01-14T10:09:41'}`, reason: int(refusal.NotJSON)},
		{name: "leading zero", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":01}}`, reason: int(refusal.NotJSON)},
		{name: "bare dot", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":.5}}`, reason: int(refusal.NotJSON)},
		{name: "plus sign", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":+1}}`, reason: int(refusal.NotJSON)},
		{name: "control char in string", payload: "{\"Time\":\"2026-01-14T10:09:41\",\"z\":{\"TS\":\"a\x01b\"}}", reason: int(refusal.NotJSON)},
		{name: "bad escape", payload: `{"Time":"2026-01-14T10:09:41","z":{"TS":"a\qb"}}`, reason: int(refusal.NotJSON)},
		{name: "short unicode escape", payload: `{"Time":"2026-01-14T10:09:41","z":{"TS":"\u12"}}`, reason: int(refusal.NotJSON)},
		{name: "bad word", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":nul}}`, reason: int(refusal.NotJSON)},
		{name: "minus word not Infinity", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":-Ixyz}}`, reason: int(refusal.NotJSON)},
		{name: "minus word in skipped value", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":1},"o":-Ixyz}`, reason: int(refusal.NotJSON)},
		{name: "no meter object", payload: `{"Time":"2026-01-14T10:09:41","ENERGY":{"Power":3}}`, reason: int(refusal.NoMeter)},
		{name: "LWT-like object", payload: `{}`, reason: int(refusal.NoMeter)},
		{name: "z as array", payload: `{"Time":"2026-01-14T10:09:41","z":[1,2]}`, reason: int(refusal.NoMeter)},
		{name: "z as string", payload: `{"Time":"2026-01-14T10:09:41","z":"x"}`, reason: int(refusal.NoMeter)},
		{name: "z as null", payload: `{"Time":"2026-01-14T10:09:41","z":null}`, reason: int(refusal.NoMeter)},
		{name: "z nested deeper", payload: `{"Time":"2026-01-14T10:09:41","SML":{"z":{"Pi":1}}}`, reason: int(refusal.NoMeter)},
		{name: "empty meter", payload: `{"Time":"2026-01-14T10:09:41","z":{}}`, reason: int(refusal.NoValues)},
		{name: "only bad values", payload: `{"Time":"2026-01-14T10:09:41","z":{"Pi":"x"}}`, reason: int(refusal.NoValues)},
		{name: "only unknown", payload: `{"Time":"2026-01-14T10:09:41","z":{"Q":1}}`, reason: int(refusal.NoValues)},
	}
	d := newDecoder(t, time.UTC)
	var r tasmota.Reading
	for _, tc := range tests {
		err := d.Decode([]byte(tc.payload), &r)
		if got := reasonOf(t, err); got != tc.reason {
			t.Errorf("%s: err %v, want reason %d", tc.name, err, tc.reason)
			continue
		}
		if err != nil {
			continue
		}
		if r.Summary != tc.summary {
			t.Errorf("%s: Summary = %v", tc.name, r.Summary)
		}
		if tc.ts != "" && (!r.Has(tasmota.ColTS) || string(r.Text) != tc.ts) {
			t.Errorf("%s: TS = %q (has %v), want %q", tc.name, r.Text, r.Has(tasmota.ColTS), tc.ts)
		}
		var want uint64
		if tc.ts != "" {
			want |= 1 << tasmota.ColTS
		}
		for _, v := range tc.vals {
			c := col(v.name)
			want |= 1 << uint(c)
			if !r.Has(c) || r.Num[c] != v.v || math.Signbit(r.Num[c]) {
				t.Errorf("%s: %s = %v (has %v), want %v", tc.name, v.name, r.Num[c], r.Has(c), v.v)
			}
		}
		if r.Set != want {
			t.Errorf("%s: Set = %b, want %b", tc.name, r.Set, want)
		}
		if len(r.Skips) != len(tc.skips) {
			t.Errorf("%s: skips %v, want %v", tc.name, r.Skips, tc.skips)
			continue
		}
		for i, s := range tc.skips {
			if r.Skips[i].Reason != s {
				t.Errorf("%s: skip %d = %v, want %v", tc.name, i, r.Skips[i], s)
			}
		}
	}
}

func TestDecodeMaxPayloadRefusedUnread(t *testing.T) {
	d := tasmota.NewDecoder("z", tasmota.NewSchema(defaultColumns), time.UTC, 100)
	var r tasmota.Reading
	good := `{"Time":"2026-01-14T10:09:41","z":{"Pi":1}}`
	if err := d.Decode([]byte(good), &r); err != nil {
		t.Fatal(err)
	}
	// over the limit: refused as too_large even though it is not JSON at all — the
	// decoder does not read it
	big := strings.Repeat("\x00", 101)
	if got := reasonOf(t, d.Decode([]byte(big), &r)); got != int(refusal.TooLarge) {
		t.Fatalf("101 bytes: reason %d, want too_large", got)
	}
	exact := good + strings.Repeat(" ", 100-len(good))
	if err := d.Decode([]byte(exact), &r); err != nil {
		t.Fatalf("exactly max_payload: %v", err)
	}
}

func TestDecodeMeterName(t *testing.T) {
	d := tasmota.NewDecoder("SML", tasmota.NewSchema(defaultColumns), time.UTC, 0)
	var r tasmota.Reading
	if err := d.Decode([]byte(`{"Time":"2026-01-14T10:09:41","SML":{"Pi":1}}`), &r); err != nil {
		t.Fatal(err)
	}
	if got := reasonOf(t, d.Decode([]byte(`{"Time":"2026-01-14T10:09:41","z":{"Pi":1}}`), &r)); got != int(refusal.NoMeter) {
		t.Fatalf("z with meter SML: %d", got)
	}
}

func TestDecodeDeepNesting(t *testing.T) {
	d := tasmota.NewDecoder("z", tasmota.NewSchema(defaultColumns), time.UTC, 1<<20)
	var r tasmota.Reading
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	deepObj := strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000)
	tests := []struct {
		name, payload string
		reason        int
		skips         int
	}{
		{"deep array as value", `{"Time":"2026-01-14T10:09:41","z":{"Pi":` + deep + `,"Po":1}}`, ok, 1},
		{"deep object unknown attribute", `{"Time":"2026-01-14T10:09:41","z":{"deep":` + deepObj + `,"Po":1}}`, ok, 1},
		{"deep at top level", `{"x":` + deepObj + `,"Time":"2026-01-14T10:09:41","z":{"Po":1}}`, ok, 0},
		{"deep whole payload", deep, int(refusal.NotJSON), 0},
		{"deep unbalanced", `{"Time":"2026-01-14T10:09:41","z":{"Pi":` + strings.Repeat("[", 10000) + `}}`, int(refusal.NotJSON), 0},
	}
	for _, tc := range tests {
		err := d.Decode([]byte(tc.payload), &r)
		if got := reasonOf(t, err); got != tc.reason {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if err == nil && len(r.Skips) != tc.skips {
			t.Errorf("%s: skips %v", tc.name, r.Skips)
		}
	}
}

func TestDecodeManyAttributes(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"Time":"2026-01-14T10:09:41","z":{`)
	for i := 0; i < 10000; i++ {
		b.WriteString(`"a`)
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(`":1,`)
	}
	b.WriteString(`"Pi":1}}`)
	d := tasmota.NewDecoder("z", tasmota.NewSchema(defaultColumns), time.UTC, 1<<20)
	var r tasmota.Reading
	if err := d.Decode([]byte(b.String()), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Skips) != 10000 || !r.Has(schemaCol("Pi")) {
		t.Fatalf("skips %d, Pi %v", len(r.Skips), r.Has(schemaCol("Pi")))
	}
	// a 1000-character attribute name is clipped in the refusal detail
	long := strings.Repeat("n", 1000)
	if err := d.Decode([]byte(`{"Time":"2026-01-14T10:09:41","z":{"`+long+`":1,"Pi":1}}`), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Skips) != 1 || len(r.Skips[0].Name) > 100 {
		t.Fatalf("skip name of %d bytes", len(r.Skips[0].Name))
	}
}

func schemaCol(name string) int { return tasmota.NewSchema(defaultColumns).LookupString(name) }

func TestDecodeReusesReading(t *testing.T) {
	d := newDecoder(t, time.UTC)
	var r tasmota.Reading
	if err := d.Decode([]byte(`{"Time":"2026-01-14T10:09:40","z":{"TS":"x","Pi":1,"Q":2}}`), &r); err != nil {
		t.Fatal(err)
	}
	if err := d.Decode([]byte(`{"Time":"2026-01-14T10:09:41","z":{"Po":2}}`), &r); err != nil {
		t.Fatal(err)
	}
	if r.Summary || r.Has(tasmota.ColTS) || r.Has(schemaCol("Pi")) || len(r.Skips) != 0 || len(r.Text) != 0 {
		t.Fatalf("state leaked from the previous message: %+v", r)
	}
	// a refused message resets too
	_ = d.Decode([]byte(`nope`), &r)
	if r.Set != 0 || r.Summary {
		t.Fatalf("state after a refusal: %+v", r)
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	d := newDecoder(t, time.UTC)
	var r tasmota.Reading
	single := []byte(`{"Time":"2026-01-14T10:09:41","z":{"Pi":0.512}}`)
	summary := []byte(`{"Time":"2026-01-14T10:09:40","z":{"TS":"260114100949W","NS":353234363435,"Pi":0.0,"Po":1.411,"B1":1,"B2":2,"E1":3,"E2":4,"P1i":0.1,"P2i":0.2,"P3i":0.3,"P1o":0,"P2o":0,"P3o":0,"I1":1.5,"I2":1.6,"I3":1.7,"U1":230.1,"U2":231,"U3":229.9}}`)
	for _, p := range [][]byte{single, summary} {
		if n := testing.AllocsPerRun(200, func() {
			if err := d.Decode(p, &r); err != nil {
				t.Fatal(err)
			}
		}); n > 0 {
			t.Errorf("Decode(%.40s…) allocates %v times", p, n)
		}
	}
}

func TestSchema(t *testing.T) {
	s := tasmota.NewSchema([]string{"Pi", "Po"})
	if s.Len() != 4 || s.Name(tasmota.ColTS) != "TS" || s.Name(tasmota.ColNS) != "NS" || s.Name(2) != "Pi" || s.Name(3) != "Po" {
		t.Fatalf("schema layout: %d %s %s", s.Len(), s.Name(0), s.Name(1))
	}
	if s.Lookup([]byte("Po")) != 3 || s.Lookup([]byte("po")) != -1 || s.LookupString("TS") != 0 || s.LookupString("x") != -1 {
		t.Fatal("lookup")
	}
}
