package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binaries built once for all tests of the package.
var (
	binTasmotaCSV string // this program
	binMqtttocsv  string // the standalone, for the replay reference ("" if it did not build)
	mqtttocsvErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tasmota-csv-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binTasmotaCSV = filepath.Join(dir, "tasmota-csv")
	if out, err := exec.Command("go", "build", "-o", binTasmotaCSV, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building tasmota-csv: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	bin := filepath.Join(dir, "mqtttocsv")
	if out, err := exec.Command("go", "build", "-o", bin, "../mqtttocsv").CombinedOutput(); err != nil {
		mqtttocsvErr = fmt.Errorf("building mqtttocsv: %v\n%s", err, out)
	} else {
		binMqtttocsv = bin
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// output collects a process's stdout or stderr as it comes.
type output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func (o *output) Bytes() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]byte(nil), o.buf.Bytes()...)
}

// proc is a running tasmota-csv fed through a pipe.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *output
	stderr *output
	done   chan struct{}
	err    error
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: exec.Command(binTasmotaCSV, args...), stdout: &output{}, stderr: &output{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("tasmota-csv stderr:\n%s", p.stderr.String())
		}
	})
	return p
}

// wait waits for the exit and returns the exit status.
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("tasmota-csv did not exit within %s; stderr:\n%s", timeout, p.stderr.String())
	}
	return exitCode(p.err)
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// runOnce runs tasmota-csv with stdin and returns its exit status, stdout and stderr.
func runOnce(t *testing.T, stdin []byte, args ...string) (int, []byte, string) {
	t.Helper()
	cmd := exec.Command(binTasmotaCSV, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return exitCode(err), stdout.Bytes(), stderr.String()
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("tasmota-csv %v did not exit", args)
	}
	return 0, nil, ""
}

// pluginConf writes a plugin configuration file writing to outDir, with extra keys.
func pluginConf(t *testing.T, outDir string, extra ...string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "[[processors.tasmota_csv]]\n  out_dir = %q\n", outDir)
	for _, e := range extra {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	path := filepath.Join(t.TempDir(), "tasmota-csv.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// lines counts the complete lines of b.
func lines(b []byte) int { return bytes.Count(b, []byte("\n")) }

// splitLines returns the lines of b, each with its line break.
func splitLines(b []byte) [][]byte {
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		out = append(out, append(append([]byte(nil), sc.Bytes()...), '\n'))
	}
	return out
}
