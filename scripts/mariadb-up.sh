#!/usr/bin/env bash
# A private MariaDB server for the tests (Nova's usual database): installs Debian's `mariadb-server`
# if it is missing, creates a data directory (mariadb-install-db) and starts `mariadbd` on a free
# loopback port with its socket in its own directory, and a user `porthole` (password `porthole`,
# every privilege) for the tests. Idempotent: a server already running from the same directory is
# reused. Prints the server URL alone on stdout (no database in it); everything else goes to stderr.
#
#   export PORTHOLE_TEST_MARIADB_URL=$(scripts/mariadb-up.sh)    # mysql://porthole:porthole@127.0.0.1:PORT
#   scripts/mariadb-up.sh stop
#
# PORTHOLE_MARIADB_DIR (default /tmp/porthole-mariadb) holds data/, run/ (socket, pid, log) and url.
set -euo pipefail
dir=${PORTHOLE_MARIADB_DIR:-/tmp/porthole-mariadb}
data=$dir/data
run=$dir/run # socket, pid file and log: written by the server user
sock=$run/mysqld.sock

say() { echo "mariadb-up: $*" >&2; }

if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
    say "installing Debian's mariadb-server"
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    # policy-rc.d on these machines keeps the package from starting its own service.
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq mariadb-server >&2
fi
export PATH=$PATH:/usr/sbin

# As root, the server runs as `mysql` (it refuses to run as root without --user).
if [ "$(id -u)" = 0 ]; then owner=mysql; else owner=$(id -un); fi

mkdir -p "$dir"
exec 9>"$dir/lock"
flock 9 # one caller at a time sets up or starts the server

client() { mariadb --no-defaults --socket="$sock" -u root "$@"; }

running() {
    [ -S "$sock" ] && mariadb-admin --no-defaults --socket="$sock" -u root --connect-timeout=5 ping >/dev/null 2>&1
}

if [ "${1:-}" = stop ]; then
    if running; then
        mariadb-admin --no-defaults --socket="$sock" -u root shutdown >&2
    fi
    exit 0
fi

if [ ! -d "$data/mysql" ]; then
    rm -rf "$data"
    install -d -o "$owner" -m 0700 "$data"
    mariadb-install-db --no-defaults --datadir="$data" --user="$owner" --auth-root-authentication-method=normal \
        --skip-test-db >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; say "mariadb-install-db failed"; exit 1; }
fi
install -d -o "$owner" -m 0755 "$run"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if running; then
    port=$(client -N -e 'SELECT @@port')
else
    started=
    for _ in 1 2 3; do
        port=$(free_port)
        rm -f "$sock" "$run/pid"
        # Loopback only; no fsync per commit: a test server, thrown away with its directory. (9>&-:
        # the server must not inherit the lock.)
        setsid mariadbd --no-defaults --datadir="$data" --user="$owner" --port="$port" --bind-address=127.0.0.1 \
            --socket="$sock" --pid-file="$run/pid" --log-error="$run/log" --skip-name-resolve \
            --innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=0 --max-connections=300 \
            </dev/null >/dev/null 2>&1 9>&- &
        for _ in $(seq 1 120); do
            running && break
            sleep 0.5
        done
        if running; then
            started=1
            break
        fi
        say "start on port $port failed (see $run/log); trying another port"
        [ -f "$run/pid" ] && kill "$(cat "$run/pid")" 2>/dev/null || true
    done
    [ -n "$started" ] || { tail -n 20 "$run/log" >&2; say "MariaDB did not start"; exit 1; }
    client -e "CREATE USER IF NOT EXISTS 'porthole'@'%' IDENTIFIED BY 'porthole';
               GRANT ALL PRIVILEGES ON *.* TO 'porthole'@'%' WITH GRANT OPTION;"
fi

url="mysql://porthole:porthole@127.0.0.1:$port"
echo "$url" >"$dir/url"
say "MariaDB $(client -N -e 'SELECT VERSION()') serving $data on 127.0.0.1:$port"
echo "$url"
