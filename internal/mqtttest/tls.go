package mqtttest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a certificate authority made for one test, so that TLS is tested against real
// certificates without shipping any.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// File is the PEM file of the CA certificate (for --ca-file and mosquitto's cafile).
	File string
}

var serial atomic.Int64

func newSerial() *big.Int { return big.NewInt(time.Now().UnixNano() + serial.Add(1)) }

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// NewCA makes a CA named name, its certificate written in dir.
func NewCA(t testing.TB, dir, name string) *CA {
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
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+"-ca.pem")
	writePEM(t, path, "CERTIFICATE", der)
	return &CA{cert: cert, key: key, File: path}
}

// Issue writes a leaf certificate and key signed by the CA and returns their paths.
// Server certificates name 127.0.0.1 only.
func (ca *CA) Issue(t testing.TB, dir, name string, server bool) (certFile, keyFile string) {
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
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, name+".pem")
	keyFile = filepath.Join(dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	return certFile, keyFile
}

// TLSMosquitto is a mosquitto with its plain listener (for a test's publisher) and a TLS
// listener at TLSURL, its server certificate signed by CA.
type TLSMosquitto struct {
	*Mosquitto
	TLSURL string
	CA     *CA
	Dir    string
}

// StartTLSMosquitto starts it; requireClientCert makes mosquitto ask for a client
// certificate signed by CA. extra is added to the TLS listener's configuration.
func StartTLSMosquitto(t testing.TB, requireClientCert bool, extra string) *TLSMosquitto {
	t.Helper()
	dir := t.TempDir()
	ca := NewCA(t, dir, "test")
	cert, key := ca.Issue(t, dir, "server", true)
	port := FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n", port, ca.File, cert, key)
	if requireClientCert {
		conf += "require_certificate true\n"
	}
	conf += extra
	m := StartMosquitto(t, conf)
	return &TLSMosquitto{Mosquitto: m, TLSURL: fmt.Sprintf("ssl://127.0.0.1:%d", port), CA: ca, Dir: dir}
}
