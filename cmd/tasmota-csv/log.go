package main

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/influxdata/telegraf"
)

// stderrLogger writes one line per message, starting with Telegraf's level indicator
// ("E! ", "W! ", "I! ", "D! "): processors.execd reads the plugin's stderr and logs each
// line at that level under its own name, so the lines carry no time stamp of their own.
type stderrLogger struct {
	mu    sync.Mutex
	w     io.Writer
	level telegraf.LogLevel
}

var _ telegraf.Logger = (*stderrLogger)(nil)

func (l *stderrLogger) print(level telegraf.LogLevel, msg string) {
	if !l.level.Includes(level) {
		return
	}
	// One message is one line: a line break inside it would show as a separate error.
	msg = strings.ReplaceAll(strings.TrimRight(msg, "\n"), "\n", " | ")
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s %s\n", level.Indicator(), msg)
}

func (l *stderrLogger) Level() telegraf.LogLevel       { return l.level }
func (*stderrLogger) AddAttribute(string, interface{}) {}
func (l *stderrLogger) Errorf(format string, args ...any) {
	l.print(telegraf.Error, fmt.Sprintf(format, args...))
}
func (l *stderrLogger) Error(args ...any) { l.print(telegraf.Error, fmt.Sprint(args...)) }
func (l *stderrLogger) Warnf(format string, args ...any) {
	l.print(telegraf.Warn, fmt.Sprintf(format, args...))
}
func (l *stderrLogger) Warn(args ...any) { l.print(telegraf.Warn, fmt.Sprint(args...)) }
func (l *stderrLogger) Infof(format string, args ...any) {
	l.print(telegraf.Info, fmt.Sprintf(format, args...))
}
func (l *stderrLogger) Info(args ...any) { l.print(telegraf.Info, fmt.Sprint(args...)) }
func (l *stderrLogger) Debugf(format string, args ...any) {
	l.print(telegraf.Debug, fmt.Sprintf(format, args...))
}
func (l *stderrLogger) Debug(args ...any) { l.print(telegraf.Debug, fmt.Sprint(args...)) }
func (l *stderrLogger) Tracef(format string, args ...any) {
	l.print(telegraf.Trace, fmt.Sprintf(format, args...))
}
func (l *stderrLogger) Trace(args ...any) { l.print(telegraf.Trace, fmt.Sprint(args...)) }
