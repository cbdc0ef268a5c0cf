package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mqtttocsv/mqtttocsv/internal/config"
	"github.com/mqtttocsv/mqtttocsv/plugins/processors/tasmota_csv/csvtest"
)

// capture returns the capture's messages and the line protocol processors.execd sends for
// them (Telegraf's json_v2 parser with the settings of sample.conf).
func captureLP(t *testing.T, msgs []csvtest.Message) []byte {
	t.Helper()
	return csvtest.LineProtocol(t, csvtest.Metrics(csvtest.JSONv2(t, "z"), msgs, time.Unix(1768435130, 0)))
}

func loadCapture(t *testing.T) []csvtest.Message {
	t.Helper()
	c := csvtest.LoadCapture(t, csvtest.CapturePath(t))
	require.NotEmpty(t, c.Messages)
	return c.Messages
}

func TestHelpVersionAndUsageErrors(t *testing.T) {
	for _, arg := range []string{"-h", "--help", "-help"} {
		code, stdout, _ := runOnce(t, nil, arg)
		require.Equal(t, exitOK, code, arg)
		require.Contains(t, string(stdout), "Usage: tasmota-csv -config FILE", arg)
		require.Contains(t, string(stdout), "SIGTERM", arg)
	}
	code, stdout, _ := runOnce(t, nil, "-version")
	require.Equal(t, exitOK, code)
	require.True(t, strings.HasPrefix(string(stdout), "tasmota-csv "))

	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "-config FILE is missing"},
		{[]string{"-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"-config"}, "flag needs an argument"},
		{[]string{"-config", "x.conf", "extra"}, `unexpected argument "extra"`},
	} {
		code, _, stderr := runOnce(t, nil, c.args...)
		require.Equal(t, exitUsage, code, "%v", c.args)
		require.Contains(t, stderr, c.want, "%v", c.args)
	}
}

func TestConfigurationErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, conf, want string
	}{
		{"unknown key", "[[processors.tasmota_csv]]\n  out_dirr = \"/tmp\"\n", "unknown keys processors.tasmota_csv.out_dirr"},
		{"bad value", "[[processors.tasmota_csv]]\n  aggregation = \"avg\"\n  timezone = \"Mars\"\n", "use one of sum, mean, min, max, first, last"},
		{"bad duration", "[[processors.tasmota_csv]]\n  flush_interval = \"soon\"\n", `write it like "60s"`},
		{"wrong type", "[[processors.tasmota_csv]]\n  columns = \"Pi\"\n", "columns"},
		{"no table", "out_dir = \"/tmp\"\n", "no [[processors.tasmota_csv]] table"},
		{"another plugin", "[[processors.tasmota_csv]]\n[[processors.rename]]\n", "[[processors.rename]]"},
		{"two tables", "[[processors.tasmota_csv]]\n[[processors.tasmota_csv]]\n", "keep one"},
		{"toml syntax", "[[processors.tasmota_csv]]\n  out_dir = \n", "configuration file"},
		{"template", "[[processors.tasmota_csv]]\n  ts_file = \"../x.csv\"\n", "ts_file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".conf")
			require.NoError(t, os.WriteFile(path, []byte(c.conf), 0o644))
			code, _, stderr := runOnce(t, nil, "-config", path)
			require.Equal(t, exitUsage, code, stderr)
			require.Contains(t, stderr, c.want)
		})
	}
	code, _, stderr := runOnce(t, nil, "-config", filepath.Join(dir, "missing.conf"))
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "cannot read the configuration file")
}

