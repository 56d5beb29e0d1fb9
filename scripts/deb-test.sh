#!/usr/bin/env bash
# The Debian package end to end (issue 12): builds it with cargo-deb (`cargo deb -p porthole`,
# a release build), checks its contents, installs it with dpkg, checks what the postinst did, runs
# /usr/bin/porthole serve as the porthole user with the installed configuration plus a target and
# opens consoles in headless Chromium through it (tests/e2e/deb-package.mjs), verifies the unit
# with systemd-analyze, then purges the package and checks that nothing is left. The package is
# purged however the test ends; a porthole package installed before the test is left alone (the
# test refuses to run). Needs root, `npm ci --prefix web` and the e2e packages (scripts/e2e-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-$PWD/target}
work=$(mktemp -d /tmp/porthole-deb.XXXXXX)
fail() { echo "deb-test: $*" >&2; exit 1; }
# dpkg, waiting (up to 10 min) while another dpkg or apt holds the lock.
dpkg_waiting() {
    local out
    for _ in $(seq 60); do
        if out=$(dpkg "$@" 2>&1); then return 0; fi
        grep -q 'lock' <<<"$out" || { echo "$out" >&2; return 1; }
        sleep 10
    done
    echo "$out" >&2
    return 1
}

[ "$(id -u)" = 0 ] || fail "needs root (dpkg -i)"
[ -f web/node_modules/@novnc/novnc/core/rfb.js ] || fail "run npm ci --prefix web first: the package's binary embeds the console pages"
if dpkg-query -W -f='${Status}' porthole 2>/dev/null | grep -q 'installed'; then
    fail "a porthole package is already installed; this test installs and purges its own: remove it first (dpkg --purge porthole)"
fi
command -v cargo-deb >/dev/null || cargo install --locked cargo-deb
if ! command -v systemd-analyze >/dev/null; then
    # Debian's systemd package brings systemd-analyze; installing it starts nothing where systemd
    # is not the init (and it is not made the init without systemd-sysv).
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends systemd
fi

installed=0
made_state=0
cleanup() {
    if [ "$installed" = 1 ]; then
        dpkg_waiting --purge porthole || true
    elif [ "$made_state" = 1 ]; then
        rm -rf /var/lib/porthole
    fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "deb-test: cargo deb -p porthole"
# --fast: lighter compression, the same package otherwise (a minute less here).
cargo deb -p porthole --fast --output "$work/porthole.deb" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "cargo deb failed"; }
deb="$work/porthole.deb"

# What the package holds.
dpkg-deb -c "$deb" >"$work/contents"
for f in ./usr/bin/porthole ./etc/porthole/porthole.toml ./usr/share/doc/porthole/copyright; do
    grep -q " $f\$" "$work/contents" || fail "$f is not in the package"
done
grep -Eq ' \./(usr/)?lib/systemd/system/porthole\.service$' "$work/contents" || fail "porthole.service is not in the package"
dpkg-deb -e "$deb" "$work/control"
grep -qx '/etc/porthole/porthole.toml' "$work/control/conffiles" || fail "/etc/porthole/porthole.toml is not a conffile"
grep -q '^Depends:.*adduser' "$work/control/control" || fail "Depends lacks adduser"

# An operator who ran porthole as root before installing the package left a root-owned store in
# /var/lib/porthole (root's default): the package must hand it to the porthole user. Done only
# when the directory is not there yet (the purge below removes it again).
if [ ! -e /var/lib/porthole ]; then
    made_state=1
    "${CARGO_TARGET_DIR:-target}/release/porthole" sessions >/dev/null || fail "porthole sessions as root (to leave a root-owned store) failed"
    [ "$(stat -c '%U' /var/lib/porthole/porthole.db)" = root ] || fail "expected a root-owned /var/lib/porthole/porthole.db before the install"
fi

echo "deb-test: dpkg -i"
installed=1
dpkg_waiting -i "$deb" || fail "dpkg -i failed"

# What the postinst did.
getent passwd porthole | grep -q ':/var/lib/porthole:/usr/sbin/nologin$' || fail "no porthole system user with home /var/lib/porthole: $(getent passwd porthole)"
[ "$(id -u porthole)" -lt 1000 ] || fail "porthole is not a system user"
if getent group libvirt >/dev/null; then
    id -nG porthole | tr ' ' '\n' | grep -qx libvirt || fail "porthole is not in the libvirt group"
fi
[ "$(stat -c '%U:%G %a' /etc/porthole/porthole.toml)" = "root:porthole 640" ] || fail "/etc/porthole/porthole.toml: $(stat -c '%U:%G %a' /etc/porthole/porthole.toml)"
[ "$(stat -c '%U' /var/lib/porthole)" = porthole ] || fail "/var/lib/porthole is not porthole's"
for f in /var/lib/porthole/porthole.db*; do
    [ ! -e "$f" ] || [ "$(stat -c '%U' "$f")" = porthole ] || fail "$f is not porthole's: the service could not write its store"
done
/usr/bin/porthole --version
# The copyright file's stand-alone Apache-2.0 paragraph, unindented, is LICENSE word for word.
python3 - /usr/share/doc/porthole/copyright LICENSE <<'PY' || fail "the package's copyright does not hold LICENSE (Apache-2.0) in full"
import sys
paragraphs = open(sys.argv[1]).read().split("\n\n")
text = next(p for p in paragraphs if p.startswith("License: Apache-2.0\n"))
body = "\n".join("" if l == " ." else l[1:] for l in text.split("\n")[1:])
sys.exit(0 if body.strip("\n") == open(sys.argv[2]).read().strip("\n") else 1)
PY

echo "deb-test: the installed binary serves consoles as the porthole user"
PORTHOLE_BIN=/usr/bin/porthole node --test --test-concurrency=1 tests/e2e/deb-package.mjs

echo "deb-test: systemd-analyze verify"
unit=$(dpkg -L porthole | grep '/systemd/system/porthole\.service$')
# Clean means exit 0 and not a word (unknown keys, for one, are only warned about).
if ! systemd-analyze verify "$unit" >"$work/verify.log" 2>&1 || [ -s "$work/verify.log" ]; then
    cat "$work/verify.log" >&2
    fail "systemd-analyze verify found problems in $unit"
fi

echo "deb-test: dpkg --purge"
dpkg_waiting --purge porthole || fail "dpkg --purge failed"
installed=0
for f in /usr/bin/porthole /etc/porthole /var/lib/porthole "$unit"; do
    [ ! -e "$f" ] || fail "$f is left after purge"
done
! getent passwd porthole >/dev/null || fail "the porthole user is left after purge"
! getent group porthole >/dev/null || fail "the porthole group is left after purge"
echo "deb-test: 1 passed, 0 failed"
