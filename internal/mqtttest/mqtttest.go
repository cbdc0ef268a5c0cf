// Package mqtttest is test support for code that talks to a real MQTT broker.
//
// The project's promise is about behaviour against real brokers (reconnects,
// persistent sessions, TLS, authentication), which mocks cannot show, so the
// tests start the Debian mosquitto broker on a free loopback port and publish
// with paho, the same client library the program uses.
//
// Every helper takes a testing.TB and fails or skips the test itself, so a
// test reads as a list of steps. When mosquitto (or another tool) is missing,
// the test is skipped on a developer machine but fails when the environment
// variable CI is "true": a CI job must never pass by skipping everything.
package mqtttest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// startTimeout bounds how long a broker may take to accept connections.
// Mosquitto is ready in milliseconds; the margin is for loaded CI machines.
const startTimeout = 10 * time.Second

// publishTimeout bounds each broker round trip of Publish.
const publishTimeout = 5 * time.Second

// InCI reports whether the tests run under CI (environment variable CI=true),
// where a missing tool is an error rather than a reason to skip.
func InCI() bool {
	return os.Getenv("CI") == "true"
}

// RequireTool returns the path of the executable name, looked up in PATH and
// then in the sbin directories (Debian installs mosquitto in /usr/sbin, which
// is not in an ordinary user's PATH). When it is missing, the test is skipped,
// or failed under CI=true.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found in PATH or sbin directories (on Debian: apt-get install mosquitto mosquitto-clients)", name)
	if InCI() {
		t.Fatal(msg + "; CI=true, so this is a failure, not a skip")
	}
	t.Skip(msg)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. It
// listens on port 0 and closes the listener, so another process could in
// principle take the port in between; for tests on loopback this is good
// enough and lets a broker be restarted on a known port. It never returns the same port
// twice in one test binary: the kernel may hand a just-closed port out again, and two
// listeners of one mosquitto would then collide.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("looking for a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if _, taken := givenPorts.LoadOrStore(port, true); !taken {
			return port
		}
	}
	t.Fatal("no free port found in 100 tries")
	return 0
}

var givenPorts sync.Map

// Mosquitto is a mosquitto broker run by a test. It listens on 127.0.0.1:Port
// without TLS, allows anonymous clients unless the extra configuration says
// otherwise, and keeps its persistence database in ConfDir so that Stop then
// Start behaves like a broker restart that keeps sessions and queued messages.
type Mosquitto struct {
	// Addr is "127.0.0.1:PORT", for net.Dial.
	Addr string
	// Port is the port of the plain listener.
	Port int
	// URL is "tcp://127.0.0.1:PORT", for paho or the program's --broker flag.
	URL string
	// ConfDir holds mosquitto.conf, mosquitto.log and the persistence
	// database. Tests may put their own files (certificates, password files)
	// in it or anywhere else they like.
	ConfDir string

	t       testing.TB
	bin     string
	conf    string
	logFile string

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the running process has exited
	output  *bytes.Buffer // stdout and stderr of the running process
	waitErr error
}

// StartMosquitto writes a configuration and starts mosquitto, waiting until it
// accepts connections. extraConf is appended verbatim after the plain
// listener, so it may set global options (password_file, allow_anonymous,
// max_queued_messages ...) or add more listeners (for example a TLS listener
// on another FreePort, with its cafile/certfile/keyfile/require_certificate
// lines after its own "listener" line). "allow_anonymous true" is written only
// when extraConf does not mention allow_anonymous.
//
// The broker is stopped when the test ends; its log is printed if the test
// failed, since a broker's refusal reasons are only in its log.
func StartMosquitto(t testing.TB, extraConf string) *Mosquitto {
	t.Helper()
	bin := RequireTool(t, "mosquitto")
	dir := t.TempDir()
	port := FreePort(t)
	m := &Mosquitto{
		Addr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Port:    port,
		URL:     "tcp://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		ConfDir: dir,
		t:       t,
		bin:     bin,
		conf:    filepath.Join(dir, "mosquitto.conf"),
		logFile: filepath.Join(dir, "mosquitto.log"),
	}

	var b strings.Builder
	// Mosquitto 2 started as root drops privileges to the "mosquitto" user,
	// which could not read the test's private temporary directory. Naming
	// the current user keeps it as is (the option is ignored when not root).
	if u, err := user.Current(); err == nil && os.Geteuid() == 0 {
		fmt.Fprintf(&b, "user %s\n", u.Username)
	}
	fmt.Fprintf(&b, "persistence true\npersistence_location %s/\n", dir)
	fmt.Fprintf(&b, "log_dest file %s\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n", m.logFile)
	if !strings.Contains(extraConf, "allow_anonymous") {
		b.WriteString("allow_anonymous true\n")
	}
	fmt.Fprintf(&b, "listener %d 127.0.0.1\n", port)
	b.WriteString(extraConf)
	b.WriteString("\n")
	if err := os.WriteFile(m.conf, []byte(b.String()), 0o600); err != nil {
		t.Fatalf("writing mosquitto.conf: %v", err)
	}

	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			t.Logf("mosquitto configuration:\n%s\nmosquitto log:\n%s", b.String(), m.Log())
		}
	})
	m.Start()
	return m
}

