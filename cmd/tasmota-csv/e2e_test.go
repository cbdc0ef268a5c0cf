package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
	"github.com/mqtttocsv/mqtttocsv/plugins/processors/tasmota_csv/csvtest"
)

// telegrafBinary is $TELEGRAF_BIN, or bin/telegraf of the repository (make telegraf).
// Missing, the test is skipped, or failed under CI=true.
func telegrafBinary(t *testing.T) string {
	t.Helper()
	path := os.Getenv("TELEGRAF_BIN")
	if path == "" {
		path = filepath.Join(csvtest.RepoRoot(t), "bin", "telegraf")
	}
	if st, err := os.Stat(path); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return path
	}
	msg := fmt.Sprintf("no Telegraf at %s: build it with 'make telegraf' or set TELEGRAF_BIN", path)
	if mqtttest.InCI() {
		t.Fatal(msg + "; CI=true, so this is a failure, not a skip")
	}
	t.Skip(msg)
	return ""
}

// replaceOnce replaces old by new in s, and fails unless old occurs exactly once: the
// test's configuration must be sample.conf with only these values changed.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	require.Equal(t, 1, strings.Count(s, old), "expected %q exactly once", old)
	return strings.Replace(s, old, new, 1)
}

const barrierDevice = "e2e-barrier"

var pidLine = regexp.MustCompile(`started \(pid ([0-9]+)\)`)

// TestEndToEndWithTelegraf publishes the capture to a real mosquitto at QoS 1, read by a
// real Telegraf configured with sample.conf and contrib/telegraf/tasmota-csv.conf (broker
// address and paths changed, nothing else) running this program through processors.execd,
// and compares the files with those of the standalone's replay of the same capture, byte
// for byte, after each of the replay's flushes and at the end.
//
// Flushes: the replay flushes each time the messages' Time passes a flush_interval
// boundary; the core does the same live, and live it also flushes on a wall-clock tick
// (the first one 60 s after the start, after this test). The capture has late messages
// (a 23:59:30 after 00:00:00, meter2's 00:00:32-38 after its 00:00:40), so where a flush
// falls decides which rows are split: a tick in the wrong place would make other, equally
// valid, files. The test publishes the capture in the segments between the replay's
// flushes; after each one it waits until every message has been through Telegraf and
// tasmota-csv (a barrier message of a separate device, whose TS row shows; Telegraf keeps
// the order; that device's files are left out of the comparison), sends SIGUSR1 (flush
// now, as a tick would; a no-op where the core has already flushed on data time) and
// requires the files to equal the replay's at that point.
//
// File names differ only by {time} for the capture's first day (the replay's start is the
// first message's Time, a live run's the wall clock), so names are compared without it.
//
// What the Telegraf path cannot see, and why it does not change the files: capture lines
// that are not messages (listed in the log; this capture has none), messages on topics
// outside tele/+/SENSOR (the replay refuses them too), and payloads that are not JSON
// (Telegraf's json_v2 parser drops them with an error in its log; the replay refuses them).
func TestEndToEndWithTelegraf(t *testing.T) {
	telegraf := telegrafBinary(t)
	broker := mqtttest.StartMosquitto(t, "")
	capture := csvtest.LoadCapture(t, csvtest.CapturePath(t))
	for _, l := range capture.NotMessages {
		t.Logf("not published (not a message): %s", l)
	}

	// The reference: the standalone's replay.
	ref := csvtest.Replay(t, config.Default(), capture.Messages, len(capture.NotMessages), t.TempDir())
	final := ref.Snapshots[len(ref.Snapshots)-1]
	checkAgainstReplayBinary(t, final)

	tg := startTelegraf(t, telegraf, broker.URL, nil)
	pub := newPublisher(t, broker.URL, tg.out)
	pub.ready()
	pid := tg.pluginPID()

	live := func() csvtest.Tree {
		tr := csvtest.ReadTree(t, tg.out)
		for name := range tr {
			if strings.HasPrefix(name, barrierDevice+"/") {
				delete(tr, name)
			}
		}
		return tr.WithoutStartTime()
	}
	for k, seg := range ref.Segments {
		for _, m := range seg {
			pub.publish(m.Topic, m.Payload)
		}
		pub.barrier(fmt.Sprintf("segment-%d", k))
		if k == len(ref.Segments)-1 {
			break
		}
		require.NoError(t, syscall.Kill(pid, syscall.SIGUSR1))
		want := ref.Snapshots[k].WithoutStartTime()
		if !waitFor(10*time.Second, func() bool { return csvtest.Diff(want, live()) == "" }) {
			t.Fatalf("after segment %d (%d messages) the files differ from the replay's:\n%s", k, len(seg), csvtest.Diff(want, live()))
		}
	}

	// Stop Telegraf as a service manager does; it closes tasmota-csv's stdin.
	tg.stop()
	if d := csvtest.Diff(final.WithoutStartTime(), live()); d != "" {
		t.Fatalf("the files differ from the replay's:\n%s", d)
	}
	log := tg.log.String()
	require.Contains(t, log, "[processors.execd] stopped: messages", "tasmota-csv did not stop cleanly")
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "E! [processors.execd]") {
			t.Errorf("tasmota-csv logged an error: %s", line)
		}
	}
}

