"""Fixtures for the arm64 tests: the Pi 5 wheelhouse (from the cache) and arm64 Debian roots under qemu.

Each fixture skips with the reason when this machine cannot provide it (no qemu, no cross compiler,
not root so no debootstrap); none of them is mocked.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from builder.wheelhouse import PYTHONS, WheelhouseError, emulate
from builder.wheelhouse.house import build

REPO = Path(__file__).resolve().parents[2]
# How many of tests/arm64/events.json the emulated parity test asks: each costs ~0.5-2 min under qemu.
PARITY_EVENTS = int(os.environ.get("SUKSHAM_ARM64_PARITY_EVENTS", "4"))


def _skip_unless_emulation():
    if problem := emulate.qemu_problem():
        pytest.skip(problem)


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory) -> Path:
    """A fresh wheelhouse for both CPython versions; the cross-built wheel and downloads come from the cache."""
    _skip_unless_emulation()
    if shutil.which("aarch64-linux-gnu-gcc") is None:
        pytest.skip("no aarch64 cross compiler: apt-get install -y gcc-aarch64-linux-gnu g++-aarch64-linux-gnu")
    out = tmp_path_factory.mktemp("wheelhouse") / "wheelhouse-pi"
    try:
        build(out, REPO, pythons=sorted(PYTHONS), test_imports=False)
    except WheelhouseError as e:
        pytest.fail(f"wheelhouse build failed: {e}")
    return out


def arm64_root(suite: str) -> Path:
    _skip_unless_emulation()
    try:
        return emulate.ensure_root(suite)
    except WheelhouseError as e:
        pytest.skip(f"no arm64 {suite} root: {e}")
