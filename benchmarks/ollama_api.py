"""Ollama's /api/chat against our /v1/commentary on the same events, interleaved, on one real `suksham serve`.

    .venv/bin/python benchmarks/ollama_api.py [--bundle DIR] [--pairs 100] [--threads 1]

Each pair sends one event to both routes in random order, with the same seed: /api/chat as the official
`ollama` Python client sends it (one user message, stream false), /v1/commentary as JSON over httpx. Both end
in the same `commentary_reply`, so the difference is Ollama's request and response shape (and the client).
Events rotate between pairs. Prints a table and one JSON document (benchmarks/results/ollama_api.json): median
wall times, the median per-pair ratio (ollama / ours) with a bootstrap 95% interval, the ratio of the
medians, and whether the two replies were equal. Target: ratio <= 1.05. Without --bundle, a temporary bundle
is made from the embedded SmolLM2 GGUF.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from device.measure import machine  # noqa: E402
from device.measure.loadtest import running_server  # noqa: E402

RESULTS = Path(__file__).parent / "results"
EVENTS = [
    "Starc to Kohli, FOUR, driven through cover",
    "Cummins to Root, no run, defended",
    "Bumrah to Smith, OUT, caught at second slip",
    "Rashid to Buttler, 1 run, worked to midwicket",
    "Ecclestone to Lanning, SIX, over long-on",
    "Anderson to Warner, wide, down leg",
    "Shaheen to Williamson, OUT, lbw, plumb in front",
    "Lyon to Pant, dropped at short leg",
]


def temp_bundle() -> Path:
    from device.runtime.bundle import GGUF_NAME, MODELFILE_NAME, write_manifest
    from device.runtime.models import smollm2_gguf_path

    folder = Path(tempfile.mkdtemp(prefix="suksham-ollama-bench-"))
    shutil.copyfile(smollm2_gguf_path(), folder / GGUF_NAME)
    shutil.copyfile(Path(__file__).resolve().parent.parent / MODELFILE_NAME, folder / MODELFILE_NAME)
    write_manifest(folder, {"n_ctx": 512, "quant_type": "Q4_1", "base": {"name": "SmolLM2-135M-Instruct"}})
    return folder


def bootstrap_ci(values, n=2000, seed=0):
    rng = random.Random(seed)
    stats = sorted(statistics.median([rng.choice(values) for _ in values]) for _ in range(n))
    return stats[int(0.025 * n)], stats[int(0.975 * n)]


def run(args, bundle: Path) -> dict:
    import httpx
    import ollama

    rng = random.Random(args.seed)
    rows = []
    with running_server(bundle, threads=args.threads) as server:
        ours = httpx.Client(base_url=server.url, timeout=120)
        theirs = ollama.Client(host=server.url, timeout=120)

        def v1(event, seed):
            return ours.post("/v1/commentary", json={"event": event, "seed": seed}).json()["text"]

        def api(event, seed):
            reply = theirs.chat(
                model="suksham-benaud", messages=[{"role": "user", "content": event}], options={"seed": seed}
            )
            return reply.message.content

        for event in EVENTS:  # warm-up: page in the weights, prime the prefix cache
            v1(event, 0), api(event, 0)
        for i in range(args.pairs):
            event, seed = EVENTS[i % len(EVENTS)], i
            order = [("ollama", api), ("ours", v1)]
            rng.shuffle(order)
            row = {"event": event}
            for name, call in order:
                start = time.perf_counter()
                row[f"{name}_text"] = call(event, seed)
                row[f"{name}_ms"] = (time.perf_counter() - start) * 1000
            rows.append(row)
    ollama_ms = [r["ollama_ms"] for r in rows]
    ours_ms = [r["ours_ms"] for r in rows]
    ratios = [r["ollama_ms"] / r["ours_ms"] for r in rows]
    lo, hi = bootstrap_ci(ratios)
    return {
        "pairs": len(rows),
        "threads": args.threads,
        "median_ms": {
            "api_chat": round(statistics.median(ollama_ms), 2),
            "v1_commentary": round(statistics.median(ours_ms), 2),
        },
        "ratio_of_medians": round(statistics.median(ollama_ms) / statistics.median(ours_ms), 3),
        "median_pair_ratio": round(statistics.median(ratios), 3),
        "pair_ratio_ci95": [round(lo, 3), round(hi, 3)],
        "equal_replies": sum(r["ollama_text"] == r["ours_text"] for r in rows),
        "machine": machine.describe(),
        "command": "python benchmarks/ollama_api.py " + " ".join(sys.argv[1:]),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, default=None)
    p.add_argument("--pairs", type=int, default=100)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    bundle = args.bundle or temp_bundle()
    result = run(args, bundle)
    med = result["median_ms"]
    print(f"{'route':<16} {'median ms':>10}")
    print(f"{'/api/chat':<16} {med['api_chat']:>10}")
    print(f"{'/v1/commentary':<16} {med['v1_commentary']:>10}")
    print(
        f"ratio of medians {result['ratio_of_medians']}, median pair ratio {result['median_pair_ratio']} "
        f"(95% CI {result['pair_ratio_ci95']}), equal replies {result['equal_replies']}/{result['pairs']}"
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ollama_api.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
