#!/usr/bin/env bash
# Makes sure Debian's mosquitto and mosquitto-clients are installed: the end-to-end tests run
# against a real broker. As root on Debian/Ubuntu it installs them; otherwise it says how.
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
if have mosquitto && have mosquitto_passwd; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing mosquitto and mosquitto-clients (apt-get)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
  exit 0
fi
echo "mosquitto is not installed: the end-to-end tests will be skipped (they fail under CI=true)." >&2
echo "Install it with: sudo apt-get install mosquitto mosquitto-clients" >&2
if [ "${CI:-}" = true ]; then exit 1; fi
