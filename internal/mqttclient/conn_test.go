package mqttclient

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	mochipackets "github.com/mochi-mqtt/server/v2/packets"
	"github.com/stretchr/testify/require"

	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
)

// countingConn counts the reads and writes that reach the socket.
type countingConn struct {
	net.Conn
	reads, writes atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.reads.Add(1)
	return c.Conn.Read(p)
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// connPair returns an ackConn over a loopback TCP connection (through a countingConn) and
// the broker's end of it.
func connPair(t *testing.T, delay time.Duration) (*ackConn, *countingConn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	raw, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	peer := <-accepted
	require.NotNil(t, peer)
	cc := &countingConn{Conn: raw}
	a := newAckConnDelay(cc, delay)
	t.Cleanup(func() { a.Close(); peer.Close() })
	return a, cc, peer
}

func puback(id uint16) []byte {
	p := packets.NewControlPacket(packets.Puback).(*packets.PubackPacket)
	p.MessageID = id
	var b bytes.Buffer
	_ = p.Write(&b)
	return b.Bytes()
}

// readN reads exactly n bytes from the broker's end, failing after a few seconds.
func readN(t *testing.T, peer net.Conn, n int) []byte {
	t.Helper()
	require.NoError(t, peer.SetReadDeadline(time.Now().Add(5*time.Second)))
	b := make([]byte, n)
	_, err := io.ReadFull(peer, b)
	require.NoError(t, err)
	return b
}

// expectNothing checks that the broker's end receives nothing for a while.
func expectNothing(t *testing.T, peer net.Conn) {
	t.Helper()
	require.NoError(t, peer.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
	var b [1]byte
	n, err := peer.Read(b[:])
	require.Zero(t, n, "unexpected bytes")
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "%v", err)
}

func TestAckConnGathersAcknowledgements(t *testing.T) {
	a, cc, peer := connPair(t, time.Hour) // only a full batch or another packet writes them

	var want []byte
	for id := uint16(1); id < ackBatch; id++ {
		p := puback(id)
		require.True(t, isPuback(p))
		n, err := a.Write(p)
		require.NoError(t, err)
		require.Equal(t, len(p), n)
		want = append(want, p...)
	}
	expectNothing(t, peer)
	require.Zero(t, cc.writes.Load())

	// The batch is full: one write, in order.
	p := puback(ackBatch)
	_, err := a.Write(p)
	require.NoError(t, err)
	want = append(want, p...)
	require.Equal(t, want, readN(t, peer, len(want)))
	require.EqualValues(t, 1, cc.writes.Load())

	// Any other packet goes out at once, after the acknowledgements before it, in the
	// same write.
	_, err = a.Write(puback(100))
	require.NoError(t, err)
	ping := []byte{0xc0, 0x00}
	_, err = a.Write(ping)
	require.NoError(t, err)
	want = append(puback(100), ping...)
	require.Equal(t, want, readN(t, peer, len(want)))
	require.EqualValues(t, 2, cc.writes.Load())

	// A packet that merely starts like a PUBACK is not one.
	sub := []byte{0x40, 0x03, 0, 1, 0}
	require.False(t, isPuback(sub))

	// Close writes what is left.
	_, err = a.Write(puback(101))
	require.NoError(t, err)
	require.NoError(t, a.Close())
	require.Equal(t, puback(101), readN(t, peer, 4))
	_, err = a.Write(puback(102))
	require.Error(t, err, "a write after Close")
}

func TestAckConnTimer(t *testing.T) {
	a, cc, peer := connPair(t, 20*time.Millisecond)
	start := time.Now()
	_, err := a.Write(puback(7))
	require.NoError(t, err)
	_, err = a.Write(puback(8))
	require.NoError(t, err)
	require.Equal(t, append(puback(7), puback(8)...), readN(t, peer, 8))
	require.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
	require.EqualValues(t, 1, cc.writes.Load())
	// And again: the timer is set anew for the next acknowledgement.
	_, err = a.Write(puback(9))
	require.NoError(t, err)
	require.Equal(t, puback(9), readN(t, peer, 4))
}

func TestAckConnBuffersReads(t *testing.T) {
	a, cc, peer := connPair(t, time.Hour)
	var wire bytes.Buffer
	for i := range 50 {
		p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		p.TopicName, p.Qos, p.MessageID = "tele/d/SENSOR", 1, uint16(i+1)
		p.Payload = []byte(fmt.Sprintf(`{"Time":"2026-01-14T10:09:41","z":{"Pi":%d}}`, i))
		require.NoError(t, p.Write(&wire))
	}
	_, err := peer.Write(wire.Bytes())
	require.NoError(t, err)
	for i := range 50 {
		cp, err := packets.ReadPacket(a)
		require.NoError(t, err)
		p := cp.(*packets.PublishPacket)
		require.Equal(t, uint16(i+1), p.MessageID)
		require.Equal(t, fmt.Sprintf(`{"Time":"2026-01-14T10:09:41","z":{"Pi":%d}}`, i), string(p.Payload))
	}
	// paho reads each packet in three reads; the socket saw a handful at most.
	require.LessOrEqual(t, cc.reads.Load(), int64(5))
}

// failConn fails every write.
type failConn struct{ net.Conn }

func (failConn) Write([]byte) (int, error)        { return 0, errors.New("broken pipe") }
func (failConn) Close() error                     { return nil }
func (failConn) SetWriteDeadline(time.Time) error { return nil }

func TestAckConnWriteError(t *testing.T) {
	a := newAckConnDelay(failConn{}, time.Hour)
	for id := uint16(1); id < ackBatch; id++ {
		_, err := a.Write(puback(id))
		require.NoError(t, err, "queued, not written yet")
	}
	_, err := a.Write(puback(ackBatch))
	require.ErrorContains(t, err, "broken pipe")
	// The connection is dead: every later write says so.
	_, err = a.Write(puback(1))
	require.ErrorContains(t, err, "broken pipe")
	_, err = a.Write([]byte{0xc0, 0x00})
	require.ErrorContains(t, err, "broken pipe")
}

// TestAcknowledgementsReachTheBroker: messages handled are acknowledged, by the batch, by
// the timer and by Close, so that a new connection of the same persistent session gets
// none of them again. Over mosquitto (tcp://) and a websocket broker (ws://).
func TestAcknowledgementsReachTheBroker(t *testing.T) {
	for _, scheme := range []string{"tcp", "ws"} {
		t.Run(scheme, func(t *testing.T) {
			url := mqtttest.StartMosquitto(t, "").URL
			if scheme == "ws" {
				url = startWebsocketBroker(t)
			}
			var got atomic.Int64
			h := func(string, []byte) { got.Add(1) }
			o := Options{Broker: url, ClientID: "acks-" + scheme, Logger: mqtttest.NewLogger(t)}
			c := connect(t, o, h)

			// A few batches and a remainder, then a single message: the timer writes its
			// acknowledgement while the connection stays up.
			b, _ := payloads("", 3*ackBatch+5)
			mqtttest.Publish(t, url, "tele/d/SENSOR", 1, b...)
			eventually(t, "every message handled", func() bool { return got.Load() == int64(len(b)) })
			mqtttest.Publish(t, url, "tele/d/SENSOR", 1, []byte("single"))
			eventually(t, "the single message handled", func() bool { return got.Load() == int64(len(b))+1 })
			time.Sleep(50 * ackDelay)
			c.Close()

			h2, ch := collector()
			connect(t, o, h2)
			mqtttest.Publish(t, url, "tele/d/SENSOR", 1, []byte("after"))
			expect(t, ch, "after")
			expectNone(t, ch)
		})
	}
}

// startWebsocketBroker starts an embedded broker with a websocket listener and returns its
// ws:// URL (the Debian mosquitto of the tests cannot open websocket listeners).
func startWebsocketBroker(t *testing.T) string {
	t.Helper()
	srv := mochi.New(&mochi.Options{InlineClient: false})
	require.NoError(t, srv.AddHook(new(allowAll), nil))
	addr := fmt.Sprintf("127.0.0.1:%d", mqtttest.FreePort(t))
	require.NoError(t, srv.AddListener(listeners.NewWebsocket(listeners.Config{ID: "ws", Address: addr})))
	require.NoError(t, srv.Serve())
	t.Cleanup(func() { _ = srv.Close() })
	url := "ws://" + addr
	eventually(t, "the websocket broker answers", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return url
}

// TestPahoStoreKeepsNoIncomingQoS1 checks the reason for store: with acknowledgements
// written by Client.ack, paho's own store would keep every incoming QoS 1 message.
func TestPahoStoreKeepsNoIncomingQoS1(t *testing.T) {
	s := newStore()
	s.Open()
	defer s.Close()
	p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	p.Qos, p.MessageID = 1, 5
	s.Put("i.5", p)
	require.Empty(t, s.All())
	p2 := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	p2.Qos, p2.MessageID = 2, 6
	s.Put("i.6", p2)
	s.Put("o.7", p)
	require.ElementsMatch(t, []string{"i.6", "o.7"}, s.All())
}

// allowAll lets every client of the websocket broker connect, publish and subscribe.
type allowAll struct{ mochi.HookBase }

func (*allowAll) ID() string { return "allow-all" }
func (*allowAll) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}
func (*allowAll) OnConnectAuthenticate(*mochi.Client, mochipackets.Packet) bool { return true }
func (*allowAll) OnACLCheck(*mochi.Client, string, bool) bool                   { return true }

// TestAckConnWritesWhenCaughtUp: acknowledgements are gathered only while messages read
// from the socket wait to be handled; the last one of a burst is written at once.
func TestAckConnWritesWhenCaughtUp(t *testing.T) {
	a, cc, peer := connPair(t, time.Hour)
	var wire bytes.Buffer
	// A PINGRESP (no body), a PUBLISH with a two-byte length, and two small ones.
	wire.Write([]byte{0xd0, 0x00})
	for i, size := range []int{300, 10, 10} {
		p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		p.TopicName, p.Qos, p.MessageID = "tele/d/SENSOR", 1, uint16(i+1)
		p.Payload = bytes.Repeat([]byte{'x'}, size)
		require.NoError(t, p.Write(&wire))
	}
	_, err := peer.Write(wire.Bytes())
	require.NoError(t, err)
	for range 4 {
		_, err := packets.ReadPacket(a)
		require.NoError(t, err)
	}
	require.EqualValues(t, 3, a.received.Load())

	require.NoError(t, a.done(true, 1))
	require.NoError(t, a.done(true, 2))
	expectNothing(t, peer) // message 3 waits: gathered
	require.NoError(t, a.done(true, 3))
	want := append(append(puback(1), puback(2)...), puback(3)...)
	require.Equal(t, want, readN(t, peer, len(want)))
	require.EqualValues(t, 1, cc.writes.Load())

	// A QoS 0 message handled last writes what QoS 1 messages before it left.
	wire.Reset()
	for i := range 2 {
		p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		p.TopicName, p.Qos, p.MessageID = "tele/d/SENSOR", byte(1-i), uint16(10+i)
		require.NoError(t, p.Write(&wire))
	}
	_, err = peer.Write(wire.Bytes())
	require.NoError(t, err)
	for range 2 {
		_, err := packets.ReadPacket(a)
		require.NoError(t, err)
	}
	require.NoError(t, a.done(true, 10))
	expectNothing(t, peer)
	require.NoError(t, a.done(false, 0))
	require.Equal(t, puback(10), readN(t, peer, 4))
}

// TestAckConnBusy: on a busy stream, acknowledgements are gathered even when the handler
// has caught up, up to a batch or the timer.
func TestAckConnBusy(t *testing.T) {
	a, cc, peer := connPair(t, 30*time.Millisecond)
	a.lastSec, a.secEnd = busyRate, time.Now().Add(time.Hour) // busy for the test
	var wire bytes.Buffer
	for i := range ackBatch + 1 {
		p := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		p.TopicName, p.Qos, p.MessageID = "tele/d/SENSOR", 1, uint16(i+1)
		require.NoError(t, p.Write(&wire))
	}
	_, err := peer.Write(wire.Bytes())
	require.NoError(t, err)
	var want []byte
	for i := range ackBatch + 1 {
		_, err := packets.ReadPacket(a)
		require.NoError(t, err)
		require.NoError(t, a.done(true, uint16(i+1)))
		want = append(want, puback(uint16(i+1))...)
	}
	// The batch went out at once, the last one after the timer.
	require.Equal(t, want, readN(t, peer, len(want)))
	require.EqualValues(t, 2, cc.writes.Load())
}