func TestEnvironmentVariablesInConfig(t *testing.T) {
	out := t.TempDir()
	path := filepath.Join(t.TempDir(), "p.conf")
	require.NoError(t, os.WriteFile(path, []byte("[[processors.tasmota_csv]]\n  out_dir = \"${TASMOTA_CSV_TEST_DIR}\"\n"), 0o644))
	cmd := []string{"-config", path}
	t.Setenv("TASMOTA_CSV_TEST_DIR", out)
	code, _, stderr := runOnce(t, []byte(`tasmota,topic=tele/d/SENSOR TS="x",Time="2026-01-14T10:00:00" 1`+"\n"), cmd...)
	require.Equal(t, exitOK, code, stderr)
	require.FileExists(t, filepath.Join(out, "d", "ts_summary_20260114_0000.csv"))
}

// The shipped plugin configuration loads as it is.
func TestContribConfigLoads(t *testing.T) {
	p, err := loadPlugin(filepath.Join(csvtest.RepoRoot(t), "contrib", "telegraf", "tasmota-csv.conf"))
	require.NoError(t, err)
	require.NoError(t, p.Init())
	want := config.Default()
	want.OutDir = "/var/lib/tasmota-csv"
	require.Equal(t, want, p.Options)
	// It is the plugin's sample.conf with a header for the execd set-up.
	b, err := os.ReadFile(filepath.Join(csvtest.RepoRoot(t), "contrib", "telegraf", "tasmota-csv.conf"))
	require.NoError(t, err)
	sample := p.SampleConfig()
	_, table, _ := strings.Cut(sample, "\n")
	require.True(t, strings.HasSuffix(string(b), table), "contrib/telegraf/tasmota-csv.conf must end with the plugin's sample.conf")
}

func TestStartFailureIsFatal(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	code, _, stderr := runOnce(t, nil, "-config", pluginConf(t, filepath.Join(file, "out")))
	require.Equal(t, exitFatal, code, stderr)
	require.Contains(t, stderr, "E! ")
	require.Contains(t, stderr, "cannot create the output folder")
}

// End of stdin is how Telegraf stops the plugin: everything is written, exit 0, and the
// metrics come out on stdout unchanged.
func TestEndOfInput(t *testing.T) {
	msgs := loadCapture(t)
	lp := captureLP(t, msgs)
	out := t.TempDir()
	started := time.Now()
	code, stdout, stderr := runOnce(t, lp, "-config", pluginConf(t, out, `flush_interval = "1h"`))
	require.Equal(t, exitOK, code, stderr)

	// Every message arrived within one flush interval: the standalone's live mode writes
	// the same files for them.
	refDir := t.TempDir()
	csvtest.Live(t, config.Default(), msgs, refDir, started)
	want := csvtest.ReadTree(t, refDir)
	if d := csvtest.Diff(want, csvtest.ReadTree(t, out)); d != "" {
		t.Fatalf("files differ from the standalone's:\n%s", d)
	}
	require.Equal(t, csvtest.DecodeLineProtocol(t, lp), csvtest.DecodeLineProtocol(t, stdout), "metrics must pass through unchanged")
	require.Contains(t, stderr, "I! stopped: messages 853,")
	require.NotContains(t, stderr, "E! ")
}

func TestDropOriginalAndEmitAggregates(t *testing.T) {
	msgs := loadCapture(t)
	out := t.TempDir()
	code, stdout, stderr := runOnce(t, captureLP(t, msgs), "-config",
		pluginConf(t, out, `flush_interval = "1h"`, "drop_original = true", "emit_aggregates = true", `timezone = "UTC"`))
	require.Equal(t, exitOK, code, stderr)
	points := csvtest.DecodeLineProtocol(t, stdout)
	// Every energie row, and nothing else, comes out: all of them from the last flush at
	// the end of the input, which the shim would have lost had it come at Stop.
	tree := csvtest.ReadTree(t, out)
	rows := 0
	for name, b := range tree {
		if strings.Contains(name, "energie_") {
			rows += lines(b) - 1
		}
	}
	require.Equal(t, rows, len(points))
	for _, p := range points {
		require.Equal(t, "energie", p.Name)
		require.Contains(t, []string{"tasmota_EB7D9F", "meter2"}, p.Tags["device"])
	}
	var first []string
	for _, p := range points {
		if p.Tags["device"] == "tasmota_EB7D9F" {
			first = append(first, p.String())
		}
	}
	require.Equal(t, "energie map[device:tasmota_EB7D9F] Pi=0.3 Po=0 U1=230.1 count=4 1768435130000000000", first[0]) // 2026-01-14T23:58:50Z
	require.NotContains(t, string(stdout), endOfInput)
}

