#!/usr/bin/env bash
# Installs what building Porthole needs beyond Rust: libvirt's C library and headers (the `virt`
# crate links against them) and pkg-config. Idempotent and non-interactive.
set -euo pipefail
if [ ! -e /usr/include/libvirt/libvirt.h ] || ! command -v pkg-config >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends libvirt-dev pkg-config
fi
