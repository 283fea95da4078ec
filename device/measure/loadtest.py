"""Load a running `suksham serve` with concurrent commentary requests, as a scorer's feed and a few
screens would. Used by `suksham bench` and by benchmarks/concurrency_soak.py.

    from device.measure.loadtest import running_server, run_load
    with running_server(bundle_dir, threads=2) as server:
        print(run_load(server.url, concurrency=4, n_requests=40))

The server is a real subprocess (`python -m device.cli serve --port 0`) on loopback; requests use
only the standard library so the device needs no extra HTTP client.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from device.measure.perf import EVENTS, RssSampler, summarize

STARTUP_TIMEOUT_S = 180
_LISTEN = re.compile(r"listening on (http://[^\s]+?:\d+)")


class ServerStartError(RuntimeError):
    """`suksham serve` exited or never became healthy; the message carries its log."""


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen
    log: list[str] = field(default_factory=list)
    rss: RssSampler | None = None


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@contextlib.contextmanager
def running_server(
    bundle, threads: int | None = None, queue_size: int | None = None, extra_args=(), rss_interval: float = 0.2
):
    """Start `suksham serve` on a free loopback port, wait for /health 200, yield, then stop it."""
    cmd = [sys.executable, "-m", "device.cli", "serve", "--bundle", str(bundle), "--host", "127.0.0.1", "--port", "0"]
    if threads:
        cmd += ["--threads", str(threads)]
    if queue_size:
        cmd += ["--queue-size", str(queue_size)]
    cmd += list(extra_args)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    server = RunningServer(url="", process=proc)
    found = threading.Event()

    def drain():  # read stderr for the port, and keep reading so the pipe never fills up
        for line in proc.stderr:
            server.log.append(line.rstrip())
            match = _LISTEN.search(line)
            if match and not found.is_set():
                server.url = match.group(1)
                found.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                reader.join(timeout=2)
                raise ServerStartError(f"suksham serve exited with {proc.returncode}:\n" + "\n".join(server.log[-20:]))
            if found.is_set():
                try:
                    status, _ = _get(server.url + "/health", timeout=2)
                except OSError:
                    status = None
                if status == 200:
                    break
            time.sleep(0.2)
        else:
            raise ServerStartError(
                f"suksham serve was not healthy within {STARTUP_TIMEOUT_S} s:\n" + "\n".join(server.log[-20:])
            )
        server.rss = RssSampler(proc.pid, interval=rss_interval).start()
        yield server
    finally:
        if server.rss:
            server.rss.stop()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        reader.join(timeout=2)


def post_commentary(url: str, event: str, timeout: float = 60.0, api_key: str | None = None) -> dict:
    """One POST /v1/commentary; returns status, client-side latency and the JSON body (or error text)."""
    body = json.dumps({"event": event}).encode()
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    req = urllib.request.Request(url + "/v1/commentary", data=body, headers=headers, method="POST")
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except OSError as exc:  # connection refused/reset, timeout: a client-side error, not an HTTP status
        return {"status": None, "latency_ms": (time.perf_counter() - start) * 1000, "error": str(exc)}
    latency = (time.perf_counter() - start) * 1000
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = {"raw": raw[:200].decode("utf-8", "replace")}
    return {"status": status, "latency_ms": latency, "body": payload}


def run_load(
    url: str,
    concurrency: int,
    n_requests: int,
    events=EVENTS,
    timeout: float = 60.0,
    api_key: str | None = None,
    on_done=None,
    pause_on_503: float = 0.0,
) -> dict:
    """Send `n_requests` commentary requests with `concurrency` clients; throughput counts 200s only.

    `pause_on_503` makes a refused client wait before its next request, as a polite client honouring
    Retry-After would, instead of hammering the server with instant retries.
    """

    def one(i: int) -> dict:
        result = post_commentary(url, events[i % len(events)], timeout=timeout, api_key=api_key)
        if result["status"] == 503 and pause_on_503:
            time.sleep(pause_on_503)
        if on_done:
            on_done()
        return result

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(one, range(n_requests)))
    wall = time.perf_counter() - start
    ok = [r for r in results if r["status"] == 200]
    statuses: dict = {}
    for r in results:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    return {
        "concurrency": concurrency,
        "requests": n_requests,
        "ok": len(ok),
        "busy_503": statuses.get("503", 0),
        "errors": n_requests - len(ok) - statuses.get("503", 0),
        "statuses": statuses,
        "wall_s": round(wall, 3),
        "throughput_rps": round(len(ok) / wall, 3) if wall > 0 else None,
        "latency_ms": summarize(r["latency_ms"] for r in ok),
        "server_latency_ms": summarize(
            r["body"].get("latency_ms")
            for r in ok
            if isinstance(r.get("body"), dict) and r["body"].get("latency_ms") is not None
        ),
        "error_samples": [r.get("error") or r.get("body") for r in results if r["status"] not in (200, 503)][:3],
    }
