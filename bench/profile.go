package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/mqtttocsv/mqtttocsv/internal/capture"
	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/internal/engine"
)

type nopLogger struct{}

func (nopLogger) Errorf(string, ...any) {}
func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Debugf(string, ...any) {}

// inProcess is the replay path run inside this program: the same reader, engine and
// options as `mqtttocsv replay` (cmd/mqtttocsv/replay.go), without the process start.
type inProcess struct {
	Messages    int
	Wall        time.Duration
	CPU         time.Duration // user+system of this process during the run
	ProfileRuns int
	Mallocs     float64 // per message
	Bytes       float64 // allocated per message
	GCs         uint32
	CPUProfile  string
	AllocProf   string
	TopCPU      string // `go tool pprof -top` of the CPU profile
	TopAlloc    string
	TopAllocN   string
	ProfileNote string
}

// replayInProcess drives internal/capture and internal/engine exactly as replayOne does.
func replayInProcess(path, outDir string) (int, error) {
	o := config.Default()
	o.OutDir = outDir
	eng, err := engine.New(o, engine.Params{Log: nopLogger{}, DataClock: true})
	if err != nil {
		return 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := capture.Feed(path, f, 2*o.MaxPayload+4096, eng)
	if err != nil {
		eng.Close()
		return n, err
	}
	if err := eng.Close(); err != nil {
		return n, err
	}
	if st := eng.Stats(); st.Refused.Total() != 0 {
		return n, fmt.Errorf("in-process replay refused %d messages (%s)", st.Refused.Total(), st.Refused.String())
	}
	return n, nil
}

// profileReplay measures the in-process replay (time, allocations per message), then runs
// it again under the CPU profiler and writes the CPU and allocation profiles to profDir.
func profileReplay(c captureInfo, tmpBase, profDir string) (inProcess, error) {
	res := inProcess{Messages: c.Messages}
	run := func() (time.Duration, error) {
		out, err := os.MkdirTemp(tmpBase, "bench-inproc-")
		if err != nil {
			return 0, err
		}
		registry.Lock()
		registry.dirs = append(registry.dirs, out)
		registry.Unlock()
		defer removeTempDir(out)
		start := time.Now()
		n, err := replayInProcess(c.Path, out)
		if err == nil && n != c.Messages {
			err = fmt.Errorf("in-process replay read %d messages, the capture has %d", n, c.Messages)
		}
		return time.Since(start), err
	}
	// Warm the page cache, then measure.
	if _, err := run(); err != nil {
		return res, err
	}
	if err := checkInterrupted(); err != nil {
		return res, err
	}
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := selfCPU()
	wall, err := run()
	if err != nil {
		return res, err
	}
	res.CPU = selfCPU() - cpu0
	runtime.ReadMemStats(&m1)
	res.Wall = wall
	res.Mallocs = float64(m1.Mallocs-m0.Mallocs) / float64(c.Messages)
	res.Bytes = float64(m1.TotalAlloc-m0.TotalAlloc) / float64(c.Messages)
	res.GCs = m1.NumGC - m0.NumGC
	if err := checkInterrupted(); err != nil {
		return res, err
	}

	// Profiles: CPU over a run, allocations (sampled every 4 KiB) over the same run.
	if err := os.MkdirAll(profDir, 0o755); err != nil {
		return res, err
	}
	res.CPUProfile = filepath.Join(profDir, "replay-cpu.prof")
	res.AllocProf = filepath.Join(profDir, "replay-allocs.prof")
	cf, err := os.Create(res.CPUProfile)
	if err != nil {
		return res, err
	}
	// The allocation profile is cumulative since the start of the program: a snapshot
	// before the run is the base that pprof subtracts (-base). It is updated at each GC.
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 4096
	baseProf := filepath.Join(profDir, "replay-allocs-base.prof")
	runtime.GC()
	if err := writeProfile("allocs", baseProf); err != nil {
		cf.Close()
		return res, err
	}
	if err := pprof.StartCPUProfile(cf); err != nil {
		cf.Close()
		return res, err
	}
	// Enough runs for a few thousand samples.
	runs := int(4*time.Second/wall) + 1
	if runs > 20 {
		runs = 20
	}
	res.ProfileRuns = runs
	for i := 0; i < runs && err == nil; i++ {
		_, err = run()
		if err == nil {
			err = checkInterrupted()
		}
	}
	pprof.StopCPUProfile()
	cf.Close()
	if err != nil {
		return res, err
	}
	runtime.GC()
	err = writeProfile("allocs", res.AllocProf)
	runtime.MemProfileRate = old
	if err != nil {
		return res, err
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		if p, err := exec.LookPath("go"); err == nil {
			goBin = p
		}
	}
	top := func(args ...string) string {
		out, err := exec.Command(goBin, append([]string{"tool", "pprof"}, args...)...).CombinedOutput()
		if err != nil {
			res.ProfileNote = fmt.Sprintf("go tool pprof failed: %v", err)
			return ""
		}
		return trimPprof(string(out))
	}
	res.TopCPU = top("-top", "-nodecount=25", res.CPUProfile)
	res.TopAlloc = top("-top", "-nodecount=15", "-sample_index=alloc_space", "-base", baseProf, res.AllocProf)
	res.TopAllocN = top("-top", "-nodecount=15", "-sample_index=alloc_objects", "-base", baseProf, res.AllocProf)
	return res, nil
}

// selfCPU is the user+system CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration((tv(ru.Utime) + tv(ru.Stime)) * float64(time.Second))
}

func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// trimPprof drops pprof's header lines up to the column titles.
func trimPprof(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		if strings.Contains(l, "flat%") {
			keep := []string{}
			for _, h := range lines[:i] {
				if strings.HasPrefix(h, "Showing nodes") || strings.HasPrefix(h, "Duration") {
					keep = append(keep, h)
				}
			}
			return strings.Join(append(keep, lines[i:]...), "\n")
		}
	}
	return strings.Join(lines, "\n")
}
