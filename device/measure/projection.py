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
"""

from __future__ import annotations

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