// Start starts the broker again after Stop, on the same port with the same
// configuration and persistence database, and waits until it accepts
// connections.
func (m *Mosquitto) Start() {
	m.t.Helper()
	m.mu.Lock()
	if m.cmd != nil {
		m.mu.Unlock()
		m.t.Fatal("mosquitto: Start called while the broker is running")
		return
	}
	out := &bytes.Buffer{}
	cmd := exec.Command(m.bin, "-c", m.conf)
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		m.mu.Unlock()
		m.t.Fatalf("starting mosquitto: %v", err)
		return
	}
	done := make(chan struct{})
	m.cmd, m.done, m.output, m.waitErr = cmd, done, out, nil
	go func() {
		err := cmd.Wait()
		m.mu.Lock()
		m.waitErr = err
		m.mu.Unlock()
		close(done)
	}()
	m.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			m.mu.Lock()
			m.cmd = nil
			err := m.waitErr
			m.mu.Unlock()
			m.t.Fatalf("mosquitto exited during start-up (%v): %s\nlog:\n%s", err, out.String(), m.Log())
			return
		default:
		}
		c, err := net.DialTimeout("tcp", m.Addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			m.stop()
			m.t.Fatalf("mosquitto did not accept connections on %s within %s: %v\nlog:\n%s", m.Addr, startTimeout, err, m.Log())
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop stops the broker with SIGTERM, the way a service manager does, so that
// it saves its persistence database, and waits for it to exit. Connected
// clients see their connection drop.
func (m *Mosquitto) Stop() {
	m.t.Helper()
	if !m.stop() {
		m.t.Fatal("mosquitto: Stop called while the broker is not running")
	}
}

// stop stops the running process, if any, and reports whether there was one.
func (m *Mosquitto) stop() bool {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return false
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	return true
}

// Running reports whether the broker process is running.
func (m *Mosquitto) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// Log returns the broker's log file so far (connections, refusals, errors).
func (m *Mosquitto) Log() string {
	b, err := os.ReadFile(m.logFile)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

// Publish connects to the broker at url (tcp:// or ws://, anonymous) with a
// fresh clean-session client, publishes each payload to topic at qos in
// order, waits for each publish to complete (PUBACK/PUBCOMP for QoS 1/2) and
// disconnects. Any failure fails the test.
func Publish(t testing.TB, url, topic string, qos byte, payloads ...[]byte) {
	t.Helper()
	PublishWith(t, NewClientOptions(url), topic, qos, payloads...)
}

// NewClientOptions returns paho options for url with a unique client id,
// for tests that need their own client or add credentials for PublishWith.
func NewClientOptions(url string) *mqtt.ClientOptions {
	return mqtt.NewClientOptions().AddBroker(url).SetClientID(uniqueID())
}

var idCounter atomic.Int64

// uniqueID returns a client id no other client of this test binary uses.
func uniqueID() string {
	return fmt.Sprintf("mqtttest-%d-%d", os.Getpid(), idCounter.Add(1))
}

// PublishWith is Publish with caller-made paho options, for brokers that need
// credentials or TLS. A client id is chosen when opts has none; clean session
// is forced so that the publisher leaves nothing behind on the broker.
func PublishWith(t testing.TB, opts *mqtt.ClientOptions, topic string, qos byte, payloads ...[]byte) {
	t.Helper()
	if opts.ClientID == "" {
		opts.SetClientID(uniqueID())
	}
	opts.SetCleanSession(true)
	opts.SetAutoReconnect(false)
	opts.SetConnectTimeout(publishTimeout)
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(publishTimeout) {
		t.Fatalf("publisher: connect timed out after %s", publishTimeout)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("publisher: connect: %v", err)
	}
	defer c.Disconnect(250)
	for i, p := range payloads {
		pt := c.Publish(topic, qos, false, p)
		if !pt.WaitTimeout(publishTimeout) {
			t.Fatalf("publisher: publish %d to %s timed out after %s", i, topic, publishTimeout)
		}
		if err := pt.Error(); err != nil {
			t.Fatalf("publisher: publish %d to %s: %v", i, topic, err)
		}
	}
}
