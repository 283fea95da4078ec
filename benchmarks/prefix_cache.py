"""Prefix cache: commentary latency with the system prompt's KV cache reused vs a fresh context.

    .venv/bin/python benchmarks/prefix_cache.py [--model FILE.gguf] [--rounds 60] [--threads 2]

Both sides use device.runtime.engine on the same GGUF and events. "cached" is how the server runs (the
context keeps the previous request's tokens, so only the event's tokens are evaluated); "fresh"
clears the context before each request, so the whole prompt is evaluated. llama.cpp's own
counter (prompt_eval_tokens) is reported beside the times. A figure, not a gate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.server_overhead import EVENTS, bootstrap_ci  # noqa: E402


def main():
    from device.commentary.render import build_messages
    from device.runtime.engine import Engine, EngineSettings
    from device.runtime.models import smollm2_gguf_path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    model = args.model or smollm2_gguf_path()
    engine = Engine(EngineSettings(model_path=model, n_threads=args.threads)).load()
    messages = [build_messages(text=e) for e in EVENTS]
    for m in messages:
        engine.commentary(m)

    rows = {"cached": [], "fresh": []}
    evals = {"cached": [], "fresh": []}
    for i in range(args.rounds):
        m = messages[i % len(messages)]
        for mode in ("cached", "fresh") if i % 2 == 0 else ("fresh", "cached"):
            if mode == "fresh":
                with engine.lock:
                    engine.llama.reset()
                    engine.llama._ctx.kv_cache_clear()
            elif i % 2 == 1:  # cached after a fresh run: re-prime the prefix with another event
                engine.commentary(messages[(i + 1) % len(messages)])
            comp = engine.commentary(m)
            rows[mode].append(comp.total_ms)
            evals[mode].append(comp.prompt_eval_tokens)
    ratios = [c / f for c, f in zip(rows["cached"], rows["fresh"])]
    lo, hi = bootstrap_ci(ratios)
    result = {
        "benchmark": "prefix_cache",
        "model": str(model),
        "rounds": args.rounds,
        "median_cached_ms": round(statistics.median(rows["cached"]), 2),
        "median_fresh_ms": round(statistics.median(rows["fresh"]), 2),
        "median_prompt_eval_tokens_cached": statistics.median(evals["cached"]),
        "median_prompt_eval_tokens_fresh": statistics.median(evals["fresh"]),
        "median_ratio_cached_over_fresh": round(statistics.median(ratios), 4),
        "ratio_ci95": [round(lo, 4), round(hi, 4)],
    }
    print(f"{'':28}{'cached':>10}{'fresh':>10}")
    print(f"{'median latency ms':28}{result['median_cached_ms']:>10}{result['median_fresh_ms']:>10}")
    print(
        f"{'median prompt tokens eval':28}{result['median_prompt_eval_tokens_cached']:>10}"
        f"{result['median_prompt_eval_tokens_fresh']:>10}"
    )
    print(f"ratio cached/fresh {result['median_ratio_cached_over_fresh']} (95% CI {lo:.4f}-{hi:.4f})")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
