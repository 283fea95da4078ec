#!/bin/sh
# Build (once) the Debian bookworm root filesystem that the e2e tests boot with systemd-nspawn.
#
#   sudo tests/deploy/build_rootfs.sh [/var/cache/suksham-e2e/rootfs] [ARCH]
#
# ARCH is amd64 (the default, this machine's) or arm64: the arm64 root is what a Pi 5 runs, made with
# `debootstrap --arch=arm64`, whose second stage runs arm64 programs in a chroot through binfmt_misc
# (qemu-user-static); it is cached at /var/cache/suksham-e2e/rootfs-arm64 by tests/deploy/testhost.py.
#
# The rootfs is cached outside the repo and reused between runs; a stamp file records the
# package list, so changing PACKAGES below rebuilds it. The test host has no network of its
# own: everything the playbook installs with apt is pre-installed here, and Python packages
# come from a wheelhouse built on this machine.
set -eu
ROOT=${1:-/var/cache/suksham-e2e/rootfs}
ARCH=${2:-amd64}
MIRROR=${SUKSHAM_E2E_MIRROR:-http://deb.debian.org/debian}
# What a Raspberry Pi OS Lite image already has, plus what the playbook's base role asks for.
PACKAGES=rsync,python3-packaging,systemd,systemd-sysv,dbus,python3,python3-venv,python3-apt,openssh-server,iproute2,sudo,systemd-timesyncd,tzdata,ca-certificates,curl,libgomp1,acl,tar,gzip
STAMP="$ROOT/.suksham-e2e-stamp"
# amd64's stamp stays the bare package list, so the root already cached on a machine is not rebuilt.
WANT=$PACKAGES
[ "$ARCH" = amd64 ] || WANT="$ARCH $PACKAGES"

# One build at a time: a second caller waits for the first, then finds the cache ready.
mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock 9

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
    echo "rootfs $ROOT is cached"
    exit 0
fi
[ "$(id -u)" = 0 ] || { echo "build_rootfs.sh must run as root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "install debootstrap: apt-get install -y debootstrap systemd-container" >&2; exit 1; }

if [ "$ARCH" != amd64 ]; then
    [ "$(cat /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null | head -1)" = enabled ] || {
        echo "build_rootfs.sh: binfmt_misc has no enabled qemu-aarch64 entry; debootstrap --arch=$ARCH needs it:" >&2
        echo "  apt-get install -y qemu-user-static binfmt-support && update-binfmts --enable qemu-aarch64" >&2
        exit 1
    }
fi

rm -rf "$ROOT.tmp"
mkdir -p "$(dirname "$ROOT")"
debootstrap --arch="$ARCH" --variant=minbase --include="$PACKAGES" bookworm "$ROOT.tmp" "$MIRROR"
# A machine id and a hostname so systemd boots cleanly; no root password (SSH key only).
: > "$ROOT.tmp/etc/machine-id"
echo suksham-e2e > "$ROOT.tmp/etc/hostname"
chroot "$ROOT.tmp" apt-get clean
echo "$WANT" > "$ROOT.tmp/.suksham-e2e-stamp"
rm -rf "$ROOT"
mv "$ROOT.tmp" "$ROOT"
echo "rootfs $ROOT built"
