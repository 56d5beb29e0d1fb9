#!/usr/bin/env bash
# Installs OpenStack Nova from PyPI (pinned) with the MySQL and PostgreSQL drivers its
# `[database] connection` URLs name, into a virtualenv of its own (default ~/.cache/porthole/nova-venv,
# or $PORTHOLE_NOVA_VENV): the tests mint console tokens with Nova's own code and the benchmark runs
# the real nova-novncproxy. Its own virtualenv, because Nova pins oslo and SQLAlchemy versions the
# openstack client's virtualenv need not share. Idempotent; prints the virtualenv's python on stdout.
set -euo pipefail
venv=${PORTHOLE_NOVA_VENV:-$HOME/.cache/porthole/nova-venv}
want=(nova==34.0.0 PyMySQL==1.2.4 "psycopg[binary]==3.3.9")
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
have=$("$venv/bin/pip" freeze 2>/dev/null || true)
if ! grep -qx "nova==34.0.0" <<<"$have" || ! grep -qx "PyMySQL==1.2.4" <<<"$have" || ! grep -qx "psycopg==3.3.9" <<<"$have"; then
    echo "nova-deps: installing ${want[*]} into $venv (a few minutes)" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${want[@]}" >&2
fi
echo "$venv/bin/python"
