package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/stretchr/testify/require"

	"github.com/mqtttocsv/mqtttocsv/internal/mqttclient"
	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
)

const wait = 5 * time.Second

func start(t *testing.T, o Options) *Broker {
	t.Helper()
	b, err := Start(o)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

// subscriber connects a paho client with a persistent session and returns
// the channel of payloads it receives on topic.
func subscriber(t *testing.T, opts *paho.ClientOptions, topic string, ch chan string) paho.Client {
	t.Helper()
	// Acknowledge before passing the message on, so that a Disconnect right
	// after the test has seen it cannot overtake the PUBACK (which would make
	// the broker deliver it again in the next session).
	opts.SetCleanSession(false).SetOrderMatters(true).SetAutoReconnect(false).SetAutoAckDisabled(true)
	opts.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
		m.Ack()
		ch <- string(m.Payload())
	})
	c := paho.NewClient(opts)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(wait))
	require.NoError(t, tok.Error())
	st := c.Subscribe(topic, 1, nil)
	require.True(t, st.WaitTimeout(wait))
	require.NoError(t, st.Error())
	return c
}

func expect(t *testing.T, ch <-chan string, want ...string) {
	t.Helper()
	deadline := time.After(wait)
	for i, w := range want {
		select {
		case got := <-ch:
			require.Equal(t, w, got, "message %d", i)
		case <-deadline:
			t.Fatalf("got %d of %d messages; next expected %q", i, len(want), w)
		}
	}
}

// waitGone waits until the broker has finished with the connection of
// client id: mochi 2.7.9 handles a new connection concurrently with the end
// of the previous one, and a takeover racing with it can lose an unread
// PUBACK (a duplicate) or a message published in between. A real restart is
// slow enough; a test has to wait.
func waitGone(t *testing.T, b *Broker, id string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		cl, ok := b.srv.Clients.Get(id)
		if !ok || cl.Closed() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("client %s still connected to the broker", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitQueued waits until n messages are queued for the absent client id.
// mochi 2.7.9 acknowledges a publish before it hands the message to the
// subscribers, and a session takeover at that moment loses it; a test that
// reconnects at once has to wait for the hand-over.
func waitQueued(t *testing.T, b *Broker, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		if cl, ok := b.srv.Clients.Get(id); ok && cl.State.Inflight.Len() >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages not queued for %s", n, id)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func receive(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(wait):
		t.Fatal("no message")
		return ""
	}
}

func connectErr(opts *paho.ClientOptions) error {
	opts.SetAutoReconnect(false).SetConnectTimeout(wait).SetProtocolVersion(4)
	c := paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(wait) {
		return fmt.Errorf("connect timed out")
	}
	if tok.Error() == nil {
		c.Disconnect(0)
	}
	return tok.Error()
}

// requireRefused checks that a CONNECT was refused for its credentials
// (MQTT 3.1.1 return code 4 or 5; mochi answers 5, "not authorized").
func requireRefused(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	require.True(t, errors.Is(err, packets.ErrorRefusedNotAuthorised) || errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword), "%v", err)
}

func TestPublishSubscribeAndPersistentSession(t *testing.T) {
	log := mqtttest.NewLogger(t)
	b := start(t, Options{Addr: "127.0.0.1:0", Logger: log})
	require.True(t, strings.HasPrefix(b.Addr(), "127.0.0.1:"))
	require.NotEqual(t, "127.0.0.1:0", b.Addr())
	require.Equal(t, "tcp://"+b.Addr(), b.URL())

	ch := make(chan string, 100)
	opts := mqtttest.NewClientOptions(b.URL()).SetClientID("sub-1")
	c := subscriber(t, opts, "tele/+/SENSOR", ch)

	var want []string
	var payloads [][]byte
	for i := range 50 {
		p := fmt.Sprintf(`{"z":{"Pi":%d}}`, i)
		want = append(want, p)
		payloads = append(payloads, []byte(p))
	}
	mqtttest.Publish(t, b.URL(), "tele/dev/SENSOR", 1, payloads...)
	expect(t, ch, want...)

	// Persistent session: QoS 1 messages published while the subscriber
	// is away are delivered when it comes back with the same client id.
	c.Disconnect(100)
	waitGone(t, b, "sub-1")
	mqtttest.Publish(t, b.URL(), "tele/dev/SENSOR", 1, []byte("away-1"), []byte("away-2"))
	waitQueued(t, b, "sub-1", 2)
	opts2 := mqtttest.NewClientOptions(b.URL()).SetClientID("sub-1")
	c2 := subscriber(t, opts2, "tele/+/SENSOR", ch)
	defer c2.Disconnect(100)
	// mochi 2.7.9 resends queued messages sorted by their creation second
	// only, so two queued in the same second may come in either order.
	got := []string{receive(t, ch), receive(t, ch)}
	require.ElementsMatch(t, []string{"away-1", "away-2"}, got)

	require.False(t, log.Contains("without authentication"), log.String())
	require.True(t, log.Contains("anonymous clients allowed"), log.String())
}

