// Command tasmota-csv is the Telegraf processors.execd plugin of mqtttocsv: it reads
// metrics in influx line protocol on stdin (from inputs.mqtt_consumer), writes the daily
// CSV files of a Tasmota smart-meter reader, and passes the metrics on on stdout.
//
// It runs the tasmota_csv processor on Telegraf's execd shim. The shim stops a processor
// at the end of stdin only, so this program adds what the SPEC asks for: SIGTERM and
// SIGINT stop it like the end of stdin (every row written, files fsynced, exit 0), SIGHUP
// reopens the files (logrotate), SIGUSR1 flushes now, and the last per-second rows are written before the
// shim closes its output, so that emit_aggregates also emits them.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/common/shim"

	"github.com/mqtttocsv/mqtttocsv/plugins/processors/tasmota_csv"
)

// Exit statuses, as the SPEC fixes them.
const (
	exitOK    = 0
	exitFatal = 1
	exitUsage = 2
)

// endOfInput is the measurement of the line the program appends to the metrics when its
// input ends: the processor sees it after every real metric, writes every row and emits
// the last aggregates while the shim's output is still open.
const endOfInput = "tasmota_csv_internal_end_of_input"

// Shutdown bounds. Telegraf closes stdin, sends SIGTERM 5 s later and kills 5 s after that.
const (
	gracefulTimeout = 4 * time.Second // from end of input to a forced close
	closeTimeout    = 4 * time.Second // for the forced close itself
)

const usageText = `Usage: tasmota-csv -config FILE [-debug]

tasmota-csv is a Telegraf processors.execd plugin. It reads metrics in influx line
protocol on stdin (from inputs.mqtt_consumer reading the SENSOR messages of a Tasmota
smart-meter reader), writes every summary message (with TS) as one row of the TS file
at once and the other messages combined per device and per second in the energie file,
and passes the metrics on on stdout.

FILE holds one [[processors.tasmota_csv]] table with the keys out_dir, ts_file,
energie_file, meter, columns, aggregation, flush_interval, timezone, device_tag,
device_segment, field_prefix, drop_original, emit_aggregates, max_payload and
max_pending_rows; $VAR and ${VAR} are replaced by environment variables.

End of stdin (how Telegraf stops it), SIGTERM and SIGINT write everything, fsync and
exit 0; SIGHUP closes and reopens the files (logrotate); SIGUSR1 writes the rows of
the past seconds now, as each flush_interval does.

In Telegraf's configuration:

  [[processors.execd]]
    namepass = ["tasmota"]
    command = ["/usr/local/bin/tasmota-csv", "-config", "/etc/telegraf/tasmota-csv.conf"]

Flags:
`

// exitLinger is how long the program stays after closing its stdout and stderr. Telegraf
// reads them until it sees their end, but closes them as soon as the process has exited:
// a process that exits with them open races those readers, and Telegraf then logs "read
// |0: file already closed" and may miss the last lines.
const exitLinger = 200 * time.Millisecond

func main() {
	code := run(os.Args[1:])
	os.Exit(code)
}

// closeOutputs ends stdout and stderr before the exit (see exitLinger).
func closeOutputs() {
	_ = os.Stdout.Close()
	_ = os.Stderr.Close()
	time.Sleep(exitLinger)
}

// options are the command line.
type options struct {
	config  string
	debug   bool
	version bool
}

