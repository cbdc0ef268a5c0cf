// Package broker runs an embedded MQTT broker (mochi-mqtt) for setups that
// have none: the Tasmota device publishes to mqtttocsv --listen ADDR, and
// the program's own subscriber reads from it like from any other broker, so
// there is a single code path for messages.
//
// The broker keeps sessions in memory: QoS 1 and persistent sessions work as
// long as the process runs, which is all the in-process subscriber needs.
// Limits of mochi 2.7.9, which only matter when the subscriber reconnects
// while the process runs (its connection is on loopback, so rarely): queued
// messages are resent sorted by their arrival second only, so two from the
// same second may swap; and a message arriving at the very moment the
// subscriber's session is taken over by its new connection can be lost, or
// one whose acknowledgement was still unread can come twice. Live delivery
// keeps the order.
// Retained messages are accepted (Tasmota publishes its LWT retained) but
// nothing relies on them.
//
// Without credentials anyone who can reach the port may publish, so a
// warning is logged when the address is not loopback-only.
package broker

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// DefaultPort is used when Options.Addr names a host without a port.
const DefaultPort = 1883

// Logger receives the broker's log lines; same shape as the program's
// logger (and as internal/mqttclient.Logger).
type Logger interface {
	Debugf(format string, args ...any)
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
	Errorf(format string, args ...any)
}

type nopLogger struct{}

func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Errorf(string, ...any) {}

// Options configure the embedded broker.
type Options struct {
	// Addr is the TCP address to listen on, host:port: "localhost:1883"
	// for this machine only, ":1883" for every interface, port 0 for any
	// free port. A host without a port gets 1883.
	Addr string
	// Username and Password, when set, are the only credentials accepted;
	// anonymous clients are refused. Both or neither.
	Username, Password string
	// Logger receives the broker's messages; nil discards them.
	Logger Logger
}

// Broker is a running embedded broker.
type Broker struct {
	srv       *mqtt.Server
	addr      string
	log       Logger
	closeOnce sync.Once
}

// Start listens on o.Addr and serves MQTT until Close.
func Start(o Options) (*Broker, error) {
	log := o.Logger
	if log == nil {
		log = nopLogger{}
	}
	addr, err := normaliseAddr(o.Addr)
	if err != nil {
		return nil, err
	}
	switch {
	case o.Username == "" && o.Password != "":
		return nil, errors.New("--listen-password is set but --listen-user is not: set both")
	case o.Username != "" && o.Password == "":
		return nil, errors.New("--listen-user is set but --listen-password is not: set both")
	}

	srv := mqtt.New(&mqtt.Options{
		// Only its errors matter to the user; the rest (client connects and
		// disconnects, $SYS housekeeping) goes to Debugf.
		Logger: slog.New(&slogBridge{log: log}),
		// Nobody reads $SYS topics; publish them rarely.
		SysTopicResendInterval: 3600,
	})

	var hook mqtt.Hook = &allowAll{}
	if o.Username != "" {
		hook = &passwordAuth{user: []byte(o.Username), pass: []byte(o.Password), log: log}
	}
	if err := srv.AddHook(hook, nil); err != nil {
		return nil, fmt.Errorf("embedded broker: %w", err)
	}

	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr})
	if err := srv.AddListener(tcp); err != nil {
		return nil, fmt.Errorf("embedded broker cannot listen on %s: %w", addr, err)
	}
	if err := srv.Serve(); err != nil {
		_ = srv.Close()
		return nil, fmt.Errorf("embedded broker: %w", err)
	}

	b := &Broker{srv: srv, addr: tcp.Address(), log: log}
	if o.Username == "" && !loopbackOnly(b.addr) {
		log.Warnf("embedded broker listening on %s without authentication: anyone on the network can publish; set --listen-user/--listen-password", b.addr)
	}
	auth := "anonymous clients allowed"
	if o.Username != "" {
		auth = fmt.Sprintf("user %q only", o.Username)
	}
	log.Infof("embedded broker listening on %s (%s)", b.addr, auth)
	return b, nil
}

