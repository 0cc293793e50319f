#!/usr/bin/env bash
# Puts Debian's nats-server on PATH for the NATS JetStream tests (tests/events/test_nats_log.py), which start it
# themselves on a free loopback port (testing/nats.py). Does nothing when nats-server is already there, so
# `make test` may run it every time. Debian puts it in /usr/sbin, which a non-root PATH may lack: testing/nats.py
# looks there too.
set -euo pipefail

NATS_SERVER=/usr/sbin/nats-server

# shellcheck source=scripts/apt-install.sh
source "$(dirname "$0")/apt-install.sh"

if command -v nats-server >/dev/null 2>&1 || [ -x "$NATS_SERVER" ]; then
  exit 0
fi

apt_install install-nats nats-server
[ -x "$NATS_SERVER" ] || fail "apt-get installed nats-server but $NATS_SERVER is missing"
version=$("$NATS_SERVER" --version 2>/dev/null) || fail "nats-server was installed but does not start"
echo "install-nats: installed $version" >&2
