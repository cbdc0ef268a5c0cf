package mqttclient

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/net/proxy"
)

// The connection paho talks through is wrapped (ackConn) to save system calls, which were
// half of the live path's CPU time: paho reads every packet with three reads (the type
// byte, the length byte, the body) and writes every PUBACK on its own.
const (
	// readBufSize is the read buffer: one read from the socket brings every message
	// waiting there (a Tasmota message is under 100 bytes; a summary under 1 KiB).
	readBufSize = 16 << 10
	// ackBatch acknowledgements waiting are written at once. It is below the inflight
	// window of common brokers (mosquitto's default max_inflight_messages is 20), so that
	// a broker that waits for acknowledgements before sending more never waits for
	// ackDelay while a batch builds up. (A broker with a window under ackBatch waits up
	// to ackDelay per window, and only while the stream is busy.)
	ackBatch = 16
	// ackDelay bounds how long an acknowledgement waits to be written with others.
	ackDelay = 2 * time.Millisecond
	// busyRate is the rate (messages handled in the last whole second) from which
	// acknowledgements are gathered even when the handler has caught up.
	busyRate = 1000
	// closeFlushTimeout bounds the write of the last acknowledgements when closing.
	closeFlushTimeout = time.Second
)

// pubackLen is the length of an MQTT 3.1.1 PUBACK: 0x40, remaining length 2, packet id.
const pubackLen = 4

// isPuback reports whether b is exactly one PUBACK packet, which is how paho writes one
// (a single Write of the whole packet).
func isPuback(b []byte) bool {
	return len(b) == pubackLen && b[0] == 0x40 && b[1] == 0x02
}

// ackConn is the network connection as paho sees it. Reads go through a buffer. PUBACK
// packets are queued and written together, in the order they were queued: before any
// other packet (in the same write, so nothing is reordered), once ackBatch of them wait,
// ackDelay after the first of them at the latest, when the connection is closed — and,
// unless the stream is busy, as soon as the handler has caught up with every message
// read from the socket. So at a meter's pace every message is acknowledged as soon as
// it is handled, as without batching (a crash then makes the broker send again only
// the messages being handled), while a busy stream (a backlog delivered after a
// downtime, busyRate messages a second or more) is acknowledged in batches, each
// acknowledgement delayed by at most ackDelay. Acknowledgements go out only after the
// handler has returned (Client.onMessage acknowledges after handling), never early.
type ackConn struct {
	net.Conn
	r *bufio.Reader

	// Counted to know whether messages wait to be handled: PUBLISH packets read from the
	// socket (by paho's reader, through Read) and messages handled (Client.ack).
	received, handled atomic.Int64
	frame             frame // where Read is in the packet stream; paho's reader only

	// The handler's rate (Client.ack's goroutine only): messages handled in the second
	// ending at secEnd, and in the second before.
	secEnd           time.Time
	thisSec, lastSec int

	wmu sync.Mutex // serialises writes to the socket; taken before mu

	mu      sync.Mutex // guards the fields below
	pending []byte     // PUBACK packets not written yet
	spare   []byte     // the other buffer, swapped with pending at each write
	armed   bool       // timer set to flush pending
	err     error      // first write error: the connection is dead
	timer   *time.Timer
	delay   time.Duration // ackDelay; tests change it

	closeOnce sync.Once
}

func newAckConn(c net.Conn) *ackConn { return newAckConnDelay(c, ackDelay) }

func newAckConnDelay(c net.Conn, delay time.Duration) *ackConn {
	a := &ackConn{Conn: c, delay: delay, pending: make([]byte, 0, 4*ackBatch*pubackLen), spare: make([]byte, 0, 4*ackBatch*pubackLen)}
	a.r = bufio.NewReaderSize(socketReader{c}, readBufSize)
	a.timer = time.AfterFunc(time.Hour, a.timerFlush)
	a.timer.Stop()
	return a
}

// socketReader hides the connection's other methods from bufio (WriteTo and the like).
type socketReader struct{ c net.Conn }

func (s socketReader) Read(p []byte) (int, error) { return s.c.Read(p) }

// Read reads through the buffer.
func (a *ackConn) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	a.track(p[:n])
	return n, err
}

