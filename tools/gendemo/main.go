// Command gendemo writes testdata/demo.jsonl.gz, the capture `make demo` publishes: three
// hours around noon of one household with solar panels, as a Tasmota SML script sends it
// (eight single-attribute messages per second, a summary every five minutes). The summary
// counters E1/E2 advance by exactly the energy of the per-second values, so the report's
// two ways of computing the day's energy agree.
package main

import (
	"compress/gzip"
	"fmt"
	"math"
	"math/rand"
	"os"
	"time"
)

func main() {
	out := "testdata/demo.jsonl.gz"
	if len(os.Args) > 1 {
		out = os.Args[1]
	}
	f, err := os.Create(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	zw := gzip.NewWriter(f)
	write(zw)
	if err := zw.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	f.Close()
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

func write(w *gzip.Writer) {
	rng := rand.New(rand.NewSource(14))
	const topic = "tele/tasmota_EB7D9F/SENSOR"
	start := time.Date(2026, 1, 14, 10, 0, 0, 0, time.UTC)
	e1, e2 := 15397.878, 34.25     // kWh counters
	b1, b2 := 10017.763, 11931.218 // kvarh counters
	kettle := func(s int) bool { return s >= 1800 && s < 1980 || s >= 7000 && s < 7150 }
	for s := 0; s < 3*3600; s++ {
		t := start.Add(time.Duration(s) * time.Second)
		hours := 10 + float64(s)/3600
		// Solar: a bell around 12:15, with passing clouds.
		solar := 3.2 * math.Exp(-math.Pow((hours-12.25)/1.1, 2))
		if math.Sin(float64(s)/410)+math.Sin(float64(s)/157) > 1.55 {
			solar *= 0.35
		}
		load := 0.35 + 0.1*math.Sin(float64(s)/300) + 0.05*rng.Float64()
		if kettle(s) {
			load += 2.0
		}
		net := load - solar
		pi, po := math.Max(net, 0), math.Max(-net, 0)
		phase := [3]float64{0.5, 0.3, 0.2}
		if kettle(s) {
			phase = [3]float64{0.85, 0.1, 0.05}
		}
		var pin, pout [3]float64
		var u [3]float64
		for i := range phase {
			pin[i], pout[i] = round(pi*phase[i], 3), round(po*phase[i], 3)
			u[i] = round(231+[3]float64{0, 1.2, -0.8}[i]+1.8*po-1.1*pi*phase[i]*3+0.4*rng.NormFloat64(), 1)
		}
		pi, po = round(pi, 3), round(po, 3)
		e1 += pi / 3600
		e2 += po / 3600
		b1 += 0.05 / 3600
		b2 += 0.02 / 3600
		ts := t.Format("2006-01-02T15:04:05")
		if s%300 == 0 {
			fmt.Fprintf(w, `{"topic":%q,"payload":{"Time":%q,"z":{"TS":"%sW","NS":353234363435,"Pi":%v,"Po":%v,"B1":%.3f,"B2":%.3f,"E1":%.3f,"E2":%.3f,"P1i":%v,"P2i":%v,"P3i":%v,"P1o":%v,"P2o":%v,"P3o":%v,"I1":%v,"I2":%v,"I3":%v,"U1":%v,"U2":%v,"U3":%v}}}`+"\n",
				topic, ts, t.Format("060102150405"), pi, po, b1, b2, e1, e2, pin[0], pin[1], pin[2], pout[0], pout[1], pout[2],
				round((pin[0]+pout[0])*1000/u[0], 1), round((pin[1]+pout[1])*1000/u[1], 1), round((pin[2]+pout[2])*1000/u[2], 1), u[0], u[1], u[2])
		}
		for _, kv := range []struct {
			k string
			v float64
		}{{"Pi", pi}, {"Po", po}, {"P1i", pin[0]}, {"P2i", pin[1]}, {"P3i", pin[2]}, {"U1", u[0]}, {"U2", u[1]}, {"U3", u[2]}} {
			fmt.Fprintf(w, "%s {\"Time\":%q,\"z\":{%q:%v}}\n", topic, ts, kv.k, kv.v)
		}
	}
}
