package engine_test

import (
	"github.com/mqtttocsv/mqtttocsv/internal/sink"
	"github.com/mqtttocsv/mqtttocsv/internal/tasmota"
)

type readingT = tasmota.Reading

func openDirFS(dir string) (*sink.DirFS, error) { return sink.OpenDir(dir) }
