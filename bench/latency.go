package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

type latencyResult struct {
	N                  int
	P50, P90, P99, Max time.Duration
	Mean               time.Duration
}

// measureLatency publishes n summary messages at QoS 1, one at a time, and measures for
// each the time from its publication to its row in the TS file under outDir (seen through
// inotify). child is the process that writes the file (checked for an early exit).
func measureLatency(m *mosquitto, outDir string, n int, child *proc, clientID string) (latencyResult, error) {
	res := latencyResult{N: n}
	pub, err := dialPublisher(m.Addr, clientID, 64)
	if err != nil {
		return res, err
	}
	defer pub.close()
	mt := newMeter(7)
	mt.topic = "tele/tasmota_latency/SENSOR"
	now := time.Now()
	// Rows of today, one second apart, starting at 01:00: one TS file whatever the hour.
	base := time.Date(now.Year(), now.Month(), now.Day(), 1, 0, 0, 0, time.UTC)
	message := func(i int) (topic string, payload []byte, stamp []byte) {
		t := base.Add(time.Duration(i) * time.Second)
		mt.step(t)
		line := mt.summary(nil, t)
		sp := bytes.IndexByte(line, ' ')
		return string(line[:sp]), bytes.TrimSuffix(line[sp+1:], []byte("\n")), appendTime(nil, t)
	}

	// Warm-up: the first row creates the file.
	topic, payload, stamp := message(0)
	if err := pub.publish(topic, payload, true); err != nil {
		return res, err
	}
	var file string
	deadline := time.Now().Add(20 * time.Second)
	for file == "" {
		if err := checkInterrupted(); err != nil {
			return res, err
		}
		names, _ := filepath.Glob(filepath.Join(outDir, "*", "ts_summary_*.csv"))
		for _, nm := range names {
			if b, err := os.ReadFile(nm); err == nil && bytes.Contains(b, stamp) {
				file = nm
			}
		}
		if file != "" {
			break
		}
		if child.exited() {
			return res, fmt.Errorf("%s exited (%v):\n%s", child.name, child.err, child.lastLines(15))
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("no TS row under %s 20 s after the first summary message:\n%s", outDir, child.lastLines(15))
		}
		time.Sleep(10 * time.Millisecond)
	}

	ifd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		return res, fmt.Errorf("inotify: %w", err)
	}
	events := os.NewFile(uintptr(ifd), "inotify")
	defer events.Close()
	if _, err := syscall.InotifyAddWatch(ifd, file, syscall.IN_MODIFY); err != nil {
		return res, fmt.Errorf("inotify on %s: %w", file, err)
	}
	rf, err := os.Open(file)
	if err != nil {
		return res, err
	}
	defer rf.Close()
	st, err := rf.Stat()
	if err != nil {
		return res, err
	}
	off := st.Size()
	evbuf := make([]byte, 4096)
	data := make([]byte, 64<<10)
	lat := make([]time.Duration, 0, n)
	for i := 1; i <= n; i++ {
		if err := checkInterrupted(); err != nil {
			return res, err
		}
		topic, payload, stamp := message(i)
		t0 := time.Now()
		if err := pub.publish(topic, payload, true); err != nil {
			return res, err
		}
		var got []byte
		for {
			// Whatever was appended since the last row.
			k, _ := rf.ReadAt(data, off)
			if k > 0 {
				got = append(got, data[:k]...)
				off += int64(k)
			}
			if bytes.Contains(got, stamp) && got[len(got)-1] == '\n' {
				break
			}
			_ = events.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := events.Read(evbuf); err != nil {
				if child.exited() {
					return res, fmt.Errorf("%s exited (%v):\n%s", child.name, child.err, child.lastLines(15))
				}
				return res, fmt.Errorf("summary %d of %d: no TS row 5 s after publishing it (%v)", i, n, err)
			}
		}
		lat = append(lat, time.Since(t0))
		time.Sleep(2 * time.Millisecond)
	}
	if err := pub.wait(10 * time.Second); err != nil {
		return res, err
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	q := func(p float64) time.Duration {
		i := int(p*float64(len(lat))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(lat) {
			i = len(lat) - 1
		}
		return lat[i]
	}
	res.P50, res.P90, res.P99, res.Max = q(0.50), q(0.90), q(0.99), lat[len(lat)-1]
	res.Mean = sum / time.Duration(len(lat))
	return res, nil
}