// TestTelegrafJSONv2Fields checks what json_v2, set up as in sample.conf, makes of both
// kinds of message in the real Telegraf: the fields tasmota-csv expects, with the JSON
// types kept (Time a string, or a number for epoch seconds; TS a string). The metrics are
// printed by outputs.file in line protocol (sample.conf's commented alternative output).
func TestTelegrafJSONv2Fields(t *testing.T) {
	telegraf := telegrafBinary(t)
	broker := mqtttest.StartMosquitto(t, "")
	metricsFile := filepath.Join(t.TempDir(), "metrics.lp")
	tg := startTelegraf(t, telegraf, broker.URL, func(conf string) string {
		return replaceOnce(t, conf, "\n[[outputs.discard]]\n",
			fmt.Sprintf("\n[[outputs.file]]\n  files = [%q]\n  data_format = \"influx\"\n", metricsFile))
	})
	pub := newPublisher(t, broker.URL, tg.out)
	pub.ready()
	summary := `{"Time":"2026-01-14T10:09:40","z":{"TS":"260114100949W","NS":353234363435,"Pi":0.0,"Po":1.411,` +
		`"B1":10017.763,"B2":11931.218,"E1":15397.879,"E2":34.25,"P1i":1.062,"P2i":0.0,"P3i":0.0,"P1o":0.0,` +
		`"P2o":0.963,"P3o":0.922,"I1":2.0,"I2":4.0,"I3":3.0,"U1":233.4,"U2":236.8,"U3":232.9}}`
	pub.publish("tele/meter/SENSOR", []byte(summary))
	pub.publish("tele/meter/SENSOR", []byte(`{"Time":"2026-01-14T10:09:41","z":{"Pi":0.512}}`))
	pub.publish("tele/meter/SENSOR", []byte(`{"Time":1768385382,"z":{"Pi":0.25}}`))
	pub.barrier("fields")
	tg.stop() // outputs.file writes at the stop at the latest

	b, err := os.ReadFile(metricsFile)
	require.NoError(t, err)
	var got []csvtest.Point
	for _, p := range csvtest.DecodeLineProtocol(t, b) {
		if p.Tags["topic"] == "tele/meter/SENSOR" {
			require.Equal(t, "tasmota", p.Name)
			got = append(got, p)
		}
	}
	require.Len(t, got, 3, "metrics:\n%s", b)
	want := map[string]any{"Time": "2026-01-14T10:09:40", "TS": "260114100949W", "NS": 353234363435.0}
	for i, c := range config.DefaultColumns {
		var v float64
		_, err := fmt.Sscan([]string{"0", "1.411", "10017.763", "11931.218", "15397.879", "34.25", "1.062", "0", "0",
			"0", "0.963", "0.922", "2", "4", "3", "233.4", "236.8", "232.9"}[i], &v)
		require.NoError(t, err)
		want[c] = v
	}
	require.Equal(t, want, got[0].Fields)
	require.Equal(t, map[string]any{"Time": "2026-01-14T10:09:41", "Pi": 0.512}, got[1].Fields)
	require.Equal(t, map[string]any{"Time": 1768385382.0, "Pi": 0.25}, got[2].Fields)
	// Three messages and the barriers, none refused.
	require.Regexp(t, `\[processors\.execd\] stopped: messages [0-9]+, refused 0 \(none\)`, tg.log.String())
}

// telegrafRun is a Telegraf started with sample.conf and contrib/telegraf/tasmota-csv.conf,
// the broker address and the paths changed.
type telegrafRun struct {
	t       *testing.T
	cmd     *exec.Cmd
	conf    string
	out     string // tasmota-csv's out_dir
	log     *output
	done    chan error
	stopped bool
}

