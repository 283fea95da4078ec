"""A real Debian bookworm host, booted with systemd under systemd-nspawn, for the e2e deploy tests.

The rootfs is built once by tests/deploy/build_rootfs.sh and cached outside the repo
(/var/cache/suksham-e2e/rootfs); each run boots a throw-away copy of it, reaches it over SSH on its
own veth link at 10.231.0.2 only, and removes everything it started, by PID, when done.
See ../../../shared/TESTHOST.md for the manual steps this automates.

`TestHost(..., arch="arm64")` boots an arm64 bookworm root (/var/cache/suksham-e2e/rootfs-arm64) the
same way: the kernel runs its programs through binfmt_misc with qemu-aarch64, and every process in
it sees QEMU_CPU=cortex-a76, the Pi 5's core. One host at a time holds 10.231.0.2 (a lock file).

    sudo .venv/bin/pytest -m e2e tests/deploy        # runs the e2e tests that use it
    sudo nice -n 19 .venv/bin/pytest -m arm64 tests/deploy/test_e2e_arm64.py   # the arm64 host
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE = Path(os.environ.get("SUKSHAM_E2E_CACHE", "/var/cache/suksham-e2e"))
MACHINE = "skbe2e"
HOST_ADDR = "10.231.0.1"
# The only address any e2e test talks to (besides loopback).
GUEST_ADDR = "10.231.0.2"
VETH = f"ve-{MACHINE}"
# The Debian architectures a test host can have, and the Pi 5's core for the emulated one.
ARCHES = ("amd64", "arm64")
QEMU_CPU = "cortex-a76"


def rootfs_path(arch: str = "amd64") -> Path:
    return CACHE / ("rootfs" if arch == "amd64" else f"rootfs-{arch}")


def missing_requirements(arch: str = "amd64") -> str | None:
    """Why the e2e tests cannot run here, or None when they can."""
    if arch not in ARCHES:
        raise ValueError(f"arch {arch!r} is not one of {ARCHES}")
    if os.geteuid() != 0:
        return "e2e deploy tests need root (systemd-nspawn, debootstrap, veth links); run them as root"
    for tool in ("systemd-nspawn", "debootstrap", "nsenter", "ssh", "ssh-keygen", "ip"):
        if shutil.which(tool) is None:
            return (
                f"{tool} is missing: run tests/deploy/setup_host_deps.sh "
                "(apt-get install debootstrap systemd-container)"
            )
    if arch == "arm64":
        from builder.wheelhouse import emulate

        if problem := emulate.qemu_problem():
            return f"the arm64 test host needs qemu-user: {problem}"
        if not emulate.binfmt_ready(register=True):
            return (
                "binfmt_misc has no enabled qemu-aarch64 entry and it could not be registered here "
                "(mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; apt-get install binfmt-support "
                "qemu-user-static; update-binfmts --enable qemu-aarch64): the arm64 host cannot boot"
            )
        flags = (emulate.BINFMT / "qemu-aarch64").read_text()
        if "flags:" in flags and "F" not in flags.split("flags:", 1)[1].split("\n", 1)[0]:
            return "the qemu-aarch64 binfmt entry lacks the F flag: the interpreter is not found inside a container"
    return None


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    kw.setdefault("check", True)
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(cmd, **kw)


class TestHost:
    """Boot a copy of the cached rootfs; `ssh()` runs commands in it; `close()` tears it all down."""

    __test__ = False  # not a pytest test class

    def __init__(self, workdir: Path, arch: str = "amd64"):
        if arch not in ARCHES:
            raise ValueError(f"arch {arch!r} is not one of {ARCHES}")
        self.arch = arch
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.root = workdir / MACHINE
        self.key = workdir / "id_ed25519"
        self.log = workdir / "nspawn.log"
        self.nspawn: subprocess.Popen | None = None
        self.leader: int | None = None
        self._lock = None
        # Under emulation everything is ~10-30x slower: booting, SSH logins, Python, the model.
        self.slowdown = 1 if arch == "amd64" else 8

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, timeout: float = 90) -> TestHost:
        rootfs = rootfs_path(self.arch)
        _run([str(HERE / "build_rootfs.sh"), str(rootfs), self.arch], capture_output=False)
        # One test host at a time owns the veth link and 10.231.0.2; a second run waits for the first.
        CACHE.mkdir(parents=True, exist_ok=True)
        self._lock = open(CACHE / "testhost.lock", "w")  # held until close()
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another e2e test host to finish (lock {CACHE / 'testhost.lock'})", flush=True)
            fcntl.flock(self._lock, fcntl.LOCK_EX)
        if Path("/sys/class/net", VETH).exists():
            raise RuntimeError(f"{VETH} exists: another e2e run (or a stale one) is using {MACHINE}; stop it first")
        _run(["cp", "-a", "--reflink=auto", str(rootfs), str(self.root)])
        self._age_apt_lists()
        if self.arch == "arm64":
            self._adapt_to_qemu_user()
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)])
        ssh_dir = self.root / "root/.ssh"
        ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(self.key.with_suffix(".pub").read_text())
        os.chmod(ssh_dir / "authorized_keys", 0o600)
        return self.boot(timeout)

    def _age_apt_lists(self) -> None:
        """Date the copy's apt lists a year back, as on a root cached long ago or a Pi not updated lately.

        The host has no mirror, so any apt cache update in the playbook fails; with lists as fresh as a
        rootfs built this morning, a cache_valid_time check would pass here and fail a day later (it did, on CI).
        """
        old = time.time() - 365 * 86400
        for path in (self.root / "var/lib/apt/lists", self.root / "var/lib/apt/periodic/update-success-stamp"):
            if path.exists():
                os.utime(path, (old, old))

    def _adapt_to_qemu_user(self) -> None:
        """What the arm64 root needs to boot and serve under qemu-user, written before its first boot.

        - Every process runs on qemu's Cortex-A76 (without QEMU_CPU, qemu's `max` CPU has SVE and i8mm,
          which a Pi 5 lacks): systemd's services through DefaultEnvironment, SSH logins through pam_env.
        - qemu-user refuses clone() with CLONE_NEWNS (EINVAL), which systemd 252 uses to set up a unit's
          credentials (LoadCredential=): such a unit fails with 243/CREDENTIALS (systemd issues #21511,
          #34809). Debian's own units lose their (optional, unused here) credentials, and the commentary
          service gets its API key from a root-made copy instead.
        - qemu-user always runs a second thread (its RCU thread), and unshare(CLONE_NEWUSER) refuses a
          multithreaded caller (EINVAL): PrivateUsers=yes fails with 217/USER, so the suksham units get
          PrivateUsers=no here.
        These drop-ins are the only changes to what site.yml installs, and only on this emulated host; the
        x86 host (and a Pi) run the units as written. Seccomp-based settings (SystemCallFilter=,
        MemoryDenyWriteExecute=, ...) are silently not applied under qemu-user (it refuses seccomp), and
        qemu's code generator needs W+X memory anyway."""
        conf = self.root / "etc/systemd/system.conf.d"
        conf.mkdir(parents=True, exist_ok=True)
        (conf / "qemu-cpu.conf").write_text(f"[Manager]\nDefaultEnvironment=QEMU_CPU={QEMU_CPU}\n")
        env = self.root / "etc/environment"
        env.write_text((env.read_text() if env.exists() else "") + f"QEMU_CPU={QEMU_CPU}\n")
        units = self.root / "lib/systemd/system"
        for unit in sorted(units.glob("*.service")):
            if "LoadCredential=" in unit.read_text():
                self._drop_in(unit.name, "[Service]\nLoadCredential=\n")
        copy = "/run/suksham-e2e-credentials"
        self._drop_in("suksham-bench.service", "[Service]\nPrivateUsers=no\n")
        self._drop_in(
            "suksham-benaud.service",
            "[Service]\n"
            "PrivateUsers=no\n"
            "LoadCredential=\n"
            f"Environment=CREDENTIALS_DIRECTORY={copy}\n"
            f"ExecStartPre=+/bin/sh -c 'install -d -m 0500 -o suksham {copy} && "
            f"install -m 0400 -o suksham /etc/suksham/api-key {copy}/api-key'\n",
        )

    def _drop_in(self, unit: str, text: str) -> None:
        folder = self.root / "etc/systemd/system" / f"{unit}.d"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "qemu-user.conf").write_text("# tests/deploy/testhost.py: the arm64 host under qemu-user\n" + text)

    def boot(self, timeout: float = 90) -> TestHost:
        """Boot the rootfs copy (again, after hard_stop()) and wait until systemd says it is up."""
        with open(self.log, "ab") as log:
            self.nspawn = subprocess.Popen(
                [
                    "systemd-nspawn",
                    *([f"--setenv=QEMU_CPU={QEMU_CPU}"] if self.arch == "arm64" else []),
                    "--register=no",
                    "--keep-unit",
                    "--network-veth",
                    "--console=passive",
                    f"--machine={MACHINE}",
                    "-D",
                    str(self.root),
                    "-b",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout * self.slowdown
        self.leader = self._wait_leader(deadline)
        _run(["ip", "addr", "add", f"{HOST_ADDR}/30", "dev", VETH])
        _run(["ip", "link", "set", VETH, "up"])
        netns = ["nsenter", "-t", str(self.leader), "-n"]
        _run(netns + ["ip", "addr", "add", f"{GUEST_ADDR}/30", "dev", "host0"])
        _run(netns + ["ip", "link", "set", "host0", "up"])
        while True:
            probe = self.ssh("systemctl is-system-running --wait", check=False, timeout=60)
            if probe.stdout.strip() in ("running", "degraded"):
                return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"test host did not boot: {probe.stdout!r} {probe.stderr!r}; see {self.log}")
            time.sleep(1)

    def hard_stop(self) -> None:
        """Cut the power: SIGKILL to the host's PID 1 ends every process in it at once, with no shutdown.

        The files stay as the host's page cache holds them (one kernel): what this cannot show is an SD
        card losing writes that were never synced."""
        os.kill(self.leader, signal.SIGKILL)
        self.nspawn.wait(timeout=60)
        deadline = time.monotonic() + 30
        while Path("/sys/class/net", VETH).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.leader = None

    def _wait_leader(self, deadline: float) -> int:
        while time.monotonic() < deadline:
            if self.nspawn.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited with {self.nspawn.returncode}; see {self.log}")
            out = _run(["ps", "-eo", "pid=,ppid=,comm="]).stdout
            for line in out.splitlines():
                pid, ppid, comm = line.split(None, 2)
                if (
                    int(ppid) == self.nspawn.pid
                    and comm.strip() == "systemd"
                    and Path(f"/sys/class/net/{VETH}").exists()
                ):
                    return int(pid)
            time.sleep(0.2)
        raise RuntimeError(f"the test host's systemd did not start; see {self.log}")

    def close(self) -> None:
        """Power the host off, end systemd-nspawn (by its PID) and delete the rootfs copy."""
        if self.nspawn is not None and self.nspawn.poll() is None:
            if self.leader:
                subprocess.run(
                    ["nsenter", "-t", str(self.leader), "-m", "-u", "-i", "-n", "-p", "systemctl", "poweroff"],
                    capture_output=True,
                    timeout=30,
                )
            try:
                self.nspawn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.nspawn.pid, signal.SIGKILL)
                self.nspawn.wait(timeout=30)
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None

    # -- access ----------------------------------------------------------------------------------
    def ssh_args(self) -> list[str]:
        return [
            "-i",
            str(self.key),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "BatchMode=yes",
            "-o",
            f"ConnectTimeout={5 * self.slowdown}",
        ]

    def ssh(self, command: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        return _run(
            ["ssh", *self.ssh_args(), f"root@{GUEST_ADDR}", command], check=check, timeout=timeout * self.slowdown
        )

    def inventory(self, path: Path) -> Path:
        args = " ".join(self.ssh_args()[2:])
        path.write_text(
            "[suksham]\n"
            f"{GUEST_ADDR} ansible_user=root ansible_ssh_private_key_file={self.key} "
            f"ansible_ssh_common_args='{args}' ansible_python_interpreter=/usr/bin/python3\n"
        )
        return path

    def main_pid(self, unit: str = "suksham-benaud") -> int:
        return int(self.ssh(f"systemctl show -p MainPID --value {unit}").stdout.strip() or 0)
