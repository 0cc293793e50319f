#!/usr/bin/env bash
# Puts Debian's Chromium at /usr/bin/chromium for the browser tests (tests/browser/), which drive it with
# Playwright's Python client; Playwright's own browser download is never used. Does nothing when Chromium is
# already there, so `make test` may run it every time.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

fail() {
  echo "install-browser: $*" >&2
  exit 1
}

if [ -x "$CHROMIUM" ]; then
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" != "0" ]; then
  command -v sudo >/dev/null 2>&1 || fail "$CHROMIUM is missing and installing it needs root (or sudo): apt-get install chromium"
  sudo_cmd=(sudo -n)
fi
command -v apt-get >/dev/null 2>&1 || fail "$CHROMIUM is missing and there is no apt-get here: install Debian's chromium package by hand"

echo "install-browser: $CHROMIUM not found, installing Debian's chromium with apt" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp /tmp/install-browser.XXXXXX)
trap 'rm -f "$log"' EXIT
if ! "${sudo_cmd[@]}" apt-get update -qq >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "apt-get update failed (see above)"
fi
if ! "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends chromium >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  fail "apt-get install chromium failed (see above)"
fi
[ -x "$CHROMIUM" ] || fail "apt-get installed chromium but $CHROMIUM is still missing"
version=$("$CHROMIUM" --headless --no-sandbox --version 2>/dev/null) || fail "$CHROMIUM was installed but does not start"
echo "install-browser: installed $version" >&2
