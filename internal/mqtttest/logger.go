package mqtttest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// Logger records log lines, for tests that check what a component logs, or
// that a secret never reaches a log. Its methods match the Logger interfaces
// of internal/mqttclient and internal/broker (Debugf, Infof, Warnf, Errorf),
// so one recorder can be handed to both. Each line is also passed to t.Logf,
// so `go test -v` shows it next to the test's own output.
//
// It is safe for concurrent use: MQTT clients log from their own goroutines.
type Logger struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
}

// NewLogger returns a Logger that also writes to t.Logf while the test runs.
// t may be nil to record only.
func NewLogger(t testing.TB) *Logger {
	l := &Logger{t: t}
	if t != nil {
		// Log calls after the test has returned would panic in t.Logf; the
		// components under test may still log from their goroutines.
		t.Cleanup(func() {
			l.mu.Lock()
			l.t = nil
			l.mu.Unlock()
		})
	}
	return l
}

// Debugf records a line prefixed with "DEBUG ".
func (l *Logger) Debugf(format string, args ...any) { l.add("DEBUG", format, args) }

// Infof records a line prefixed with "INFO ".
func (l *Logger) Infof(format string, args ...any) { l.add("INFO", format, args) }

// Warnf records a line prefixed with "WARN ".
func (l *Logger) Warnf(format string, args ...any) { l.add("WARN", format, args) }

// Errorf records a line prefixed with "ERROR ".
func (l *Logger) Errorf(format string, args ...any) { l.add("ERROR", format, args) }

func (l *Logger) add(level, format string, args []any) {
	line := level + " " + fmt.Sprintf(format, args...)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	if l.t != nil {
		l.t.Logf("%s", line)
	}
}

// Lines returns a copy of the lines recorded so far.
func (l *Logger) Lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// String returns all recorded lines, one per line.
func (l *Logger) String() string {
	return strings.Join(l.Lines(), "\n")
}

// Contains reports whether any recorded line contains s.
func (l *Logger) Contains(s string) bool {
	return strings.Contains(l.String(), s)
}

// Count is the number of lines recorded at a level ("DEBUG", "INFO", "WARN", "ERROR"):
// what tests of "logged once per episode" assert.
func (l *Logger) Count(level string) int {
	n := 0
	for _, s := range l.Lines() {
		if strings.HasPrefix(s, level+" ") {
			n++
		}
	}
	return n
}
