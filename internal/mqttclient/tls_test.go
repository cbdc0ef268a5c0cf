package mqttclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM string // path of the CA certificate
}

var serial int64

func newSerial() *big.Int {
	serial++
	return big.NewInt(time.Now().UnixNano() + serial)
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	return k
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}

func newCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	path := filepath.Join(dir, name+"-ca.pem")
	writePEM(t, path, "CERTIFICATE", der)
	return &testCA{cert: cert, key: key, certPEM: path}
}

// issue writes a leaf certificate and key signed by the CA and returns their
// paths. Server certificates name 127.0.0.1 only.
func (ca *testCA) issue(t *testing.T, dir, name string, server bool) (certFile, keyFile string) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	certFile = filepath.Join(dir, name+".pem")
	keyFile = filepath.Join(dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	return certFile, keyFile
}

// tlsSetup is a mosquitto with its plain listener (for the test's publisher)
// and a TLS listener for the client under test.
type tlsSetup struct {
	m      *mqtttest.Mosquitto
	tlsURL string
	ca     *testCA
	dir    string
}

func startTLSBroker(t *testing.T, requireClientCert bool, extra string) *tlsSetup {
	t.Helper()
	dir := t.TempDir()
	ca := newCA(t, dir, "test")
	cert, key := ca.issue(t, dir, "server", true)
	port := mqtttest.FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n", port, ca.certPEM, cert, key)
	if requireClientCert {
		conf += "require_certificate true\n"
	}
	conf += extra
	m := mqtttest.StartMosquitto(t, conf)
	return &tlsSetup{m: m, tlsURL: fmt.Sprintf("ssl://127.0.0.1:%d", port), ca: ca, dir: dir}
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
		c := connect(t, Options{Broker: s.tlsURL, CAFile: s.ca.certPEM, ClientID: "tls-ok"}, h)
		require.Equal(t, s.tlsURL, c.Broker())
		mqtttest.Publish(t, s.m.URL, "tele/t/SENSOR", 1, []byte("secure"))
		expect(t, ch, "secure")
	})

	t.Run("tls scheme alias", func(t *testing.T) {
		h, ch := collector()
		connect(t, Options{Broker: "tls" + s.tlsURL[len("ssl"):], CAFile: s.ca.certPEM, ClientID: "tls-alias"}, h)
		mqtttest.Publish(t, s.m.URL, "tele/t/SENSOR", 1, []byte("alias"))
		expect(t, ch, "alias")
	})

	t.Run("no ca file", func(t *testing.T) {
		err := connectErr(t, Options{Broker: s.tlsURL, ClientID: "tls-noca"})
		require.Equal(t, "TLS handshake with "+s.tlsURL+" failed: certificate signed by unknown authority (check --ca-file)", err.Error())
	})

	t.Run("wrong ca", func(t *testing.T) {
		other := newCA(t, t.TempDir(), "other")
		log := mqtttest.NewLogger(t)
		err := connectErr(t, Options{Broker: s.tlsURL, CAFile: other.certPEM, ClientID: "tls-wrongca", Logger: log})
		require.Equal(t, "TLS handshake with "+s.tlsURL+" failed: certificate signed by unknown authority (check --ca-file)", err.Error())
		require.True(t, log.Contains("certificate signed by unknown authority (check --ca-file)"))
	})

	t.Run("host name mismatch", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(s.tlsURL[len("ssl://"):])
		err := connectErr(t, Options{Broker: "ssl://localhost:" + port, CAFile: s.ca.certPEM, ClientID: "tls-host"})
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
		_, err := Connect(ctx, Options{Broker: "ssl" + s.m.URL[len("tcp"):], CAFile: s.ca.certPEM, ClientID: "tls-on-plain"}, func(string, []byte) {})
		require.Error(t, err)
		require.Contains(t, err.Error(), "for a plain MQTT port use tcp://")
	})
}

func TestTLSClientCertificate(t *testing.T) {
	s := startTLSBroker(t, true, "")
	cert, key := s.ca.issue(t, s.dir, "client", false)

	h, ch := collector()
	connect(t, Options{Broker: s.tlsURL, CAFile: s.ca.certPEM, CertFile: cert, KeyFile: key, ClientID: "tls-client"}, h)
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

	err := connectErr(t, Options{Broker: s.tlsURL, CAFile: s.ca.certPEM, ClientID: "tls-nocert", Logger: log, tlsMaxVersion: tls.VersionTLS12})
	require.Contains(t, err.Error(), "TLS handshake with "+s.tlsURL+" failed: the broker refused it")
	require.Contains(t, err.Error(), "--cert-file")

	// A client certificate from a CA the broker does not trust.
	other := newCA(t, s.dir, "rogue")
	rcert, rkey := other.issue(t, s.dir, "rogue-client", false)
	err = connectErr(t, Options{Broker: s.tlsURL, CAFile: s.ca.certPEM, CertFile: rcert, KeyFile: rkey, ClientID: "tls-rogue", Logger: log, tlsMaxVersion: tls.VersionTLS12})
	require.Contains(t, err.Error(), "the broker refused it")
}
