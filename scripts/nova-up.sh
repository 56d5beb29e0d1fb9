#!/usr/bin/env bash
# Everything the Nova tests need, idempotent: Nova in its virtualenv (scripts/nova-deps.sh), a
# private MariaDB (scripts/mariadb-up.sh) and PostgreSQL (scripts/postgres-up.sh), and on each a
# database `porthole_nova` made by Nova's own `nova-manage db sync`. Prints `export` lines on stdout:
#
#   eval "$(scripts/nova-up.sh)"
#
# PORTHOLE_NOVA_PYTHON            the virtualenv's python (tests/e2e/nova/nova_console.py runs with it)
# PORTHOLE_TEST_MARIADB_URL       the MariaDB server (tests create databases of their own there)
# PORTHOLE_TEST_POSTGRES_URL      the PostgreSQL server
# PORTHOLE_TEST_NOVA_MYSQL_URL    nova+mysql://…/porthole_nova, the store URL of the Rust tests
# PORTHOLE_TEST_NOVA_POSTGRES_URL nova+postgresql://…/porthole_nova
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(scripts/nova-deps.sh)
mariadb=$(scripts/mariadb-up.sh)
postgres=$(scripts/postgres-up.sh)
db=porthole_nova

# The databases, then Nova's tables by `nova-manage db sync` (which leaves an up-to-date database alone).
"$python" - "$mariadb" "$db" <<'PY' >&2
import sys, pymysql, urllib.parse as u
url = u.urlparse(sys.argv[1])
conn = pymysql.connect(host=url.hostname, port=url.port, user=url.username, password=url.password)
conn.cursor().execute("CREATE DATABASE IF NOT EXISTS %s CHARACTER SET utf8mb4" % sys.argv[2])
PY
pg_host_port=${postgres#postgres://postgres@}
pg_host_port=${pg_host_port%%/*}
"$python" - "$pg_host_port" "$db" <<'PY' >&2
import sys, psycopg
host, port = sys.argv[1].split(":")
with psycopg.connect(host=host, port=int(port), user="postgres", dbname="postgres", autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (sys.argv[2],)).fetchone():
        conn.execute("CREATE DATABASE %s" % sys.argv[2])
PY
mysql_conn="mysql+pymysql://${mariadb#mysql://}/$db?charset=utf8"
pg_conn="postgresql+psycopg://postgres@$pg_host_port/$db"
for conn in "$mysql_conn" "$pg_conn"; do
    "$python" tests/e2e/nova/nova_console.py --connection "$conn" schema >/dev/null 2>"${TMPDIR:-/tmp}/nova-schema.log" ||
        { cat "${TMPDIR:-/tmp}/nova-schema.log" >&2; echo "nova-up: creating Nova's tables on $conn failed" >&2; exit 1; }
done
echo "nova-up: Nova's tables in $db on MariaDB and PostgreSQL" >&2
cat <<OUT
export PORTHOLE_NOVA_PYTHON=$python
export PORTHOLE_TEST_MARIADB_URL=$mariadb
export PORTHOLE_TEST_POSTGRES_URL=$postgres
export PORTHOLE_TEST_NOVA_MYSQL_URL=nova+$mysql_conn
export PORTHOLE_TEST_NOVA_POSTGRES_URL=nova+$pg_conn
OUT
