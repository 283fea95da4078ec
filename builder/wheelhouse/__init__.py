"""The Pi 5 wheelhouse: every wheel `pip install '.[device]'` needs on linux_aarch64, offline-ready.

    make wheelhouse-pi            # = python3 -m builder.wheelhouse --out build/wheelhouse-pi

Standard library only, so it runs on the host's python3 before any venv exists. One module per step:
`requirements` (what the device extra asks for), `crossbuild` (llama-cpp-python for the Cortex-A76),
`fetch` (every other wheel, per CPython version), `emulate` (an arm64 Debian root under qemu), and
`house` (assemble, import-test, manifest, atomic swap).
"""

from __future__ import annotations

import os
from pathlib import Path

# CPython versions of the Pi's OS: Raspberry Pi OS / Debian bookworm (3.11) and trixie (3.13).
PYTHONS = {"3.11": "bookworm", "3.13": "trixie"}
# pip download --platform tags a Pi 5's glibc (2.36 on bookworm) accepts; PyPI has no linux_aarch64
# wheels, but our own retagged llama-cpp-python is one.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64", "linux_aarch64")
# The Pi 5's core: armv8.2-a with dotprod and fp16 (no i8mm, no SVE).
QEMU_CPU = "cortex-a76"


def cache_root() -> Path:
    """Outside the clone, so a fresh clone on the same machine reuses it."""
    return Path(os.environ.get("SUKSHAM_CACHE", Path.home() / ".cache" / "suksham"))


class WheelhouseError(RuntimeError):
    """A step failed; the message says which and what to do."""