// SIGTERM while Telegraf still writes: everything received so far is written, exit 0.
func TestSIGTERMMidStream(t *testing.T) {
	msgs := loadCapture(t)
	half := msgs[:len(msgs)/2]
	lp := captureLP(t, half)
	out := t.TempDir()
	started := time.Now()
	p := start(t, "-config", pluginConf(t, out, `flush_interval = "1h"`))
	_, err := p.stdin.Write(lp)
	require.NoError(t, err)
	// Wait until every metric has been through the processor (it passes them on).
	require.Eventually(t, func() bool { return lines(p.stdout.Bytes()) == lines(lp) }, 10*time.Second, 20*time.Millisecond)
	p.signal(syscall.SIGTERM)
	require.Equal(t, exitOK, p.wait(5*time.Second))
	require.Contains(t, p.stderr.String(), "I! terminated: writing every row and stopping")

	refDir := t.TempDir()
	csvtest.Live(t, config.Default(), half, refDir, started)
	if d := csvtest.Diff(csvtest.ReadTree(t, refDir), csvtest.ReadTree(t, out)); d != "" {
		t.Fatalf("files differ from the standalone's:\n%s", d)
	}
}

func TestSIGINTStopsToo(t *testing.T) {
	out := t.TempDir()
	p := start(t, "-config", pluginConf(t, out))
	_, err := p.stdin.Write([]byte(`tasmota,topic=tele/d/SENSOR Pi=1,Time="2026-01-14T10:00:00" 1` + "\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return lines(p.stdout.Bytes()) == 1 }, 10*time.Second, 20*time.Millisecond)
	p.signal(syscall.SIGINT)
	require.Equal(t, exitOK, p.wait(5*time.Second))
	b, err := os.ReadFile(filepath.Join(out, "d", "energie_20260114_0000.csv"))
	require.NoError(t, err)
	require.Contains(t, string(b), "2026-01-14T10:00:00,1,")
}

// When Telegraf restarts the program, the files continue with one header.
func TestRestartAppendsWithOneHeader(t *testing.T) {
	msgs := loadCapture(t)
	first, second := msgs[:300], msgs[300:]
	out := t.TempDir()
	conf := pluginConf(t, out, `flush_interval = "1h"`, `ts_file = "{device}/ts_{date}.csv"`, `energie_file = "{device}/energie_{date}.csv"`)
	for _, part := range [][]csvtest.Message{first, second} {
		code, _, stderr := runOnce(t, captureLP(t, part), "-config", conf)
		require.Equal(t, exitOK, code, stderr)
	}
	o := config.Default()
	o.TSFile, o.EnergieFile = "{device}/ts_{date}.csv", "{device}/energie_{date}.csv"
	refDir := t.TempDir()
	csvtest.Live(t, o, first, refDir, time.Now())
	csvtest.Live(t, o, second, refDir, time.Now())
	got := csvtest.ReadTree(t, out)
	if d := csvtest.Diff(csvtest.ReadTree(t, refDir), got); d != "" {
		t.Fatalf("files differ from the standalone's:\n%s", d)
	}
	require.Len(t, got, 8)
	for name, b := range got {
		require.Equal(t, 1, csvtest.CountHeaders(b), name)
	}
}

// SIGHUP closes the files so that logrotate can move them; the next rows go to new files.
func TestSIGHUPReopensTheFiles(t *testing.T) {
	out := t.TempDir()
	p := start(t, "-config", pluginConf(t, out))
	write := func(line string) {
		t.Helper()
		n := lines(p.stdout.Bytes())
		_, err := p.stdin.Write([]byte(line + "\n"))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return lines(p.stdout.Bytes()) == n+1 }, 10*time.Second, 20*time.Millisecond)
	}
	write(`tasmota,topic=tele/d/SENSOR TS="a",Time="2026-01-14T10:00:00" 1`)
	name := filepath.Join(out, "d", "ts_summary_20260114_0000.csv")
	require.NoError(t, os.Rename(name, name+".1"))
	p.signal(syscall.SIGHUP)
	// (The output folder's name holds the test's name, hence the "I! ".)
	require.Eventually(t, func() bool { return strings.Contains(p.stderr.String(), "I! SIGHUP:") }, 10*time.Second, 20*time.Millisecond)
	write(`tasmota,topic=tele/d/SENSOR TS="b",Time="2026-01-14T10:00:01" 2`)
	require.NoError(t, p.stdin.Close())
	require.Equal(t, exitOK, p.wait(5*time.Second))
	rotated, err := os.ReadFile(name + ".1")
	require.NoError(t, err)
	current, err := os.ReadFile(name)
	require.NoError(t, err, "rotated file:\n%s", rotated)
	require.True(t, bytes.HasSuffix(rotated, []byte("\n2026-01-14T10:00:00,a,,,,,,,,,,,,,,,,,,,\n")), string(rotated))
	require.True(t, bytes.HasPrefix(current, []byte("Time,TS,NS,")), string(current))
	require.True(t, bytes.HasSuffix(current, []byte("\n2026-01-14T10:00:01,b,,,,,,,,,,,,,,,,,,,\n")), string(current))
}

