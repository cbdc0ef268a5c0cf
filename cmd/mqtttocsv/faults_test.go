package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
)

// synth makes n seconds of traffic of one device from 2026-01-14T10:00:00+from: three
// single-attribute messages per second and a summary every 10 s and at the last second,
// so that a test knows all of it arrived once that summary is on disk (waitAll).
func synth(device string, from, n int) []message {
	var msgs []message
	topic := "tele/" + device + "/SENSOR"
	for s := from; s < from+n; s++ {
		t := time.Date(2026, 1, 14, 10, 0, 0, 0, time.UTC).Add(time.Duration(s) * time.Second)
		ts := t.Format("2006-01-02T15:04:05")
		summary := message{topic, []byte(fmt.Sprintf(
			`{"Time":"%s","z":{"TS":"%sW","NS":353234363435,"Pi":0.%d,"Po":0,"E1":%d.125,"U1":231.5}}`,
			ts, t.Format("060102150405"), s%10, 15000+s))}
		last := s == from+n-1
		if s%10 == 0 && !last {
			msgs = append(msgs, summary)
		}
		for _, v := range []string{`"Pi":0.1`, `"Pi":0.2`, fmt.Sprintf(`"U1":23%d.%d`, s%10, s%7)} {
			msgs = append(msgs, message{topic, []byte(`{"Time":"` + ts + `","z":{` + v + `}}`)})
		}
		if last {
			msgs = append(msgs, summary)
		}
	}
	return msgs
}

// publishAll publishes at QoS 1 over one connection and waits for every acknowledgement.
// waitAll waits until the last summary of msgs (synth puts one at the end) is on disk:
// then every message before it was handled, since they arrive in order.
func waitAll(t *testing.T, out string, msgs []message) {
	t.Helper()
	var last string
	for _, m := range msgs {
		if i := strings.Index(string(m.payload), `"TS":"`); i >= 0 {
			last = string(m.payload[i+6 : i+6+13])
		}
	}
	waitFile(t, out, "dev1/ts_summary_20260114_0000.csv", last)
}

func publishAll(t *testing.T, url string, msgs []message) {
	t.Helper()
	c := mqtt.NewClient(mqtttest.NewClientOptions(url))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher cannot connect to %s: %v", url, tok.Error())
	}
	defer c.Disconnect(250)
	for _, m := range msgs {
		if tok := c.Publish(m.topic, 1, false, m.payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
}

// writeCapture writes messages as a mosquitto_sub -v capture for replay.
func writeCapture(t *testing.T, msgs []message) string {
	t.Helper()
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString(m.topic + " " + string(m.payload) + "\n")
	}
	p := filepath.Join(t.TempDir(), "capture.txt")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// replayRows is the replay of msgs, by file name without {time}.
func replayRows(t *testing.T, msgs []message) map[string]string {
	t.Helper()
	out := t.TempDir()
	replayBin(t, out, writeCapture(t, msgs))
	return byDay(readTree(t, out))
}

// checkWholeRows fails when a file has more than one header or a row with the wrong
// number of cells.
func checkWholeRows(t *testing.T, files map[string]string) {
	t.Helper()
	for name, body := range files {
		lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
		if !strings.HasSuffix(body, "\n") {
			t.Errorf("%s does not end with a whole row", name)
		}
		cells := strings.Count(lines[0], ",")
		for i, l := range lines {
			if strings.HasPrefix(l, "Time,") != (i == 0) {
				t.Errorf("%s line %d: header where a row is expected, or no header: %q", name, i+1, l)
			}
			if strings.Count(l, ",") != cells {
				t.Errorf("%s line %d has %d cells, want %d: %q", name, i+1, strings.Count(l, ",")+1, cells+1, l)
			}
		}
	}
}

// TestSIGKILL: every summary row received before a kill is on disk, no row is cut, and the
// restart continues the same files under one header.
func TestSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	m := mqtttest.StartMosquitto(t, "")
	out := t.TempDir()
	args := []string{"--broker", m.URL, "--out-dir", out, "--client-id", "e2e-kill", "--flush-interval", "1h"}
	p := start(t, args...)
	p.waitLog(t, "subscribed to")
	first := synth("dev1", 0, 30)
	publishAll(t, m.URL, first)
	waitAll(t, out, first)
	p.cmd.Process.Kill()
	p.cmd.Wait()

	files := readTree(t, out)
	ts := files["dev1/ts_summary_20260114_0000.csv"]
	for _, want := range []string{"260114100000W", "260114100010W", "260114100020W"} {
		if !strings.Contains(ts, want) {
			t.Errorf("summary row %s lost by SIGKILL", want)
		}
	}
	checkWholeRows(t, files)

	p2 := start(t, args...)
	p2.waitLog(t, "subscribed to")
	second := synth("dev1", 30, 20)
	publishAll(t, m.URL, second)
	waitAll(t, out, second)
	if code := p2.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	files = readTree(t, out)
	checkWholeRows(t, files)
	ts = files["dev1/ts_summary_20260114_0000.csv"]
	want := replayRows(t, append(first, second...))["dev1/ts_summary_20260114.csv"]
	if ts != want {
		t.Errorf("after the restart the summary file is\n%s\nwant\n%s", ts, want)
	}
	// The energie rows of the killed run's last interval may be lost (at most one
	// flush_interval); the restart's rows are all there.
	en := files["dev1/energie_20260114_0000.csv"]
	if !strings.Contains(en, "2026-01-14T10:00:49,0.3,") || strings.Count(en, "Time,") != 1 {
		t.Errorf("energie file after restart:\n%s", en)
	}
}

