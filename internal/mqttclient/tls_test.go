package mqttclient

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
)

// tlsSetup is a mosquitto with its plain listener (for the test's publisher)
// and a TLS listener for the client under test.
type tlsSetup struct {
	m      *mqtttest.Mosquitto
	tlsURL string
	ca     *mqtttest.CA
	dir    string
}

func startTLSBroker(t *testing.T, requireClientCert bool, extra string) *tlsSetup {
	t.Helper()
	s := mqtttest.StartTLSMosquitto(t, requireClientCert, extra)
	return &tlsSetup{m: s.Mosquitto, tlsURL: s.TLSURL, ca: s.CA, dir: s.Dir}
}

func connectErr(t *testing.T, o Options) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	start := time.Now()
	c, err := Connect(ctx, o, func(string, []byte) {})
	if c != nil {
		c.Close()
	}
	require.Error(t, err)
	require.Less(t, time.Since(start), 3*time.Second, "a TLS configuration error must not be retried")
	return err
}

func TestTLS(t *testing.T) {
	s := startTLSBroker(t, false, "")

	t.Run("ca file", func(t *testing.T) {
		h, ch := collector()
		c := connect(t, Options{Broker: s.tlsURL, CAFile: s.ca.File, ClientID: "tls-ok"}, h)
		require.Equal(t, s.tlsURL, c.Broker())
		mqtttest.Publish(t, s.m.URL, "tele/t/SENSOR", 1, []byte("secure"))
		expect(t, ch, "secure")
	})

	t.Run("tls scheme alias", func(t *testing.T) {
		h, ch := collector()
		connect(t, Options{Broker: "tls" + s.tlsURL[len("ssl"):], CAFile: s.ca.File, ClientID: "tls-alias"}, h)
		mqtttest.Publish(t, s.m.URL, "tele/t/SENSOR", 1, []byte("alias"))
		expect(t, ch, "alias")
	})

	t.Run("no ca file", func(t *testing.T) {
		err := connectErr(t, Options{Broker: s.tlsURL, ClientID: "tls-noca"})
		require.Equal(t, "TLS handshake with "+s.tlsURL+" failed: certificate signed by unknown authority (check --ca-file)", err.Error())
	})

	t.Run("wrong ca", func(t *testing.T) {
		other := mqtttest.NewCA(t, t.TempDir(), "other")
		log := mqtttest.NewLogger(t)
		err := connectErr(t, Options{Broker: s.tlsURL, CAFile: other.File, ClientID: "tls-wrongca", Logger: log})
		require.Equal(t, "TLS handshake with "+s.tlsURL+" failed: certificate signed by unknown authority (check --ca-file)", err.Error())
		require.True(t, log.Contains("certificate signed by unknown authority (check --ca-file)"))
	})

	t.Run("host name mismatch", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(s.tlsURL[len("ssl://"):])
		err := connectErr(t, Options{Broker: "ssl://localhost:" + port, CAFile: s.ca.File, ClientID: "tls-host"})
		require.Equal(t, "TLS handshake with ssl://localhost:"+port+" failed: the broker's certificate is valid for 127.0.0.1, not localhost (the host in --broker must be one the certificate names)", err.Error())
		require.Contains(t, err.Error(), "host in --broker")
	})

	t.Run("insecure", func(t *testing.T) {
		h, ch := collector()
		log := mqtttest.NewLogger(t)
		connect(t, Options{Broker: s.tlsURL, InsecureSkipVerify: true, ClientID: "tls-insecure", Logger: log}, h)
		require.True(t, log.Contains("verification is off"))
		mqtttest.Publish(t, s.m.URL, "tele/t/SENSOR", 1, []byte("insecure"))
		expect(t, ch, "insecure")
	})

	// A scheme that does not match the port is retried (a reset looks the
	// same as a broker restarting), with a hint in each failure.
	t.Run("plain client on tls port", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := Connect(ctx, Options{Broker: "tcp" + s.tlsURL[len("ssl"):], ClientID: "plain-on-tls"}, func(string, []byte) {})
		require.Error(t, err)
		require.Contains(t, err.Error(), "for a TLS port use ssl://")
	})

	t.Run("tls client on plain port", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := Connect(ctx, Options{Broker: "ssl" + s.m.URL[len("tcp"):], CAFile: s.ca.File, ClientID: "tls-on-plain"}, func(string, []byte) {})
		require.Error(t, err)
		require.Contains(t, err.Error(), "for a plain MQTT port use tcp://")
	})
}

func TestTLSClientCertificate(t *testing.T) {
	s := startTLSBroker(t, true, "")
	cert, key := s.ca.Issue(t, s.dir, "client", false)

	h, ch := collector()
	connect(t, Options{Broker: s.tlsURL, CAFile: s.ca.File, CertFile: cert, KeyFile: key, ClientID: "tls-client"}, h)
	mqtttest.Publish(t, s.m.URL, "tele/c/SENSOR", 1, []byte("mutual"))
	expect(t, ch, "mutual")
}

// With TLS 1.3 a broker checks the client certificate after the client's
// side of the handshake is done, and its alert may be lost in a connection
// reset (then the attempt is retried). TLS 1.2 checks it within the
// handshake, so the refusal is seen every time: the test uses it.
func TestTLSClientCertificateRefused(t *testing.T) {
	s := startTLSBroker(t, true, "")
	log := mqtttest.NewLogger(t)

	err := connectErr(t, Options{Broker: s.tlsURL, CAFile: s.ca.File, ClientID: "tls-nocert", Logger: log, tlsMaxVersion: tls.VersionTLS12})
	require.Contains(t, err.Error(), "TLS handshake with "+s.tlsURL+" failed: the broker refused it")
	require.Contains(t, err.Error(), "--cert-file")

	// A client certificate from a CA the broker does not trust.
	other := mqtttest.NewCA(t, s.dir, "rogue")
	rcert, rkey := other.Issue(t, s.dir, "rogue-client", false)
	err = connectErr(t, Options{Broker: s.tlsURL, CAFile: s.ca.File, CertFile: rcert, KeyFile: rkey, ClientID: "tls-rogue", Logger: log, tlsMaxVersion: tls.VersionTLS12})
	require.Contains(t, err.Error(), "the broker refused it")
}
