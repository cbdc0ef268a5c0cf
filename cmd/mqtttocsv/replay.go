package main

import (
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mqtttocsv/mqtttocsv/internal/capture"
	"github.com/mqtttocsv/mqtttocsv/internal/engine"
)

func newReplayCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var f coreFlags
	var noProgress bool
	cmd := &cobra.Command{
		Use:   "replay [--out-dir DIR] [--config FILE] [-v] FILE...",
		Short: "Write the CSV files of captured messages",
		Long: `replay reads captured MQTT messages and writes the same files the live mode would.
Each line is either a JSON object {"topic": T, "payload": P} (P an object or a JSON
string) or a 'mosquitto_sub -v' line ("topic payload"). "-" reads stdin; gzip input is
recognised. The messages' own Time is the clock: the files are named after the first
usable message's Time, and rows are written each time data time passes a flush_interval
boundary, so memory stays flat however long the capture is.`,
		Example: `  mosquitto_sub -v -t 'tele/+/SENSOR' > capture.txt
  mqtttocsv replay --out-dir ./data capture.txt
  zcat old.jsonl.gz | mqtttocsv replay --out-dir ./data -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReplay(cmd, &f, args, noProgress, stdin, stdout, stderr)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "no progress bar, even on a terminal")
	return cmd
}

func runReplay(cmd *cobra.Command, f *coreFlags, files []string, noProgress bool, stdin io.Reader, stdout, stderr io.Writer) error {
	c, err := f.load(cmd)
	if err != nil {
		return err
	}
	// Open every input first: a typo in the last name must not leave half a replay.
	inputs := make([]io.Reader, len(files))
	var total int64
	for i, name := range files {
		if name == "-" {
			inputs[i] = stdin
			continue
		}
		fh, err := os.Open(name)
		if err != nil {
			return usagef("cannot open the capture: %v", err)
		}
		defer fh.Close()
		if st, err := fh.Stat(); err == nil {
			total += st.Size()
		}
		inputs[i] = fh
	}
	log := &logger{w: stderr, verbose: c.Verbose}
	eng, err := engine.New(c.Options, engine.Params{Log: log, DataClock: true, Verbose: c.Verbose})
	if err != nil {
		return err
	}
	var bar *progressbar.ProgressBar
	if fd, ok := stderr.(*os.File); ok && !noProgress && !c.Verbose && total > 0 && term.IsTerminal(int(fd.Fd())) {
		bar = progressbar.DefaultBytes(total, "replay")
	}
	maxLine := 2*c.MaxPayload + 4096
	for i, in := range inputs {
		if bar != nil && files[i] != "-" {
			in = io.TeeReader(in, bar)
		}
		if _, err := capture.Feed(files[i], in, maxLine, eng); err != nil {
			eng.Close()
			return err
		}
	}
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(stderr)
	}
	cerr := eng.Close()
	st := eng.Stats()
	fmt.Fprintln(stdout, st.Summary())
	if reasons := st.Refused.Map(); len(reasons) > 0 {
		keys := make([]string, 0, len(reasons))
		for k := range reasons {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(stdout, "  refused %-18s %d\n", k, reasons[k])
		}
	}
	for _, name := range st.Files {
		fmt.Fprintln(stdout, "  wrote", name)
	}
	return cerr
}
