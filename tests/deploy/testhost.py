"""A real Debian bookworm host, booted with systemd under systemd-nspawn, for the e2e deploy tests.

The rootfs is built once by tests/deploy/build_rootfs.sh and cached outside the repo
(/var/cache/suksham-e2e/rootfs); each run boots a throw-away copy of it, reaches it over SSH on its
own veth link at 10.231.0.2 only, and removes everything it started, by PID, when done.
See ../../../shared/TESTHOST.md for the manual steps this automates.

    sudo .venv/bin/pytest -m e2e tests/deploy        # runs the e2e tests that use it
"""

from __future__ import annotations

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


def missing_requirements() -> str | None:
    """Why the e2e tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "e2e deploy tests need root (systemd-nspawn, debootstrap, veth links); run them as root"
    for tool in ("systemd-nspawn", "debootstrap", "nsenter", "ssh", "ssh-keygen", "ip"):
        if shutil.which(tool) is None:
            return (
                f"{tool} is missing: run tests/deploy/setup_host_deps.sh "
                "(apt-get install debootstrap systemd-container)"
            )
    return None


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    kw.setdefault("check", True)
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(cmd, **kw)


class TestHost:
    """Boot a copy of the cached rootfs; `ssh()` runs commands in it; `close()` tears it all down."""

    __test__ = False  # not a pytest test class

    def __init__(self, workdir: Path):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.root = workdir / MACHINE
        self.key = workdir / "id_ed25519"
        self.log = workdir / "nspawn.log"
        self.nspawn: subprocess.Popen | None = None
        self.leader: int | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, timeout: float = 90) -> TestHost:
        _run([str(HERE / "build_rootfs.sh"), str(CACHE / "rootfs")], capture_output=False)
        if Path("/sys/class/net", VETH).exists():
            raise RuntimeError(f"{VETH} exists: another e2e run (or a stale one) is using {MACHINE}; stop it first")
        _run(["cp", "-a", "--reflink=auto", str(CACHE / "rootfs"), str(self.root)])
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)])
        ssh_dir = self.root / "root/.ssh"
        ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (ssh_dir / "authorized_keys").write_text(self.key.with_suffix(".pub").read_text())
        os.chmod(ssh_dir / "authorized_keys", 0o600)
        return self.boot(timeout)

    def boot(self, timeout: float = 90) -> TestHost:
        """Boot the rootfs copy (again, after hard_stop()) and wait until systemd says it is up."""
        with open(self.log, "ab") as log:
            self.nspawn = subprocess.Popen(
                [
                    "systemd-nspawn",
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
        deadline = time.monotonic() + timeout
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
            "ConnectTimeout=5",
        ]

    def ssh(self, command: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        return _run(["ssh", *self.ssh_args(), f"root@{GUEST_ADDR}", command], check=check, timeout=timeout)

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
