#!/bin/sh
# Build (once) the Debian bookworm root filesystem that the e2e tests boot with systemd-nspawn.
#
#   sudo tests/deploy/build_rootfs.sh [/var/cache/suksham-e2e/rootfs]
#
# The rootfs is cached outside the repo and reused between runs; a stamp file records the
# package list, so changing PACKAGES below rebuilds it. The test host has no network of its
# own: everything the playbook installs with apt is pre-installed here, and Python packages
# come from a wheelhouse built on this machine.
set -eu
ROOT=${1:-/var/cache/suksham-e2e/rootfs}
MIRROR=${SUKSHAM_E2E_MIRROR:-http://deb.debian.org/debian}
# What a Raspberry Pi OS Lite image already has, plus what the playbook's base role asks for.
PACKAGES=rsync,python3-packaging,systemd,systemd-sysv,dbus,python3,python3-venv,python3-apt,openssh-server,iproute2,sudo,systemd-timesyncd,tzdata,ca-certificates,curl,libgomp1,acl,tar,gzip
STAMP="$ROOT/.suksham-e2e-stamp"

# One build at a time: a second caller waits for the first, then finds the cache ready.
mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock 9

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PACKAGES" ]; then
    echo "rootfs $ROOT is cached"
    exit 0
fi
[ "$(id -u)" = 0 ] || { echo "build_rootfs.sh must run as root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "install debootstrap: apt-get install -y debootstrap systemd-container" >&2; exit 1; }

rm -rf "$ROOT.tmp"
mkdir -p "$(dirname "$ROOT")"
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$ROOT.tmp" "$MIRROR"
# A machine id and a hostname so systemd boots cleanly; no root password (SSH key only).
: > "$ROOT.tmp/etc/machine-id"
echo suksham-e2e > "$ROOT.tmp/etc/hostname"
chroot "$ROOT.tmp" apt-get clean
echo "$PACKAGES" > "$ROOT.tmp/.suksham-e2e-stamp"
rm -rf "$ROOT"
mv "$ROOT.tmp" "$ROOT"
echo "rootfs $ROOT built"
