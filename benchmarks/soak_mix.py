"""Soak a real `suksham serve` with the mix a LAN sees (issue 17): run by hand, results go to benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/soak_mix.py [--requests 10000] [--max-seconds 3600] [--clients 6] [--threads 1]

The mix, per request: commentary on free text (35%) and on a Cricsheet delivery with context (15%),
OpenAI chat (15%), a chat stream read to [DONE] (5%), a chat stream the client drops after its first
chunk (10%), bad requests (15%: malformed JSON, a lone surrogate, a wrong type, no JSON content type,
a body over the limit, a wrong key, a wrong method, a stream whose prompt does not fit) and idle TCP
connections that never send a byte (5%, at most 40 open at once, each held 0-15 s). Loopback only,
bounded in count and in time. More clients than the queue holds, so some 503s are deliberate.

Target: 0 errors other than the deliberate 4xx (each bad request must get its own status) and 503s,
and server RSS drift <= 3% (mean of the last tenth of the samples vs the first tenth after warm-up).
Prints a table and writes one JSON document to benchmarks/results/soak_mix.json. `run_mix` is also
what tests/device/runtime/test_soak.py runs, shortly.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # the server inherits it: a shared CPU (engine.py)

import httpx  # noqa: E402

RESULTS = Path(__file__).parent / "results"
KEY = "soak-key"
EVENTS = [
    "Starc to Kohli, FOUR, driven through cover",
    "Cummins to Root, no run, defended back to the bowler",
    "Anderson to Smith, OUT, caught at second slip",
    "Rashid to Warner, SIX, over long-on",
    "Bumrah to Labuschagne, 1 run, worked to midwicket",
]
DELIVERY = {
    "batter": "Kohli",
    "bowler": "Starc",
    "non_striker": "Rohit",
    "runs": {"batter": 4, "extras": 0, "total": 4},
}
# (name, method, path, body bytes, content type, headers, the status it must get)
BAD = [
    ("malformed_json", "POST", "/v1/commentary", b'{"event": ', "application/json", None, 400),
    (
        "surrogate",
        "POST",
        "/v1/chat/completions",
        b'{"messages":[{"role":"user","content":"\\ud800"}]}',
        None,
        None,
        400,
    ),
    ("wrong_type", "POST", "/v1/commentary", b'{"event": 5}', "application/json", None, 422),
    ("no_json_type", "POST", "/v1/commentary", b'{"event": "FOUR"}', "text/plain", None, 415),
    ("too_large", "POST", "/v1/commentary", b'{"event": "' + b"x" * 70_000 + b'"}', "application/json", None, 413),
    (
        "wrong_key",
        "POST",
        "/v1/commentary",
        b'{"event": "FOUR"}',
        "application/json",
        {"Authorization": "Bearer no"},
        401,
    ),
    ("wrong_method", "DELETE", "/v1/commentary", b"", None, None, 405),
    (
        "stream_too_long",
        "POST",
        "/v1/chat/completions",
        json.dumps({"messages": [{"role": "user", "content": "cricket " * 600}], "stream": True}).encode(),
        "application/json",
        None,
        400,
    ),
]
KINDS = [
    ("commentary_text", 35),
    ("commentary_delivery", 15),
    ("chat", 15),
    ("stream_full", 5),
    ("stream_dropped", 10),
    ("bad", 15),
    ("idle", 5),
]


class Mix:
    """Counts per kind: ok, deliberate (a 503, or a bad request's own status), errors with samples."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = collections.defaultdict(collections.Counter)
        self.errors: list[str] = []
        self.idle_open: list[socket.socket] = []

    def count(self, kind: str, outcome: str, detail: str = "") -> None:
        with self.lock:
            self.counts[kind][outcome] += 1
            if outcome == "error" and len(self.errors) < 20:
                self.errors.append(f"{kind}: {detail}"[:500])


def one(client: httpx.Client, url: str, kind: str, rng: random.Random, mix: Mix) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    try:
        if kind == "idle":
            host, port = url.removeprefix("http://").split(":")
            with mix.lock:
                if len(mix.idle_open) >= 40:
                    mix.idle_open.pop(0).close()
                sock = socket.create_connection((host, int(port)), timeout=5)
                mix.idle_open.append(sock)
            threading.Timer(rng.uniform(0, 15), _close, (mix, sock)).start()
            mix.count(kind, "ok")
            return
        if kind == "bad":
            name, method, path, body, ctype, headers, want = rng.choice(BAD)
            hdrs = {**auth, **(headers or {})}
            if ctype:
                hdrs["Content-Type"] = ctype
            elif body:
                hdrs["Content-Type"] = "application/json"
            r = client.request(method, url + path, content=body or None, headers=hdrs)
            ok = r.status_code in (want, 503) and "error" in r.json()  # 503: a full queue comes first
            mix.count(f"bad:{name}", "deliberate" if ok else "error", f"{r.status_code} {r.text[:200]}")
            _back_off(r.status_code)
            return
        if kind.startswith("commentary"):
            body = (
                {"event": rng.choice(EVENTS)}
                if kind == "commentary_text"
                else {"delivery": DELIVERY, "context": {"score": f"{rng.randint(0, 400)}/3", "note": "a lovely drive"}}
            )
            r = client.post(url + "/v1/commentary", json=body, headers=auth)
            _judge(mix, kind, r, lambda j: "text" in j)
            return
        body = {"messages": [{"role": "user", "content": rng.choice(EVENTS)}], "max_tokens": 6}
        if kind == "chat":
            r = client.post(url + "/v1/chat/completions", json=body, headers=auth)
            _judge(mix, kind, r, lambda j: j["choices"][0]["message"]["content"] is not None)
            return
        body = {**body, "stream": True, "max_tokens": 48 if kind == "stream_dropped" else 8}
        with client.stream("POST", url + "/v1/chat/completions", json=body, headers=auth) as r:
            if r.status_code == 503:
                mix.count(kind, "deliberate")
                _back_off(503)
                return
            if r.status_code != 200:
                mix.count(kind, "error", f"{r.status_code} {r.read()[:200]!r}")
                return
            lines = r.iter_lines()
            if kind == "stream_dropped":
                next(lines)  # the first chunk; then the client goes away mid-stream
                mix.count(kind, "ok")
                return  # leaving the block closes the connection
            text = "\n".join(lines)
            mix.count(kind, "ok" if text.rstrip().endswith("data: [DONE]") else "error", text[-200:])
    except (httpx.HTTPError, OSError, ValueError, KeyError) as exc:
        mix.count(kind, "error", repr(exc))


def _back_off(status: int) -> None:
    if status == 503:  # as Retry-After asks, if more briefly: the queue drains in well under a second
        time.sleep(0.5)


def _judge(mix: Mix, kind: str, r: httpx.Response, good) -> None:
    if r.status_code == 503:
        mix.count(kind, "deliberate")
        _back_off(503)
    elif r.status_code == 200 and good(r.json()):
        mix.count(kind, "ok")
    else:
        mix.count(kind, "error", f"{r.status_code} {r.text[:200]}")


def _close(mix: Mix, sock: socket.socket) -> None:
    with mix.lock:
        if sock in mix.idle_open:
            mix.idle_open.remove(sock)
    sock.close()


def run_mix(url: str, n: int, clients: int = 6, seed: int = 17, max_seconds: float = 3600, progress=None) -> dict:
    """`n` requests of the mix from `clients` threads, stopping early after `max_seconds`."""
    rng = random.Random(seed)
    kinds = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS], k=n)
    mix, lock, started = Mix(), threading.Lock(), time.monotonic()
    done = [0]

    def worker(i: int) -> None:
        local = random.Random(seed * 1000 + i)
        with httpx.Client(timeout=120) as client:
            while time.monotonic() - started < max_seconds:
                with lock:
                    if not kinds:
                        return
                    kind = kinds.pop()
                one(client, url, kind, local, mix)
                with lock:
                    done[0] += 1
                    if progress and done[0] % 500 == 0:
                        progress(done[0], mix)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with mix.lock:
        for sock in mix.idle_open:
            sock.close()
    totals = collections.Counter()
    for c in mix.counts.values():
        totals.update(c)
    return {
        "requests": done[0],
        "wall_s": round(time.monotonic() - started, 1),
        "by_kind": {k: dict(v) for k, v in sorted(mix.counts.items())},
        "ok": totals["ok"],
        "deliberate": totals["deliberate"],
        "errors": totals["error"],
        "error_samples": mix.errors,
    }


