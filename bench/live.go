package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// consumer is one subscriber measured while the same N messages are published to all.
type consumer struct {
	name     string
	clientID string
	p        *proc
	// count returns how many messages it has consumed so far.
	count func() (int64, error)
	// exitsItself: the process ends by itself once it has consumed everything
	// (mosquitto_sub -C N); its usage is then read from its rusage.
	exitsItself bool
	pluginPid   int // Telegraf's execd child, measured apart; 0 when none

	before, after             usage // the process, at the start of publishing and when done
	pluginBefore, pluginAfter usage
	doneAfter                 time.Duration // from the start of publishing
	done                      bool
	got                       int64
}

// cpuPerM is the CPU seconds the process spent per million messages while consuming.
func (c *consumer) cpuPerM(n int) float64 { return (c.after.CPU - c.before.CPU) / float64(n) * 1e6 }
func (c *consumer) pluginCPUPerM(n int) float64 {
	return (c.pluginAfter.CPU - c.pluginBefore.CPU) / float64(n) * 1e6
}

// lineCounter counts the lines of a file that another process appends to.
type lineCounter struct {
	path  string
	off   int64
	lines int64
	buf   []byte
}

func (l *lineCounter) count() (int64, error) {
	f, err := os.Open(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Seek(l.off, io.SeekStart); err != nil {
		return l.lines, err
	}
	if l.buf == nil {
		l.buf = make([]byte, 1<<20)
	}
	for {
		n, err := f.Read(l.buf)
		l.off += int64(n)
		l.lines += int64(bytes.Count(l.buf[:n], []byte{'\n'}))
		if err == io.EOF || n == 0 {
			return l.lines, nil
		}
		if err != nil {
			return l.lines, err
		}
	}
}

var (
	reStatusMessages = regexp.MustCompile(`\bmessages (\d+), refused (\d+)`)
	reStatusBuffered = regexp.MustCompile(`buffered rows (\d+)`)
)

// mqtttocsvStatus follows the status lines of mqtttocsv on stderr: the SIGUSR1 status
// and the final "stopped:" summary.
type mqtttocsvStatus struct {
	received atomic.Int64
	buffered atomic.Int64
	mu       sync.Mutex
	stopped  string
}

func (s *mqtttocsvStatus) onLine(l string) {
	if m := reStatusMessages.FindStringSubmatch(l); m != nil {
		if v, err := strconv.ParseInt(m[1], 10, 64); err == nil {
			s.received.Store(v)
		}
	}
	if m := reStatusBuffered.FindStringSubmatch(l); m != nil {
		if v, err := strconv.ParseInt(m[1], 10, 64); err == nil {
			s.buffered.Store(v)
		}
	}
	if i := strings.Index(l, "stopped: "); i >= 0 {
		s.mu.Lock()
		s.stopped = l[i+len("stopped: "):]
		s.mu.Unlock()
	}
}

func (s *mqtttocsvStatus) stopLine() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// startMqtttocsv starts the standalone subscriber on the broker.
func startMqtttocsv(bin string, m *mosquitto, outDir, clientID, name string, extra ...string) (*consumer, *mqtttocsvStatus, error) {
	st := &mqtttocsvStatus{}
	args := append([]string{"--broker", m.URL, "--out-dir", outDir, "--client-id", clientID}, extra...)
	p, err := startProc(name, exec.Command(bin, args...), st.onLine)
	if err != nil {
		return nil, nil, err
	}
	c := &consumer{name: name, clientID: clientID, p: p}
	c.count = func() (int64, error) {
		// SIGUSR1 makes it print its status line, with the count of received messages.
		if err := p.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			return st.received.Load(), err
		}
		return st.received.Load(), nil
	}
	return c, st, nil
}

