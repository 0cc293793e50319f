#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster on a free loopback port, exported as
# COMPASS_TEST_POSTGRES_URL. Installs PostgreSQL with apt when it is missing (install-postgres.sh); always stops
# the cluster.
set -euo pipefail

bindir=$("$(dirname "$0")/install-postgres.sh")

# PostgreSQL refuses to run as root: run the cluster as the postgres user the package creates.
run_as=()
if [ "$(id -u)" = "0" ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  run_as=(runuser -u postgres --)
fi

workdir=$(mktemp -d /tmp/compass-pg.XXXXXX)
chmod 755 "$workdir"
mkdir "$workdir/data" "$workdir/socket"
[ "$(id -u)" = "0" ] && chown -R postgres "$workdir/data" "$workdir/socket"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
  "${run_as[@]}" "$bindir/pg_ctl" -D "$workdir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$workdir"
}
trap cleanup EXIT INT TERM

"${run_as[@]}" "$bindir/initdb" -D "$workdir/data" -U compass -A trust -E UTF8 --no-sync >/dev/null
"${run_as[@]}" "$bindir/pg_ctl" -D "$workdir/data" -l "$workdir/socket/log" -w start \
  -o "-p $port -k $workdir/socket -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" >/dev/null
"${run_as[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U compass compass

export COMPASS_TEST_POSTGRES_URL="postgresql+asyncpg://compass@127.0.0.1:$port/compass"
export COMPASS_TEST_POSTGRES_BINDIR="$bindir"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
set +e
"$@"
status=$?
set -e
exit $status
