// Command bench is the performance benchmark of mqtttocsv (`make bench`): it generates a
// realistic capture, times `mqtttocsv replay`, measures the live subscriber against
// mosquitto_sub and Telegraf, Telegraf's execd path with tasmota-csv against `cat`, and the
// latency from publication to the TS row on disk, and writes one markdown table to
// bench/results.md. See bench/README.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var (
	errInterrupted = errors.New("interrupted")
	interrupted    atomic.Bool
	stopCh         = make(chan struct{})
	stopOnce       sync.Once
)

func checkInterrupted() error {
	if interrupted.Load() {
		return errInterrupted
	}
	return nil
}

type options struct {
	nReplay, nLive, nLatency int
	runs                     int
	devices                  []int
	profileDevices           int
	quick                    bool
	skip                     map[string]bool
	window                   int
	timeout                  time.Duration
	binDir                   string
	tmpBase                  string
	results                  string
}

func main() {
	os.Exit(run())
}

func run() int {
	var o options
	var devices, skip string
	flag.IntVar(&o.nReplay, "n-replay", 1_000_000, "messages of the replay capture")
	flag.IntVar(&o.nLive, "n-live", 200_000, "messages published in the live and Telegraf-path rounds")
	flag.IntVar(&o.nLatency, "n-latency", 1000, "summary messages timed one by one for the latency")
	flag.IntVar(&o.runs, "runs", 5, "replays of each capture (the median is reported)")
	flag.StringVar(&devices, "devices", "1,100,1000", "device counts of the replay scaling rows")
	flag.IntVar(&o.profileDevices, "profile-devices", 1, "devices of the capture the in-process replay profiles")
	flag.BoolVar(&o.quick, "quick", false, "small smoke run: -n-replay 50000 -n-live 10000 -n-latency 100 -runs 3 (explicit flags win)")
	flag.StringVar(&skip, "skip", "", "parts to skip, comma-separated: replay, devices, profile, live, liveprofile, telegraf, latency")
	flag.IntVar(&o.window, "window", 1000, "QoS 1 messages the publisher keeps in flight")
	flag.IntVar(&brokerInflight, "inflight", brokerInflight, "mosquitto's max_inflight_messages: unacknowledged QoS 1 messages per subscriber (0: no limit)")
	flag.DurationVar(&o.timeout, "timeout", 0, "how long a round may take to deliver every message (0: 60 s + 0.5 ms per message)")
	flag.StringVar(&o.binDir, "bin", "bin", "folder of mqtttocsv, tasmota-csv and telegraf (relative to the repository)")
	flag.StringVar(&o.tmpBase, "tmp", "", "folder for the temporary output folders (default: the system's, "+os.TempDir()+")")
	flag.StringVar(&o.results, "results", "bench/results.md", "where the table is written (relative to the repository; - for nowhere)")
	xPublish := flag.String("x-publish", "", "internal: publish -x-file to this broker address and exit")
	xFile := flag.String("x-file", "", "internal: the capture -x-publish publishes")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./bench [flags]   (or: make bench BENCH_ARGS='flags')\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench: unexpected argument %q\n", flag.Arg(0))
		flag.Usage()
		return 2
	}
	if *xPublish != "" {
		return publishOnly(*xPublish, *xFile, o.window)
	}
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.quick {
		if !set["n-replay"] {
			o.nReplay = 50_000
		}
		if !set["n-live"] {
			o.nLive = 10_000
		}
		if !set["n-latency"] {
			o.nLatency = 100
		}
		if !set["runs"] {
			o.runs = 3
		}
	}
	o.skip = map[string]bool{}
	for _, s := range strings.Split(skip, ",") {
		if s = strings.TrimSpace(s); s != "" {
			switch s {
			case "replay", "devices", "profile", "live", "liveprofile", "telegraf", "latency":
				o.skip[s] = true
			default:
				fmt.Fprintf(os.Stderr, "bench: -skip %q: the parts are replay, devices, profile, live, liveprofile, telegraf, latency\n", s)
				return 2
			}
		}
	}
	for _, s := range strings.Split(devices, ",") {
		var d int
		if _, err := fmt.Sscan(strings.TrimSpace(s), &d); err != nil || d < 1 {
			fmt.Fprintf(os.Stderr, "bench: -devices %q: give positive counts separated by commas\n", devices)
			return 2
		}
		o.devices = append(o.devices, d)
	}
	if o.profileDevices < 1 {
		o.profileDevices = 1
	}
	if o.nReplay < 10 || o.nLive < 1 || o.nLatency < 1 || o.runs < 1 || o.window < 1 || o.window > 65535 {
		fmt.Fprintln(os.Stderr, "bench: -n-replay must be at least 10, -n-live, -n-latency and -runs at least 1, -window 1…65535")
		return 2
	}
	if o.timeout == 0 {
		o.timeout = 60*time.Second + time.Duration(o.nLive)*500*time.Microsecond
	}

	// Ctrl+C or SIGTERM: every wait gives up, the children are stopped, the temporary
	// folders removed. A second signal (or a hang) exits at once after killing them.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "\nbench: %s: stopping the children and cleaning up\n", s)
		interrupted.Store(true)
		stopOnce.Do(func() { close(stopCh) })
		select {
		case <-sigs:
		case <-time.After(15 * time.Second):
		}
		cleanup()
		os.Exit(130)
	}()
	defer cleanup()

	code, err := bench(o)
	if err != nil {
		if errors.Is(err, errInterrupted) {
			cleanup()
			return 130
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return code
}

// repoRoot is the folder of the module's go.mod, found from the working directory up.
func repoRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/mqtttocsv/mqtttocsv") {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", errors.New("run it from the mqtttocsv repository (go run ./bench, or make bench)")
		}
		d = parent
	}
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

// binaries finds or builds the programs measured.
type binaries struct {
	mqtttocsv, tasmotaCSV, telegraf string
	notes                           []string
}

func findBinaries(root string, o options) (binaries, error) {
	var b binaries
	dir := o.binDir
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	build := func(name, pkg string) (string, error) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
		if _, err := os.Stat(filepath.Join(root, pkg)); err != nil {
			return "", nil // not written yet
		}
		// Not built (go run ./bench without make build): build it under bench/out/bin.
		out := filepath.Join(root, "bench", "out", "bin", name)
		logf("%s is missing: building %s into %s", p, pkg, out)
		cmd := exec.Command(goTool(), "build", "-o", out, "./"+pkg)
		cmd.Dir = root
		if name == "mqtttocsv" {
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as the Makefile builds it
		}
		if msg, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("building %s failed: %v\n%s", pkg, err, msg)
		}
		b.notes = append(b.notes, fmt.Sprintf("%s built from source into bench/out/bin", name))
		return out, nil
	}
	var err error
	if b.mqtttocsv, err = build("mqtttocsv", "cmd/mqtttocsv"); err != nil {
		return b, err
	}
	if b.mqtttocsv == "" {
		return b, errors.New("cmd/mqtttocsv is missing: nothing to measure")
	}
	if b.tasmotaCSV, err = build("tasmota-csv", "cmd/tasmota-csv"); err != nil {
		b.notes = append(b.notes, "tasmota-csv: "+err.Error())
		b.tasmotaCSV = ""
	}
	if p := filepath.Join(dir, "telegraf"); fileExists(p) {
		b.telegraf = p
	}
	return b, nil
}

func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