// SIGUSR1 writes the rows of past seconds at once, as a flush tick does.
func TestSIGUSR1Flushes(t *testing.T) {
	out := t.TempDir()
	p := start(t, "-config", pluginConf(t, out, `flush_interval = "1h"`))
	_, err := p.stdin.Write([]byte(`tasmota,topic=tele/d/SENSOR Pi=1,Time="2026-01-14T10:00:00" 1` + "\n" +
		`tasmota,topic=tele/d/SENSOR Pi=2,Time="2026-01-14T10:00:01" 2` + "\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return lines(p.stdout.Bytes()) == 2 }, 10*time.Second, 20*time.Millisecond)
	p.signal(syscall.SIGUSR1)
	name := filepath.Join(out, "d", "energie_20260114_0000.csv")
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(name)
		return lines(b) == 2 && strings.Contains(string(b), "2026-01-14T10:00:00,1,")
	}, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, p.stdin.Close())
	require.Equal(t, exitOK, p.wait(5*time.Second))
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	require.Equal(t, 3, lines(b))
}

// A line that is not line protocol is logged as an error line and skipped.
func TestBadLineProtocolIsSkipped(t *testing.T) {
	out := t.TempDir()
	in := "this is not line protocol\n" + `tasmota,topic=tele/d/SENSOR Pi=1,Time="2026-01-14T10:00:00" 1` + "\n"
	code, stdout, stderr := runOnce(t, []byte(in), "-config", pluginConf(t, out))
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, 1, lines(stdout))
	require.Contains(t, stderr, "E! Failed to parse metric")
	require.NotContains(t, stderr, "\b")
	require.FileExists(t, filepath.Join(out, "d", "energie_20260114_0000.csv"))
}

// A last line without a line break is still read.
func TestLastLineWithoutLineBreak(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runOnce(t, []byte(`tasmota,topic=tele/d/SENSOR TS="x",Time="2026-01-14T10:00:00" 1`), "-config", pluginConf(t, out))
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, 1, lines(stdout))
	require.FileExists(t, filepath.Join(out, "d", "ts_summary_20260114_0000.csv"))
}
