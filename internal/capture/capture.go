// Package capture reads captured MQTT messages for replay: JSON lines
// {"topic": T, "payload": P} (P an object or a JSON string) and `mosquitto_sub -v` lines
// ("topic payload"), plain or gzip-compressed.
package capture

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Reader yields the messages of one capture stream.
type Reader struct {
	br      *bufio.Reader
	maxLine int
	line    int
	buf     []byte
	payload []byte
	env     envelope
	last    string
}

type envelope struct {
	Topic   *string         `json:"topic"`
	Payload json.RawMessage `json:"payload"`
}

// LineError is a line that is not a message; the reader goes on with the next line.
type LineError struct {
	Line     int
	TooLarge bool
	Msg      string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// NewReader reads r, gunzipping it when it starts with the gzip magic. maxLine bounds a
// line: a longer one is skipped without being kept in memory and reported as too large.
func NewReader(r io.Reader, maxLine int) (*Reader, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("the input starts like gzip but is not: %w", err)
		}
		br = bufio.NewReaderSize(zr, 256<<10)
	}
	return &Reader{br: br, maxLine: maxLine}, nil
}

// Next returns the next message. The payload is valid until the next call. A *LineError
// reports a line that is skipped; io.EOF ends the stream.
func (r *Reader) Next() (topic string, payload []byte, err error) {
	for {
		line, err := r.readLine()
		if err != nil {
			return "", nil, err
		}
		line = trimEOL(line)
		if len(line) == 0 || isSpace(line[0]) && len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if line[0] == '{' {
			return r.jsonLine(line)
		}
		i := bytes.IndexByte(line, ' ')
		if i <= 0 {
			return "", nil, &LineError{Line: r.line, Msg: "neither a JSON line nor \"topic payload\""}
		}
		return r.topic(line[:i]), line[i+1:], nil
	}
}

func (r *Reader) jsonLine(line []byte) (string, []byte, error) {
	r.env = envelope{}
	if err := json.Unmarshal(line, &r.env); err != nil {
		return "", nil, &LineError{Line: r.line, Msg: "not a JSON line {\"topic\":…,\"payload\":…}: " + err.Error()}
	}
	if r.env.Topic == nil {
		return "", nil, &LineError{Line: r.line, Msg: "the JSON line has no \"topic\""}
	}
	p := bytes.TrimSpace(r.env.Payload)
	if len(p) > 0 && p[0] == '"' {
		var s string
		if err := json.Unmarshal(p, &s); err != nil {
			return "", nil, &LineError{Line: r.line, Msg: "unreadable payload string: " + err.Error()}
		}
		r.payload = append(r.payload[:0], s...)
		return *r.env.Topic, r.payload, nil
	}
	return *r.env.Topic, p, nil
}

// topic returns the topic as a string, reusing the previous one when it is the same: a
// capture is mostly one or a few devices, so this saves an allocation per message.
func (r *Reader) topic(b []byte) string {
	if string(b) != r.last {
		r.last = string(b)
	}
	return r.last
}

// readLine returns one line, or a *LineError for a line over maxLine (skipped unread).
func (r *Reader) readLine() ([]byte, error) {
	r.line++
	line, err := r.br.ReadSlice('\n')
	if err == nil || (err == io.EOF && len(line) > 0) {
		if contentLen(line) > r.maxLine {
			return nil, r.tooLarge()
		}
		return line, nil
	}
	if err == io.EOF {
		return nil, io.EOF
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	r.buf = append(r.buf[:0], line...)
	for {
		line, err = r.br.ReadSlice('\n')
		if len(r.buf)+contentLen(line) > r.maxLine {
			// Skip the rest of the line without keeping it.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.br.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			return nil, r.tooLarge()
		}
		r.buf = append(r.buf, line...)
		switch {
		case err == nil || err == io.EOF:
			return r.buf, nil
		case !errors.Is(err, bufio.ErrBufferFull):
			return nil, err
		}
	}
}

func (r *Reader) tooLarge() error {
	return &LineError{Line: r.line, TooLarge: true, Msg: fmt.Sprintf("line is longer than %d bytes", r.maxLine)}
}

// trimEOL removes every CR and LF at the end of line.
func trimEOL(line []byte) []byte {
	n := len(line)
	for n > 0 && (line[n-1] == '\n' || line[n-1] == '\r') {
		n--
	}
	return line[:n]
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c >= 0x80
}

// contentLen is the length of a line without its newline.
func contentLen(line []byte) int {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		return n - 1
	}
	return len(line)
}