// TestBrokerRestart: mosquitto with persistence is stopped and started on the same port in
// the middle of the stream; mqtttocsv reconnects by itself and writes every QoS 1 message.
func TestBrokerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	m := mqtttest.StartMosquitto(t, "")
	out := t.TempDir()
	p := start(t, "--broker", m.URL, "--out-dir", out, "--client-id", "e2e-restart", "--flush-interval", "1s")
	p.waitLog(t, "subscribed to")
	before, after := synth("dev1", 0, 20), synth("dev1", 20, 20)
	publishAll(t, m.URL, before)
	waitAll(t, out, before)
	m.Stop()
	p.waitLog(t, "disconnected from")
	m.Start()
	publishAll(t, m.URL, after)
	p.waitLog(t, "reconnected to")
	waitAll(t, out, after)
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	compareTrees(t, replayRows(t, append(before, after...)), byDay(readTree(t, out)))
}

// TestQueuedWhileDown: messages published at QoS 1 while mqtttocsv is stopped are queued
// by the broker for its persistent session and written after the restart.
func TestQueuedWhileDown(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	m := mqtttest.StartMosquitto(t, "")
	out := t.TempDir()
	args := []string{"--broker", m.URL, "--out-dir", out, "--client-id", "e2e-queue", "--flush-interval", "1s"}
	p := start(t, args...)
	p.waitLog(t, "subscribed to")
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	msgs := synth("dev1", 0, 30)
	publishAll(t, m.URL, msgs) // nobody is connected: the broker queues them
	p2 := start(t, args...)
	waitAll(t, out, msgs)
	p2.waitLog(t, "subscribed to")
	time.Sleep(300 * time.Millisecond)
	if code := p2.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	compareTrees(t, replayRows(t, msgs), byDay(readTree(t, out)))
}

// TestPasswordNeverShown: the broker password appears nowhere: not in --help, not in the
// verbose log of a good run, not in the error of a refused one.
func TestPasswordNeverShown(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	const secret = "s3cr3t-Pa55w0rd"
	pw := mqtttest.RequireTool(t, "mosquitto_passwd")
	dir := t.TempDir()
	pwfile := filepath.Join(dir, "passwd")
	if b, err := exec.Command(pw, "-b", "-c", pwfile, "meter", secret).CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v %s", err, b)
	}
	m := mqtttest.StartMosquitto(t, "allow_anonymous false\npassword_file "+pwfile+"\n")

	help, _ := exec.Command(binary, "--help").CombinedOutput()
	out := t.TempDir()
	p := start(t, "--broker", m.URL, "--user", "meter", "--password", secret, "-v", "--out-dir", out, "--client-id", "e2e-pw")
	p.waitLog(t, "subscribed to")
	opts := mqtttest.NewClientOptions(m.URL)
	opts.SetUsername("meter").SetPassword(secret)
	pwMsgs := synth("dev1", 0, 3)
	for _, msg := range pwMsgs {
		mqtttest.PublishWith(t, opts, msg.topic, 1, msg.payload)
	}
	waitAll(t, out, pwMsgs)
	p.stop(t, syscall.SIGTERM)

	wrong := exec.Command(binary, "--broker", m.URL, "--user", "meter", "-v", "--out-dir", t.TempDir())
	wrong.Env = append(os.Environ(), "MQTT_PASSWORD="+secret+"-wrong")
	wrongOut, _ := wrong.CombinedOutput()
	if wrong.ProcessState.ExitCode() != 1 || !strings.Contains(string(wrongOut), "not authorized") {
		t.Errorf("a refused password should exit 1 saying so, got %d:\n%s", wrong.ProcessState.ExitCode(), wrongOut)
	}
	for what, text := range map[string]string{"--help": string(help), "verbose log": p.Log(), "refused run": string(wrongOut)} {
		if strings.Contains(text, secret) {
			t.Errorf("the password appears in the %s:\n%s", what, text)
		}
	}
}

// TestDiskFullTmpfs: a real full file system. Writes fail, the error is logged once, rows
// wait in memory, and once space is back every row is written.
func TestDiskFullTmpfs(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	mnt := t.TempDir()
	if b, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt).CombinedOutput(); err != nil {
		if mqtttest.InCI() && os.Geteuid() == 0 {
			t.Fatalf("mount tmpfs: %v %s", err, b)
		}
		t.Skipf("cannot mount a tmpfs here (%v %s): the injected disk-full tests of internal/engine cover the logic", err, b)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	m := mqtttest.StartMosquitto(t, "")
	out := filepath.Join(mnt, "out")
	p := start(t, "--broker", m.URL, "--out-dir", out, "--client-id", "e2e-full", "--flush-interval", "1s")
	p.waitLog(t, "subscribed to")
	// Fill the file system to the last byte.
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	for {
		if _, err := f.Write(chunk[:1]); err != nil {
			break
		}
	}
	f.Close()
	msgs := synth("dev1", 0, 40)
	publishAll(t, m.URL, msgs)
	p.waitLog(t, "cannot write")
	time.Sleep(2500 * time.Millisecond) // two more flushes fail: still one log line
	if n := strings.Count(p.Log(), "cannot write"); n != 1 {
		t.Errorf("the write error was logged %d times, want once per episode", n)
	}
	os.Remove(filler)
	p.waitLog(t, "writing again")
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	compareTrees(t, replayRows(t, msgs), byDay(readTree(t, out)))
}
