"""Shared fixtures: the real embedded SmolLM2 GGUF and temporary folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The llama-cpp-python wheel `make setup` compiled for this machine (portable flags, see the Makefile): a test
# that builds a wheelhouse (tests/deploy) must ship it, not an sdist compiled anew with -march=native.
_LLAMA_WHEELS = Path.home() / ".cache" / "suksham" / "wheels" / "llama-cpp-python-current"
if _LLAMA_WHEELS.is_dir() and str(_LLAMA_WHEELS) not in os.environ.get("PIP_FIND_LINKS", "").split():
    # the variable replaces pip's find-links setting: keep the machine's own links beside ours
    _machine = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.find-links"], capture_output=True, text=True
    ).stdout.split()
    os.environ["PIP_FIND_LINKS"] = " ".join(
        [str(_LLAMA_WHEELS), *os.environ.get("PIP_FIND_LINKS", "").split(), *_machine]
    )


@pytest.fixture(scope="session")
def smollm2_gguf():
    from device.runtime.models import smollm2_gguf_path

    return smollm2_gguf_path()
