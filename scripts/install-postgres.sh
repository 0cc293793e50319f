#!/usr/bin/env bash
# Puts Debian's PostgreSQL server programs in /usr/lib/postgresql/VERSION/bin for scripts/with-postgres.sh, which
# starts a throwaway cluster from them. Does nothing when they are already there, so `make test` may run it every
# time. Prints the directory of the newest version installed.
set -euo pipefail

# shellcheck source=scripts/apt-install.sh
source "$(dirname "$0")/apt-install.sh"

find_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

bindir=$(find_bindir)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  apt_install install-postgres postgresql >&2
  bindir=$(find_bindir)
  [ -n "$bindir" ] && [ -x "$bindir/initdb" ] || fail "apt-get installed postgresql but no initdb is in /usr/lib/postgresql"
fi
echo "$bindir"
