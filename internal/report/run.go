package report

import (
	"fmt"
	"io"
	"os"
)

// Config is what `mqtttocsv report` asks for.
type Config struct {
	Paths  []string // files or folders
	Out    string   // report file; "" writes to the stdout writer
	Plot   string   // picture file (.png or .svg); "" draws nothing
	Format Format
	Divide Divide
}

// Key returns the device-day of d.
func (d *Day) Key() Key { return Key{Device: d.Summary.Device, Date: d.Summary.Date} }

// Run scans cfg.Paths, draws one picture per device-day when cfg.Plot is
// set (named by PlotFileName; each written file is announced on stderr), and
// writes the report to cfg.Out or stdout. Warnings about unreadable rows and
// skipped files go to stderr. A missing PATH gives a *PathError.
func Run(cfg Config, stdout, stderr io.Writer) error {
	if cfg.Plot != "" {
		if err := CheckPlotName(cfg.Plot); err != nil {
			return err
		}
	}
	set, err := Scan(cfg.Paths, Options{Divide: cfg.Divide, Warnings: stderr})
	if err != nil {
		return err
	}
	several := set.Len() > 1
	sums, err := set.Each(func(d *Day) error {
		if cfg.Plot == "" {
			return nil
		}
		name := PlotFileName(cfg.Plot, d.Key(), several)
		if err := WritePlot(d, name); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "plot written: %s\n", name)
		return nil
	})
	if err != nil {
		return err
	}
	if cfg.Out == "" {
		return Write(stdout, cfg.Format, sums)
	}
	f, err := os.Create(cfg.Out)
	if err != nil {
		return err
	}
	err = Write(f, cfg.Format, sums)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", cfg.Out, err)
	}
	return nil
}
