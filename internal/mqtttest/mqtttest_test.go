package mqtttest_test

import (
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/stretchr/testify/require"

	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
)

// subscribe returns a channel of payloads received on topic by a plain paho
// client, so that the helpers are checked against the library they serve.
func subscribe(t *testing.T, url, topic string) <-chan string {
	t.Helper()
	ch := make(chan string, 100)
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("sub-%d", time.Now().UnixNano()))
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	require.True(t, tok.WaitTimeout(5*time.Second))
	require.NoError(t, tok.Error())
	t.Cleanup(func() { c.Disconnect(100) })
	st := c.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) { ch <- string(m.Payload()) })
	require.True(t, st.WaitTimeout(5*time.Second))
	require.NoError(t, st.Error())
	return ch
}

func receive(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
		return ""
	}
}

func TestStartPublishRestart(t *testing.T) {
	m := mqtttest.StartMosquitto(t, "")
	require.Equal(t, fmt.Sprintf("tcp://127.0.0.1:%d", m.Port), m.URL)
	require.True(t, m.Running())

	ch := subscribe(t, m.URL, "a/b")
	mqtttest.Publish(t, m.URL, "a/b", 1, []byte("one"), []byte("two"))
	require.Equal(t, "one", receive(t, ch))
	require.Equal(t, "two", receive(t, ch))

	m.Stop()
	require.False(t, m.Running())
	m.Start()
	require.True(t, m.Running())
	ch2 := subscribe(t, m.URL, "c")
	mqtttest.Publish(t, m.URL, "c", 0, []byte("three"))
	require.Equal(t, "three", receive(t, ch2))
	require.Contains(t, m.Log(), "mosquitto version")
}

func TestFreePort(t *testing.T) {
	p := mqtttest.FreePort(t)
	require.Greater(t, p, 0)
}

func TestLogger(t *testing.T) {
	l := mqtttest.NewLogger(t)
	l.Infof("hello %s", "world")
	l.Errorf("bad %d", 1)
	require.Equal(t, []string{"INFO hello world", "ERROR bad 1"}, l.Lines())
	require.True(t, l.Contains("bad 1"))
	require.False(t, l.Contains("nope"))
}