// parseArgs reads the command line. done is true when the program must exit with code
// (help, version, usage error).
func parseArgs(args []string, stdout, stderr io.Writer) (o options, code int, done bool) {
	fs := flag.NewFlagSet("tasmota-csv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "", "the plugin's configuration file (required)")
	fs.BoolVar(&o.debug, "debug", false, "log every metric and every refusal at debug level (Telegraf shows them with --debug)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.Usage = func() {} // flag prints the error itself; the full text is for -h only
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return o, exitOK, true
		}
		fmt.Fprintln(stderr, "Run 'tasmota-csv -h' for usage.")
		return o, exitUsage, true
	}
	if o.version {
		fmt.Fprintln(stdout, "tasmota-csv", version())
		return o, exitOK, true
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tasmota-csv: unexpected argument %q: the only input is stdin; give the configuration with -config FILE\n", fs.Arg(0))
		return o, exitUsage, true
	}
	if o.config == "" {
		fmt.Fprintln(stderr, "tasmota-csv: -config FILE is missing: give the file with the [[processors.tasmota_csv]] table, e.g. -config /etc/telegraf/tasmota-csv.conf")
		return o, exitUsage, true
	}
	return o, exitOK, false
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func run(args []string) int {
	o, code, done := parseArgs(args, os.Stdout, os.Stderr)
	if done {
		return code
	}
	log := &stderrLogger{w: os.Stderr, level: telegraf.Info}
	if o.debug {
		log.level = telegraf.Debug
	}
	plugin, err := loadPlugin(o.config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tasmota-csv:", err)
		return exitUsage
	}
	plugin.Log = log
	if err := plugin.Init(); err != nil {
		fmt.Fprintf(os.Stderr, "tasmota-csv: %s:\n%s\n", o.config, indent(err.Error()))
		return exitUsage
	}

	// A write to stdout after Telegraf is gone must fail with EPIPE, not kill the process
	// before the rows are on disk.
	signal.Ignore(syscall.SIGPIPE)

	// The shim reads os.Stdin as it is when it is created: give it a pipe fed from the
	// real stdin, which this program can end on a signal.
	pr, pw, err := os.Pipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tasmota-csv:", err)
		return exitFatal
	}
	// Its stderr too: it ends its parse errors with a backspace instead of a line break,
	// which would glue them to the next line of Telegraf's log.
	er, ew, err := os.Pipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tasmota-csv:", err)
		return exitFatal
	}
	realStdin, realStderr := os.Stdin, os.Stderr
	os.Stdin, os.Stderr = pr, ew
	s := shim.New()
	os.Stdin, os.Stderr = realStdin, realStderr
	shimErrDone := make(chan struct{})
	go relayShimErrors(er, log, shimErrDone)
	defer func() {
		_ = ew.Close()
		select {
		case <-shimErrDone:
		case <-time.After(time.Second):
		}
		closeOutputs()
	}()

	// execdProcessor has no Log field, so the shim leaves the plugin's logger alone.
	proc := &execdProcessor{p: plugin}
	if err := s.AddStreamingProcessor(proc); err != nil {
		fmt.Fprintf(os.Stderr, "tasmota-csv: %s:\n%s\n", o.config, indent(err.Error()))
		return exitUsage
	}

	f := &feeder{w: pw}
	shutdown := make(chan string, 1)
	go func() {
		if err := f.copy(realStdin); err != nil {
			log.Errorf("reading stdin: %v", err)
		}
		select {
		case shutdown <- "end of input":
		default:
		}
	}()

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(sigs)

	log.Infof("started (pid %d): writing to %s", os.Getpid(), plugin.OutDir)
	result := make(chan error, 1)
	go func() { result <- s.Run(shim.PollIntervalDisabled) }()

	stopping := false
	var deadline <-chan time.Time
	for {
		select {
		case err := <-result:
			if err != nil {
				log.Errorf("%v", err)
				return exitFatal
			}
			if proc.closeErr != nil {
				log.Errorf("%v", proc.closeErr)
				return exitFatal
			}
			return exitOK
		case why := <-shutdown:
			if !stopping {
				stopping = true
				deadline = time.After(gracefulTimeout)
				log.Debugf("%s: writing every row", why)
			}
		case sig := <-sigs:
			switch sig {
			case syscall.SIGHUP:
				plugin.Reopen()
				log.Infof("SIGHUP: files closed, reopened at the next write")
				continue
			case syscall.SIGUSR1:
				plugin.Flush()
				log.Infof("SIGUSR1: rows of past seconds written: %s", plugin.Stats().Summary())
				continue
			}
			if stopping {
				log.Warnf("%v while stopping: closing the files now", sig)
				return forceClose(plugin, log)
			}
			stopping = true
			deadline = time.After(gracefulTimeout)
			log.Infof("%v: writing every row and stopping", sig)
			go f.finish()
		case <-deadline:
			log.Warnf("the metrics in flight were not all processed within %s: closing the files now", gracefulTimeout)
			return forceClose(plugin, log)
		}
	}
}

// relayShimErrors logs each message the shim writes to its stderr as an error line.
func relayShimErrors(r io.Reader, log telegraf.Logger, done chan<- struct{}) {
	defer close(done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 1<<20)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		for i, c := range data {
			if c == '\n' || c == '\b' {
				return i + 1, data[:i], nil
			}
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	for sc.Scan() {
		if msg := strings.TrimSpace(sc.Text()); msg != "" {
			log.Errorf("%s", msg)
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// forceClose writes what the processor holds, fsyncs and closes, when the shim cannot
// finish (its output is blocked or a second signal came).
func forceClose(p *tasmota_csv.TasmotaCSV, log telegraf.Logger) int {
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		if err != nil {
			log.Errorf("%v", err)
			return exitFatal
		}
		return exitOK
	case <-time.After(closeTimeout):
		log.Errorf("the files could not be closed within %s", closeTimeout)
		return exitFatal
	}
}

// execdProcessor runs the plugin on the shim, which closes its accumulator before it
// calls Stop: the rows are written and their aggregates emitted when the end-of-input
// line arrives, and Stop only closes the files.
type execdProcessor struct {
	p        *tasmota_csv.TasmotaCSV
	closeErr error
}

func (e *execdProcessor) SampleConfig() string { return e.p.SampleConfig() }
func (e *execdProcessor) Init() error          { return e.p.Init() }

func (e *execdProcessor) Start(acc telegraf.Accumulator) error { return e.p.Start(acc) }

func (e *execdProcessor) Add(m telegraf.Metric, acc telegraf.Accumulator) error {
	if m.Name() == endOfInput {
		e.p.Drain()
		m.Drop()
		return nil
	}
	return e.p.Add(m, acc)
}

func (e *execdProcessor) Stop() { e.closeErr = e.p.Close() }

// feeder copies the real stdin into the shim's pipe, whole lines at a time, and ends it
// with the end-of-input line when stdin ends or a signal asks to stop.
type feeder struct {
	mu       sync.Mutex
	w        *os.File
	finished bool
	partial  bool // the last write did not end with a line break
}

func (f *feeder) copy(in io.Reader) error {
	br := bufio.NewReaderSize(in, 64<<10)
	var long []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, chunk...) // a line longer than the buffer: keep it whole
			continue
		}
		line := chunk
		if len(long) > 0 {
			long = append(long, chunk...)
			line = long
		}
		if len(line) > 0 && !f.write(line) {
			return nil
		}
		long = long[:0]
		if err != nil {
			f.finish()
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// write forwards one line; false once the feeder is finished.
func (f *feeder) write(line []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.finished {
		return false
	}
	if _, err := f.w.Write(line); err != nil {
		return false
	}
	f.partial = line[len(line)-1] != '\n'
	return true
}

// finish ends the shim's input after the last whole line; later calls do nothing.
func (f *feeder) finish() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.finished {
		return
	}
	f.finished = true
	end := endOfInput + " done=true\n"
	if f.partial {
		end = "\n" + end
	}
	_, _ = f.w.Write([]byte(end))
	_ = f.w.Close()
}
