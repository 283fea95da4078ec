"""Commentary latency with sampling and re-draws against the greedy path, interleaved in one run (issue 15).

Both paths share one engine (one llama.cpp context, as a server has) and see the same balls of a real
match, fed through the match feed's state (`device.commentary.match.Match`) so the context is what a live
feed sends. Each ball is commented on by both paths in alternating order (greedy first on even balls,
sampled first on odd ones), so a busy neighbour or a warm cache favours neither. Latency is
`Commentary.latency_ms`: reading, rendering, every draw and the guard, without HTTP.

    .venv/bin/python benchmarks/sampling_latency.py                       # the SmolLM2 GGUF, 120 balls
    .venv/bin/python benchmarks/sampling_latency.py --bundle /tmp/b15/out # a bundle (its own sampling)
    .venv/bin/python benchmarks/sampling_latency.py --balls 200 --threads 2 --json out.json

Target (issue 15): sampled p50 within 1.15x of greedy p50. The untuned SmolLM2 base rambles, so its replies
fail the guard far more often than a tuned bundle's: with it, re-draws are a worst case.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from builder.eval.variety import REAL_MATCHES, cricsheet_balls  # noqa: E402
from device.commentary.match import Match  # noqa: E402
from device.commentary.render import ALL_KEYS  # noqa: E402
from device.runtime.engine import Engine, EngineSettings  # noqa: E402
from device.runtime.service import Commentator, Sampling, resolve_model  # noqa: E402


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path)
    ap.add_argument("--model", type=Path)
    ap.add_argument("--match", type=Path, default=REAL_MATCHES / "1144530.json")
    ap.add_argument("--balls", type=int, default=120)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--temperature", type=float, default=0.7, help="sampled path, when the bundle has no sampling")
    ap.add_argument("--draws", type=int, default=4)
    ap.add_argument("--memory", type=int, default=12)
    ap.add_argument("--json", type=Path, help="write the raw numbers here")
    args = ap.parse_args(argv)

    path, n_ctx, bundle, _ = resolve_model(args.bundle, args.model)
    engine = Engine(EngineSettings(model_path=path, n_ctx=n_ctx, n_threads=args.threads)).load()
    from_bundle = Sampling.from_manifest(bundle.manifest if bundle else None)
    if from_bundle.temperature > 0:
        sampled_cfg = from_bundle
    else:
        sampled_cfg = Sampling(
            temperature=args.temperature,
            top_p=0.9,
            top_k=40,
            min_p=0.05,
            draws=args.draws,
            memory=args.memory,
            context_keys=from_bundle.context_keys if bundle else ALL_KEYS,
        )
    greedy_cfg = replace(sampled_cfg, temperature=0.0, draws=1, memory=0)
    greedy, sampled = Commentator(engine, sampling=greedy_cfg), Commentator(engine, sampling=sampled_cfg)

    info, balls = cricsheet_balls(args.match, args.balls)
    match = Match(info, match_id=f"bench-{args.match.stem}")
    greedy.comment(text="Dot ball, defended.")  # warm the system prompt's KV cache once
    lat = {"greedy": [], "sampled": []}
    draws, fallbacks, tokens = [], 0, {"greedy": 0, "sampled": 0}
    start = time.perf_counter()
    for n, ball in enumerate(balls):
        ctx = match.feed(
            ball["innings"], ball["over"], ball["index"], ball["delivery"], ball["team"], ball["super_over"]
        )
        order = [("greedy", greedy), ("sampled", sampled)]
        if n % 2:
            order.reverse()
        for name, com in order:
            r = com.comment(delivery=ball["delivery"], context=ctx.context, seed=n)
            lat[name].append(r.latency_ms)
            tokens[name] += sum(c.completion_tokens for c in r.completions)
            if name == "sampled":
                draws.append(r.draws)
                fallbacks += r.guarded
    wall = time.perf_counter() - start
    out = {
        "model": str(path),
        "match": args.match.name,
        "balls": len(balls),
        "threads": engine.settings.threads(),
        "sampling": sampled_cfg.to_dict(),
        "wall_s": round(wall, 1),
        "greedy_ms": {
            "p50": pct(lat["greedy"], 50),
            "p95": pct(lat["greedy"], 95),
            "mean": statistics.mean(lat["greedy"]),
        },
        "sampled_ms": {
            "p50": pct(lat["sampled"], 50),
            "p95": pct(lat["sampled"], 95),
            "mean": statistics.mean(lat["sampled"]),
        },
        "mean_draws": statistics.mean(draws),
        "draws_hist": {d: draws.count(d) for d in sorted(set(draws))},
        "fallback_share": fallbacks / len(draws),
        "tokens_per_reply": {k: v / len(balls) for k, v in tokens.items()},
    }
    out["p50_ratio"] = out["sampled_ms"]["p50"] / out["greedy_ms"]["p50"]
    out["p95_ratio"] = out["sampled_ms"]["p95"] / out["greedy_ms"]["p95"]
    g, s = out["greedy_ms"], out["sampled_ms"]
    print(f"{out['balls']} balls of {out['match']}, {out['threads']} threads, {path.name}, wall {out['wall_s']} s")
    print("| path | p50 ms | p95 ms | mean ms | draws/reply | fallbacks | tokens/reply |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| greedy | {g['p50']:.1f} | {g['p95']:.1f} | {g['mean']:.1f} | 1 | - | "
        f"{out['tokens_per_reply']['greedy']:.1f} |"
    )
    print(
        f"| sampled (T {sampled_cfg.temperature}, {sampled_cfg.draws} draws, memory {sampled_cfg.memory}) | "
        f"{s['p50']:.1f} | {s['p95']:.1f} | {s['mean']:.1f} | {out['mean_draws']:.2f} | "
        f"{out['fallback_share']:.1%} | {out['tokens_per_reply']['sampled']:.1f} |"
    )
    print(f"p50 ratio {out['p50_ratio']:.2f}x, p95 ratio {out['p95_ratio']:.2f}x; draws {out['draws_hist']}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
