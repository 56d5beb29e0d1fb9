#!/usr/bin/env bash
# A private PostgreSQL server for the tests: installs Debian's `postgresql` if it is missing,
# creates a cluster (initdb -A trust, as the postgres user when run as root) and starts it on a
# free loopback port with its socket in its own directory. Idempotent: a server already running
# from the same directory is reused. Prints the URL alone on stdout; everything else goes to stderr.
#
#   export PORTHOLE_TEST_POSTGRES_URL=$(scripts/postgres-up.sh)
#   scripts/postgres-up.sh stop          # stops the server of that directory
#
# PORTHOLE_PG_DIR (default /tmp/porthole-pg) holds data/, sock/, log, url and env (a file with the
# export line, for `source`). Tests that stop their server (outage tests) set their own directory;
# started again there, the server takes the port it had (when still free), so its URL stays valid.
# PORTHOLE_PG_OPTS adds server options (e.g. "-c fsync=on" for a benchmark: fsync is off here).
set -euo pipefail
dir=${PORTHOLE_PG_DIR:-/tmp/porthole-pg}
data=$dir/data
sock=$dir/sock

say() { echo "postgres-up: $*" >&2; }

bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

if ! bindir >/dev/null; then
    say "installing Debian's postgresql"
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq postgresql >&2
fi
bin=$(bindir) || { say "no initdb under /usr/lib/postgresql/*/bin after installing postgresql"; exit 1; }

# As root, the server runs as `postgres` (it refuses to run as root).
if [ "$(id -u)" = 0 ]; then
    owner=postgres
    as_owner() { runuser -u postgres -- "$@"; }
else
    owner=$(id -un)
    as_owner() { "$@"; }
fi

mkdir -p "$dir"
chown "$owner" "$dir"
exec 9>"$dir/lock"
flock 9 # one caller at a time sets up or starts the server

if [ "${1:-}" = stop ]; then
    if as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        as_owner "$bin/pg_ctl" -D "$data" -m fast -w stop >&2
    fi
    exit 0
fi

major=$(basename "$(dirname "$bin")")
if [ -f "$data/PG_VERSION" ] && [ "$(cat "$data/PG_VERSION")" != "$major" ]; then
    say "cluster in $data is from PostgreSQL $(cat "$data/PG_VERSION"), not $major: making a new one"
    rm -rf "$data"
fi
if [ ! -f "$data/PG_VERSION" ]; then
    rm -rf "$data"
    install -d -o "$owner" -m 0700 "$data"
    as_owner "$bin/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; say "initdb failed"; exit 1; }
fi
install -d -o "$owner" -m 0700 "$sock"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The port of the URL this directory's server had last, if nothing else listens there now.
last_port() {
    local p
    p=$(sed -n 's|^postgres://[^@]*@127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$dir/url" 2>/dev/null) || return 1
    [ -n "$p" ] && python3 -c "import socket, sys; s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); print(sys.argv[1])" "$p" 2>/dev/null
}

running_port() {
    # postmaster.pid line 4 is the port; the server answers on it.
    as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1 || return 1
    local port
    port=$(sed -n 4p "$data/postmaster.pid" 2>/dev/null)
    [ -n "$port" ] && "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 5 && echo "$port"
}

if ! port=$(running_port); then
    started=
    for attempt in 1 2 3; do
        if [ "$attempt" = 1 ] && last=$(last_port); then port=$last; else port=$(free_port); fi
        # Loopback only; fsync off: a test server, thrown away with its directory. (9>&-: the
        # server must not inherit the lock.)
        if as_owner "$bin/pg_ctl" -D "$data" -l "$dir/log" -w -t 60 \
            -o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300 ${PORTHOLE_PG_OPTS:-}" start >&2 9>&-; then
            started=1
            break
        fi
        say "start on port $port failed (see $dir/log); trying another port"
    done
    [ -n "$started" ] || { tail -n 20 "$dir/log" >&2; say "PostgreSQL did not start"; exit 1; }
fi

url="postgres://postgres@127.0.0.1:$port/postgres"
echo "$url" >"$dir/url"
echo "export PORTHOLE_TEST_POSTGRES_URL=$url" >"$dir/env"
say "PostgreSQL $major serving $data on 127.0.0.1:$port"
echo "$url"
