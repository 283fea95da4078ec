"""An arm64 Debian root run under qemu-user with the Pi 5's CPU model, without a chroot.

The root's own python runs as `qemu-aarch64-static -L ROOT ROOT/usr/bin/python3` (qemu looks up the
ELF interpreter and absolute paths in ROOT first), so running it needs no binfmt_misc; only building
the root with debootstrap (its second stage runs arm64 binaries in a chroot) does.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from builder.wheelhouse import QEMU_CPU, WheelhouseError, cache_root
from builder.wheelhouse.progress import run_logged, say

QEMU = "qemu-aarch64-static"
MIRROR = os.environ.get("SUKSHAM_ARM64_MIRROR", "http://deb.debian.org/debian")
# python3-venv brings pip's wheel (/usr/share/python-wheels), which installs from the wheelhouse.
PACKAGES = "python3,python3-venv,libgomp1"
BINFMT = Path("/proc/sys/fs/binfmt_misc")


def qemu_problem() -> str | None:
    """Why the root's programs cannot run here, or None."""
    if shutil.which(QEMU) is None:
        return f"{QEMU} not found: apt-get install -y qemu-user-static"
    return None


def binfmt_ready(register: bool = True) -> bool:
    """qemu-aarch64 registered with binfmt_misc (mounting and enabling it if root and asked to)."""
    entry = BINFMT / "qemu-aarch64"
    if entry.is_file() and entry.read_text().startswith("enabled"):
        return True
    if not register or os.geteuid() != 0:
        return False
    if not (BINFMT / "register").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], capture_output=True)
    if shutil.which("update-binfmts"):
        subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], capture_output=True)
    return entry.is_file() and entry.read_text().startswith("enabled")


def root_path(suite: str) -> Path:
    return cache_root() / "arm64-roots" / suite


def ensure_root(suite: str) -> Path:
    """The cached arm64 `suite` root (bookworm, trixie), made with debootstrap the first time (~3-5 min)."""
    root = root_path(suite)
    stamp = root / ".suksham-arm64-root"
    if stamp.is_file() and stamp.read_text().strip() == PACKAGES:
        return root
    if os.geteuid() != 0:
        raise WheelhouseError(
            f"the arm64 {suite} root {root} is missing and only root can debootstrap it "
            "(or skip the emulated import test: --no-import-test)"
        )
    if shutil.which("debootstrap") is None:
        raise WheelhouseError("debootstrap not found: apt-get install -y debootstrap")
    if problem := qemu_problem():
        raise WheelhouseError(problem)
    if not binfmt_ready():
        raise WheelhouseError(
            "binfmt_misc has no qemu-aarch64 entry (debootstrap's second stage needs it): "
            "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && "
            "update-binfmts --enable qemu-aarch64"
        )
    tmp = root.with_name(suite + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    say(f"arm64 root: debootstrap {suite} into {root} (once; a few minutes)")
    run_logged(
        ["debootstrap", "--arch=arm64", "--variant=minbase", f"--include={PACKAGES}", suite, str(tmp), MIRROR],
        log=cache_root() / "logs" / f"debootstrap-{suite}.log",
        label=f"debootstrap {suite}",
        every=30,
    )
    subprocess.run(["chroot", str(tmp), "apt-get", "clean"], check=True)
    (tmp / ".suksham-arm64-root").write_text(PACKAGES + "\n")
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return root


def adopt_root(suite: str) -> None:
    """Stamp a root made by hand with the same debootstrap command (so it is not rebuilt)."""
    (root_path(suite) / ".suksham-arm64-root").write_text(PACKAGES + "\n")


def python_argv(root: Path) -> list[str]:
    """argv prefix that runs the root's python3 under qemu with the Pi 5's CPU model."""
    return [QEMU, "-L", str(root), "-cpu", QEMU_CPU, str(root / "usr" / "bin" / "python3")]


def emulated_env(extra_path: Path | None = None, **more: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QEMU_CPU"] = QEMU_CPU
    env["LC_ALL"] = "C.UTF-8"
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    env.update(more)
    return env


def pip_wheel(root: Path) -> Path:
    """The root's own pip (Debian's python3-pip-whl), runnable as `python3 PIP.whl/pip`."""
    found = sorted((root / "usr" / "share" / "python-wheels").glob("pip-*.whl"))
    if not found:
        raise WheelhouseError(f"no pip wheel in {root}/usr/share/python-wheels (python3-venv missing?)")
    return found[-1]


def install_from_wheelhouse(root: Path, wheelhouse: Path, target: Path, spec: str, *, log: Path) -> None:
    """`pip install --no-index --find-links WHEELHOUSE --target TARGET SPEC`, by the root's aarch64 pip."""
    shutil.rmtree(target, ignore_errors=True)
    run_logged(
        [
            *python_argv(root),
            str(pip_wheel(root) / "pip"),
            "install",
            "--no-index",
            "--no-compile",
            "--disable-pip-version-check",
            "--find-links",
            str(wheelhouse),
            "--target",
            str(target),
            spec,
        ],
        log=log,
        label=f"pip install {spec} in the arm64 {root.name} root",
        env=emulated_env(),
        every=30,
    )


def installed_site(root: Path, wheelhouse: Path) -> Path:
    """`suksham-benaud[device]` installed from `wheelhouse` by the root's pip, cached per set of wheels.

    Keyed by the wheelhouse's SHA256SUMS, so `make wheelhouse-pi`, the tests and the parity run share
    one install per root and set of wheels; the two newest are kept (~250 MB each).
    """
    key = hashlib.sha256((wheelhouse / "SHA256SUMS").read_bytes()).hexdigest()[:16]
    site = cache_root() / "arm64-sites" / f"{root.name}-{key}"
    if not (site / ".complete").is_file():
        install_from_wheelhouse(
            root, wheelhouse, site, "suksham-benaud[device]", log=cache_root() / "logs" / f"site-{root.name}.log"
        )
        (site / ".complete").write_text("ok\n")
        old = sorted(site.parent.glob(f"{root.name}-*"), key=lambda p: p.stat().st_mtime)[:-2]
        for stale in old:
            shutil.rmtree(stale, ignore_errors=True)
    return site
