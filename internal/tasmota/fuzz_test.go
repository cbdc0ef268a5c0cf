package tasmota_test

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mqtttocsv/mqtttocsv/internal/refusal"
	"github.com/mqtttocsv/mqtttocsv/internal/tasmota"
)

// jsonSyntax is encoding/json's verdict on the syntax alone (numbers out of range are
// still JSON).
func jsonSyntax(p []byte) error {
	var raw json.RawMessage
	return json.Unmarshal(p, &raw)
}

var isoRe = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$`)

// nonFiniteWords are the words the decoder deliberately reads as a refused value.
var nonFiniteWords = []string{"-Infinity", "Infinity", "-Inf", "-inf", "Inf", "inf", "NaN", "nan"}

// withoutNonFinite replaces the non-finite words by 0: what is left must be JSON when the
// decoder accepted the payload.
func withoutNonFinite(p []byte) []byte {
	for _, w := range nonFiniteWords {
		p = bytes.ReplaceAll(p, []byte(w), []byte("0"))
	}
	return p
}

func FuzzDecode(f *testing.F) {
	seeds := []string{
		`{"Time":"2026-01-14T10:09:41","z":{"Pi":0.512}}`,
		`{"Time":"2026-01-14T10:09:40","z":{"TS":"260114100949W","NS":353234363435,"Pi":0.0,"Po":1.411}}`,
		`{"Time":"2026-01-14T10:09:40.123+01:00","z":{"Pi":1e-7}}`,
		`{"Time":1768385380,"z":{"Pi":-0.0,"Po":NaN}}`,
		`{"Time":"1768385380","z":{"TS":260114100949}}`,
		`{"Time":"2026-13-14T10:09:40","z":{"Pi":1}}`,
		`{"Time":"2026-01-14T10:09:41","z":{"Pi":"1","Po":null,"U1":[1,{"a":true}],"X":1}}`,
		`{"Time":"2026-01-14T10:09:41","z":{"P\u0069":1,"TS":"\ud83d\ude00"}}`,
		`{"Time":"2026-01-14T10:09:41","z":[1]}`,
		`{"a":{"b":{"c":[[[]]]}},"Time":"2026-01-14T10:09:41","z":{"Pi":1e400}}`,
		`[1,2]`, `nan`, ``, `{`, `{"Time":`, "\xef\xbb\xbf{}",
		`{"Time":"2026-01-14T10:09:41","z":{"Pi":-Infinity}}`,
		`{"Time":"2026-01-14T10:09:41","z":{"Pi":1}} x`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	d := tasmota.NewDecoder("z", tasmota.NewSchema(defaultColumns), time.UTC, 64<<10)
	var r tasmota.Reading
	f.Fuzz(func(t *testing.T, payload []byte) {
		err := d.Decode(payload, &r)
		jsonErr := jsonSyntax(payload)
		if err != nil {
			re, ok := err.(*refusal.Error)
			if !ok {
				t.Fatalf("error %v is not a refusal", err)
			}
			if re.Reason == refusal.NotJSON && jsonErr == nil {
				// valid JSON is only not_json when it is not an object
				if t0 := bytes.TrimLeft(payload, " \t\r\n"); len(t0) > 0 && t0[0] == '{' {
					t.Fatalf("valid JSON object refused as not_json: %v", err)
				}
			}
			return
		}
		// accepted
		if jsonErr != nil && !strings.Contains(jsonErr.Error(), "exceeded max depth") {
			if jsonSyntax(withoutNonFinite(bytes.Clone(payload))) != nil {
				t.Fatalf("decoder accepts what encoding/json rejects (%v)", jsonErr)
			}
		}
		if bytes.HasPrefix(payload, []byte("\xef\xbb\xbf")) {
			t.Fatal("accepted a BOM")
		}
		if s := r.Time.String(); !isoRe.MatchString(s) {
			t.Fatalf("Time %q is not YYYY-MM-DDTHH:MM:SS", s)
		}
		if r.Set == 0 && !r.Summary {
			t.Fatal("accepted a message without any value")
		}
		for i := 0; i < 64; i++ {
			if r.Has(i) && i != tasmota.ColTS && (math.IsNaN(r.Num[i]) || math.IsInf(r.Num[i], 0) || math.Signbit(r.Num[i]) && r.Num[i] == 0) {
				t.Fatalf("column %d holds %v", i, r.Num[i])
			}
		}
	})
}

var safeRe = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

func FuzzTopicDevice(f *testing.F) {
	for _, s := range []string{
		"tele/tasmota_EB7D9F/SENSOR", "tele/../SENSOR", "tele/./SENSOR", "tele//SENSOR",
		"tele/a\u2215b/SENSOR", "tele/a\uff0fb/SENSOR", "tele/a%2Fb/SENSOR", "tele/\x00\n/SENSOR",
		"tele/CON/SENSOR", "tele/NUL/SENSOR", "tele/\xff/SENSOR", "", "/", "a", strings.Repeat("x", 300),
	} {
		f.Add(s, -2)
	}
	f.Add("home/floor/meter/tele/SENSOR", 2)
	f.Fuzz(func(t *testing.T, topic string, seg int) {
		raw, ok := tasmota.TopicSegment(topic, seg)
		if !ok {
			return
		}
		if strings.Contains(raw, "/") {
			t.Fatalf("segment %q contains /", raw)
		}
		name, err := tasmota.SafeName(raw)
		if err != nil {
			if _, ok := err.(*refusal.Error); !ok {
				t.Fatalf("error %v is not a refusal", err)
			}
			return
		}
		if !safeRe.MatchString(name) {
			t.Fatalf("SafeName(%q) = %q has unsafe characters", raw, name)
		}
		if name == "." || name == ".." || strings.Contains(name, "/") || len(name) > tasmota.MaxDeviceLen {
			t.Fatalf("SafeName(%q) = %q", raw, name)
		}
		if raw == name != safeRe.MatchString(raw) {
			t.Fatalf("SafeName(%q) = %q changed a safe name or kept an unsafe one", raw, name)
		}
	})
}
