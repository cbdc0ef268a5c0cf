package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// replayResult is the median of several replays of one capture.
type replayResult struct {
	Capture  captureInfo
	Runs     int
	Wall     time.Duration // median
	MinWall  time.Duration
	MaxWall  time.Duration
	PeakKB   int64 // the largest peak RSS of the runs
	MedianKB int64
	CPU      float64 // median user+system seconds
	Rows     string  // rows and files written, from the summary
}

func (r replayResult) msgsPerSec() float64 { return float64(r.Capture.Messages) / r.Wall.Seconds() }
func (r replayResult) mbPerSec() float64   { return float64(r.Capture.Bytes) / 1e6 / r.Wall.Seconds() }

var (
	reMessages = regexp.MustCompile(`messages (\d+), refused (\d+) \(([^)]*)\), rows written: ts (\d+), energie (\d+), files (\d+)`)
)

// replay runs `mqtttocsv replay --no-progress --out-dir TMP capture` runs times, each time
// into a fresh folder, and checks that the summary counts every message and refuses none.
func replay(bin string, c captureInfo, runs int, tmpBase string) (replayResult, error) {
	res := replayResult{Capture: c, Runs: runs}
	var walls []time.Duration
	var rss []int64
	var cpus []float64
	for i := 0; i < runs; i++ {
		if err := checkInterrupted(); err != nil {
			return res, err
		}
		out, err := os.MkdirTemp(tmpBase, "bench-replay-")
		if err != nil {
			return res, err
		}
		registry.Lock()
		registry.dirs = append(registry.dirs, out)
		registry.Unlock()
		var stdout bytes.Buffer
		cmd := exec.Command(bin, "replay", "--no-progress", "--out-dir", out, c.Path)
		cmd.Stdout = &stdout
		start := time.Now()
		p, err := startProc("mqtttocsv replay", cmd, nil)
		if err != nil {
			return res, err
		}
		timeout := 30*time.Second + time.Duration(c.Messages)*20*time.Microsecond
		select {
		case <-p.done:
		case <-stopCh:
			return res, errInterrupted
		case <-time.After(timeout):
			p.killGroup()
			<-p.done
			return res, fmt.Errorf("mqtttocsv replay of %s did not end within %s", c.Path, timeout)
		}
		wall := time.Since(start)
		if p.err != nil {
			return res, fmt.Errorf("mqtttocsv replay %s failed (%v):\n%s\n%s", c.Path, p.err, p.lastLines(15), stdout.String())
		}
		m := reMessages.FindStringSubmatch(stdout.String())
		if m == nil {
			return res, fmt.Errorf("mqtttocsv replay: no summary line in its output:\n%s", stdout.String())
		}
		if got, _ := strconv.Atoi(m[1]); got != c.Messages {
			return res, fmt.Errorf("mqtttocsv replay counted %s messages, the capture has %d:\n%s", m[1], c.Messages, stdout.String())
		}
		if m[2] != "0" {
			return res, fmt.Errorf("mqtttocsv replay refused %s messages of the generated capture (%s): the generator or the program is wrong", m[2], m[3])
		}
		res.Rows = fmt.Sprintf("ts %s, energie %s rows, %s files", m[4], m[5], m[6])
		u, err := exitUsage(p)
		if err != nil {
			return res, err
		}
		walls = append(walls, wall)
		rss = append(rss, u.PeakKB)
		cpus = append(cpus, u.CPU)
		removeTempDir(out)
	}
	sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
	sortInts(rss)
	sort.Float64s(cpus)
	res.Wall, res.MinWall, res.MaxWall = walls[len(walls)/2], walls[0], walls[len(walls)-1]
	res.PeakKB, res.MedianKB = rss[len(rss)-1], rss[len(rss)/2]
	res.CPU = cpus[len(cpus)/2]
	return res, nil
}

func sortInts(v []int64) { sort.Slice(v, func(i, j int) bool { return v[i] < v[j] }) }
