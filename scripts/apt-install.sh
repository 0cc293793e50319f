#!/usr/bin/env bash
# Installs one Debian package with apt, as root or through `sudo -n`, quietly unless it fails; sourced by the
# scripts that put a tool the tests need in place (install-browser.sh, install-nats.sh, install-postgres.sh).
# Usage: apt_install NAME PACKAGE  (NAME prefixes the messages, e.g. install-nats)

fail() {
  echo "$APT_INSTALL_NAME: $*" >&2
  exit 1
}

apt_install() {
  APT_INSTALL_NAME=$1
  local package=$2
  local sudo_cmd=()
  if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null 2>&1 || fail "$package is missing and installing it needs root (or sudo): apt-get install $package"
    sudo_cmd=(sudo -n)
  fi
  command -v apt-get >/dev/null 2>&1 || fail "$package is missing and there is no apt-get here: install Debian's $package package by hand"
  echo "$APT_INSTALL_NAME: $package not found, installing Debian's $package with apt" >&2
  export DEBIAN_FRONTEND=noninteractive
  local log
  log=$(mktemp "/tmp/$APT_INSTALL_NAME.XXXXXX")
  if ! "${sudo_cmd[@]}" apt-get update -qq >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -f "$log"
    fail "apt-get update failed (see above)"
  fi
  if ! "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$package" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -f "$log"
    fail "apt-get install $package failed (see above)"
  fi
  rm -f "$log"
}
