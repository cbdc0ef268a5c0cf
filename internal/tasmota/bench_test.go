package tasmota_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mqtttocsv/mqtttocsv/internal/tasmota"
)

var (
	benchSingle  = []byte(`{"Time":"2026-01-14T10:09:41","z":{"Pi":0.512}}`)
	benchSummary = []byte(`{"Time":"2026-01-14T10:09:40","z":{"TS":"260114100949W","NS":353234363435,"Pi":0.0,"Po":1.411,"B1":12345.678,"B2":23456.789,"E1":1.5,"E2":2.5,"P1i":0.1,"P2i":0.2,"P3i":0.3,"P1o":0,"P2o":0,"P3o":0,"I1":1.5,"I2":1.6,"I3":1.7,"U1":230.1,"U2":231,"U3":229.9}}`)
)

func benchDecode(b *testing.B, p []byte) {
	d := tasmota.NewDecoder("z", tasmota.NewSchema(defaultColumns), time.UTC, 64<<10)
	var r tasmota.Reading
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if err := d.Decode(p, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSingle(b *testing.B)  { benchDecode(b, benchSingle) }
func BenchmarkDecodeSummary(b *testing.B) { benchDecode(b, benchSummary) }

func BenchmarkSafeName(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		seg, _ := tasmota.TopicSegment("tele/tasmota_EB7D9F/SENSOR", -2)
		if _, err := tasmota.SafeName(seg); err != nil {
			b.Fatal(err)
		}
	}
}

// The same payloads through encoding/json, the decoder we did not choose: it is the
// measurement behind the hand-written one. The struct is the smallest useful target (a
// json.Number keeps each value's text, as the exact sums need).
func benchEncodingJSON(b *testing.B, p []byte) {
	var msg struct {
		Time string
		Z    map[string]json.RawMessage `json:"z"`
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		msg.Z = nil
		if err := json.Unmarshal(p, &msg); err != nil {
			b.Fatal(err)
		}
		for _, v := range msg.Z {
			var n json.Number
			_ = json.Unmarshal(v, &n)
		}
	}
}

func BenchmarkEncodingJSONSingle(b *testing.B)  { benchEncodingJSON(b, benchSingle) }
func BenchmarkEncodingJSONSummary(b *testing.B) { benchEncodingJSON(b, benchSummary) }
