#!/usr/bin/env bash
# Installs what the end-to-end tests need on a fresh Debian machine (idempotent, non-interactive):
# Chromium, TigerVNC's Xvnc and vncpasswd, xterm, xwininfo, openssl, QEMU, websockify (the
# benchmark's peer), xclip, setxkbmap, Debian's noVNC (vnc_lite.html), nginx and NSS's certutil
# (the reverse-proxy test), HAProxy (the scale-out test), Prometheus and promtool (the metrics test), a font; and the npm
# packages of web/ and tests/e2e/.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v Xvnc >/dev/null || need+=(tigervnc-standalone-server)
command -v xterm >/dev/null || need+=(xterm)
command -v xwininfo >/dev/null || need+=(x11-utils)
command -v vncpasswd >/dev/null || need+=(tigervnc-tools)
command -v openssl >/dev/null || need+=(openssl)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v websockify >/dev/null || need+=(websockify)
command -v xclip >/dev/null || need+=(xclip)                # the console page's clipboard tests
command -v setxkbmap >/dev/null || need+=(x11-xkb-utils)    # its keyboard-layout test
[ -e /usr/share/novnc/vnc_lite.html ] || need+=(novnc)      # bench/first-frame.mjs's vnc_lite.html
# nginx is started by the test itself, on a free port with its own prefix (Debian's service is
# left as the package installs it).
command -v nginx >/dev/null || need+=(nginx)
command -v certutil >/dev/null || need+=(libnss3-tools)
# HAProxy in front of three porthole processes (tests/e2e/haproxy.test.mjs), also started by the
# test itself on free ports with its own configuration.
command -v haproxy >/dev/null || need+=(haproxy)
# promtool (`check metrics`) and a real Prometheus that scrapes /metrics once, started by the
# metrics test on a free port with its own config and data directory.
command -v promtool >/dev/null || need+=(prometheus)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${need[@]}"
fi
npm ci --prefix web --no-audit --no-fund --loglevel=error
npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
