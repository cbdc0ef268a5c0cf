package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mqtttocsv/mqtttocsv/internal/report"
)

// newReportCmd is `mqtttocsv report`. Mistakes in the command line (no PATH, a
// PATH that does not exist, an unknown --format or --divide, a --plot name
// that is neither .png nor .svg) go through cmd.FlagErrorFunc(), so the root's
// flag error function marks them as usage errors.
func newReportCmd() *cobra.Command {
	var out, plotFile, format, divide string
	cmd := &cobra.Command{
		Use:   "report [--out FILE] [--plot FILE.png|FILE.svg] [--format table|csv|json|markdown] PATH...",
		Short: "Summarise the CSV files per device and per day, and plot them",
		Long: `report reads ts_summary_*.csv and energie_*.csv files (PATHs are files or
folders, searched recursively; .csv.gz too) and gives, per device and per day:

  - energy imported and exported (kWh): from the E1/E2 meter counters of the TS
    rows (last minus first of the day), and by integrating the per-second power
    Pi/Po as a cross-check (sum over the seconds of the mean kW x 1 s / 3600);
  - reactive energy (kvarh) from the B1/B2 counters;
  - peak import and export power (kW) and their time;
  - per-phase voltage min/mean/max (V) and current max (A);
  - seconds with data, the share of the day they cover, and the gaps longer
    than a minute.

The device is the name of the folder holding the files ({device}/file); the
day is the date of the Time column. Files of the same device and day are
merged. An energie row holds the sum of the values of one second and the number
of messages (count); the per-second mean is the sum divided by the messages that
carried the attribute: with --divide auto (default) the row's count is shared
equally among the attributes present in the row (Tasmota sends one attribute
per message), with --divide count every value is divided by count, with
--divide none the values are taken as they are (files written with an
aggregation other than sum). Rows of the same second are merged by adding sums
and counts. Unreadable rows are skipped and reported on stderr.

--plot draws one picture per device-day (PNG 1200x900 or SVG, by extension):
import/export power with the TS summary values marked, power per phase, and
voltage per phase with the 230 V ±10 % band. With several device-days,
_<device>_<YYYYMMDD> is inserted before the extension.`,
		Example: `  mqtttocsv report ./data
  mqtttocsv report --format csv --out report.csv ./data/meter1
  mqtttocsv report --plot day.png ./data/meter1/energie_20260114_0000.csv ./data/meter1/ts_summary_20260114_0000.csv`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.FlagErrorFunc()(cmd, errors.New("report: no PATH given: name the CSV files or folders to report on"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SilenceUsage = true
			usage := func(err error) error { return cmd.FlagErrorFunc()(cmd, fmt.Errorf("report: %w", err)) }
			f, err := report.ParseFormat(format)
			if err != nil {
				return usage(fmt.Errorf("--format: %w", err))
			}
			d, err := report.ParseDivide(divide)
			if err != nil {
				return usage(fmt.Errorf("--divide: %w", err))
			}
			if plotFile != "" {
				if err := report.CheckPlotName(plotFile); err != nil {
					return usage(fmt.Errorf("--plot: %w", err))
				}
			}
			err = report.Run(report.Config{Paths: args, Out: out, Plot: plotFile, Format: f, Divide: d},
				cmd.OutOrStdout(), cmd.ErrOrStderr())
			var pe *report.PathError
			if errors.As(err, &pe) {
				return usage(err)
			}
			if err != nil {
				return fmt.Errorf("report: %w", err)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&out, "out", "o", "", "write the report to `FILE` instead of stdout")
	fl.StringVar(&plotFile, "plot", "", "draw one picture per device-day into `FILE.png` or `FILE.svg`")
	fl.StringVarP(&format, "format", "f", "table", "output format: table, csv, json or markdown")
	fl.StringVar(&divide, "divide", "auto", "how an energie row's sums become per-second means: auto, count or none")
	return cmd
}
