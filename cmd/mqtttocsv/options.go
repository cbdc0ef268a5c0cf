package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/spf13/cobra"

	"github.com/mqtttocsv/mqtttocsv/internal/config"
)

// fileConfig is the standalone's --config file: the plugin's keys (config.Options), either
// at the top level or in a [[processors.tasmota_csv]] table so that the Telegraf plugin's
// file can be used as is, plus the standalone's own MQTT keys.
type fileConfig struct {
	config.Options
	Broker             string   `toml:"broker"`
	Topics             []string `toml:"topics"`
	User               string   `toml:"user"`
	Password           string   `toml:"password"`
	PasswordFile       string   `toml:"password_file"`
	ClientID           string   `toml:"client_id"`
	QoS                int      `toml:"qos"`
	CleanSession       bool     `toml:"clean_session"`
	CAFile             string   `toml:"ca_file"`
	CertFile           string   `toml:"cert_file"`
	KeyFile            string   `toml:"key_file"`
	InsecureSkipVerify bool     `toml:"insecure_skip_verify"`
	Listen             string   `toml:"listen"`
	ListenUser         string   `toml:"listen_user"`
	ListenPassword     string   `toml:"listen_password"`
	Verbose            bool     `toml:"verbose"`
}

func defaultFileConfig() fileConfig {
	return fileConfig{
		Options: config.Default(),
		Broker:  "tcp://localhost:1883",
		Topics:  []string{"tele/+/SENSOR"},
		QoS:     1,
	}
}

// loadConfigFile reads path on top of the defaults. Unknown keys are errors: a typo must
// not silently fall back to a default.
func loadConfigFile(path string, c *fileConfig) error {
	var top struct {
		fileConfig
		Processors struct {
			TasmotaCSV []toml.Primitive `toml:"tasmota_csv"`
		} `toml:"processors"`
	}
	top.fileConfig = *c
	md, err := toml.DecodeFile(path, &top)
	if err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	*c = top.fileConfig
	switch n := len(top.Processors.TasmotaCSV); {
	case n > 1:
		return fmt.Errorf("config file %s has %d [[processors.tasmota_csv]] tables: keep one", path, n)
	case n == 1:
		if err := md.PrimitiveDecode(top.Processors.TasmotaCSV[0], c); err != nil {
			return fmt.Errorf("config file %s: [[processors.tasmota_csv]]: %w", path, err)
		}
	}
	var unknown []string
	for _, k := range md.Undecoded() {
		unknown = append(unknown, k.String())
	}
	if len(unknown) > 0 {
		return fmt.Errorf("config file %s: unknown keys %s: check their spelling against the README", path, strings.Join(unknown, ", "))
	}
	return nil
}

// coreFlags are the flags every command that writes files has.
type coreFlags struct {
	configFile    string
	outDir        string
	flushInterval time.Duration
	meter         string
	timezone      string
	aggregation   string
	verbose       bool
}

func (f *coreFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.configFile, "config", "", "TOML file with the settings (flags override it)")
	fl.StringVar(&f.outDir, "out-dir", ".", "folder the CSV files are written under")
	fl.DurationVar(&f.flushInterval, "flush-interval", 60*time.Second, "how often the per-second rows are written")
	fl.StringVar(&f.meter, "meter", "z", "meter name of the Tasmota SML script (the JSON object holding the values)")
	fl.StringVar(&f.timezone, "timezone", "Local", "time zone for epoch-seconds Time (Tasmota \"Time 3\")")
	fl.StringVar(&f.aggregation, "aggregation", "sum", "how values of the same second are combined: sum, mean, min, max, first, last")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "log every message and every refusal")
}

// load builds the configuration: defaults, then the file, then the flags that were set.
func (f *coreFlags) load(cmd *cobra.Command) (fileConfig, error) {
	c := defaultFileConfig()
	if f.configFile != "" {
		if err := loadConfigFile(f.configFile, &c); err != nil {
			return c, usageError{err}
		}
	}
	set := cmd.Flags().Changed
	if set("out-dir") {
		c.OutDir = f.outDir
	}
	if set("flush-interval") {
		c.FlushInterval = config.Duration(f.flushInterval)
	}
	if set("meter") {
		c.Meter = f.meter
	}
	if set("timezone") {
		c.Timezone = f.timezone
	}
	if set("aggregation") {
		c.Aggregation = f.aggregation
	}
	if set("verbose") {
		c.Verbose = f.verbose
	}
	if err := c.Options.Validate(); err != nil {
		return c, usageError{fmt.Errorf("invalid configuration:\n%w", indent(err))}
	}
	return c, nil
}

func indent(err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return errors.New(strings.Join(lines, "\n"))
}

// readPasswordFile reads a password file, dropping the final newline.
func readPasswordFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read the password file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
