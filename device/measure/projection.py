"""PROJECTION of decode speed and commentary latency on a Raspberry Pi 5, from measurements made elsewhere.

This is an estimate, not a measurement: run `suksham bench` on a Pi 5 for real numbers.

Method (memory-bandwidth roofline). Decoding one token reads every weight once, so
tokens/s <= bandwidth / bytes per token. Two estimates bound the Pi 5:
- roofline: llama.cpp decode reaches 84-91% of STREAM read bandwidth on a Pi 5, which is about
  13.2 GB/s on 4 threads (9.3 GB/s on 1) - llama.cpp issue #26484;
- same efficiency: the Pi reaches the same fraction of its bandwidth as llama.cpp reached on this
  machine (for a tiny model, per-token overheads make this fraction lower than on the Pi's big models).
Commentary latency measured here (with the prefix cache) is scaled by the decode slowdown; this assumes
prompt evaluation slows by the same factor, which is only roughly true (it is compute-bound).
Sanity check: the roofline predicts Qwen2.5-0.5B Q4_K_M, which decodes at ~25.8 tok/s on a Pi 5.

Per quant (issue 19, `project_quants`, `python -m device.measure.projection BUNDLE_OR_GGUF...`): the same
roofline from each file's size alone, beside its tensor layout: the share of its matrix weights whose type
has a repacked (interleaved, dotprod) kernel on the Pi 5's Cortex-A76. The roofline ignores compute; a
weight without a repacked kernel (Q5_0, Q4_1) runs the plain NEON dot product and is less likely to reach it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PI5_STREAM_READ_GBS = {1: 9.3, 4: 13.2}  # published STREAM read, Pi 5 (LPDDR4X-4267)
PI5_DECODE_EFFICIENCY = (0.84, 0.91)  # llama.cpp decode / STREAM read on a Pi 5 (llama.cpp #26484)
PI5_THREADS = 4
# Published anchor: Qwen2.5-0.5B-Instruct Q4_K_M, 4 threads on a Pi 5. Its GGUF is 398-491 MB depending
# on how the embedding table is quantized (assumed range; the published figure does not say which file).
ANCHOR_TPS = 25.8
ANCHOR_MODEL_MB = (398, 491)


def _range(low: float, high: float, digits: int = 1) -> dict:
    return {"low": round(min(low, high), digits), "high": round(max(low, high), digits)}


def project_pi5(report: dict) -> dict:
    """Pi 5 decode tok/s and commentary latency ranges from a bench report's measurements."""
    bytes_per_token = report["model_mb"] * (1 << 20)  # every weight once per token (upper bound)
    cores = report["pp_tg"][-1]["threads"]  # decode and bandwidth at the same thread count
    bw_here = report["bandwidth_gbs"].get(str(cores)) or max(report["bandwidth_gbs"].values())
    tg_here = report["pp_tg"][-1]["generation_tps"]  # the longest generation run
    eff_here = tg_here * bytes_per_token / (bw_here * 1e9)
    bw_pi = PI5_STREAM_READ_GBS[PI5_THREADS]
    roofline = [e * bw_pi * 1e9 / bytes_per_token for e in PI5_DECODE_EFFICIENCY]
    # Above the roofline means the model was partly served from this CPU's caches (a big x86 L3 can hold
    # a 100 MB model; the Pi 5's 2 MB cannot), so the extrapolation is capped at the roofline.
    same_eff_raw = tg_here * bw_pi / bw_here
    same_eff = min(same_eff_raw, max(roofline))
    low, high = min(roofline + [same_eff]), max(roofline + [same_eff])
    anchor_pred = [e * bw_pi * 1e9 / (mb * 1e6) for e in PI5_DECODE_EFFICIENCY for mb in ANCHOR_MODEL_MB]
    lat = report["commentary"]["with_prefix_cache"]["latency_ms"]
    # a slower Pi (low tok/s) means a longer latency: latency scales with tg_here / tg_pi
    latency = {
        q: _range(lat[q] * tg_here / high, lat[q] * tg_here / low, 0) for q in ("p50", "p95") if lat.get(q) is not None
    }
    return {
        "label": "PROJECTION for a Raspberry Pi 5 (4 threads), not a measurement",
        "method": "memory-bandwidth roofline; see device/projection.py",
        "inputs": {
            "model_bytes_per_token_mb": report["model_mb"],
            "bandwidth_here_gbs": bw_here,
            "threads_here": cores,
            "decode_tps_here": tg_here,
            "decode_fraction_of_bandwidth_here": round(eff_here, 3),
            "pi5_stream_read_gbs": PI5_STREAM_READ_GBS,
            "pi5_decode_efficiency": PI5_DECODE_EFFICIENCY,
            "commentary_latency_here_ms": {"p50": lat.get("p50"), "p95": lat.get("p95")},
        },
        "generation_tps": _range(low, high),
        "generation_tps_roofline": _range(*roofline),
        "generation_tps_same_efficiency": round(same_eff, 1),
        "same_efficiency_capped_at_roofline": same_eff_raw > max(roofline),
        "commentary_latency_ms": latency,
        "sanity_check": {
            "model": "Qwen2.5-0.5B Q4_K_M",
            "published_pi5_tps": ANCHOR_TPS,
            "roofline_predicts_tps": _range(min(anchor_pred), max(anchor_pred)),
            "assumed_gguf_mb": ANCHOR_MODEL_MB,
        },
        "caveats": [
            "If other work shared this CPU during the run, decode_tps_here is pessimistic (see the load average).",
            "Prompt evaluation is compute-bound; scaling it by the decode ratio is a rough assumption.",
            "A small model is less bandwidth-bound than the roofline assumes: the low end is the safer figure.",
        ],
    }