// normaliseAddr checks a listen address and adds the default port.
func normaliseAddr(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", errors.New("--listen needs an address such as localhost:1883 or :1883")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		// A bare host name or IP address (IPv6 with or without brackets).
		h := strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]")
		if strings.ContainsAny(h, "[]/ ") || (strings.Contains(h, ":") && net.ParseIP(h) == nil) {
			return "", fmt.Errorf("invalid --listen address %q: use host:port, such as localhost:1883 or :1883", addr)
		}
		return net.JoinHostPort(h, strconv.Itoa(DefaultPort)), nil
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("invalid --listen address %q: bad port %q", addr, port)
	}
	return net.JoinHostPort(host, port), nil
}

// loopbackOnly reports whether a listening address can only be reached
// from this machine.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addr returns the address the broker listens on, with the actual port when
// Options.Addr asked for port 0.
func (b *Broker) Addr() string { return b.addr }

// URL returns a tcp:// URL for clients on this machine; an unspecified
// listening host (0.0.0.0, ::) is replaced by 127.0.0.1.
func (b *Broker) URL() string {
	host, port, err := net.SplitHostPort(b.addr)
	if err != nil {
		return "tcp://" + b.addr
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "tcp://" + net.JoinHostPort(host, port)
}

// Close disconnects the clients and stops listening. Sessions, kept in
// memory, are lost. It is safe to call more than once.
func (b *Broker) Close() error {
	var err error
	b.closeOnce.Do(func() {
		err = b.srv.Close()
		b.log.Debugf("embedded broker on %s stopped", b.addr)
	})
	return err
}

// allowAll lets every client connect, publish and subscribe.
type allowAll struct{ mqtt.HookBase }

func (*allowAll) ID() string { return "mqtttocsv-allow-all" }
func (*allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}
func (*allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (*allowAll) OnACLCheck(*mqtt.Client, string, bool) bool              { return true }

// passwordAuth accepts one user name and password, compared in constant
// time; authenticated clients may publish and subscribe anywhere.
type passwordAuth struct {
	mqtt.HookBase
	user, pass []byte
	log        Logger
}

func (*passwordAuth) ID() string { return "mqtttocsv-password" }
func (*passwordAuth) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *passwordAuth) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	userOK := subtle.ConstantTimeCompare(pk.Connect.Username, h.user) == 1
	passOK := subtle.ConstantTimeCompare(pk.Connect.Password, h.pass) == 1
	if userOK && passOK {
		return true
	}
	// The offered password is never logged, right or wrong.
	who := "anonymous client"
	if len(pk.Connect.Username) > 0 {
		who = fmt.Sprintf("user %q", pk.Connect.Username)
	}
	h.log.Warnf("embedded broker refused %s (client id %q) from %s: bad user name or password", who, cl.ID, cl.Net.Remote)
	return false
}

func (*passwordAuth) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

// slogBridge passes mochi's structured log records to Logger: errors as
// errors, everything else as debug lines, since mochi reports ordinary
// client comings and goings as warnings. Attributes holding packets are
// left out: a packet may carry a password or a large payload.
type slogBridge struct {
	log   Logger
	attrs []slog.Attr
	group string
}

func (s *slogBridge) Enabled(context.Context, slog.Level) bool { return true }

func (s *slogBridge) Handle(_ context.Context, r slog.Record) error {
	var buf bytes.Buffer
	buf.WriteString("embedded broker:")
	if r.Message != "" {
		buf.WriteString(" ")
		buf.WriteString(r.Message)
	}
	write := func(a slog.Attr) bool {
		switch a.Key {
		case "pk", "packet", "payload", "password":
			return true
		}
		key := a.Key
		if s.group != "" {
			key = s.group + "." + key
		}
		fmt.Fprintf(&buf, " %s=%v", key, a.Value)
		return true
	}
	for _, a := range s.attrs {
		write(a)
	}
	r.Attrs(write)
	line := buf.String()
	if r.Level >= slog.LevelError {
		s.log.Errorf("%s", line)
	} else {
		s.log.Debugf("%s", line)
	}
	return nil
}

func (s *slogBridge) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *s
	n.attrs = append(append([]slog.Attr(nil), s.attrs...), attrs...)
	return &n
}

func (s *slogBridge) WithGroup(name string) slog.Handler {
	n := *s
	if n.group != "" {
		name = n.group + "." + name
	}
	n.group = name
	return &n
}
