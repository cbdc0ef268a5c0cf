package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mqtttocsv/mqtttocsv/internal/capture"
	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/golden")

// binary is the real mqtttocsv, built once for the end-to-end tests.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "mqtttocsv-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "mqtttocsv")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building mqtttocsv: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const captureFile = "../../testdata/capture.jsonl"

// readTree returns every file under dir with its content, by slash-separated name.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var lateMessage = regexp.MustCompile(`"2026-01-14T23:59:30",\s*"z":\s*\{"Pi":\s*0.7\}`)

var hhmm = regexp.MustCompile(`_(\d{8})_\d{4}\.csv$`)

// byDay renames files to drop the {time} part, the only part of a name that depends on
// when the program started.
func byDay(files map[string]string) map[string]string {
	out := map[string]string{}
	for name, body := range files {
		out[hhmm.ReplaceAllString(name, "_${1}.csv")] += body
	}
	return out
}

func sortedNames(m map[string]string) []string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func compareTrees(t *testing.T, want, got map[string]string) {
	t.Helper()
	if w, g := sortedNames(want), sortedNames(got); strings.Join(w, " ") != strings.Join(g, " ") {
		t.Fatalf("files differ:\nwant %q\ngot  %q", w, g)
	}
	for name, w := range want {
		if g := got[name]; g != w {
			t.Errorf("%s differs:\n--- want\n%s--- got\n%s", name, w, g)
		}
	}
}

func replayBin(t *testing.T, out string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"replay", "--out-dir", out}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr.String())
	}
	return stdout.String()
}

// TestReplayGolden: the files of the bundled capture (two devices, midnight, bad lines, a
// late message, decimal sums, every capture line format) are exactly the reviewed ones,
// names included.
func TestReplayGolden(t *testing.T) {
	out := t.TempDir()
	summary := replayBin(t, out, captureFile)
	got := readTree(t, out)
	golden := "../../testdata/golden/replay"
	if *update {
		os.RemoveAll(golden)
		for name, body := range got {
			p := filepath.Join(golden, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(body), 0o644)
		}
		os.WriteFile(golden+".summary", []byte(summary), 0o644)
	}
	compareTrees(t, readTree(t, golden), got)
	want, _ := os.ReadFile(golden + ".summary")
	if summary != string(want) {
		t.Errorf("summary differs:\n--- want\n%s--- got\n%s", want, summary)
	}
	// The rules a user checks first, spelled out.
	en := got["tasmota_EB7D9F/energie_20260114_2358.csv"]
	for _, line := range []string{
		"Time,Pi,Po,B1,B2,E1,E2,P1i,P2i,P3i,P1o,P2o,P3o,I1,I2,I3,U1,U2,U3,count\n",
		"2026-01-14T23:58:50,0.3,0,,,,,,,,,,,,,,230.1,,,4\n", // 0.1 + 0.2 without binary noise
		"2026-01-14T23:59:30,0.7,,,,,,,,,,,,,,,,,,1\n",       // the late message: a new row
	} {
		if !strings.Contains(en, line) {
			t.Errorf("energie file lacks %q", line)
		}
	}
	if strings.Count(en, "Time,") != 1 {
		t.Errorf("energie file has %d headers", strings.Count(en, "Time,"))
	}
	if !strings.HasSuffix(en, "2026-01-14T23:59:30,0.7,,,,,,,,,,,,,,,,,,1\n") {
		t.Error("the late row is not appended after the rows already written")
	}
}

