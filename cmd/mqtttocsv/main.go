// Command mqtttocsv turns the MQTT stream of a Tasmota smart-meter reader into daily CSV
// files: live from a broker (or its own embedded one), or by replaying a capture.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Exit statuses, as the SPEC fixes them.
const (
	exitOK    = 0
	exitFatal = 1
	exitUsage = 2
)

// usageError is a mistake in the command line or the configuration: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "mqtttocsv:", err)
	var ue usageError
	if errors.As(err, &ue) || isFlagError(err) {
		fmt.Fprintln(stderr, "Run 'mqtttocsv --help' for usage.")
		return exitUsage
	}
	return exitFatal
}

// isFlagError recognises cobra's and pflag's own usage errors, which are plain errors.
func isFlagError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand flag", "flag needs an argument", "invalid argument", "unknown command", "accepts ", "requires at least", "bad flag syntax", "if any flags in the group"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	var f liveFlags
	root := &cobra.Command{
		Use:   "mqtttocsv",
		Short: "Write the MQTT stream of a Tasmota smart-meter reader to daily CSV files",
		Long: `mqtttocsv subscribes to the SENSOR messages of a Tasmota smart-meter reader and
writes daily CSV files: every summary message (with TS) as one row of
ts_summary_<date>_<time>.csv at once, and the other messages summed per device and
per second in energie_<date>_<time>.csv, every minute and at stop.

With --listen it also runs an MQTT broker, so a Tasmota device can publish straight
to it with no other server.`,
		Example: `  mqtttocsv --listen localhost:1883 --out-dir ./data
  mqtttocsv --broker tcp://192.168.1.10:1883 --user tasmota --out-dir /var/lib/mqtttocsv
  mqtttocsv replay --out-dir ./data capture.jsonl.gz`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLive(cmd, &f, stderr)
		},
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.SetVersionTemplate("{{.Version}}\n")
	f.register(root)
	root.AddCommand(newReplayCmd(stdin, stdout, stderr), newVersionCmd(stdout), newReportCmd())
	return root
}
