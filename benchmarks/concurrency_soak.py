"""Concurrency and soak of a real `suksham serve`: run by hand, results go to benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/concurrency_soak.py concurrency [--bundle DIR] [--threads 1] [--requests 48]
    .venv/bin/python benchmarks/concurrency_soak.py soak [--bundle DIR] [--threads 1] [--requests 2000]

concurrency: serial throughput (1 client) vs 8 clients on the same server, interleaved in rounds
  (1, 8, 1, 8, ...) so background load hits both alike. Target: throughput(8) / throughput(1) >= 0.9,
  i.e. queueing behind one llama.cpp context costs nothing and never collapses.
soak: `--requests` commentary requests from `--clients` clients (default 6) against a queue of
  `--queue-size` (default 4): more clients than the queue holds, so some 503s are deliberate (a
  refused client waits 0.5 s, as Retry-After asks). Target:
  0 errors other than those 503s, and server RSS drift < 5% (mean of the last tenth of the samples vs
  the first tenth after warm-up).
Without --bundle, a temporary bundle is made from the embedded SmolLM2 GGUF. Prints a table and
writes one JSON document to benchmarks/results/<mode>.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from device import machine  # noqa: E402
from device.measure.loadtest import run_load, running_server  # noqa: E402
from device.measure.perf import summarize  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def temp_bundle() -> Path:
    from device.runtime.bundle import GGUF_NAME, write_manifest
    from device.runtime.models import smollm2_gguf_path

    folder = Path(tempfile.mkdtemp(prefix="suksham-bench-"))
    shutil.copyfile(smollm2_gguf_path(), folder / GGUF_NAME)
    write_manifest(folder, {"n_ctx": 512, "quant_type": "Q4_1", "base": {"name": "SmolLM2-135M-Instruct"}})
    return folder


def concurrency(args, bundle: Path) -> dict:
    rounds = []
    with running_server(bundle, threads=args.threads) as server:
        run_load(server.url, 1, 4)  # warm-up: page in the weights, prime the prefix cache
        for i in range(args.rounds):
            serial = run_load(server.url, 1, args.requests)
            parallel = run_load(server.url, 8, args.requests)
            ratio = parallel["throughput_rps"] / serial["throughput_rps"]
            rounds.append({"serial": serial, "parallel": parallel, "ratio": round(ratio, 3)})
            print(
                f"round {i + 1}: serial {serial['throughput_rps']} req/s, c=8 {parallel['throughput_rps']} req/s, "
                f"ratio {ratio:.3f}, 503s {parallel['busy_503']}, errors {serial['errors'] + parallel['errors']}"
            )
        peak = server.rss.peak_mb
    ratios = [r["ratio"] for r in rounds]
    return {
        "mode": "concurrency",
        "threads": args.threads,
        "requests_per_level": args.requests,
        "rounds": rounds,
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_min": min(ratios),
        "target": "throughput at concurrency 8 / serial >= 0.9",
        "pass": statistics.median(ratios) >= 0.9 and all(r["parallel"]["errors"] == 0 for r in rounds),
        "server_peak_rss_mb": round(peak, 1),
    }


def soak(args, bundle: Path) -> dict:
    batches = []
    with running_server(bundle, threads=args.threads, queue_size=args.queue_size, rss_interval=0.5) as server:
        run_load(server.url, args.clients, args.warmup, pause_on_503=0.5)  # warm-up, excluded from the drift baseline
        warm_t = time.monotonic() - server.rss._t0
        done = 0
        while done < args.requests:
            n = min(args.batch, args.requests - done)
            level = run_load(server.url, args.clients, n, pause_on_503=0.5)
            batches.append(level)
            done += n
            print(
                f"{done}/{args.requests}: ok {level['ok']}, 503 {level['busy_503']}, errors {level['errors']}, "
                f"p95 {level['latency_ms']['p95']} ms, RSS {server.rss.series[-1][1]} MB",
                flush=True,
            )
        series = [(t, mb) for t, mb in server.rss.series if t >= warm_t]
    tenth = max(len(series) // 10, 1)
    first = statistics.fmean(mb for _, mb in series[:tenth])
    last = statistics.fmean(mb for _, mb in series[-tenth:])
    drift = (last - first) / first
    half = series[len(series) // 2][1]  # diagnostic only: does growth continue in the second half?
    total = {k: sum(b[k] for b in batches) for k in ("requests", "ok", "busy_503", "errors")}
    latencies = [b["latency_ms"]["p50"] for b in batches if b["latency_ms"]["p50"] is not None]
    return {
        "mode": "soak",
        "warmup_requests": args.warmup,
        "threads": args.threads,
        "clients": args.clients,
        "queue_size": args.queue_size,
        **total,
        "wall_s": round(sum(b["wall_s"] for b in batches), 1),
        "throughput_rps": round(total["ok"] / sum(b["wall_s"] for b in batches), 3),
        "batch_p50_latency_ms": summarize(latencies),
        "rss_first_tenth_mb": round(first, 1),
        "rss_last_tenth_mb": round(last, 1),
        "rss_drift": round(drift, 4),
        "rss_midpoint_mb": half,
        "rss_drift_second_half": round((last - half) / half, 4),
        "rss_peak_mb": max(mb for _, mb in series),
        "rss_series": series,
        "error_samples": [s for b in batches for s in b["error_samples"]][:5],
        "target": "0 errors other than deliberate 503s; RSS drift < 5%",
        "pass": total["errors"] == 0 and abs(drift) < 0.05,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=["concurrency", "soak"])
    parser.add_argument("--bundle", type=Path, default=None, help="bundle folder (default: temporary SmolLM2 bundle)")
    parser.add_argument("--threads", type=int, default=1, help="server llama.cpp threads (1: the CPU is shared)")
    parser.add_argument("--requests", type=int, default=None, help="per level (concurrency) or in total (soak)")
    parser.add_argument("--rounds", type=int, default=3, help="concurrency: serial/parallel rounds")
    parser.add_argument("--clients", type=int, default=6, help="soak: concurrent clients")
    parser.add_argument("--queue-size", type=int, default=4, help="soak: server queue size")
    parser.add_argument("--batch", type=int, default=100, help="soak: requests per progress line")
    parser.add_argument(
        "--warmup",
        type=int,
        default=20,
        help="soak: requests before the RSS baseline (the engine alone settles after ~300)",
    )
    args = parser.parse_args()
    args.requests = args.requests or (48 if args.mode == "concurrency" else 2000)
    bundle = args.bundle or temp_bundle()
    started = time.time()
    result = (concurrency if args.mode == "concurrency" else soak)(args, bundle)
    result.update(
        {
            "seconds": round(time.time() - started, 1),
            "machine": machine.describe(),
            "command": " ".join(sys.argv),
            "note": "CPU shared with other engineers during this run",
        }
    )
    RESULTS.mkdir(exist_ok=True)
    name = args.mode if args.mode == "concurrency" or args.warmup == 20 else f"soak-warmup{args.warmup}"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    keys = [k for k in result if k not in ("rounds", "rss_series", "machine", "error_samples")]
    for k in keys:
        print(f"{k:<28} {result[k]}")
    print(f"wrote {RESULTS / (name + '.json')}")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
