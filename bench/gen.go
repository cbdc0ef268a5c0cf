package main

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// The 18 attributes of the meter, in the order of the CSV columns, with the number of
// decimals a Tasmota SML script typically publishes for each.
var attrs = []struct {
	name string
	dec  int
}{
	{"Pi", 3}, {"Po", 3}, {"B1", 3}, {"B2", 3}, {"E1", 3}, {"E2", 3},
	{"P1i", 3}, {"P2i", 3}, {"P3i", 3}, {"P1o", 3}, {"P2o", 3}, {"P3o", 3},
	{"I1", 2}, {"I2", 2}, {"I3", 2}, {"U1", 1}, {"U2", 1}, {"U3", 1},
}

// captureStart is the Time of the first message: the example of the issue.
var captureStart = time.Date(2026, 1, 14, 10, 9, 40, 0, time.UTC)

const summaryEvery = 300 // seconds between two summary messages of a device

// meter is the simulated state of one smart meter: a household load that drifts, a solar
// production that follows the sun, three phases, counters that integrate the power.
type meter struct {
	rng    *rand.Rand
	topic  string
	ns     int64
	phase  int     // second of the 300 s cycle at which it sends its summary
	load   float64 // kW
	v      [18]float64
	skewTS int // seconds the meter's own clock (TS) is ahead of Tasmota's Time
}

func newMeter(i int) *meter {
	m := &meter{
		rng:    rand.New(rand.NewPCG(uint64(i)+1, 0x5eed)),
		ns:     353234363435 + int64(i),
		load:   0.6,
		skewTS: 9,
	}
	m.topic = "tele/" + deviceName(i) + "/SENSOR"
	m.v[2], m.v[3] = 10017.763+float64(i), 8342.112 // B1, B2 (kWh, import tariffs 1 and 2)
	m.v[4], m.v[5] = 2210.405, 1902.881             // E1, E2 (kWh, export tariffs 1 and 2)
	return m
}

func deviceName(i int) string { return fmt.Sprintf("tasmota_%06X", 0xA1B200+i) }

// step advances the meter by one second at wall time t.
func (m *meter) step(t time.Time) {
	r := m.rng
	// Household load: a bounded random walk with occasional appliance switches.
	m.load += r.NormFloat64() * 0.03
	if r.IntN(600) == 0 {
		m.load += (r.Float64() - 0.3) * 2.5
	}
	m.load = math.Max(0.15, math.Min(m.load, 7))
	// Solar production: a half sine between 08:00 and 17:00 with cloud noise.
	h := float64(t.Hour()) + float64(t.Minute())/60 + float64(t.Second())/3600
	solar := 0.0
	if h > 8 && h < 17 {
		solar = 3.2 * math.Sin(math.Pi*(h-8)/9) * (0.8 + 0.2*r.Float64())
	}
	net := m.load - solar
	pi, po := math.Max(net, 0), math.Max(-net, 0)
	m.v[0], m.v[1] = pi, po
	tariff1 := t.Hour() >= 7 && t.Hour() < 21
	if tariff1 {
		m.v[2] += pi / 3600
		m.v[4] += po / 3600
	} else {
		m.v[3] += pi / 3600
		m.v[5] += po / 3600
	}
	// Split over the phases, unevenly.
	split := [3]float64{0.45, 0.33, 0.22}
	for k := 0; k < 3; k++ {
		m.v[6+k] = pi * split[k]
		m.v[9+k] = po * split[k]
		u := 230 + r.NormFloat64()*1.5 + float64(k) - 1
		m.v[15+k] = u
		m.v[12+k] = (pi + po) * split[k] * 1000 / u
	}
}

// appendValue writes attribute k as Tasmota prints it: fixed decimals.
func (m *meter) appendValue(b []byte, k int) []byte {
	return strconv.AppendFloat(b, m.v[k], 'f', attrs[k].dec, 64)
}

func appendTime(b []byte, t time.Time) []byte { return t.AppendFormat(b, "2006-01-02T15:04:05") }

// summary is a summary message: TS, NS and all 18 attributes.
func (m *meter) summary(b []byte, t time.Time) []byte {
	b = append(b, m.topic...)
	b = append(b, ` {"Time":"`...)
	b = appendTime(b, t)
	b = append(b, `","z":{"TS":"`...)
	b = t.Add(time.Duration(m.skewTS)*time.Second).AppendFormat(b, "060102150405")
	b = append(b, `W","NS":`...)
	b = strconv.AppendInt(b, m.ns, 10)
	for k := range attrs {
		b = append(b, `,"`...)
		b = append(b, attrs[k].name...)
		b = append(b, `":`...)
		b = m.appendValue(b, k)
	}
	return append(b, "}}\n"...)
}

// single is a single-attribute message.
func (m *meter) single(b []byte, t time.Time, k int) []byte {
	b = append(b, m.topic...)
	b = append(b, ` {"Time":"`...)
	b = appendTime(b, t)
	b = append(b, `","z":{"`...)
	b = append(b, attrs[k].name...)
	b = append(b, `":`...)
	b = m.appendValue(b, k)
	return append(b, "}}\n"...)
}

// captureInfo describes a generated capture.
type captureInfo struct {
	Path      string
	Messages  int
	Devices   int
	Bytes     int64
	Summaries int
	Seconds   int // of data time
}

// generate writes a capture of n messages from devices meters as `mosquitto_sub -v` lines.
// Every meter sends, each second, 18 single-attribute messages cycling through the 18
// attributes, and a summary every 300 s (at its own phase); within a second the messages
// of the meters are interleaved round-robin (attribute k of every meter, then k+1…).
// The output is deterministic.
func generate(path string, n, devices int) (captureInfo, error) {
	info := captureInfo{Path: path, Messages: n, Devices: devices}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return info, err
	}
	f, err := os.Create(path)
	if err != nil {
		return info, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	meters := make([]*meter, devices)
	for i := range meters {
		meters[i] = newMeter(i)
		meters[i].phase = i * summaryEvery / devices
	}
	var b []byte
	count := 0
	emit := func() error {
		count++
		info.Bytes += int64(len(b))
		_, err := w.Write(b)
		return err
	}
	for s := 0; count < n; s++ {
		t := captureStart.Add(time.Duration(s) * time.Second)
		info.Seconds = s + 1
		for _, m := range meters {
			m.step(t)
		}
		for _, m := range meters {
			if count < n && (s+m.phase)%summaryEvery == 0 {
				b = m.summary(b[:0], t)
				info.Summaries++
				if err := emit(); err != nil {
					return info, err
				}
			}
		}
		for k := range attrs {
			for _, m := range meters {
				if count >= n {
					break
				}
				b = m.single(b[:0], t, k)
				if err := emit(); err != nil {
					return info, err
				}
			}
		}
	}
	if err := w.Flush(); err != nil {
		return info, err
	}
	return info, f.Close()
}
