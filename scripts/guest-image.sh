#!/usr/bin/env bash
# Builds the guest the serial-console tests boot: Debian's kernel and a gzip'd cpio initramfs that
# holds /bin/busybox (busybox-static) and an /init that starts a shell on ttyS0. Idempotent: the
# result is cached in $PORTHOLE_GUEST_DIR (default ~/.cache/porthole/guest) and rebuilt only when
# missing or when this script's /init changed. Nothing is installed: the kernel comes from /boot
# when linux-image-amd64 is installed, otherwise both packages are downloaded with `apt-get
# download` and unpacked into the cache.
#
#   scripts/guest-image.sh              build if needed; print the directory
#   scripts/guest-image.sh --xml NAME   build if needed; print a libvirt domain XML named NAME
#
# The domain is TCG (`<domain type='qemu'>`), boots the kernel directly with console=ttyS0, has a
# pty serial port with its console, and VNC graphics on 127.0.0.1 (the boot text shows there too).
# Try it: virsh create <(scripts/guest-image.sh --xml guest1) && virsh console guest1
set -euo pipefail

dir=${PORTHOLE_GUEST_DIR:-$HOME/.cache/porthole/guest}
mkdir -p "$dir"
# Tests run in parallel and each may call this: one builds, the others wait.
exec 9>"$dir/.lock"
flock 9

# The guest's /init. Changing it rebuilds the initramfs (its hash is the stamp).
read -r -d '' INIT <<'EOF' || true
#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /root
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec 0</dev/console 1>/dev/console 2>&1
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "porthole guest: Linux $(uname -r), busybox shell on ttyS0"
# Kernel messages after boot would interleave with what the tests type and read.
dmesg -n 1
export HOME=/root PS1='guest# '
cd /root
while :; do setsid cttyhack sh; done
EOF

stamp=$(printf '%s' "$INIT" | sha256sum | cut -c1-16)

fetch_deb() { # PACKAGE DEST: unpack a Debian package without installing it
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download "$1" >/dev/null 2>&1) || { apt-get update -q >/dev/null && (cd "$tmp" && apt-get download "$1" >/dev/null); }
    dpkg-deb -x "$tmp"/*.deb "$2"
    rm -rf "$tmp"
}

if [ ! -s "$dir/vmlinuz" ]; then
    kernel=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$kernel" ]; then
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
        [ -n "$pkg" ] || { apt-get update -q >/dev/null; pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}'); }
        echo "guest-image: downloading $pkg" >&2
        rm -rf "$dir/kernel-pkg"
        fetch_deb "$pkg" "$dir/kernel-pkg"
        kernel=$(ls -1 "$dir"/kernel-pkg/boot/vmlinuz-* | tail -n 1)
    fi
    cp "$kernel" "$dir/vmlinuz.tmp"
    mv "$dir/vmlinuz.tmp" "$dir/vmlinuz"
    rm -rf "$dir/kernel-pkg"
fi

if [ ! -x "$dir/busybox" ]; then
    if dpkg -s busybox-static >/dev/null 2>&1; then
        cp /bin/busybox "$dir/busybox"
    else
        echo "guest-image: downloading busybox-static" >&2
        rm -rf "$dir/busybox-pkg"
        fetch_deb busybox-static "$dir/busybox-pkg"
        cp "$dir/busybox-pkg/bin/busybox" "$dir/busybox"
        rm -rf "$dir/busybox-pkg"
    fi
fi

if [ ! -s "$dir/initrd.gz" ] || [ "$(cat "$dir/initrd.stamp" 2>/dev/null)" != "$stamp" ]; then
    root=$(mktemp -d)
    mkdir -p "$root/bin"
    cp "$dir/busybox" "$root/bin/busybox"
    printf '%s\n' "$INIT" >"$root/init"
    chmod 755 "$root/init" "$root/bin/busybox"
    (cd "$root" && find . -mindepth 1 | "$dir/busybox" cpio -o -H newc -R 0:0 2>/dev/null) | gzip -9n >"$dir/initrd.gz.tmp"
    mv "$dir/initrd.gz.tmp" "$dir/initrd.gz"
    echo "$stamp" >"$dir/initrd.stamp"
    rm -rf "$root"
fi

if [ "${1:-}" = "--xml" ]; then
    name=${2:?usage: guest-image.sh --xml NAME}
    cat <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$dir/vmlinuz</kernel>
    <initrd>$dir/initrd.gz</initrd>
    <cmdline>console=tty0 console=ttyS0</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <devices>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>
    <video><model type='vga'/></video>
  </devices>
</domain>
EOF
else
    echo "$dir"
fi
