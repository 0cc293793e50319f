#!/usr/bin/env bash
# Puts Debian's Chromium at /usr/bin/chromium for the browser tests (tests/browser/), which drive it with
# Playwright's Python client; Playwright's own browser download is never used. Does nothing when Chromium is
# already there, so `make test` may run it every time.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

# shellcheck source=scripts/apt-install.sh
source "$(dirname "$0")/apt-install.sh"

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

apt_install install-browser chromium
[ -x "$CHROMIUM" ] || fail "apt-get installed chromium but $CHROMIUM is still missing"
version=$("$CHROMIUM" --headless --no-sandbox --version 2>/dev/null) || fail "$CHROMIUM was installed but does not start"
echo "install-browser: installed $version" >&2