// startMosquittoSub starts mosquitto_sub, which exits after n messages.
func startMosquittoSub(m *mosquitto, clientID string, n int) (*consumer, error) {
	bin, err := findTool("mosquitto_sub", "on Debian: apt-get install mosquitto-clients")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-h", "127.0.0.1", "-p", strconv.Itoa(m.Port), "-q", "1", "-c", "-i", clientID,
		"-t", "tele/+/SENSOR", "-C", strconv.Itoa(n))
	// Its output goes to /dev/null: it still formats every message, as a real one would.
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	cmd.Stdout = devnull
	p, err := startProc("mosquitto_sub", cmd, nil)
	devnull.Close()
	if err != nil {
		return nil, err
	}
	c := &consumer{name: "mosquitto_sub", clientID: clientID, p: p, exitsItself: true}
	c.count = func() (int64, error) {
		if p.exited() {
			if p.err != nil {
				return 0, fmt.Errorf("mosquitto_sub failed (%v):\n%s", p.err, p.lastLines(10))
			}
			return int64(n), nil
		}
		return 0, nil
	}
	return c, nil
}

// telegrafSetup is what a Telegraf instance of the benchmark runs.
type telegrafSetup struct {
	name     string
	clientID string
	execd    []string // processors.execd command; nil for none
	parser   string   // the json_v2 tables
}