# Types with a repacked ARM kernel on the Cortex-A76 (no i8mm: the dotprod layouts q4_0_4x4, q4_K_8x4, ...),
# read from the vendored ggml-cpu repack.cpp and seen under emulation (benchmarks/RESULTS.md, "What llama.cpp
# repacks"); Q4_1, Q5_0, Q5_1 have none.
A76_REPACKED = ("Q4_0", "Q4_K", "Q5_K", "Q6_K", "Q8_0", "IQ4_NL", "Q2_K", "MXFP4")


def quant_layout(path: str | os.PathLike) -> dict:
    """The matrix weights of a GGUF by type (F32 norms left out) and the share that the A76 repacks."""
    from device.runtime.gguf_header import read_tensors

    params: dict[str, int] = {}
    tensors: dict[str, int] = {}
    for _name, kind, n in read_tensors(path):
        if kind == "F32":
            continue
        params[kind] = params.get(kind, 0) + n
        tensors[kind] = tensors.get(kind, 0) + 1
    total = sum(params.values()) or 1
    repacked = sum(n for kind, n in params.items() if kind in A76_REPACKED)
    return {
        "tensors_by_type": dict(sorted(tensors.items())),
        "parameters_by_type": dict(sorted(params.items())),
        "repacked_share_on_a76": round(repacked / total, 3),
        "repacked_tensors_on_a76": sum(n for kind, n in tensors.items() if kind in A76_REPACKED),
    }


def project_quant(path: str | os.PathLike) -> dict:
    """PROJECTION of Pi 5 decode tok/s for one GGUF from its file size (the roofline), with its layout."""
    path = Path(path)
    size = path.stat().st_size
    roofline = [e * PI5_STREAM_READ_GBS[PI5_THREADS] * 1e9 / size for e in PI5_DECODE_EFFICIENCY]
    return {
        "label": "PROJECTION for a Raspberry Pi 5 (4 threads), not a measurement",
        "file": path.name,
        "model_mb": round(size / (1 << 20), 1),
        "generation_tps_roofline": _range(*roofline),
        **quant_layout(path),
    }


def project_quants(paths) -> dict[str, dict]:
    """{quant: projection} for a bundle folder (every quant its manifest lists) or for GGUF files."""
    out = {}
    for p in map(Path, paths):
        if p.is_dir():
            from device.runtime.bundle import bundle_quants, read_manifest

            for quant, file in bundle_quants(read_manifest(p)).items():
                out[quant] = project_quant(p / file)
        else:
            out[p.stem] = project_quant(p)
    return out


def format_quant_projections(rows: dict[str, dict]) -> str:
    lines = [
        "PROJECTION for a Raspberry Pi 5 (4 threads), not a measurement: decode tok/s by the memory-bandwidth",
        f"roofline ({PI5_DECODE_EFFICIENCY[0]:.0%}-{PI5_DECODE_EFFICIENCY[1]:.0%} of "
        f"{PI5_STREAM_READ_GBS[PI5_THREADS]} GB/s STREAM read / file size); repacked = share of matrix weights",
        "with a repacked Cortex-A76 kernel (the roofline assumes compute keeps up; plain kernels make it less likely)",
    ]
    width = max([len("quant"), *map(len, rows)])
    lines.append(f"{'quant':<{width}} {'MB':>7} {'roofline tok/s':>15} {'repacked':>9}  weights by type")
    for quant, r in rows.items():
        tps = r["generation_tps_roofline"]
        types = ", ".join(f"{n} {k}" for k, n in r["tensors_by_type"].items())
        lines.append(
            f"{quant:<{width}} {r['model_mb']:>7.1f} {tps['low']:>7.0f}-{tps['high']:<7.0f} "
            f"{r['repacked_share_on_a76']:>9.0%}  {types}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: python -m device.measure.projection BUNDLE_DIR | FILE.gguf ...")
    print(format_quant_projections(project_quants(sys.argv[1:])))
