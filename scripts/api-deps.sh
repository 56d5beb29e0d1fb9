#!/usr/bin/env bash
# Installs the real OpenStack command line client and schemathesis from PyPI into a virtualenv
# (default ~/.cache/porthole/venv, or $PORTHOLE_VENV) for the API end-to-end tests. Idempotent.
set -euo pipefail
venv=${PORTHOLE_VENV:-$HOME/.cache/porthole/venv}
want=(python-openstackclient==10.5.0 openstacksdk==4.22.0 schemathesis==4.32.5)
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if ! "$venv/bin/pip" freeze 2>/dev/null | grep -qx "schemathesis==4.32.5" \
    || ! "$venv/bin/pip" freeze 2>/dev/null | grep -qx "python-openstackclient==10.5.0"; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${want[@]}"
fi
