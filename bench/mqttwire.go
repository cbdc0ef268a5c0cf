package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/mqtttocsv/mqtttocsv/internal/capture"
)

// publisher is a minimal MQTT 3.1.1 client that only publishes at QoS 1, with a window of
// messages in flight: it keeps the broker busy at a fraction of the CPU paho needs, so the
// consumers measured get the machine. A message counts as published when its PUBACK came.
type publisher struct {
	conn   net.Conn
	bw     *bufio.Writer
	ids    chan uint16 // free packet ids
	window int
	failed chan struct{} // closed when the reader stops
	rerr   atomic.Value  // error of the reader
	acked  atomic.Int64
}

func dialPublisher(addr, clientID string, window int) (*publisher, error) {
	if window < 1 || window > 65535 {
		return nil, fmt.Errorf("publisher window %d out of 1…65535", window)
	}
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	p := &publisher{conn: conn, bw: bufio.NewWriterSize(conn, 64<<10), ids: make(chan uint16, window), window: window, failed: make(chan struct{})}
	// CONNECT: protocol MQTT level 4, clean session, keep alive 0 (no pings needed).
	var vh []byte
	vh = append(vh, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0)
	vh = appendString(vh, clientID)
	pkt := appendRemLen([]byte{0x10}, len(vh))
	pkt = append(pkt, vh...)
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(pkt); err != nil {
		conn.Close()
		return nil, fmt.Errorf("publisher: CONNECT: %w", err)
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	typ, body, err := readPacket(br)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("publisher: no CONNACK: %w", err)
	}
	if typ>>4 != 2 || len(body) != 2 || body[1] != 0 {
		conn.Close()
		return nil, fmt.Errorf("publisher: connection refused (packet %#x %v)", typ, body)
	}
	_ = conn.SetDeadline(time.Time{})
	for i := 1; i <= window; i++ {
		p.ids <- uint16(i)
	}
	go p.reader(br)
	return p, nil
}

// reader returns the packet id of every PUBACK to the free list.
func (p *publisher) reader(br *bufio.Reader) {
	defer close(p.failed)
	for {
		typ, body, err := readPacket(br)
		if err != nil {
			p.rerr.Store(err)
			return
		}
		if typ>>4 == 4 && len(body) == 2 { // PUBACK
			id := uint16(body[0])<<8 | uint16(body[1])
			select {
			case p.ids <- id:
				p.acked.Add(1)
			default: // an acknowledgement we did not wait for: ignore
			}
		}
	}
}

func (p *publisher) readerErr() error {
	if e, ok := p.rerr.Load().(error); ok {
		if errors.Is(e, io.EOF) {
			return errors.New("the broker closed the connection")
		}
		return e
	}
	return errors.New("the connection failed")
}

// publish sends one QoS 1 message; it blocks while window messages are unacknowledged.
// flush sends it at once instead of letting it wait in the buffer for the next ones.
func (p *publisher) publish(topic string, payload []byte, flush bool) error {
	var id uint16
	select {
	case id = <-p.ids:
	default:
		if err := p.bw.Flush(); err != nil {
			return fmt.Errorf("publisher: %w", err)
		}
		select {
		case id = <-p.ids:
		case <-p.failed:
			return fmt.Errorf("publisher: %w", p.readerErr())
		case <-time.After(60 * time.Second):
			return errors.New("publisher: no PUBACK from the broker for 60 s")
		}
	}
	var hdr [16]byte
	h := appendRemLen(append(hdr[:0], 0x32), 2+len(topic)+2+len(payload))
	h = appendString(h, topic)
	h = append(h, byte(id>>8), byte(id))
	p.bw.Write(h)
	if _, err := p.bw.Write(payload); err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	if flush {
		if err := p.bw.Flush(); err != nil {
			return fmt.Errorf("publisher: %w", err)
		}
	}
	return nil
}

// wait sends what is buffered and waits until every message is acknowledged.
func (p *publisher) wait(timeout time.Duration) error {
	if err := p.bw.Flush(); err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for len(p.ids) < p.window {
		select {
		case <-p.failed:
			return fmt.Errorf("publisher: %w", p.readerErr())
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("publisher: %d messages still unacknowledged after %s", p.window-len(p.ids), timeout)
		}
	}
	return nil
}

func (p *publisher) close() {
	_, _ = p.conn.Write([]byte{0xe0, 0}) // DISCONNECT
	p.conn.Close()
}

// publishFile publishes every message of a capture; it returns how many. stop aborts.
func (p *publisher) publishFile(path string, stop <-chan struct{}) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r, err := capture.NewReader(f, 1<<20)
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		topic, payload, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("%s: %w", path, err)
		}
		if err := p.publish(topic, payload, false); err != nil {
			return n, err
		}
		n++
		if n%4096 == 0 {
			select {
			case <-stop:
				return n, errInterrupted
			default:
			}
		}
	}
	return n, p.wait(2 * time.Minute)
}

func appendString(b []byte, s string) []byte {
	b = append(b, byte(len(s)>>8), byte(len(s)))
	return append(b, s...)
}

func appendRemLen(b []byte, n int) []byte {
	for {
		c := byte(n % 128)
		n /= 128
		if n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			return b
		}
	}
}

// readPacket reads one MQTT packet: its first byte and its body.
func readPacket(br *bufio.Reader) (byte, []byte, error) {
	typ, err := br.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mul := 0, 1
	for i := 0; ; i++ {
		c, err := br.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(c&0x7f) * mul
		mul *= 128
		if c&0x80 == 0 {
			break
		}
		if i == 3 {
			return 0, nil, errors.New("malformed remaining length")
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return 0, nil, err
	}
	return typ, body, nil
}
