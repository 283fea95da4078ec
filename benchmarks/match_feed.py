"""Match feed: a full ODI fed ball by ball (`--speed 0`), against plain /v1/commentary calls, interleaved.

    .venv/bin/python benchmarks/match_feed.py [--match tests/data/cricsheet/1144529.json] [--threads 1]
        [--json-out benchmarks/results/match_feed.json]

One real `suksham serve --model` subprocess (SmolLM2 by default, a fresh --state-dir). For every delivery of the
match, in order, one pair in random order:
  - feed: POST /v1/matches/{id}/deliveries with `comment: true` (the state, the fsynced file, the reply kept,
    the SSE fan-out, and the model);
  - plain: POST /v1/commentary with the same delivery and the context the feed derives (worked out here by the
    same pure `Match`, as a caller without the feed would have to), without `match_id`, so that neither call
    shares the other's match memory.
Both ask the model for the same prompt; the second of a pair may find it in llama.cpp's prefix cache, so the order
is random and the costs are reported for each order and averaged. Then the same match is fed again with
`comment: false` (the state alone). Prints a table and one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_MATCH = ROOT / "tests" / "data" / "cricsheet" / "1144529.json"  # the 2019 semi-final: 505 deliveries


def bootstrap_ci(values, stat=statistics.median, n=2000, seed=0):
    rng = random.Random(seed)
    stats = sorted(stat([rng.choice(values) for _ in values]) for _ in range(n))
    return stats[int(0.025 * n)], stats[int(0.975 * n)]


def start_server(model: Path, state_dir: Path, threads: int, log: Path):
    import httpx

    cmd = [sys.executable, "-m", "device.cli", "serve", "--model", str(model), "--port", "0"]
    cmd += ["--threads", str(threads), "--state-dir", str(state_dir), "--queue-size", "4", "--timeout", "300"]
    out = open(log, "wb")  # noqa: SIM115 (the child writes to it until it stops)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, SUKSHAM_LOG_LEVEL="warning"), stdout=out, stderr=out)
    deadline = time.monotonic() + 300
    url = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = url or re.search(rb"listening on (http://127\.0\.0\.1:\d+)", log.read_bytes())
        if found and not url:
            url = found.group(1).decode()
        if url:
            try:
                if httpx.get(url + "/health", timeout=5).status_code == 200:
                    return proc, url
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the server did not start:\n{log.read_text(errors='replace')[-2000:]}")


def summary_ms(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 2),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "mean": round(statistics.fmean(ordered), 2),
    }


def main():
    from device.commentary.match import Match
    from device.runtime.models import smollm2_gguf_path
    from device.runtime.replay import iter_balls, read_match

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--match", type=Path, default=DEFAULT_MATCH)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json-out", type=Path, default=None)
    args = ap.parse_args()
    model = args.model or smollm2_gguf_path()
    match = read_match(args.match)
    balls = list(iter_balls(match))

    import httpx

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="suksham-feed-bench-") as tmp:
        proc, url = start_server(model, Path(tmp) / "state", args.threads, Path(tmp) / "serve.log")
        try:
            client = httpx.Client(base_url=url, timeout=300)
            info = match.get("info") or {}
            client.post("/v1/matches", json={"info": info, "match_id": "bench"}).raise_for_status()
            client.post("/v1/matches", json={"info": info, "match_id": "bench-state"}).raise_for_status()
            local = Match(info, match_id="bench")
            for ball in balls[:3]:  # warm up the model and both routes (not measured)
                client.post("/v1/commentary", json={"delivery": ball.delivery}).raise_for_status()
            pairs, began = [], time.perf_counter()
            for n, ball in enumerate(balls):
                context = dict(
                    local.feed(*_pos(ball), ball.delivery, team=ball.team, super_over=ball.super_over).context
                )
                context.pop("match_id", None)
                calls = {
                    "feed": ("/v1/matches/bench/deliveries", ball.body(True)),
                    "plain": ("/v1/commentary", {"delivery": ball.delivery, "context": context}),
                }
                order = ["feed", "plain"] if rng.random() < 0.5 else ["plain", "feed"]
                took = {}
                for name in order:
                    path, body = calls[name]
                    t0 = time.perf_counter()
                    r = client.post(path, json=body)
                    took[name] = (time.perf_counter() - t0) * 1000
                    assert r.status_code == 200, (name, n, r.status_code, r.text[:300])
                    took[name + "_text"] = r.json()["text"]
                pairs.append({"first": order[0], **took})
                if (n + 1) % 50 == 0:
                    print(f"  {n + 1}/{len(balls)} pairs", file=sys.stderr)
            pairs_s = time.perf_counter() - began
            # The state alone: the same match again with comment: false.
            state_ms = []
            t_state = time.perf_counter()
            for ball in balls:
                t0 = time.perf_counter()
                r = client.post("/v1/matches/bench-state/deliveries", json=ball.body(False))
                state_ms.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, r.text[:300]
            state_s = time.perf_counter() - t_state
            summary = client.get("/v1/matches/bench").json()
            metrics = client.get("/metrics").text
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    feed = [p["feed"] for p in pairs]
    plain = [p["plain"] for p in pairs]
    diff = [p["feed"] - p["plain"] for p in pairs]
    by_order = {}
    for first in ("feed", "plain"):
        d = [p["feed"] - p["plain"] for p in pairs if p["first"] == first]
        by_order[f"{first}_first"] = {"pairs": len(d), "median_diff_ms": round(statistics.median(d), 2)}
    balanced = statistics.fmean(v["median_diff_ms"] for v in by_order.values())
    ratio = [p["feed"] / p["plain"] for p in pairs]
    lo, hi = bootstrap_ci(diff)
    result = {
        "benchmark": "match_feed",
        "match": args.match.name,
        "deliveries": len(balls),
        "model": model.name,
        "threads": args.threads,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_avg": os.getloadavg()},
        "feed_ms": summary_ms(feed),
        "plain_ms": summary_ms(plain),
        "per_pair_diff_ms": {"median": round(statistics.median(diff), 2), "ci95": [round(lo, 2), round(hi, 2)]},
        "diff_by_order": by_order,
        "state_cost_ms_balanced": round(balanced, 2),
        "median_ratio_feed_over_plain": round(statistics.median(ratio), 3),
        "same_text_share": round(sum(p["feed_text"] == p["plain_text"] for p in pairs) / len(pairs), 3),
        "feed_balls_per_s": round(len(balls) / (sum(feed) / 1000), 2),
        "pairs_wall_s": round(pairs_s, 1),
        "state_only_ms": summary_ms(state_ms),
        "state_only_balls_per_s": round(len(balls) / state_s, 1),
        "innings": summary["innings"],
        "result": summary["result"],
        "deliveries_metric": _metric(metrics, "suksham_match_deliveries_total"),
    }
    print()
    print(f"{'':34}{'median ms':>10}{'p95 ms':>10}")
    print(f"{'feed (comment: true)':34}{result['feed_ms']['median']:>10}{result['feed_ms']['p95']:>10}")
    print(f"{'plain /v1/commentary':34}{result['plain_ms']['median']:>10}{result['plain_ms']['p95']:>10}")
    state = result["state_only_ms"]
    print(f"{'feed (comment: false, state only)':34}{state['median']:>10}{state['p95']:>10}")
    print(
        f"\nstate cost per delivery: {result['state_cost_ms_balanced']} ms (order-balanced; "
        f"feed first {by_order['feed_first']['median_diff_ms']}, "
        f"plain first {by_order['plain_first']['median_diff_ms']});"
        f" median per-pair ratio {result['median_ratio_feed_over_plain']}"
    )
    print(
        f"throughput: {result['feed_balls_per_s']} balls/s commented, "
        f"{result['state_only_balls_per_s']} balls/s state only; same text {result['same_text_share']:.0%}"
    )
    print(json.dumps(result, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")


def _pos(ball):
    return ball.innings, ball.over, ball.index


def _metric(text: str, name: str):
    found = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else None


if __name__ == "__main__":
    main()
