package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Every child process and temporary folder the benchmark makes is registered here, so that
// cleanup (on a normal end, an error, or Ctrl+C) kills and removes all of them.
var registry struct {
	sync.Mutex
	procs []*proc
	dirs  []string
}

// proc is a child process started in its own process group (so that a Ctrl+C in the
// terminal reaches only the benchmark, which then stops the children in order, and so that
// a child's own children — Telegraf's execd plugin — can be killed with it).
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *tailWriter
	done chan struct{}
	err  error // of Wait, valid once done is closed
}

// tailWriter keeps the last bytes a child wrote (for error messages) and can hand every
// complete line to a callback.
type tailWriter struct {
	mu     sync.Mutex
	tail   []byte
	line   []byte
	onLine func(string)
}

const tailMax = 16 << 10

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tail = append(w.tail, p...)
	if len(w.tail) > 2*tailMax {
		w.tail = append(w.tail[:0], w.tail[len(w.tail)-tailMax:]...)
	}
	if w.onLine != nil {
		for _, c := range p {
			if c == '\n' {
				w.onLine(string(w.line))
				w.line = w.line[:0]
			} else if len(w.line) < 4096 {
				w.line = append(w.line, c)
			}
		}
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.tail
	if len(t) > tailMax {
		t = t[len(t)-tailMax:]
	}
	return strings.TrimSpace(string(t))
}

// lastLines is the end of a child's output, indented, for an error message.
func (p *proc) lastLines(n int) string {
	s := p.out.String()
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if s == "" {
		return "    (no output)"
	}
	return "    " + strings.Join(lines, "\n    ")
}

// startProc starts cmd; its stdout and stderr go to out unless already set.
func startProc(name string, cmd *exec.Cmd, onLine func(string)) (*proc, error) {
	p := &proc{name: name, cmd: cmd, out: &tailWriter{onLine: onLine}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.out
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	registry.Lock()
	defer registry.Unlock()
	if interrupted.Load() {
		return nil, errInterrupted
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s (%s): %w", name, cmd.Path, err)
	}
	registry.procs = append(registry.procs, p)
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process to stop (SIGTERM), waits up to timeout, then kills its group.
func (p *proc) stop(timeout time.Duration) error {
	if p.exited() {
		p.killGroup()
		return p.err
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		p.killGroup()
		return p.err
	case <-time.After(timeout):
		p.killGroup()
		<-p.done
		return fmt.Errorf("%s did not stop within %s of SIGTERM: killed", p.name, timeout)
	}
}

// killGroup kills whatever is left of the process group (a stray grandchild).
func (p *proc) killGroup() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

// newTempDir makes a temporary folder removed at cleanup.
func newTempDir(pattern string) (string, error) {
	d, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	registry.Lock()
	registry.dirs = append(registry.dirs, d)
	registry.Unlock()
	return d, nil
}

// removeTempDir removes a temporary folder now.
func removeTempDir(d string) {
	_ = os.RemoveAll(d)
	registry.Lock()
	defer registry.Unlock()
	for i, x := range registry.dirs {
		if x == d {
			registry.dirs = append(registry.dirs[:i], registry.dirs[i+1:]...)
			break
		}
	}
}

// cleanup kills every child still running and removes every temporary folder.
func cleanup() {
	registry.Lock()
	procs := registry.procs
	dirs := registry.dirs
	registry.procs, registry.dirs = nil, nil
	registry.Unlock()
	for _, p := range procs {
		if !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(3 * time.Second)
	for _, p := range procs {
		select {
		case <-p.done:
		case <-time.After(time.Until(deadline)):
		}
		p.killGroup()
	}
	for _, p := range procs {
		select {
		case <-p.done:
		case <-time.After(2 * time.Second):
		}
	}
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
}

// clockTick is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
var clockTick = func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && v > 0 {
			return float64(v)
		}
	}
	return 100
}()

// cpuSeconds is the user+system CPU time of a live process (all its threads, dead ones
// included), from /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return float64(u+s) / clockTick, nil
}

// statusKB reads a "Name:   N kB" line of /proc/<pid>/status (VmHWM, VmRSS).
func statusKB(pid int, key string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no %s", pid, key)
}

// children lists the child processes of pid, from /proc/<pid>/task/*/children.
func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if v, err := strconv.Atoi(f); err == nil {
				out = append(out, v)
			}
		}
	}
	return out
}

// usage is what a process cost: CPU seconds (user+system) and peak RSS.
type usage struct {
	CPU    float64 // seconds
	PeakKB int64
}

// liveUsage reads the CPU time and VmHWM of a running process.
func liveUsage(pid int) (usage, error) {
	c, err := cpuSeconds(pid)
	if err != nil {
		return usage{}, err
	}
	hwm, err := statusKB(pid, "VmHWM")
	if err != nil {
		return usage{}, err
	}
	return usage{CPU: c, PeakKB: hwm}, nil
}

// exitUsage is the CPU time and peak RSS of an exited process, from its rusage.
func exitUsage(p *proc) (usage, error) {
	st := p.cmd.ProcessState
	if st == nil {
		return usage{}, errors.New(p.name + " has not exited")
	}
	ru, ok := st.SysUsage().(*syscall.Rusage)
	if !ok {
		return usage{}, errors.New("no rusage for " + p.name)
	}
	return usage{CPU: tv(ru.Utime) + tv(ru.Stime), PeakKB: ru.Maxrss}, nil
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// findTool looks a program up in PATH and then in the sbin folders (Debian installs
// mosquitto in /usr/sbin, outside an ordinary user's PATH).
func findTool(name, hint string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or the sbin folders (%s)", name, hint)
}
