package main

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/mqtttocsv/mqtttocsv/internal/mqtttest"
)

// TestTLSFlags: the binary verifies the broker's certificate by default, trusts --ca-file,
// presents --cert-file/--key-file, and refuses a wrong CA with a message that says what to
// check.
func TestTLSFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end")
	}
	s := mqtttest.StartTLSMosquitto(t, true, "")
	cert, key := s.CA.Issue(t, s.Dir, "client", false)
	other := mqtttest.NewCA(t, t.TempDir(), "other")

	refused := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(binary, append([]string{"--broker", s.TLSURL, "--out-dir", t.TempDir()}, args...)...)
		out, _ := cmd.CombinedOutput()
		if cmd.ProcessState.ExitCode() != 1 {
			t.Errorf("%q: exit %d, want 1:\n%s", args, cmd.ProcessState.ExitCode(), out)
		}
		return string(out)
	}
	if out := refused("--cert-file", cert, "--key-file", key); !strings.Contains(out, "certificate signed by unknown authority") {
		t.Errorf("without --ca-file the test CA must not be trusted:\n%s", out)
	}
	if out := refused("--ca-file", other.File, "--cert-file", cert, "--key-file", key); !strings.Contains(out, "--ca-file") {
		t.Errorf("a wrong CA must be refused with a hint at --ca-file:\n%s", out)
	}

	out := t.TempDir()
	p := start(t, "--broker", s.TLSURL, "--ca-file", s.CA.File, "--cert-file", cert, "--key-file", key, "--out-dir", out, "--client-id", "e2e-tls")
	p.waitLog(t, "subscribed to")
	msgs := synth("dev1", 0, 12)
	publishAll(t, s.URL, msgs) // on the plain listener; the program reads over TLS
	waitAll(t, out, msgs)
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	compareTrees(t, replayRows(t, msgs), byDay(readTree(t, out)))
}