def temp_bundle() -> Path:
    from device.runtime.bundle import GGUF_NAME, write_manifest
    from device.runtime.models import smollm2_gguf_path

    folder = Path(tempfile.mkdtemp(prefix="suksham-soak-"))
    shutil.copyfile(smollm2_gguf_path(), folder / GGUF_NAME)
    write_manifest(folder, {"n_ctx": 512, "quant_type": "Q4_1", "base": {"name": "SmolLM2-135M-Instruct"}})
    return folder


def rss_drift(series: list[tuple[float, float]], after_s: float) -> dict:
    kept = [mb for t, mb in series if t >= after_s]
    tenth = max(len(kept) // 10, 1)
    first, last = statistics.fmean(kept[:tenth]), statistics.fmean(kept[-tenth:])
    return {
        "rss_first_tenth_mb": round(first, 1),
        "rss_last_tenth_mb": round(last, 1),
        "rss_drift": round((last - first) / first, 4),
        "rss_peak_mb": max(kept),
        "rss_samples": len(kept),
    }


def main() -> int:
    from device.measure import machine
    from device.measure.loadtest import running_server

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=300, help="requests of the mix before the RSS baseline")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--queue-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=3600)
    parser.add_argument("--bundle", type=Path, default=None)
    args = parser.parse_args()
    bundle = args.bundle or temp_bundle()
    state = Path(tempfile.mkdtemp(prefix="suksham-soak-state-"))
    (state / "key").write_text(KEY + "\n")
    extra = ["--api-key-file", str(state / "key"), "--state-dir", str(state / "s"), "--timeout", "60"]
    started = time.time()
    with running_server(
        bundle, threads=args.threads, queue_size=args.queue_size, extra_args=extra, rss_interval=1
    ) as s:
        warm = run_mix(s.url, args.warmup, args.clients, seed=1)
        warm_t = time.monotonic() - s.rss._t0

        def progress(done, mix):
            errors = sum(c["error"] for c in mix.counts.values())
            print(f"{done}/{args.requests}: errors {errors}, RSS {s.rss.series[-1][1]} MB", flush=True)

        result = run_mix(s.url, args.requests, args.clients, max_seconds=args.max_seconds, progress=progress)
        health = httpx.get(s.url + "/health", timeout=30).status_code
        metrics = httpx.get(s.url + "/metrics", headers={"Authorization": f"Bearer {KEY}"}, timeout=30).text
        series = list(s.rss.series)
    result.update(rss_drift(series, warm_t))
    result.update(
        {
            "warmup_requests": args.warmup,
            "warmup_errors": warm["errors"],
            "clients": args.clients,
            "queue_size": args.queue_size,
            "threads": args.threads,
            "health_after": health,
            "dropped_connections": [
                line for line in metrics.splitlines() if line.startswith("suksham_connections_dropped")
            ],
            "target": "0 errors other than deliberate 4xx/503; RSS drift <= 3% after warm-up",
            "seconds": round(time.time() - started, 1),
            "machine": machine.describe(),
            "command": " ".join(sys.argv),
            "note": "CPU shared with other engineers during this run",
        }
    )
    result["pass"] = result["errors"] == 0 and abs(result["rss_drift"]) <= 0.03 and health == 200
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soak_mix.json").write_text(json.dumps(result, indent=2) + "\n")
    for k, v in result.items():
        if k not in ("machine", "by_kind"):
            print(f"{k:<22} {v}")
    for k, v in result["by_kind"].items():
        print(f"  {k:<24} {v}")
    print(f"wrote {RESULTS / 'soak_mix.json'}")
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
