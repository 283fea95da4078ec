"""Shared fixtures: the real embedded SmolLM2 GGUF and temporary folders."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def smollm2_gguf():
    from device.runtime.models import smollm2_gguf_path

    return smollm2_gguf_path()