// startTelegraf writes the configuration and starts Telegraf. edit, if set, may change
// Telegraf's configuration further.
func startTelegraf(t *testing.T, telegraf, brokerURL string, edit func(string) string) *telegrafRun {
	t.Helper()
	root := csvtest.RepoRoot(t)
	work := t.TempDir()
	r := &telegrafRun{t: t, out: filepath.Join(work, "csv"), log: &output{}, done: make(chan error, 1)}

	plugin, err := os.ReadFile(filepath.Join(root, "contrib", "telegraf", "tasmota-csv.conf"))
	require.NoError(t, err)
	pc := replaceOnce(t, string(plugin), `out_dir = "/var/lib/tasmota-csv"`, fmt.Sprintf("out_dir = %q", r.out))
	pluginPath := filepath.Join(work, "tasmota-csv.conf")
	require.NoError(t, os.WriteFile(pluginPath, []byte(pc), 0o644))

	sample, err := os.ReadFile(filepath.Join(root, "sample.conf"))
	require.NoError(t, err)
	tc := replaceOnce(t, string(sample), `servers = ["tcp://127.0.0.1:1883"]`, fmt.Sprintf("servers = [%q]", brokerURL))
	tc = replaceOnce(t, tc, `"/usr/local/bin/tasmota-csv"`, strconv.Quote(binTasmotaCSV))
	tc = replaceOnce(t, tc, `"/etc/telegraf/tasmota-csv.conf"`, strconv.Quote(pluginPath))
	if edit != nil {
		tc = edit(tc)
	}
	r.conf = tc
	confPath := filepath.Join(work, "telegraf.conf")
	require.NoError(t, os.WriteFile(confPath, []byte(tc), 0o644))

	r.cmd = exec.Command(telegraf, "--config", confPath)
	r.cmd.Stdout, r.cmd.Stderr = &output{}, r.log
	require.NoError(t, r.cmd.Start())
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		if !r.stopped {
			_ = r.cmd.Process.Kill()
			<-r.done
		}
		if t.Failed() {
			t.Logf("telegraf configuration:\n%s\ntelegraf log:\n%s", r.conf, r.log.String())
		}
	})
	return r
}

// pluginPID is the pid tasmota-csv logs when it starts.
func (r *telegrafRun) pluginPID() int {
	r.t.Helper()
	var pid int
	require.True(r.t, waitFor(10*time.Second, func() bool {
		m := pidLine.FindStringSubmatch(r.log.String())
		if m != nil {
			pid, _ = strconv.Atoi(m[1])
		}
		return m != nil
	}), "tasmota-csv did not log its pid")
	return pid
}

// stop stops Telegraf with SIGTERM, as a service manager does, and requires exit 0.
func (r *telegrafRun) stop() {
	r.t.Helper()
	require.NoError(r.t, r.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-r.done:
		r.stopped = true
		require.NoError(r.t, err, "telegraf exit")
	case <-time.After(30 * time.Second):
		r.t.Fatal("telegraf did not stop within 30s of SIGTERM")
	}
}

// publisher publishes over one MQTT connection at QoS 1, in order.
type publisher struct {
	t      *testing.T
	client mqtt.Client
	out    string // tasmota-csv's out_dir, where barriers show
}

func newPublisher(t *testing.T, url, out string) *publisher {
	t.Helper()
	client := mqtt.NewClient(mqtttest.NewClientOptions(url).SetCleanSession(true).SetAutoReconnect(false))
	tok := client.Connect()
	require.True(t, tok.WaitTimeout(10*time.Second), "publisher: connect timed out")
	require.NoError(t, tok.Error())
	t.Cleanup(func() { client.Disconnect(250) })
	return &publisher{t: t, client: client, out: out}
}

func (p *publisher) publish(topic string, payload []byte) {
	p.t.Helper()
	tok := p.client.Publish(topic, 1, false, payload)
	require.True(p.t, tok.WaitTimeout(10*time.Second), "publish to %s timed out", topic)
	require.NoError(p.t, tok.Error())
}

func (p *publisher) sendBarrier(id string) {
	p.t.Helper()
	p.publish("tele/"+barrierDevice+"/SENSOR", []byte(`{"Time":"2026-01-14T00:00:00","z":{"TS":"`+id+`"}}`))
}

func (p *publisher) barrierSeen(id string) bool {
	files, _ := filepath.Glob(filepath.Join(p.out, barrierDevice, "ts_summary_*.csv"))
	for _, f := range files {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(","+id+",")) {
			return true
		}
	}
	return false
}

