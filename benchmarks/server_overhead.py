"""Server overhead: our HTTP server vs in-process llama-cpp-python on the same GGUF, interleaved.

    .venv/bin/python benchmarks/server_overhead.py [--model FILE.gguf] [--pairs 200] [--threads 2]

Each pair sends the same messages (max_tokens 8, temperature 0) once over HTTP to a real
`suksham serve --model` subprocess and once to `llama_cpp.Llama.create_chat_completion` in this
process, in random order. Events rotate between pairs, so neither side answers from a fully cached
prompt. Prints a table and one JSON document: median wall times, the median per-pair ratio
(server / raw) with a bootstrap 95% confidence interval. Target: ratio <= 1.05.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bootstrap_ci(values, stat=statistics.median, n=2000, seed=0):
    rng = random.Random(seed)
    stats = sorted(stat([rng.choice(values) for _ in values]) for _ in range(n))
    return stats[int(0.025 * n)], stats[int(0.975 * n)]


def main():
    from device.commentary.render import build_messages
    from device.runtime.models import smollm2_gguf_path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--pairs", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json-out", type=Path, default=None)
    args = ap.parse_args()
    model = args.model or smollm2_gguf_path()

    import httpx
    import llama_cpp

    import device.runtime.engine  # noqa: F401  (sets the same OpenMP wait policy the server runs with)

    port = free_port()
    env = dict(os.environ, SUKSHAM_LOG_LEVEL="warning")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "device.cli",
            "serve",
            "--model",
            str(model),
            "--port",
            str(port),
            "--threads",
            str(args.threads),
        ],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        client = httpx.Client(timeout=60)
        deadline = time.monotonic() + 120
        while True:
            try:
                if client.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("server did not become ready")
            time.sleep(0.1)
        raw = llama_cpp.Llama(
            model_path=str(model), n_ctx=512, n_threads=args.threads, n_threads_batch=args.threads, verbose=False
        )
        messages = [build_messages(text=e) for e in EVENTS]

        def via_http(m):
            t = time.perf_counter()
            r = client.post(url + "/v1/chat/completions", json={"messages": m, "max_tokens": 8, "temperature": 0})
            r.raise_for_status()
            return time.perf_counter() - t

        def in_process(m):
            t = time.perf_counter()
            raw.create_chat_completion(messages=m, max_tokens=8, temperature=0)
            return time.perf_counter() - t

        for m in messages:  # warm both sides
            via_http(m), in_process(m)
        rng = random.Random(1)
        server_s, raw_s, ratios = [], [], []
        for i in range(args.pairs):
            m = messages[i % len(messages)]
            if rng.random() < 0.5:
                s = via_http(m)
                r = in_process(m)
            else:
                r = in_process(m)
                s = via_http(m)
            server_s.append(s)
            raw_s.append(r)
            ratios.append(s / r)
            if (i + 1) % 50 == 0:
                print(f"  {i + 1}/{args.pairs} pairs", file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    lo, hi = bootstrap_ci(ratios)
    result = {
        "benchmark": "server_overhead",
        "model": str(model),
        "pairs": args.pairs,
        "threads": args.threads,
        "median_server_ms": round(statistics.median(server_s) * 1000, 2),
        "median_raw_ms": round(statistics.median(raw_s) * 1000, 2),
        "median_ratio": round(statistics.median(ratios), 4),
        "ratio_ci95": [round(lo, 4), round(hi, 4)],
        "ratio_of_medians": round(statistics.median(server_s) / statistics.median(raw_s), 4),
        "target": "<= 1.05",
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
        },
    }
    print(f"{'':24}{'server (HTTP)':>16}{'raw llama-cpp':>16}")
    print(f"{'median wall ms':24}{result['median_server_ms']:>16}{result['median_raw_ms']:>16}")
    print(f"median per-pair ratio {result['median_ratio']} (95% CI {lo:.4f}-{hi:.4f}), target <= 1.05")
    print(json.dumps(result, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