// frame follows the MQTT packet stream: a type byte, the remaining length (one to four
// bytes of seven bits, read the way paho reads it) and that many bytes.
type frame struct {
	state  uint8 // 0: the type byte is next, 1: in the length, 2: in the body
	typ    byte
	length int
	shift  uint
	remain int
}

// track counts the PUBLISH packets that the bytes b complete.
func (a *ackConn) track(b []byte) {
	f := &a.frame
	for len(b) > 0 {
		switch f.state {
		case 0:
			f.typ, f.length, f.shift, f.state = b[0]>>4, 0, 0, 1
			b = b[1:]
		case 1:
			c := b[0]
			b = b[1:]
			f.length |= int(c&0x7f) << f.shift
			f.shift += 7
			if c&0x80 == 0 || f.shift >= 28 {
				f.remain, f.state = f.length, 2
				if f.remain == 0 {
					a.packetRead()
				}
			}
		default:
			k := min(len(b), f.remain)
			f.remain -= k
			b = b[k:]
			if f.remain == 0 {
				a.packetRead()
			}
		}
	}
}

func (a *ackConn) packetRead() {
	if a.frame.typ == packetPublish {
		a.received.Add(1)
	}
	a.frame.state = 0
}

// packetPublish is the type of a PUBLISH packet.
const packetPublish = 3

