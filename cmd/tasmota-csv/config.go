package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/influxdata/telegraf/plugins/processors"

	"github.com/mqtttocsv/mqtttocsv/plugins/processors/tasmota_csv"
)

// loadPlugin reads the plugin's configuration file: one [[processors.tasmota_csv]] table
// with the SPEC's keys, as Telegraf's execd shim reads it ($VAR and ${VAR} are replaced by
// environment variables), but strictly: an unknown key or another plugin's table is an
// error rather than silently ignored, so that a typo never falls back to a default.
func loadPlugin(path string) (*tasmota_csv.TasmotaCSV, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the configuration file: %w", err)
	}
	var file struct {
		Processors map[string][]toml.Primitive `toml:"processors"`
	}
	md, err := toml.Decode(os.Expand(string(b), getEnv), &file)
	if err != nil {
		return nil, fmt.Errorf("configuration file %s: %w", path, err)
	}
	var others []string
	for name := range file.Processors {
		if name != tasmota_csv.PluginName {
			others = append(others, "[[processors."+name+"]]")
		}
	}
	if len(others) > 0 {
		sort.Strings(others)
		return nil, fmt.Errorf("configuration file %s has %s: tasmota-csv only runs [[processors.%s]]; put the other plugins in Telegraf's own configuration",
			path, strings.Join(others, ", "), tasmota_csv.PluginName)
	}
	tables := file.Processors[tasmota_csv.PluginName]
	switch len(tables) {
	case 0:
		return nil, fmt.Errorf("configuration file %s has no [[processors.%s]] table: start the file with that line, then the keys (out_dir = \"...\")",
			path, tasmota_csv.PluginName)
	case 1:
	default:
		return nil, fmt.Errorf("configuration file %s has %d [[processors.%s]] tables: keep one (run one tasmota-csv per table)",
			path, len(tables), tasmota_csv.PluginName)
	}
	creator, ok := processors.Processors[tasmota_csv.PluginName]
	if !ok {
		return nil, errors.New("the tasmota_csv processor is not registered (build error)")
	}
	p, ok := creator().(*tasmota_csv.TasmotaCSV)
	if !ok {
		return nil, errors.New("the tasmota_csv processor has an unexpected type (build error)")
	}
	if err := md.PrimitiveDecode(tables[0], p); err != nil {
		return nil, fmt.Errorf("configuration file %s: [[processors.%s]]: %w", path, tasmota_csv.PluginName, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		keys := make([]string, len(undecoded))
		for i, k := range undecoded {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("configuration file %s: unknown keys %s: check their spelling against the plugin's README (sample.conf)",
			path, strings.Join(keys, ", "))
	}
	return p, nil
}

// getEnv is the environment lookup of Telegraf's execd shim: a value is escaped for a TOML
// basic string, so that a quote or backslash in it cannot end the string.
func getEnv(key string) string {
	return strings.NewReplacer(`"`, `\"`, `\`, `\\`).Replace(os.Getenv(key))
}
