#!/usr/bin/env bash
# Installs and starts libvirt + QEMU (TCG) without systemd, for the end-to-end tests and for trying
# Porthole on this machine: virtlogd and libvirtd as root, libvirtd also on qemu+tcp://127.0.0.1.
# Idempotent: packages are installed only when missing, daemons started only when not running.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
if ! command -v libvirtd >/dev/null || ! command -v qemu-system-x86_64 >/dev/null \
    || [ ! -e /etc/libvirt/qemu.conf ] || [ ! -e /usr/include/libvirt/libvirt.h ]; then
    # Debian's udev post-install needs a system group kvm; libvirt wants the user libvirt-qemu.
    getent group kvm >/dev/null || groupadd -r kvm
    apt-get update -q
    apt-get install -y -q --no-install-recommends libvirt-daemon-system libvirt-daemon-system-sysv \
        libvirt-daemon-driver-qemu libvirt-clients libvirt-dev qemu-system-x86 pkg-config
fi
conf=/etc/libvirt/qemu.conf
grep -q '^user = "root"' "$conf" || printf '\nuser = "root"\ngroup = "root"\n' >> "$conf"
lconf=/etc/libvirt/libvirtd.conf
if ! grep -q '^listen_tcp = 1' "$lconf"; then
    printf '\nlisten_tls = 0\nlisten_tcp = 1\nlisten_addr = "127.0.0.1"\nauth_tcp = "none"\n' >> "$lconf"
fi
mkdir -p /var/log/libvirt /var/run/libvirt /var/lib/libvirt/qemu
pgrep -x virtlogd >/dev/null || setsid virtlogd </dev/null >/var/log/libvirt/virtlogd.out 2>&1 &
pgrep -x libvirtd >/dev/null || setsid libvirtd --listen </dev/null >/var/log/libvirt/libvirtd.out 2>&1 &
for _ in $(seq 1 100); do
    if virsh -c qemu:///system version >/dev/null 2>&1 && virsh -c qemu+tcp://127.0.0.1/system version >/dev/null 2>&1; then
        exit 0
    fi
    sleep 0.2
done
echo "libvirtd did not come up; see /var/log/libvirt/libvirtd.out" >&2
tail -n 20 /var/log/libvirt/libvirtd.out >&2 || true
exit 1
