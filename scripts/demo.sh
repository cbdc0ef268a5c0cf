#!/usr/bin/env bash
# make demo: run mqtttocsv with its embedded broker, publish the bundled capture over real
# MQTT, stop it with SIGTERM as a service manager would, then show what it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$PWD/bin}
OUT=${DEMO_OUT:-./data/demo}
CAPTURE=${CAPTURE:-testdata/demo.jsonl.gz}
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT

rm -rf "$OUT"
echo "== mqtttocsv --listen 127.0.0.1:0 --out-dir $OUT --flush-interval 1s"
"$BIN/mqtttocsv" --listen 127.0.0.1:0 --out-dir "$OUT" --flush-interval 1s --client-id demo 2>"$LOG" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$LOG"' EXIT
addr=""
for _ in $(seq 1 100); do
  addr=$(sed -n 's/.*embedded broker listening on \([^ ]*\).*/\1/p' "$LOG" | head -1)
  if [ -n "$addr" ] && grep -q "subscribed" "$LOG"; then break; fi
  sleep 0.1
done
if [ -z "$addr" ]; then cat "$LOG"; echo "demo: mqtttocsv did not start" >&2; kill "$pid" 2>/dev/null; exit 1; fi
echo "== publishing $CAPTURE to tcp://$addr at QoS 1"
"$BIN/mqttpub" --broker "tcp://$addr" "$CAPTURE"
sleep 1
echo "== SIGTERM"
kill -TERM "$pid"
wait "$pid"
sed -n 's/.*stopped: /stopped: /p' "$LOG"
echo
for f in $(cd "$OUT" && find . -name '*.csv' | sort); do
  echo "== $OUT/${f#./} ($(($(wc -l < "$OUT/$f") - 1)) rows)"
  head -4 "$OUT/$f"
done
echo
echo "== mqtttocsv report $OUT   (add --plot day.png for the chart)"
"$BIN/mqtttocsv" report "$OUT"