// startTelegraf writes a configuration in dir and starts Telegraf with it.
func startTelegraf(bin string, m *mosquitto, dir string, s telegrafSetup) (*consumer, error) {
	outFile := filepath.Join(dir, s.clientID+".csv")
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by the benchmark (bench/).
[agent]
  interval = "10s"
  round_interval = false
  flush_interval = "1s"
  flush_jitter = "0s"
  collection_jitter = "0s"
  omit_hostname = true

[[inputs.mqtt_consumer]]
  servers = [%q]
  topics = ["tele/+/SENSOR"]
  qos = 1
  persistent_session = true
  client_id = %q
  data_format = "json_v2"
%s
`, m.URL, s.clientID, s.parser)
	if s.execd != nil {
		q := make([]string, len(s.execd))
		for i, a := range s.execd {
			q[i] = strconv.Quote(a)
		}
		fmt.Fprintf(&b, "[[processors.execd]]\n  namepass = [\"tasmota\"]\n  command = [%s]\n  data_format = \"influx\"\n\n", strings.Join(q, ", "))
	}
	fmt.Fprintf(&b, "[[outputs.file]]\n  files = [%q]\n  data_format = \"csv\"\n", outFile)
	conf := filepath.Join(dir, s.clientID+".conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		return nil, err
	}
	p, err := startProc(s.name, exec.Command(bin, "--config", conf), nil)
	if err != nil {
		return nil, err
	}
	lc := &lineCounter{path: outFile}
	c := &consumer{name: s.name, clientID: s.clientID, p: p, count: lc.count}
	if s.execd != nil {
		c.pluginPid = -1 // found once Telegraf has started it
	}
	return c, nil
}

// ownParser is the json_v2 setup used when the repository has no Telegraf sample
// configuration: measurement "tasmota", the Time field, the meter object's values as
// fields (the settings of plugins/processors/tasmota_csv/csvtest).
const ownParser = `  [[inputs.mqtt_consumer.json_v2]]
    measurement_name = "tasmota"
    [[inputs.mqtt_consumer.json_v2.field]]
      path = "Time"
    [[inputs.mqtt_consumer.json_v2.object]]
      path = "z"
      optional = true
`

// findSampleParser looks for a Telegraf configuration in the repository that sets up
// inputs.mqtt_consumer with json_v2 (sample.conf) and returns its json_v2 tables.
func findSampleParser(root string) (path, parser string) {
	var found []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", "bench", "data", "node_modules", "testdata", "vendor":
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(p); ext != ".conf" && ext != ".toml" {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > 1<<20 {
			return nil
		}
		found = append(found, p)
		return nil
	})
	for _, p := range found {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("[[inputs.mqtt_consumer.json_v2]]")) {
			continue
		}
		var out []string
		in := false
		for _, l := range strings.Split(string(b), "\n") {
			t := strings.TrimSpace(l)
			if strings.HasPrefix(t, "[") {
				in = strings.HasPrefix(t, "[[inputs.mqtt_consumer.json_v2") || strings.HasPrefix(t, "[inputs.mqtt_consumer.json_v2")
			}
			if in {
				out = append(out, l)
			}
		}
		if len(out) > 0 {
			rel, _ := filepath.Rel(root, p)
			return rel, strings.Join(out, "\n") + "\n"
		}
	}
	return "", ownParser
}

// round publishes the capture once to every consumer, all subscribed beforehand, waits
// until each has consumed every message, and records what each cost.
type roundResult struct {
	Published   int
	PublishWall time.Duration
	Broker      usage // CPU during the round, peak RSS
}

func runRound(m *mosquitto, cons []*consumer, capturePath string, n int, window int, timeout time.Duration) (roundResult, error) {
	var res roundResult
	for _, c := range cons {
		if err := m.waitSubscribed(c.clientID, c.p, 60*time.Second); err != nil {
			return res, err
		}
	}
	// Telegraf's execd plugin: its child, once started.
	for _, c := range cons {
		if c.pluginPid != -1 {
			continue
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			if ch := children(c.p.pid()); len(ch) > 0 {
				c.pluginPid = ch[0]
				break
			}
			if time.Now().After(deadline) || c.p.exited() {
				return res, fmt.Errorf("%s: its processors.execd plugin did not start:\n%s", c.name, c.p.lastLines(15))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	time.Sleep(300 * time.Millisecond) // let start-up work settle before the baseline
	brokerBefore, err := liveUsage(m.p.pid())
	if err != nil {
		return res, err
	}
	for _, c := range cons {
		if c.before, err = liveUsage(c.p.pid()); err != nil {
			return res, fmt.Errorf("%s: %w", c.name, err)
		}
		if c.pluginPid > 0 {
			if c.pluginBefore, err = liveUsage(c.pluginPid); err != nil {
				return res, fmt.Errorf("%s's plugin: %w", c.name, err)
			}
		}
	}
	pub, err := dialPublisher(m.Addr, "benchpub", window)
	if err != nil {
		return res, err
	}
	defer pub.close()
	start := time.Now()
	pubDone := make(chan error, 1)
	go func() {
		k, err := pub.publishFile(capturePath, stopCh)
		res.Published = k
		res.PublishWall = time.Since(start)
		pubDone <- err
	}()
	deadline := start.Add(timeout)
	pubFinished := false
	for {
		select {
		case err := <-pubDone:
			pubFinished = true
			if err != nil {
				return res, err
			}
		case <-stopCh:
			return res, errInterrupted
		case <-time.After(200 * time.Millisecond):
		}
		all := true
		for _, c := range cons {
			if c.done {
				continue
			}
			got, err := c.count()
			if err != nil {
				return res, fmt.Errorf("%s: %w", c.name, err)
			}
			c.got = got
			if got >= int64(n) {
				if err := c.finish(start); err != nil {
					return res, err
				}
				continue
			}
			all = false
			if c.p.exited() {
				return res, fmt.Errorf("%s exited after %d of %d messages (%v):\n%s", c.name, got, n, c.p.err, c.p.lastLines(15))
			}
		}
		if all && pubFinished {
			break
		}
		if time.Now().After(deadline) {
			var st []string
			for _, c := range cons {
				st = append(st, fmt.Sprintf("%s %d/%d", c.name, c.got, n))
			}
			return res, fmt.Errorf("not every consumer got the %d messages within %s (%s); raise -timeout or lower -n-live", n, timeout, strings.Join(st, ", "))
		}
	}
	if res.Published != n {
		return res, fmt.Errorf("published %d messages, expected %d", res.Published, n)
	}
	brokerAfter, err := liveUsage(m.p.pid())
	if err != nil {
		return res, err
	}
	res.Broker = usage{CPU: brokerAfter.CPU - brokerBefore.CPU, PeakKB: brokerAfter.PeakKB}
	return res, nil
}

// finish records what a consumer cost once it has everything.
func (c *consumer) finish(start time.Time) error {
	var err error
	if c.exitsItself {
		<-c.p.done
		c.after, err = exitUsage(c.p)
	} else {
		c.after, err = liveUsage(c.p.pid())
	}
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	if c.pluginPid > 0 {
		if c.pluginAfter, err = liveUsage(c.pluginPid); err != nil {
			return fmt.Errorf("%s's plugin: %w", c.name, err)
		}
	}
	c.doneAfter = time.Since(start)
	c.done = true
	return nil
}

// countRows counts the data rows (lines minus the header) of the files under dir whose
// name starts with prefix.
func countRows(dir, prefix string) (rows, files int) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), prefix) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		files++
		if n := bytes.Count(b, []byte{'\n'}); n > 0 {
			rows += n - 1
		}
		return nil
	})
	return rows, files
}