func TestCredentials(t *testing.T) {
	const user, pass = "tasmota", "br0ker-Secret"
	log := mqtttest.NewLogger(t)
	b := start(t, Options{Addr: "127.0.0.1:0", Username: user, Password: pass, Logger: log})

	// Right credentials: publish and subscribe work.
	ch := make(chan string, 10)
	c := subscriber(t, mqtttest.NewClientOptions(b.URL()).SetUsername(user).SetPassword(pass), "tele/#", ch)
	defer c.Disconnect(100)
	mqtttest.PublishWith(t, mqtttest.NewClientOptions(b.URL()).SetUsername(user).SetPassword(pass), "tele/a/SENSOR", 1, []byte("ok"))
	expect(t, ch, "ok")

	// Anonymous refused.
	err := connectErr(mqtttest.NewClientOptions(b.URL()))
	require.Error(t, err)
	requireRefused(t, err)

	// Wrong password refused, wrong user refused.
	const wrong = "n0t-the-Secret"
	err = connectErr(mqtttest.NewClientOptions(b.URL()).SetUsername(user).SetPassword(wrong))
	require.Error(t, err)
	requireRefused(t, err)
	require.NotContains(t, err.Error(), wrong)
	err = connectErr(mqtttest.NewClientOptions(b.URL()).SetUsername("someone").SetPassword(pass))
	require.Error(t, err)
	requireRefused(t, err)

	lines := log.String()
	require.Contains(t, lines, "refused anonymous client")
	require.Contains(t, lines, `refused user "tasmota"`)
	require.Contains(t, lines, `refused user "someone"`)
	require.NotContains(t, lines, pass)
	require.NotContains(t, lines, wrong)
	require.False(t, log.Contains("without authentication"), "credentials set: no warning")
}

func TestWarnsWhenOpenToTheNetwork(t *testing.T) {
	log := mqtttest.NewLogger(t)
	b := start(t, Options{Addr: ":0", Logger: log})
	require.True(t, strings.HasPrefix(b.URL(), "tcp://127.0.0.1:"), b.URL())
	require.True(t, log.Contains("listening on "+b.Addr()+" without authentication: anyone on the network can publish; set --listen-user/--listen-password"), log.String())

	// The URL works.
	mqtttest.Publish(t, b.URL(), "x", 1, []byte("y"))

	log2 := mqtttest.NewLogger(t)
	start(t, Options{Addr: "localhost:0", Logger: log2})
	require.False(t, log2.Contains("without authentication"), log2.String())
}

func TestOptionErrors(t *testing.T) {
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{}, "--listen needs an address"},
		{Options{Addr: "127.0.0.1:0", Username: "u"}, "--listen-password is not"},
		{Options{Addr: "127.0.0.1:0", Password: "p4ss"}, "--listen-user is not"},
		{Options{Addr: "127.0.0.1:99999"}, "bad port"},
		{Options{Addr: "a b"}, "invalid --listen address"},
	} {
		_, err := Start(c.o)
		require.Error(t, err, "%+v", c.o)
		require.Contains(t, err.Error(), c.want)
		require.NotContains(t, err.Error(), "p4ss")
	}

	// An address in use.
	b := start(t, Options{Addr: "127.0.0.1:0"})
	_, err := Start(Options{Addr: b.Addr()})
	require.Error(t, err)
	require.Contains(t, err.Error(), "cannot listen on "+b.Addr())
}

func TestNormaliseAddr(t *testing.T) {
	for in, want := range map[string]string{
		"localhost":      "localhost:1883",
		"localhost:1884": "localhost:1884",
		":1883":          ":1883",
		"0.0.0.0":        "0.0.0.0:1883",
		"::1":            "[::1]:1883",
		"[::1]":          "[::1]:1883",
		"[::]:0":         "[::]:0",
	} {
		got, err := normaliseAddr(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
}

func TestCloseTwice(t *testing.T) {
	b, err := Start(Options{Addr: "127.0.0.1:0"})
	require.NoError(t, err)
	require.NoError(t, b.Close())
	require.NoError(t, b.Close())
	// The port is free again.
	b2, err := Start(Options{Addr: b.Addr()})
	require.NoError(t, err)
	require.NoError(t, b2.Close())
}

// The way the program uses it: its own subscriber (internal/mqttclient)
// reading from the embedded broker, with credentials.
func TestWithProgramSubscriber(t *testing.T) {
	const user, pass = "meter", "Emb3dded-pw"
	log := mqtttest.NewLogger(t)
	b := start(t, Options{Addr: "127.0.0.1:0", Username: user, Password: pass, Logger: log})

	ch := make(chan string, 10)
	h := func(_ string, p []byte) { ch <- string(p) }
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	o := mqttclient.Options{Broker: b.URL(), Username: user, Password: pass, ClientID: "prog", Logger: log}
	c, err := mqttclient.Connect(ctx, o, h)
	require.NoError(t, err)
	pub := mqtttest.NewClientOptions(b.URL()).SetUsername(user).SetPassword(pass)
	mqtttest.PublishWith(t, pub, "tele/m/SENSOR", 1, []byte("one"))
	expect(t, ch, "one")

	// Persistent session in the embedded broker.
	c.Close()
	waitGone(t, b, "prog")
	mqtttest.PublishWith(t, pub, "tele/m/SENSOR", 1, []byte("two"))
	waitQueued(t, b, "prog", 1)
	c, err = mqttclient.Connect(ctx, o, h)
	require.NoError(t, err)
	defer c.Close()
	expect(t, ch, "two")

	bad := o
	bad.Password = "wr0ng-pw"
	_, err = mqttclient.Connect(ctx, bad, h)
	require.Error(t, err)
	require.Contains(t, err.Error(), "check --user and --password")
	require.NotContains(t, log.String(), pass)
	require.NotContains(t, log.String(), "wr0ng-pw")
}
