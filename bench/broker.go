package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// mosquitto is a broker started for one part of the benchmark, on a free loopback port,
// without persistence, logging connections and subscriptions (not messages) to a file.
type mosquitto struct {
	p    *proc
	Addr string
	URL  string
	Port int
	log  string
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("looking for a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// brokerInflight is mosquitto's max_inflight_messages (-inflight): QoS 1 messages sent to
// a subscriber and not yet acknowledged; 0 is no limit.
var brokerInflight = 1000

// startMosquitto starts mosquitto with room for maxQueued messages per client.
func startMosquitto(dir string, maxQueued int) (*mosquitto, error) {
	bin, err := findTool("mosquitto", "on Debian: apt-get install mosquitto mosquitto-clients")
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		m := &mosquitto{Port: port, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), log: filepath.Join(dir, "mosquitto.log")}
		m.URL = "tcp://" + m.Addr
		var b strings.Builder
		// Started as root, mosquitto would switch to the user "mosquitto", which cannot
		// write in our temporary folder: name the current user instead.
		if u, err := user.Current(); err == nil && os.Geteuid() == 0 {
			fmt.Fprintf(&b, "user %s\n", u.Username)
		}
		fmt.Fprintf(&b, "listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n", port)
		fmt.Fprintf(&b, "max_queued_messages %d\nmax_inflight_messages %d\n", maxQueued, brokerInflight)
		fmt.Fprintf(&b, "log_dest file %s\n", m.log)
		for _, t := range []string{"error", "warning", "notice", "information", "subscribe"} {
			fmt.Fprintf(&b, "log_type %s\n", t)
		}
		conf := filepath.Join(dir, "mosquitto.conf")
		if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
			return nil, err
		}
		_ = os.Remove(m.log)
		m.p, err = startProc("mosquitto", exec.Command(bin, "-c", conf), nil)
		if err != nil {
			return nil, err
		}
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && !m.p.exited() {
			if c, err := net.DialTimeout("tcp", m.Addr, time.Second); err == nil {
				c.Close()
				return m, nil
			}
			time.Sleep(20 * time.Millisecond)
		}
		logText, _ := os.ReadFile(m.log)
		lastErr = fmt.Errorf("mosquitto did not accept connections on %s within 10 s:\n%s\n    log: %s", m.Addr, m.p.lastLines(10), strings.TrimSpace(string(logText)))
		_ = m.p.stop(2 * time.Second)
	}
	return nil, lastErr
}

// waitSubscribed waits until the broker's log shows the subscription of clientID to the
// SENSOR topics; the child that should make it is checked for an early exit.
func (m *mosquitto) waitSubscribed(clientID string, child *proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	want := ": " + clientID + " "
	for {
		if err := checkInterrupted(); err != nil {
			return err
		}
		b, _ := os.ReadFile(m.log)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, want) && strings.HasSuffix(l, " tele/+/SENSOR") {
				return nil
			}
		}
		if child != nil && child.exited() {
			return fmt.Errorf("%s exited before subscribing (%v):\n%s", child.name, child.err, child.lastLines(15))
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("%s did not subscribe (client id %s) within %s", nameOf(child), clientID, timeout)
			if child != nil {
				msg += ":\n" + child.lastLines(15)
			}
			return fmt.Errorf("%s", msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func nameOf(p *proc) string {
	if p == nil {
		return "the client"
	}
	return p.name
}
