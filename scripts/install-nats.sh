#!/usr/bin/env bash
# Puts Debian's nats-server on PATH for the NATS JetStream tests (tests/events/test_nats_log.py), which start it
# themselves on a free loopback port (testing/nats.py). Does nothing when nats-server is already there, so
# `make test` may run it every time. Debian puts it in /usr/sbin, which a non-root PATH may lack: testing/nats.py
# looks there too.
set -euo pipefail

NATS_SERVER=/usr/sbin/nats-server

fail() {
  echo "install-nats: $*" >&2
  exit 1
}

if command -v nats-server >/dev/null 2>&1 || [ -x "$NATS_SERVER" ]; then
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" != "0" ]; then
  command -v sudo >/dev/null 2>&1 || fail "nats-server is missing and installing it needs root (or sudo): apt-get install nats-server"
  sudo_cmd=(sudo -n)
fi
command -v apt-get >/dev/null 2>&1 || fail "nats-server is missing and there is no apt-get here: install Debian's nats-server package by hand"

echo "install-nats: nats-server not found, installing Debian's nats-server with apt" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/install-nats.XXXXXX)
trap 'rm -f "$log"' EXIT
if ! "${sudo_cmd[@]}" apt-get update -qq >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "apt-get update failed (see above)"
fi
if ! "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends nats-server >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "apt-get install nats-server failed (see above)"
fi
[ -x "$NATS_SERVER" ] || fail "apt-get installed nats-server but $NATS_SERVER is missing"
version=$("$NATS_SERVER" --version 2>/dev/null) || fail "nats-server was installed but does not start"
echo "install-nats: installed $version" >&2
