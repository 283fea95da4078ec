"""The one RAM estimate: what a serving process needs for a GGUF at a context size, from its header alone.

    model file (mmapped and fully touched while serving)
    + f16 KV cache      n_ctx x n_layer x n_head_kv x (head_dim_k + head_dim_v) x 2 bytes
    + compute buffers   n_batch x (n_ctx x n_head + 3 x n_ff) x 4 bytes (f32 attention scores, FFN activations)
    + runtime           Python, llama-cpp-python, FastAPI/uvicorn

The budget's preflight (`device.measure.budget`) and the bundle's manifest and model card
(`builder.export.gguf`) both use it, so the card and the Pi agree.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

from device.runtime.gguf_header import model_shape, read_metadata

MB = 1 << 20
# Python + llama-cpp-python + FastAPI/uvicorn before any model is loaded: measured 48 MB for
# Python + llama_cpp alone on x86-64; the HTTP stack and allocator slack round it up.
RUNTIME_BASE_MB = 128
DEFAULT_N_BATCH = 512
FORMULA = (
    "model file + KV cache (n_ctx x n_layer x n_head_kv x (head_dim_k + head_dim_v) x 2 bytes) "
    "+ compute buffers (n_batch x (n_ctx x n_head + 3 x n_ff) x 4 bytes) "
    f"+ {RUNTIME_BASE_MB} MB runtime (Python, llama-cpp-python, HTTP server)"
)


def estimate_ram(model_path: str | os.PathLike, n_ctx: int, n_batch: int = DEFAULT_N_BATCH) -> dict:
    """RAM (MB) a serving process needs for this GGUF at this context: the parts and their sum."""
    shape = model_shape(read_metadata(model_path))
    model_mb = Path(model_path).stat().st_size / MB  # mmap'd weights end up resident: count all of them
    kv_mb = shape.kv_cache_bytes(n_ctx) / MB
    # this matched 18 MB measured for SmolLM2 at n_ctx 512
    compute_mb = n_batch * (n_ctx * shape.n_head + 3 * shape.n_ff) * 4 / MB
    return {
        "model_mb": model_mb,
        "kv_cache_mb": kv_mb,
        "compute_mb": compute_mb,
        "runtime_mb": float(RUNTIME_BASE_MB),
        "estimate_mb": model_mb + kv_mb + compute_mb + RUNTIME_BASE_MB,
        "shape": asdict(shape),
    }


def expected_ram(gguf_path: str | os.PathLike, n_ctx: int) -> dict:
    """The same estimate as the manifest and the model card record it (`expected_ram_mb`)."""
    est = estimate_ram(gguf_path, n_ctx)
    return {
        "expected_ram_mb": int(round(est["estimate_mb"])),
        "model_file_mb": round(est["model_mb"], 1),
        "kv_cache_mb": round(est["kv_cache_mb"], 1),
        "compute_mb": round(est["compute_mb"], 1),
        "runtime_overhead_mb": RUNTIME_BASE_MB,
        "n_ctx": n_ctx,
        "formula": FORMULA,
    }
