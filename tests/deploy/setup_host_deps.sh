#!/bin/sh
# Install what tests/deploy needs on a Debian/Ubuntu CI machine (as root), then build the cached
# test-host rootfs so the e2e tests start at once.
#
#   sudo tests/deploy/setup_host_deps.sh          # from `make test` (.ci/run), before pytest
#
# Not root: installs nothing and exits 0 (the e2e tests then skip, saying why).
#
# debootstrap + systemd-container: the e2e test host (systemd-nspawn). rsync: the wheelhouse copy.
# mtools, dosfstools, fdisk, xz-utils, e2fsprogs: the flash.yml tests. systemd: systemd-analyze.
# chromium: the live page's headless browser test (tests/device/runtime/test_live_browser.py).
set -eu
if [ "$(id -u)" != 0 ]; then
    echo "setup_host_deps.sh: not root, installing nothing; the e2e deploy tests will be skipped" >&2
    exit 0
fi
command -v apt-get >/dev/null || { echo "setup_host_deps.sh: no apt-get; install the packages above by hand" >&2; exit 0; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
    debootstrap systemd-container systemd rsync openssh-client iproute2 util-linux \
    mtools dosfstools fdisk xz-utils e2fsprogs chromium
# tests/arm64: qemu-user with the Cortex-A76 model, binfmt for debootstrap --arch=arm64, and the cross
# toolchain for the Pi 5 llama-cpp-python wheel (built once, then cached in ~/.cache/suksham).
apt-get install -y -q --no-install-recommends qemu-user-static binfmt-support gcc-aarch64-linux-gnu g++-aarch64-linux-gnu
# Node and npm: the official `ollama` npm client against our Ollama API (tests/device/runtime/test_ollama_api.py
# installs the package into ~/.cache/suksham/npm), and the live page's script under Node.
# A machine may already have Node from elsewhere (NodeSource's nodejs bundles npm and conflicts with Debian's):
# install only what is missing, and let a failure here skip those tests rather than stop the run.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt-get install -y -q --no-install-recommends nodejs npm \
        || echo "setup_host_deps.sh: could not install nodejs/npm; the npm client test will be skipped" >&2
fi
"$(dirname "$0")/build_rootfs.sh" "${SUKSHAM_E2E_CACHE:-/var/cache/suksham-e2e}/rootfs"
