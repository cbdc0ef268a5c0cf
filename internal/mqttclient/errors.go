package mqttclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// connectError is a connection failure explained in terms of what to fix.
// Permanent failures (refused credentials, an untrusted certificate ...) are
// configuration mistakes that retrying cannot cure, so the first connect
// gives up on them at once instead of retrying until it is stopped.
type connectError struct {
	msg       string
	permanent bool
	err       error
}

func (e *connectError) Error() string { return e.msg }
func (e *connectError) Unwrap() error { return e.err }

// explainConnectError turns a paho connect error into a connectError. It
// never includes the password: paho's errors do not carry it and the
// messages here only name the broker URL (stripped of credentials), the
// client id and the user name.
func explainConnectError(o *Options, err error) *connectError {
	perm := func(format string, args ...any) *connectError {
		return &connectError{msg: fmt.Sprintf(format, args...), permanent: true, err: err}
	}
	temp := func(format string, args ...any) *connectError {
		return &connectError{msg: fmt.Sprintf(format, args...), err: err}
	}
	b := o.Broker

	switch {
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword), errors.Is(err, packets.ErrorRefusedNotAuthorised):
		reason := "bad user name or password"
		if errors.Is(err, packets.ErrorRefusedNotAuthorised) {
			reason = "not authorized"
		}
		if o.Username == "" {
			return perm("broker %s refused the connection: %s; it does not accept anonymous clients (set --user and --password)", b, reason)
		}
		return perm("broker %s refused the connection for user %q: %s (check --user and --password)", b, o.Username, reason)
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		return perm("broker %s rejected client id %q (set a shorter or different --client-id)", b, o.ClientID)
	case errors.Is(err, packets.ErrorRefusedBadProtocolVersion):
		return perm("broker %s does not accept MQTT 3.1.1 connections", b)
	case errors.Is(err, packets.ErrorRefusedServerUnavailable):
		return temp("broker %s says it is unavailable", b)
	}

	if msg, ok := explainTLSError(err); ok {
		return perm("TLS handshake with %s failed: %s", b, msg)
	}

	// A reset or a close in the middle of the handshakes is what a TLS port
	// does to a plain client and the other way round.
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		hint := "is it an MQTT port? for a TLS port use ssl://"
		if o.usesTLS() {
			hint = "is it a TLS port? for a plain MQTT port use tcp://; if the broker requires a client certificate, set --cert-file and --key-file"
		}
		return temp("broker %s closed the connection during the handshake (%s)", b, hint)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return temp("cannot connect to %s: %v", b, opErr)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return temp("cannot connect to %s: %v", b, dnsErr)
	}
	return temp("cannot connect to %s: %v", b, err)
}

// explainTLSError recognises certificate and handshake failures and says
// which option to look at.
func explainTLSError(err error) (string, bool) {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var header tls.RecordHeaderError
	switch {
	case errors.As(err, &unknownCA):
		return "certificate signed by unknown authority (check --ca-file)", true
	case errors.As(err, &hostErr):
		return certNames(hostErr) + " (the host in --broker must be one the certificate names)", true
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return "the broker's certificate has expired or is not yet valid (check it, and this machine's clock)", true
		}
		return strings.TrimPrefix(invalid.Error(), "x509: ") + " (check the broker's certificate and --ca-file)", true
	case errors.As(err, &verify):
		return strings.TrimPrefix(verify.Err.Error(), "x509: ") + " (check --ca-file)", true
	case errors.As(err, &header):
		return "the broker did not answer in TLS (is this a plain MQTT port? use tcp:// for it)", true
	}
	// Alerts sent by the broker arrive as "remote error: tls: ..." (an
	// unexported type), for instance when it requires a client certificate.
	if s := err.Error(); strings.Contains(s, "remote error: tls: ") {
		alert := s[strings.Index(s, "remote error: tls: ")+len("remote error: tls: "):]
		return fmt.Sprintf("the broker refused it: %s (check --cert-file and --key-file if it requires a client certificate, and --ca-file)", alert), true
	}
	return "", false
}

// explainLost describes why an established connection ended.
func explainLost(err error) string {
	switch {
	case err == nil:
		return "connection closed"
	case errors.Is(err, io.EOF):
		return "the broker closed the connection"
	}
	return err.Error()
}

// certNames says which names a certificate is valid for, in fewer words than
// x509.HostnameError.
func certNames(e x509.HostnameError) string {
	var names []string
	if e.Certificate != nil {
		names = append(names, e.Certificate.DNSNames...)
		for _, ip := range e.Certificate.IPAddresses {
			names = append(names, ip.String())
		}
	}
	if len(names) == 0 {
		return strings.TrimPrefix(e.Error(), "x509: ")
	}
	return fmt.Sprintf("the broker's certificate is valid for %s, not %s", strings.Join(names, ", "), e.Host)
}