// barrier publishes a summary of the barrier device and waits for its row: every message
// published before it has then been through Telegraf and tasmota-csv.
func (p *publisher) barrier(id string) {
	p.t.Helper()
	p.sendBarrier(id)
	require.True(p.t, waitFor(20*time.Second, func() bool { return p.barrierSeen(id) }), "barrier %s did not make it through Telegraf", id)
}

// ready waits until Telegraf's subscription is in place: a barrier makes it through.
// (Messages published before it would be lost: the session is new.)
func (p *publisher) ready() {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for n := 0; ; n++ {
		id := fmt.Sprintf("ready-%d", n)
		p.sendBarrier(id)
		if waitFor(250*time.Millisecond, func() bool { return p.barrierSeen(id) }) {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("no message made it through Telegraf within 30s")
		}
	}
}

// checkAgainstReplayBinary checks that the reference is what `mqtttocsv replay` writes.
func checkAgainstReplayBinary(t *testing.T, want csvtest.Tree) {
	t.Helper()
	if binMqtttocsv == "" {
		if mqtttest.InCI() {
			t.Fatalf("%v", mqtttocsvErr)
		}
		t.Logf("not compared with mqtttocsv replay: %v", mqtttocsvErr)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(binMqtttocsv, "replay", "--out-dir", dir, csvtest.CapturePath(t))
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "mqtttocsv replay: %s", b)
	if d := csvtest.Diff(want, csvtest.ReadTree(t, dir)); d != "" {
		t.Fatalf("mqtttocsv replay writes other files than the core run as a replay:\n%s", d)
	}
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTelegrafRestartsPlugin: tasmota-csv stops in the middle of the stream (as when it is
// killed with SIGTERM or Telegraf is reloaded) and Telegraf starts it again. The files go
// on: one header each, every summary row of the capture there exactly once, and every
// message counted once in the per-second rows.
func TestTelegrafRestartsPlugin(t *testing.T) {
	telegraf := telegrafBinary(t)
	broker := mqtttest.StartMosquitto(t, "")
	capture := csvtest.LoadCapture(t, csvtest.CapturePath(t))
	ref := csvtest.Replay(t, config.Default(), capture.Messages, len(capture.NotMessages), t.TempDir())
	final := ref.Snapshots[len(ref.Snapshots)-1].WithoutStartTime()

	tg := startTelegraf(t, telegraf, broker.URL, func(conf string) string {
		return replaceOnce(t, conf, `# restart_delay = "10s"`, `restart_delay = "1s"`)
	})
	pub := newPublisher(t, broker.URL, tg.out)
	pub.ready()
	pid := tg.pluginPID()

	half := len(ref.Segments) / 2
	for k, seg := range ref.Segments {
		if k == half {
			require.NoError(t, syscall.Kill(pid, syscall.SIGTERM))
			require.True(t, waitFor(20*time.Second, func() bool {
				return len(pidLine.FindAllString(tg.log.String(), -1)) >= 2
			}), "Telegraf did not start tasmota-csv again")
			pub.ready()
		}
		for _, m := range seg {
			pub.publish(m.Topic, m.Payload)
		}
		pub.barrier(fmt.Sprintf("segment-%d", k))
	}
	tg.stop()

	got := csvtest.ReadTree(t, tg.out)
	for name := range got {
		if strings.HasPrefix(name, barrierDevice+"/") {
			delete(got, name)
		}
	}
	got = got.WithoutStartTime()
	require.Equal(t, len(final), len(got), "files: %v", csvtest.Diff(final, got))
	for name, body := range got {
		require.Equal(t, 1, csvtest.CountHeaders(body), "%s has %d headers", name, csvtest.CountHeaders(body))
		if strings.Contains(name, "ts_summary_") {
			require.Equal(t, string(final[name]), string(body), "%s: summary rows lost or doubled across the restart", name)
			continue
		}
		require.Equal(t, countSum(t, final[name]), countSum(t, body), "%s: messages counted in the per-second rows", name)
	}
}

// countSum adds up the count column of an energie file.
func countSum(t *testing.T, b []byte) int {
	t.Helper()
	sum := 0
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if i == 0 {
			continue
		}
		n, err := strconv.Atoi(line[strings.LastIndexByte(line, ',')+1:])
		require.NoError(t, err, "count of %q", line)
		sum += n
	}
	return sum
}
