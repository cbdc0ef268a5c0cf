package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/internal/engine"
	"github.com/mqtttocsv/mqtttocsv/internal/mqttclient"
)

// liveProfile is the live path (internal/mqttclient + internal/engine wired as
// cmd/mqtttocsv/live.go wires them) run inside this program under the CPU profiler, while
// a child process publishes the capture.
type liveProfile struct {
	Messages   int
	CPU        time.Duration
	Wall       time.Duration
	Mallocs    float64
	Bytes      float64
	CPUProfile string
	Top        string
	TopCum     string
}

func profileLive(capPath string, n int, window int, tmpBase, profDir string) (liveProfile, error) {
	res := liveProfile{Messages: n}
	dir, err := newTempDir("bench-liveprof-")
	if err != nil {
		return res, err
	}
	defer removeTempDir(dir)
	m, err := startMosquitto(dir, 2*n+1000)
	if err != nil {
		return res, err
	}
	defer m.p.stop(5 * time.Second)

	// The runtime settings cmd/mqtttocsv/live.go makes (tuneRuntime), for this part only.
	defer debug.SetGCPercent(debug.SetGCPercent(50))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))

	o := config.Default()
	o.OutDir = filepath.Join(dir, "out")
	eng, err := engine.New(o, engine.Params{Log: nopLogger{}})
	if err != nil {
		return res, err
	}
	mo := mqttclient.Options{Broker: m.URL, Topics: []string{"tele/+/SENSOR"}, ClientID: "benchliveprof", Logger: nopLogger{}}
	if err := mo.SetQoS(1); err != nil {
		return res, err
	}
	if err := mo.Validate(); err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := mqttclient.Connect(ctx, mo, eng.HandleMessage)
	if err != nil {
		return res, err
	}
	closed := false
	defer func() {
		if !closed {
			cl.Close()
			eng.Close()
		}
	}()
	if err := m.waitSubscribed(mo.ClientID, nil, 30*time.Second); err != nil {
		return res, err
	}
	// Ticker flushes as in live.go (every flush_interval): none happen in a short run.
	ticker := time.NewTicker(time.Duration(o.FlushInterval))
	defer ticker.Stop()
	go func() {
		for range ticker.C {
			eng.Flush(false)
		}
	}()

	self, err := os.Executable()
	if err != nil {
		return res, err
	}
	res.CPUProfile = filepath.Join(profDir, "live-cpu.prof")
	cf, err := os.Create(res.CPUProfile)
	if err != nil {
		return res, err
	}
	defer cf.Close()
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	if err := pprof.StartCPUProfile(cf); err != nil {
		return res, err
	}
	profiling := true
	defer func() {
		if profiling {
			pprof.StopCPUProfile()
		}
	}()
	cpu0, start := selfCPU(), time.Now()
	pub, err := startProc("publisher", exec.Command(self, "-x-publish", m.Addr, "-x-file", capPath, "-window", strconv.Itoa(window)), nil)
	if err != nil {
		return res, err
	}
	defer pub.stop(5 * time.Second)
	deadline := time.Now().Add(60*time.Second + time.Duration(n)*500*time.Microsecond)
	for eng.Stats().Received < uint64(n) {
		if err := checkInterrupted(); err != nil {
			return res, err
		}
		if pub.exited() && pub.err != nil {
			return res, fmt.Errorf("the publisher failed (%v):\n%s", pub.err, pub.lastLines(10))
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("in-process live: %d of %d messages received in time", eng.Stats().Received, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	res.CPU, res.Wall = selfCPU()-cpu0, time.Since(start)
	pprof.StopCPUProfile()
	profiling = false
	runtime.ReadMemStats(&m1)
	res.Mallocs = float64(m1.Mallocs-m0.Mallocs) / float64(n)
	res.Bytes = float64(m1.TotalAlloc-m0.TotalAlloc) / float64(n)
	closed = true
	cl.Close()
	if err := eng.Close(); err != nil {
		return res, err
	}
	res.Top = runPprof("-top", "-nodecount=25", res.CPUProfile)
	res.TopCum = runPprof("-top", "-cum", "-nodecount=40", res.CPUProfile)
	return res, nil
}

// runPprof runs `go tool pprof ARGS` and returns its table.
func runPprof(args ...string) string {
	out, err := exec.Command(goTool(), append([]string{"tool", "pprof"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("go tool pprof failed: %v", err)
	}
	return trimPprof(string(out))
}

// publishOnly is the hidden mode -x-publish: publish a capture and exit (the publisher of
// the in-process live profile, kept out of the profiled process).
func publishOnly(addr, file string, window int) int {
	p, err := dialPublisher(addr, fmt.Sprintf("benchpub-%d", os.Getpid()), window)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer p.close()
	if _, err := p.publishFile(file, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