// TestReplayInputForms: stdin, gzip and several files give the same files as one plain file.
func TestReplayInputForms(t *testing.T) {
	ref := t.TempDir()
	replayBin(t, ref, captureFile)
	want := readTree(t, ref)

	raw, err := os.ReadFile(captureFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("stdin", func(t *testing.T) {
		out := t.TempDir()
		cmd := exec.Command(binary, "replay", "--out-dir", out, "-")
		cmd.Stdin = bytes.NewReader(raw)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		compareTrees(t, want, readTree(t, out))
	})
	t.Run("gzip and two files", func(t *testing.T) {
		dir := t.TempDir()
		lines := strings.SplitAfter(string(raw), "\n")
		half := len(lines) / 2
		first := filepath.Join(dir, "a.jsonl")
		os.WriteFile(first, []byte(strings.Join(lines[:half], "")), 0o644)
		second := filepath.Join(dir, "b.jsonl")
		os.WriteFile(second, []byte(strings.Join(lines[half:], "")), 0o644)
		if b, err := exec.Command("gzip", second).CombinedOutput(); err != nil {
			t.Skipf("gzip: %v %s", err, b)
		}
		out := t.TempDir()
		replayBin(t, out, first, second+".gz")
		compareTrees(t, want, readTree(t, out))
	})
}

// TestExitCodes: help is 0, a usage or configuration mistake is 2 with a message.
func TestExitCodes(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(cfg, []byte("aggregation = \"median\"\n"), 0o644)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	typo := filepath.Join(t.TempDir(), "typo.toml")
	os.WriteFile(typo, []byte("flush_intervall = \"10s\"\n"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--help"}, 0, "Usage:"},
		{[]string{"replay", "--help"}, 0, "replay"},
		{[]string{"report", "--help"}, 0, "report"},
		{[]string{"--version"}, 0, "mqtttocsv"},
		{[]string{"version"}, 0, "mqtttocsv"},
		{[]string{"--bogus"}, 2, "unknown flag"},
		{[]string{"--qos", "7"}, 2, "qos"},
		{[]string{"--config", cfg}, 2, "aggregation \"median\" is unknown"},
		{[]string{"replay", "--config", typo, captureFile}, 2, "flush_intervall"},
		{[]string{"replay"}, 2, "requires at least 1 arg"},
		{[]string{"replay", "/nonexistent/capture"}, 2, "no such file"},
		{[]string{"--broker", "http://x", "--out-dir", t.TempDir()}, 2, "http"},
		{[]string{"replay", "--out-dir", t.TempDir(), "--flush-interval", "0s", captureFile}, 2, "flush_interval"},
		{[]string{"--listen", taken.Addr().String(), "--out-dir", t.TempDir()}, 1, "another MQTT broker runs there?"},
		{[]string{"report"}, 2, "PATH"},
		{[]string{"report", "/nonexistent/data"}, 2, "nonexistent"},
		{[]string{"report", "--format", "xml", "."}, 2, "xml"},
		{[]string{"report", "--plot", "day.jpg", "."}, 2, ".png or .svg"},
	} {
		cmd := exec.Command(binary, tc.args...)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != tc.code || !strings.Contains(string(out), tc.msg) {
			t.Errorf("mqtttocsv %q: exit %d, want %d with %q; output:\n%s", tc.args, code, tc.code, tc.msg, out)
		}
	}
}

// proc is a running mqtttocsv whose stderr is collected.
type proc struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	log bytes.Buffer
	eof chan struct{}
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), eof: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		close(p.eof)
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("mqtttocsv log:\n%s", p.Log())
		}
	})
	return p
}

