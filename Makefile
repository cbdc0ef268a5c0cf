# mqtttocsv — the two commands a new user needs are `make run` and `make test`.
GO          ?= go
BIN         := $(CURDIR)/bin
TELEGRAF_VERSION := v1.37.2
# Only the Telegraf plugins the tests and the benchmark use: a custom build takes about a
# minute instead of many.
TELEGRAF_TAGS := custom,inputs.mqtt_consumer,processors.execd,outputs.file,outputs.discard,parsers.json_v2,parsers.json,serializers.influx,serializers.csv
LISTEN      ?= localhost:1883
OUT         ?= ./data
FUZZTIME    ?= 30s
TEST_TIMEOUT ?= 45m
# mqtttocsv is linked without cgo (a static binary): not mapping the C library saves about
# 2 MB of its resident memory (bench/). Host names are then resolved by Go's own resolver
# (/etc/hosts and DNS), not through NSS modules such as mdns for .local names;
# `make build MQTTTOCSV_CGO=1` links it with the C library again.
MQTTTOCSV_CGO ?= 0

.PHONY: all build run demo test test-short test-telegraf telegraf bench fuzz lint clean

all: build

build:
	CGO_ENABLED=$(MQTTTOCSV_CGO) $(GO) build -o $(BIN)/mqtttocsv ./cmd/mqtttocsv
	$(GO) build -o $(BIN)/tasmota-csv ./cmd/tasmota-csv
	$(GO) build -o $(BIN)/mqttpub ./tools/mqttpub

## run: the main job — an embedded MQTT broker on $(LISTEN), CSV files under $(OUT).
run:
	CGO_ENABLED=$(MQTTTOCSV_CGO) $(GO) build -o $(BIN)/mqtttocsv ./cmd/mqtttocsv
	$(BIN)/mqtttocsv --listen $(LISTEN) --out-dir $(OUT)

## demo: embedded broker + the bundled capture published over MQTT + SIGTERM, then the files.
demo: build
	./scripts/demo.sh

## test: every test, end-to-end ones included (they need mosquitto and bin/telegraf).
test: telegraf
	@./scripts/ensure-mosquitto.sh
	$(GO) vet ./...
	TELEGRAF_BIN=$(BIN)/telegraf $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./internal/... ./plugins/...

## test-telegraf: the plugin, tasmota-csv and the end-to-end test through a real Telegraf.
test-telegraf: telegraf
	TELEGRAF_BIN=$(BIN)/telegraf $(GO) test -count=1 ./plugins/... ./cmd/tasmota-csv/...

test-short:
	$(GO) test -short ./...

## telegraf: a real Telegraf with only the plugins needed, cached under bin/.
telegraf: $(BIN)/telegraf

$(BIN)/telegraf:
	GOBIN=$(BIN) $(GO) install -tags $(TELEGRAF_TAGS) github.com/influxdata/telegraf/cmd/telegraf@$(TELEGRAF_VERSION)

## bench: the performance table of the README (not part of `make test`).
bench: build telegraf
	$(GO) run ./bench $(BENCH_ARGS)

## fuzz: each fuzz target for $(FUZZTIME); `make test` replays the committed corpus.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...

clean:
	rm -rf $(BIN)/mqtttocsv $(BIN)/tasmota-csv $(BIN)/mqttpub data