// Write writes p, or, for a PUBACK, queues it.
func (a *ackConn) Write(p []byte) (int, error) {
	if isPuback(p) {
		if err := a.queueAck(uint16(p[2])<<8|uint16(p[3]), false); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	if err := a.flush(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// done records that the handler is done with a message read from this connection,
// and queues its PUBACK when it is a QoS 1 message (id). It is called from one goroutine.
func (a *ackConn) done(qos1 bool, id uint16) error {
	a.handled.Add(1)
	if now := time.Now(); now.After(a.secEnd) {
		if now.Sub(a.secEnd) < time.Second {
			a.lastSec = a.thisSec
		} else {
			a.lastSec = 0
		}
		a.thisSec, a.secEnd = 0, now.Add(time.Second)
	}
	a.thisSec++
	// At a busy rate the next message is about to come: wait for it (or the batch, or
	// the timer) rather than write each acknowledgement as the handler catches up.
	eager := a.lastSec < busyRate
	if !qos1 {
		if eager {
			return a.flushIfCaughtUp()
		}
		return nil
	}
	return a.queueAck(id, eager)
}

// flushIfCaughtUp writes the queued acknowledgements when no message waits.
func (a *ackConn) flushIfCaughtUp() error {
	if a.handled.Load() < a.received.Load() {
		return nil
	}
	a.mu.Lock()
	waiting := len(a.pending) > 0
	a.mu.Unlock()
	if !waiting {
		return nil
	}
	return a.flush(nil)
}

// queueAck queues the PUBACK of packet id and writes the queue when it is full or, with
// caughtUp, when no message waits to be handled.
func (a *ackConn) queueAck(id uint16, caughtUp bool) error {
	a.mu.Lock()
	if a.err != nil {
		err := a.err
		a.mu.Unlock()
		return err
	}
	a.pending = append(a.pending, 0x40, 0x02, byte(id>>8), byte(id))
	now := len(a.pending) >= ackBatch*pubackLen || caughtUp && a.handled.Load() >= a.received.Load()
	if !now && !a.armed {
		a.armed = true
		a.timer.Reset(a.delay)
	}
	a.mu.Unlock()
	if now {
		return a.flush(nil)
	}
	return nil
}

// flush writes the queued acknowledgements followed by p (which may be nil), in one write.
func (a *ackConn) flush(p []byte) error {
	a.wmu.Lock()
	defer a.wmu.Unlock()
	return a.flushLocked(p, false)
}

// flushLocked is flush with wmu held. With last, the connection takes no more writes.
func (a *ackConn) flushLocked(p []byte, last bool) error {
	a.mu.Lock()
	if a.err != nil {
		err := a.err
		a.mu.Unlock()
		return err
	}
	buf := a.pending
	a.pending = a.spare[:0]
	if a.armed {
		a.armed = false
		a.timer.Stop()
	}
	if last {
		a.err = net.ErrClosed
	}
	a.mu.Unlock()

	var err error
	switch {
	case len(buf) == 0 && len(p) == 0:
	case len(buf) == 0:
		_, err = a.Conn.Write(p)
	default:
		if last {
			_ = a.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
		}
		buf = append(buf, p...)
		_, err = a.Conn.Write(buf)
	}

	a.mu.Lock()
	if cap(buf) <= 64<<10 {
		a.spare = buf[:0]
	} else {
		a.spare = make([]byte, 0, 4*ackBatch*pubackLen)
	}
	if err != nil && a.err == nil {
		a.err = err
	}
	a.mu.Unlock()
	return err
}

// timerFlush writes the acknowledgements that waited ackDelay. A failure is kept for the
// next Write, and closes the connection so that paho's reader notices it at once.
func (a *ackConn) timerFlush() {
	a.mu.Lock()
	waiting := len(a.pending) > 0
	a.mu.Unlock()
	if !waiting {
		return
	}
	if err := a.flush(nil); err != nil && !errors.Is(err, net.ErrClosed) {
		_ = a.Conn.Close()
	}
}

// Close writes the acknowledgements still queued, then closes the connection. paho may
// call it more than once, from several goroutines: the first call writes.
func (a *ackConn) Close() error {
	a.closeOnce.Do(a.lastFlush)
	return a.Conn.Close()
}

// lastFlush writes what is queued, unless a write in progress (another packet, stuck
// behind a broker that reads nothing) keeps the socket for closeFlushTimeout: then closing
// the connection ends that write, and the broker sends the unacknowledged messages again
// on the next connection, as it does after any connection loss.
func (a *ackConn) lastFlush() {
	deadline := time.Now().Add(closeFlushTimeout)
	for !a.wmu.TryLock() {
		if time.Now().After(deadline) {
			a.mu.Lock()
			if a.err == nil {
				a.err = net.ErrClosed
			}
			a.mu.Unlock()
			return
		}
		time.Sleep(time.Millisecond)
	}
	defer a.wmu.Unlock()
	_ = a.flushLocked(nil, true)
}

// dial connects to uri as paho's own openConnection does (same schemes, proxies from the
// environment, TLS and websocket options) and wraps the connection in an ackConn.
func dial(uri *url.URL, o mqtt.ClientOptions) (*ackConn, error) {
	dialer := o.Dialer
	if dialer == nil {
		dialer = &net.Dialer{Timeout: o.ConnectTimeout}
	}
	var (
		conn net.Conn
		err  error
	)
	switch uri.Scheme {
	case "tcp", "mqtt":
		conn, err = proxy.FromEnvironmentUsing(dialer).Dial("tcp", uri.Host)
	case "ssl", "tls", "mqtts":
		conn, err = dialTLS(dialer, uri.Host, o.TLSConfig, o.ConnectTimeout)
	case "ws", "wss":
		d := *uri // gorilla refuses a URL with user info
		d.User = nil
		var tlsc *tls.Config
		if uri.Scheme == "wss" {
			tlsc = o.TLSConfig
		}
		conn, err = mqtt.NewWebsocket(d.String(), tlsc, o.ConnectTimeout, o.HTTPHeaders, o.WebsocketOptions)
	default:
		return nil, errors.New("unknown protocol " + uri.Scheme)
	}
	if err != nil {
		return nil, err
	}
	return newAckConn(conn), nil
}

// dialTLS is paho's TLS dial: straight, or through the proxy of all_proxy.
func dialTLS(dialer *net.Dialer, host string, cfg *tls.Config, timeout time.Duration) (net.Conn, error) {
	if os.Getenv("all_proxy") == "" {
		return tls.DialWithDialer(dialer, "tcp", host, cfg)
	}
	raw, err := proxy.FromEnvironment().Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
		h, _, err := net.SplitHostPort(host)
		if err != nil {
			h = host
		}
		cfg = cfg.Clone()
		cfg.ServerName = h
	}
	tc := tls.Client(raw, cfg)
	if timeout > 0 {
		_ = raw.SetDeadline(time.Now().Add(timeout))
	}
	if err := tc.Handshake(); err != nil {
		_ = raw.Close()
		return nil, err
	}
	_ = raw.SetDeadline(time.Time{})
	return tc, nil
}

var _ io.ReadWriteCloser = (*ackConn)(nil)
