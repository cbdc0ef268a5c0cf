package mqttclient

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
)

// wait bounds every wait for a message or a state change.
const wait = 8 * time.Second

type msg struct {
	topic   string
	payload string
}

// collector returns a Handler that forwards messages to a channel.
func collector() (Handler, <-chan msg) {
	ch := make(chan msg, 1000)
	return func(topic string, payload []byte) { ch <- msg{topic, string(payload)} }, ch
}

// expect reads len(want) messages and checks their payloads in order.
func expect(t *testing.T, ch <-chan msg, want ...string) {
	t.Helper()
	deadline := time.After(wait)
	for i, w := range want {
		select {
		case m := <-ch:
			require.Equal(t, w, m.payload, "message %d", i)
		case <-deadline:
			t.Fatalf("got %d of %d messages within %s; next expected %q", i, len(want), wait, w)
		}
	}
}

// expectNone checks that no message arrives for a short while.
func expectNone(t *testing.T, ch <-chan msg) {
	t.Helper()
	select {
	case m := <-ch:
		t.Fatalf("unexpected message %q on %s", m.payload, m.topic)
	case <-time.After(200 * time.Millisecond):
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, wait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func connect(t *testing.T, o Options, h Handler) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := Connect(ctx, o, h)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func payloads(prefix string, n int) ([][]byte, []string) {
	var b [][]byte
	var s []string
	for i := range n {
		p := fmt.Sprintf(`{"Time":"2026-01-14T10:09:%02d","z":{"Pi":%d}}`, i%60, i)
		if prefix != "" {
			p = prefix + "-" + p
		}
		b = append(b, []byte(p))
		s = append(s, p)
	}
	return b, s
}

func TestReceiveInOrderQoS1(t *testing.T) {
	m := mqtttest.StartMosquitto(t, "")
	log := mqtttest.NewLogger(t)
	h, ch := collector()
	c := connect(t, Options{Broker: m.URL, ClientID: "order", Logger: log}, h)
	require.True(t, c.Connected())
	require.Equal(t, m.URL, c.Broker())

	b, s := payloads("", 200)
	mqtttest.Publish(t, m.URL, "tele/meter1/SENSOR", 1, b...)
	expect(t, ch, s...)

	// Only the default filter tele/+/SENSOR is subscribed.
	mqtttest.Publish(t, m.URL, "tele/meter1/STATE", 1, []byte("state"))
	mqtttest.Publish(t, m.URL, "tele/meter1/SENSOR", 1, []byte("last"))
	select {
	case got := <-ch:
		require.Equal(t, msg{"tele/meter1/SENSOR", "last"}, got)
	case <-time.After(wait):
		t.Fatal("no message")
	}
	require.True(t, log.Contains("subscribed to tele/+/SENSOR (QoS 1)"), log.String())
}

func TestBinaryPayloadAndSeveralTopics(t *testing.T) {
	m := mqtttest.StartMosquitto(t, "")
	h, ch := collector()
	connect(t, Options{Broker: m.URL, Topics: []string{"a/#", "b/+"}, ClientID: "multi"}, h)
	mqtttest.Publish(t, m.URL, "a/x/y", 1, []byte{0, 1, 2, 0xff})
	mqtttest.Publish(t, m.URL, "b/z", 0, []byte("bz"))
	expect(t, ch, "\x00\x01\x02\xff", "bz")
}

func TestPersistentSessionQueuesWhileAway(t *testing.T) {
	m := mqtttest.StartMosquitto(t, "")
	h, ch := collector()
	o := Options{Broker: m.URL, ClientID: "persistent-1", Logger: mqtttest.NewLogger(t)}

	c := connect(t, o, h)
	c.Close()
	require.False(t, c.Connected())

	b, s := payloads("away", 20)
	mqtttest.Publish(t, m.URL, "tele/dev/SENSOR", 1, b...)
	expectNone(t, ch)

	connect(t, o, h)
	expect(t, ch, s...)

	// A clean session forgets: messages published while away are lost.
	hc, chc := collector()
	o2 := Options{Broker: m.URL, ClientID: "clean-1", CleanSession: true, Topics: []string{"clean/#"}}
	c2 := connect(t, o2, hc)
	c2.Close()
	mqtttest.Publish(t, m.URL, "clean/x", 1, []byte("lost"))
	connect(t, o2, hc)
	mqtttest.Publish(t, m.URL, "clean/x", 1, []byte("after"))
	expect(t, chc, "after")
	expectNone(t, chc)
	expectNone(t, ch)
}

func TestReconnectsAfterBrokerRestart(t *testing.T) {
	m := mqtttest.StartMosquitto(t, "")
	log := mqtttest.NewLogger(t)
	h, ch := collector()
	c := connect(t, Options{Broker: m.URL, ClientID: "restart", Logger: log, MaxReconnectInterval: time.Second}, h)

	mqtttest.Publish(t, m.URL, "tele/d/SENSOR", 1, []byte("before"))
	expect(t, ch, "before")

	m.Stop()
	eventually(t, "client sees the disconnection", func() bool { return !c.Connected() })
	m.Start()
	// Published before the client is back: the broker restored the
	// persistent session from its database and queues for it.
	mqtttest.Publish(t, m.URL, "tele/d/SENSOR", 1, []byte("queued"))
	eventually(t, "client reconnects by itself", c.Connected)
	mqtttest.Publish(t, m.URL, "tele/d/SENSOR", 1, []byte("after"))
	expect(t, ch, "queued", "after")

	require.True(t, log.Contains("disconnected from "+m.URL+": "), log.String())
	require.True(t, log.Contains("reconnected to "+m.URL), log.String())
}

func TestFirstConnectRetriesUntilBrokerIsUp(t *testing.T) {
	m := mqtttest.StartMosquitto(t, "")
	m.Stop()
	log := mqtttest.NewLogger(t)
	h, ch := collector()

	type result struct {
		c   *Client
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		c, err := Connect(ctx, Options{Broker: m.URL, ClientID: "late", Logger: log, MaxReconnectInterval: time.Second}, h)
		done <- result{c, err}
	}()
	eventually(t, "a failed attempt is logged", func() bool { return log.Contains("(attempt 1); retrying in") })
	m.Start()
	r := <-done
	require.NoError(t, r.err)
	t.Cleanup(r.c.Close)
	mqtttest.Publish(t, m.URL, "tele/x/SENSOR", 1, []byte("hello"))
	expect(t, ch, "hello")
}

func TestFirstConnectGivesUpWhenContextEnds(t *testing.T) {
	port := mqtttest.FreePort(t) // nothing listens there
	log := mqtttest.NewLogger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Connect(ctx, Options{Broker: fmt.Sprintf("127.0.0.1:%d", port), Logger: log}, func(string, []byte) {})
	require.Error(t, err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), "gave up connecting to tcp://127.0.0.1:")
	require.Contains(t, err.Error(), "connection refused")
	require.Less(t, time.Since(start), 3*time.Second)
	require.True(t, log.Contains("retrying in"), log.String())
}

// passwordBroker starts mosquitto with a password file holding user/pass.
func passwordBroker(t *testing.T, user, pass string) *mqtttest.Mosquitto {
	t.Helper()
	tool := mqtttest.RequireTool(t, "mosquitto_passwd")
	file := filepath.Join(t.TempDir(), "passwd")
	out, err := exec.Command(tool, "-b", "-c", file, user, pass).CombinedOutput()
	require.NoError(t, err, "mosquitto_passwd: %s", out)
	return mqtttest.StartMosquitto(t, fmt.Sprintf("password_file %s\nallow_anonymous false\n", file))
}

func TestUserPassword(t *testing.T) {
	const user, pass = "meter", "s3cr3t-Pa55word"
	m := passwordBroker(t, user, pass)
	log := mqtttest.NewLogger(t)
	h, ch := collector()

	c := connect(t, Options{Broker: m.URL, Username: user, Password: pass, ClientID: "auth-ok", Logger: log}, h)
	pub := mqtttest.NewClientOptions(m.URL).SetUsername(user).SetPassword(pass)
	mqtttest.PublishWith(t, pub, "tele/a/SENSOR", 1, []byte("authed"))
	expect(t, ch, "authed")
	c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	const wrong = "Wr0ng-Pa55word"
	start := time.Now()
	_, err := Connect(ctx, Options{Broker: m.URL, Username: user, Password: wrong, ClientID: "auth-bad", Logger: log}, h)
	require.Error(t, err)
	require.Less(t, time.Since(start), 3*time.Second, "a refused password must not be retried")
	require.Contains(t, err.Error(), "refused the connection for user \"meter\"")
	require.Contains(t, err.Error(), "check --user and --password")
	require.NotContains(t, err.Error(), wrong)

	_, err = Connect(ctx, Options{Broker: m.URL, ClientID: "anon", Logger: log}, h)
	require.Error(t, err)
	require.Contains(t, err.Error(), "does not accept anonymous clients")

	// Credentials in the URL are used, and never shown.
	c3 := connect(t, Options{Broker: fmt.Sprintf("tcp://%s:%s@127.0.0.1:%d", user, pass, m.Port), ClientID: "auth-url", Logger: log}, h)
	require.Equal(t, m.URL, c3.Broker())
	c3.Close()
	_, err = Connect(ctx, Options{Broker: fmt.Sprintf("tcp://%s:%s@127.0.0.1:%d", user, wrong, m.Port), ClientID: "auth-url-bad", Logger: log}, h)
	require.Error(t, err)
	require.NotContains(t, err.Error(), wrong)

	all := log.String()
	require.NotEmpty(t, all)
	require.NotContains(t, all, pass)
	require.NotContains(t, all, wrong)
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))

	t.Run("defaults", func(t *testing.T) {
		var o Options
		require.NoError(t, o.Validate())
		require.Equal(t, "tcp://localhost:1883", o.Broker)
		require.Equal(t, []string{"tele/+/SENSOR"}, o.Topics)
		require.Equal(t, byte(1), o.QoS)
		require.False(t, o.CleanSession)
		require.Equal(t, DefaultClientID(), o.ClientID)
		require.True(t, strings.HasPrefix(o.ClientID, "mqtttocsv-"))
		require.Equal(t, 10*time.Second, o.ConnectTimeout)
		require.NotNil(t, o.Logger)
	})

	brokers := map[string]string{
		"tcp://h":            "tcp://h:1883",
		"mqtt://h":           "tcp://h:1883",
		"h":                  "tcp://h:1883",
		"h:1884":             "tcp://h:1884",
		"ssl://h":            "ssl://h:8883",
		"tls://h":            "ssl://h:8883",
		"mqtts://h:9999":     "ssl://h:9999",
		"ws://h":             "ws://h:80",
		"ws://h:9001/mqtt":   "ws://h:9001/mqtt",
		"wss://h/mqtt":       "wss://h:443/mqtt",
		"tcp://[::1]":        "tcp://[::1]:1883",
		"TCP://h:1/":         "tcp://h:1",
		" tcp://u:p@h:1883 ": "tcp://h:1883",
	}
	for in, want := range brokers {
		o := Options{Broker: in}
		require.NoError(t, o.Validate(), in)
		require.Equal(t, want, o.Broker, in)
	}

	bad := []struct {
		o    Options
		want string
	}{
		{Options{Broker: "http://h"}, `unsupported scheme "http"`},
		{Options{Broker: "tcp://:1883"}, "no host name"},
		{Options{Broker: "tcp://h:99999"}, "bad port"},
		{Options{Broker: "tcp://user:hunter2@h:x"}, "not a URL"},
		{Options{QoS: 3}, "invalid --qos 3"},
		{Options{Topics: []string{"a/#/b"}}, "'#' must be the last level"},
		{Options{Topics: []string{"a/b+"}}, "must stand alone"},
		{Options{Topics: []string{""}}, "empty topic filter"},
		{Options{Password: "hunter2"}, "set --user too"},
		{Options{CAFile: "/x"}, "need a TLS broker URL"},
		{Options{Broker: "ssl://h", CAFile: filepath.Join(dir, "missing.pem")}, "cannot read --ca-file"},
		{Options{Broker: "ssl://h", CAFile: notPEM}, "holds no PEM certificate"},
		{Options{Broker: "ssl://h", CertFile: notPEM}, "--key-file is not"},
		{Options{Broker: "ssl://h", KeyFile: notPEM}, "--cert-file is not"},
		{Options{Broker: "ssl://h", CertFile: notPEM, KeyFile: notPEM}, "cannot load the client certificate"},
		{Options{ConnectTimeout: -1}, "negative"},
		{Options{KeepAlive: time.Millisecond}, "too short"},
	}
	for _, b := range bad {
		err := b.o.Validate()
		require.Error(t, err, "%+v", b.o)
		require.Contains(t, err.Error(), b.want)
		require.NotContains(t, err.Error(), "hunter2")
	}

	var o Options
	require.NoError(t, o.SetQoS(0))
	require.NoError(t, o.Validate())
	require.Equal(t, byte(0), o.QoS)
	require.Error(t, o.SetQoS(3))
	o = Options{Topics: []string{"a", "b", "a"}}
	require.NoError(t, o.Validate())
	require.Equal(t, []string{"a", "b"}, o.Topics)
}

