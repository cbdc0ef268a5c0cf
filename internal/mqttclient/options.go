// Package mqttclient is the MQTT subscriber of the standalone mqtttocsv
// binary, built on paho.mqtt.golang.
//
// Its defaults are chosen so that a broker restart or a network cut loses
// nothing the broker kept: QoS 1, a persistent session (clean session off)
// under a client id that stays the same across restarts of the program, and
// automatic reconnection with backoff that subscribes again on every
// connection. Messages are handed to the Handler one at a time in arrival
// order, because the per-second rows depend on that order.
//
// Errors and log lines say what to fix in terms of the command line flags
// (--broker, --ca-file, --user ...), and never contain the password.
package mqttclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Defaults applied by Options.Validate.
const (
	DefaultBroker               = "tcp://localhost:1883"
	DefaultTopic                = "tele/+/SENSOR"
	DefaultQoS                  = 1
	DefaultConnectTimeout       = 10 * time.Second
	DefaultMaxReconnectInterval = 30 * time.Second
	DefaultKeepAlive            = 30 * time.Second
	// ClientIDPrefix starts the default client id, followed by the host name.
	ClientIDPrefix = "mqtttocsv-"
)

// Logger receives the client's log lines. It has the shape of the program's
// logger so that the caller decides where lines go and which levels show.
type Logger interface {
	Debugf(format string, args ...any)
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
	Errorf(format string, args ...any)
}

// nopLogger drops everything; used when Options.Logger is nil.
type nopLogger struct{}

func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Errorf(string, ...any) {}

// Options configure a Client. The zero value is usable: Validate fills in
// the defaults.
type Options struct {
	// Broker is the broker URL: tcp:// (or mqtt://), ssl:// (or tls://,
	// mqtts://), ws:// or wss://. Default tcp://localhost:1883. A URL
	// without a port gets the scheme's usual one (1883, 8883, 80, 443); a
	// bare "host" or "host:port" means tcp://. Credentials written in the
	// URL (tcp://user:pass@host) are moved to Username/Password when those
	// are empty, and removed from the URL so that it can be logged.
	Broker string
	// Topics are the topic filters to subscribe to. Default tele/+/SENSOR.
	Topics []string
	// QoS is the subscription QoS, 0 to 2. Default 1, so that messages the
	// broker queued during a disconnection are delivered afterwards. A zero
	// value means the default; use QoS0 to really ask for QoS 0.
	QoS byte
	// QoS0 requests QoS 0 subscriptions (QoS cannot tell "unset" from 0).
	// SetQoS sets QoS and QoS0 from a flag value.
	QoS0 bool
	// ClientID identifies the session on the broker. Default
	// "mqtttocsv-<short host name>", stable across restarts so that the
	// persistent session (and the messages queued in it) is found again.
	ClientID string
	// CleanSession asks the broker to forget the session on connect and
	// disconnect. Default false: the broker keeps the subscriptions and
	// queues QoS 1/2 messages while the program is away.
	CleanSession bool
	// Username and Password authenticate with the broker. The password is
	// never logged nor put in an error message.
	Username, Password string
	// CAFile is a PEM file of the certificate authorities to trust for the
	// broker's certificate, instead of the system's (like mosquitto_sub
	// --cafile). Without it the system roots are used.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// brokers that require client certificates. Both or neither.
	CertFile, KeyFile string
	// InsecureSkipVerify turns off verification of the broker's certificate.
	// The connection is still encrypted, but anyone in the middle can read it.
	InsecureSkipVerify bool
	// ConnectTimeout bounds each connection attempt (dial, TLS and MQTT
	// handshakes). Default 10 s.
	ConnectTimeout time.Duration
	// MaxReconnectInterval caps the backoff between connection attempts.
	// Default 30 s.
	MaxReconnectInterval time.Duration
	// KeepAlive is the MQTT keep-alive interval, which also decides how fast
	// a silently dead connection is noticed. Default 30 s.
	KeepAlive time.Duration
	// Logger receives the log lines; nil discards them.
	Logger Logger

	// tlsConfig is built by Validate for TLS schemes.
	tlsConfig *tls.Config
	// tlsMaxVersion caps the TLS version; tests use it to get TLS 1.2's
	// deterministic client certificate refusals.
	tlsMaxVersion uint16
}