func (p *proc) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitLog waits until the log holds s.
func (p *proc) waitLog(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for !strings.Contains(p.Log(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("mqtttocsv did not log %q", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitReceived asks for status lines (SIGUSR1) until one counts n messages received.
func (p *proc) waitReceived(t *testing.T, n int) {
	t.Helper()
	want := fmt.Sprintf("messages %d,", n)
	deadline := time.Now().Add(40 * time.Second)
	for !strings.Contains(p.Log(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("mqtttocsv never counted %d messages", n)
		}
		p.cmd.Process.Signal(syscall.SIGUSR1)
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends sig and waits for the exit status.
func (p *proc) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	p.cmd.Process.Signal(sig)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("mqtttocsv did not stop within 30 s")
	}
	<-p.eof
	return p.cmd.ProcessState.ExitCode()
}

type message struct {
	topic   string
	payload []byte
}

func readCapture(t *testing.T, name string) []message {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := capture.NewReader(f, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []message
	for {
		topic, payload, err := r.Next()
		if err == io.EOF {
			return msgs
		}
		var le *capture.LineError
		if errors.As(err, &le) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, message{topic, append([]byte(nil), payload...)})
	}
}

// waitFile waits until a file under dir contains s.
func waitFile(t *testing.T, dir, name, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if strings.Contains(string(b), s) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never held %q; it holds:\n%s", name, s, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// liveRun publishes the capture to a running mqtttocsv in two parts, letting one flush
// happen between them (as it would in real time, where the late message of the capture
// arrives a minute after its second was written), stops it with SIGTERM and returns its
// files.
func liveRun(t *testing.T, p *proc, url, out string) map[string]string {
	t.Helper()
	msgs := readCapture(t, captureFile)
	late := -1
	for i, m := range msgs {
		if lateMessage.Match(m.payload) {
			late = i
		}
	}
	if late < 0 {
		t.Fatal("the capture lost its late message")
	}
	publish := func(ms []message) { publishAll(t, url, ms) }
	publish(msgs[:late])
	// The flush after the first part writes every second before each device's newest.
	waitFile(t, out, "tasmota_EB7D9F/energie_20260115_0000.csv", "2026-01-15T00:00:29,")
	publish(msgs[late:])
	subscribed := 0
	for _, m := range msgs {
		if strings.HasPrefix(m.topic, "tele/") && strings.HasSuffix(m.topic, "/SENSOR") {
			subscribed++
		}
	}
	p.waitReceived(t, subscribed)
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit status %d after SIGTERM", code)
	}
	return readTree(t, out)
}

// TestLiveMosquittoMatchesReplay: through Debian's mosquitto, stopped with SIGTERM, the
// live program writes the same rows as replay of the same messages; nothing is lost.
func TestLiveMosquittoMatchesReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	m := mqtttest.StartMosquitto(t, "")
	out := t.TempDir()
	p := start(t, "--broker", m.URL, "--out-dir", out, "--flush-interval", "1s", "--client-id", "e2e-live")
	p.waitLog(t, "subscribed to tele/+/SENSOR")
	got := liveRun(t, p, m.URL, out)

	ref := t.TempDir()
	replayBin(t, ref, captureFile)
	compareTrees(t, byDay(readTree(t, ref)), byDay(got))
	if !strings.Contains(p.Log(), "stopped: messages 854,") {
		t.Errorf("the exit summary does not count the 854 messages published on tele/+/SENSOR:\n%s", p.Log())
	}
}

// TestLiveEmbeddedBroker: the same through the embedded broker, with no other server.
func TestLiveEmbeddedBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	out := t.TempDir()
	p := start(t, "--listen", "127.0.0.1:0", "--out-dir", out, "--flush-interval", "1s", "--client-id", "e2e-embedded")
	p.waitLog(t, "subscribed to tele/+/SENSOR")
	addr := regexp.MustCompile(`embedded broker listening on (\S+)`).FindStringSubmatch(p.Log())
	if addr == nil {
		t.Fatalf("no listening address in the log:\n%s", p.Log())
	}
	got := liveRun(t, p, "tcp://"+addr[1], out)

	ref := t.TempDir()
	replayBin(t, ref, captureFile)
	compareTrees(t, byDay(readTree(t, ref)), byDay(got))
}

// TestStatusOnSIGUSR1: SIGUSR1 logs a status line (connection state, rates, counters)
// without stopping anything; then SIGINT (Ctrl+C) stops it cleanly.
func TestStatusOnSIGUSR1(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	out := t.TempDir()
	p := start(t, "--listen", "127.0.0.1:0", "--out-dir", out, "--client-id", "e2e-usr1")
	p.waitLog(t, "subscribed to")
	p.cmd.Process.Signal(syscall.SIGUSR1)
	p.waitLog(t, "status: connected,")
	publishAll(t, "tcp://"+regexp.MustCompile(`embedded broker listening on (\S+)`).FindStringSubmatch(p.Log())[1], synth("dev1", 0, 2))
	p.waitReceived(t, len(synth("dev1", 0, 2)))
	if code := p.stop(t, syscall.SIGINT); code != 0 {
		t.Fatalf("exit %d after SIGINT", code)
	}
	if got := readTree(t, out)["dev1/energie_20260114_0000.csv"]; strings.Count(got, "\n") != 3 {
		t.Errorf("after SIGINT the energie file should hold a header and 2 rows:\n%s", got)
	}
}

// TestSharedConfigFiles: the Telegraf plugin's file and the service's file both configure
// the standalone (one vocabulary), and give the same files as the defaults.
func TestSharedConfigFiles(t *testing.T) {
	ref := t.TempDir()
	replayBin(t, ref, captureFile)
	want := readTree(t, ref)
	for _, cfg := range []string{"../../contrib/telegraf/tasmota-csv.conf", "../../contrib/systemd/mqtttocsv.toml"} {
		out := t.TempDir()
		replayBin(t, out, "--config", cfg, captureFile)
		compareTrees(t, want, readTree(t, out))
	}
}