func TestDefaultClientIDIsStableAndSafe(t *testing.T) {
	id := DefaultClientID()
	require.Equal(t, id, DefaultClientID())
	rest := strings.TrimPrefix(id, ClientIDPrefix)
	require.NotEmpty(t, rest)
	for _, r := range rest {
		require.True(t, r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z', "%q", id)
	}
}

// Close lets the message being handled finish and be acknowledged, and
// leaves later ones unhandled and unacknowledged, so that after a restart
// each message is handled exactly once.
func TestCloseBetweenMessages(t *testing.T) {
	m := mqtttest.StartMosquitto(t, "")
	started := make(chan struct{})
	release := make(chan struct{})
	var handled []string
	var mu sync.Mutex
	h := func(_ string, p []byte) {
		mu.Lock()
		handled = append(handled, string(p))
		first := len(handled) == 1
		mu.Unlock()
		if first {
			close(started)
			<-release
		}
	}
	o := Options{Broker: m.URL, ClientID: "close-between", Logger: mqtttest.NewLogger(t)}
	c := connect(t, o, h)
	mqtttest.Publish(t, m.URL, "tele/d/SENSOR", 1, []byte("m1"), []byte("m2"))
	<-started
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	eventually(t, "Close has begun", c.closing.Load)
	close(release)
	select {
	case <-closed:
	case <-time.After(wait):
		t.Fatal("Close did not return")
	}
	mu.Lock()
	require.Equal(t, []string{"m1"}, handled)
	mu.Unlock()

	h2, ch := collector()
	connect(t, o, h2)
	expect(t, ch, "m2")
	expectNone(t, ch)
}

func TestHandlerPanicIsContained(t *testing.T) {
	m := mqtttest.StartMosquitto(t, "")
	log := mqtttest.NewLogger(t)
	ch := make(chan string, 10)
	h := func(_ string, p []byte) {
		if string(p) == "boom" {
			panic("bad input")
		}
		ch <- string(p)
	}
	connect(t, Options{Broker: m.URL, ClientID: "panic", Logger: log}, h)
	mqtttest.Publish(t, m.URL, "tele/d/SENSOR", 1, []byte("boom"), []byte("fine"))
	select {
	case got := <-ch:
		require.Equal(t, "fine", got)
	case <-time.After(wait):
		t.Fatal("no message after the panic")
	}
	require.True(t, log.Contains("handler panicked: bad input"), log.String())
}