// SetQoS sets the subscription QoS from a --qos value, including 0, which
// the QoS field alone cannot express (its zero value means "default").
func (o *Options) SetQoS(n int) error {
	if n < 0 || n > 2 {
		return fmt.Errorf("invalid --qos %d: must be 0, 1 or 2", n)
	}
	o.QoS, o.QoS0 = byte(n), n == 0
	return nil
}

// Validate fills in the defaults and checks the options, so that a mistake
// is reported at start-up with what to fix rather than as a connection
// failure later. It normalises Broker (scheme, default port, credentials
// removed), loads the TLS files and returns the first problem found.
func (o *Options) Validate() error {
	if err := o.normaliseBroker(); err != nil {
		return err
	}

	if len(o.Topics) == 0 {
		o.Topics = []string{DefaultTopic}
	}
	seen := make(map[string]bool, len(o.Topics))
	topics := make([]string, 0, len(o.Topics))
	for _, topic := range o.Topics {
		if err := checkTopicFilter(topic); err != nil {
			return fmt.Errorf("invalid --topic %q: %w", topic, err)
		}
		if !seen[topic] { // a repeated filter is harmless: subscribe once
			seen[topic] = true
			topics = append(topics, topic)
		}
	}
	o.Topics = topics

	switch {
	case o.QoS0 && o.QoS != 0:
		return fmt.Errorf("QoS 0 and QoS %d both requested", o.QoS)
	case o.QoS0:
	case o.QoS == 0:
		o.QoS = DefaultQoS
	case o.QoS > 2:
		return fmt.Errorf("invalid --qos %d: must be 0, 1 or 2", o.QoS)
	}

	if o.ClientID == "" {
		o.ClientID = DefaultClientID()
	}
	if len(o.ClientID) > 65535 {
		return errors.New("--client-id is too long (MQTT allows 65535 bytes)")
	}

	if o.Password != "" && o.Username == "" {
		// MQTT 3.1.1 forbids a password without a user name; brokers refuse
		// the connection with an unhelpful "protocol error".
		return errors.New("a password is set but no user name: set --user too")
	}

	switch {
	case o.ConnectTimeout < 0:
		return fmt.Errorf("connect timeout %s is negative", o.ConnectTimeout)
	case o.ConnectTimeout == 0:
		o.ConnectTimeout = DefaultConnectTimeout
	}
	switch {
	case o.MaxReconnectInterval < 0:
		return fmt.Errorf("maximum reconnect interval %s is negative", o.MaxReconnectInterval)
	case o.MaxReconnectInterval == 0:
		o.MaxReconnectInterval = DefaultMaxReconnectInterval
	}
	switch {
	case o.KeepAlive < 0:
		return fmt.Errorf("keep-alive %s is negative", o.KeepAlive)
	case o.KeepAlive == 0:
		o.KeepAlive = DefaultKeepAlive
	case o.KeepAlive < time.Second:
		return fmt.Errorf("keep-alive %s is too short: MQTT counts it in whole seconds", o.KeepAlive)
	}

	if o.Logger == nil {
		o.Logger = nopLogger{}
	}
	return o.buildTLS()
}

// normaliseBroker turns Broker into the scheme://host:port form paho dials,
// and moves credentials out of it.
func (o *Options) normaliseBroker() error {
	raw := strings.TrimSpace(o.Broker)
	if raw == "" {
		raw = DefaultBroker
	}
	if !strings.Contains(raw, "://") {
		raw = "tcp://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the whole input, which may hold a password.
		return errors.New("invalid --broker: not a URL like tcp://host:1883")
	}
	var defPort string
	switch strings.ToLower(u.Scheme) {
	case "tcp", "mqtt":
		u.Scheme, defPort = "tcp", "1883"
	case "ssl", "tls", "mqtts":
		u.Scheme, defPort = "ssl", "8883"
	case "ws":
		u.Scheme, defPort = "ws", "80"
	case "wss":
		u.Scheme, defPort = "wss", "443"
	default:
		return fmt.Errorf("invalid --broker: unsupported scheme %q (use tcp://, ssl://, tls://, ws:// or wss://)", u.Scheme)
	}
	if u.User != nil {
		if o.Username == "" && o.Password == "" {
			o.Username = u.User.Username()
			o.Password, _ = u.User.Password()
		}
		u.User = nil
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("invalid --broker %s: no host name", u.Redacted())
	}
	port := u.Port()
	if port == "" {
		port = defPort
	} else if p, err := parsePort(port); err != nil || p == 0 {
		return fmt.Errorf("invalid --broker %s: bad port %q", u.Redacted(), port)
	}
	u.Host = net.JoinHostPort(host, port)
	if u.Scheme == "tcp" || u.Scheme == "ssl" {
		// Only websockets use a path; anything else is a typo paho ignores.
		u.Path, u.RawPath, u.RawQuery, u.Fragment = "", "", "", ""
	}
	o.Broker = u.String()
	return nil
}

