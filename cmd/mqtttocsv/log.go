package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// logger writes timestamped lines to stderr in Telegraf's style ("E!", "W!", "I!", "D!").
// It satisfies the Logger interfaces of the core, the subscriber and the broker.
type logger struct {
	mu      sync.Mutex
	w       io.Writer
	verbose bool
}

func (l *logger) printf(level, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s %s %s\n", time.Now().Format(time.RFC3339), level, fmt.Sprintf(format, args...))
}

func (l *logger) Errorf(format string, args ...any) { l.printf("E!", format, args...) }
func (l *logger) Warnf(format string, args ...any)  { l.printf("W!", format, args...) }
func (l *logger) Infof(format string, args ...any)  { l.printf("I!", format, args...) }
func (l *logger) Debugf(format string, args ...any) {
	if l.verbose {
		l.printf("D!", format, args...)
	}
}