func parsePort(s string) (int, error) {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, errors.New("not a number")
		}
		n = n*10 + int(r-'0')
		if n > 65535 {
			return 0, errors.New("out of range")
		}
	}
	return n, nil
}

// usesTLS reports whether the (normalised) broker URL is a TLS one.
func (o *Options) usesTLS() bool {
	return strings.HasPrefix(o.Broker, "ssl://") || strings.HasPrefix(o.Broker, "wss://")
}

// buildTLS loads the TLS files now, so that an unreadable file is a start-up
// error rather than a failure at every reconnect.
func (o *Options) buildTLS() error {
	o.tlsConfig = nil
	tlsAsked := o.CAFile != "" || o.CertFile != "" || o.KeyFile != "" || o.InsecureSkipVerify
	if !o.usesTLS() {
		if tlsAsked {
			// Silently ignoring them would send the password in clear text
			// to a user who believes the connection is encrypted.
			return fmt.Errorf("--ca-file, --cert-file, --key-file and --insecure need a TLS broker URL (ssl://, tls://, mqtts:// or wss://), but --broker is %s", o.Broker)
		}
		return nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		MaxVersion:         o.tlsMaxVersion,
		InsecureSkipVerify: o.InsecureSkipVerify, //nolint:gosec // opt-in, warned about at connect
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return fmt.Errorf("cannot read --ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--ca-file %s holds no PEM certificate", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case o.CertFile != "" && o.KeyFile == "":
		return errors.New("--cert-file is set but --key-file is not: a client certificate needs its private key")
	case o.KeyFile != "" && o.CertFile == "":
		return errors.New("--key-file is set but --cert-file is not: give the client certificate too")
	case o.CertFile != "":
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return fmt.Errorf("cannot load the client certificate (--cert-file %s, --key-file %s): %w", o.CertFile, o.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	o.tlsConfig = cfg
	return nil
}

// checkTopicFilter applies the MQTT topic filter rules, so that a typo is a
// start-up error rather than a subscription the broker refuses (or accepts
// and never matches).
func checkTopicFilter(f string) error {
	if f == "" {
		return errors.New("empty topic filter")
	}
	if len(f) > 65535 {
		return errors.New("longer than 65535 bytes")
	}
	if strings.ContainsRune(f, 0) {
		return errors.New("contains a NUL character")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case l == "#":
			if i != len(levels)-1 {
				return errors.New("'#' must be the last level")
			}
		case l == "+":
		case strings.ContainsAny(l, "#+"):
			return errors.New("'+' and '#' must stand alone in a level (like tele/+/SENSOR)")
		}
	}
	return nil
}

// DefaultClientID returns "mqtttocsv-" followed by the short host name,
// keeping only letters, digits, '-' and '_'. It is the same at every start
// on the same machine, which is what lets a persistent session be resumed;
// two machines get different ids, so they do not take over each other's
// session.
func DefaultClientID() string {
	host, _ := os.Hostname()
	if i := strings.IndexByte(host, '.'); i >= 0 {
		host = host[:i]
	}
	var b strings.Builder
	for _, r := range host {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			b.WriteRune(r)
		}
	}
	name := b.String()
	if len(name) > 40 {
		name = name[:40]
	}
	if name == "" {
		name = "host"
	}
	return ClientIDPrefix + name
}
