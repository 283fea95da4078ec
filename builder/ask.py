"""The README's main job (`make demo`): build the default bundle on the CPU, serve it, ask it a few deliveries.

    .venv/bin/python -m builder.demo --config builder/configs/benaud-smollm2-135m.yaml --out bundles/benaud

The build resumes: completed stages in OUT.build/ are reused, so a second run goes straight to serving.
The server is a real `suksham serve --bundle OUT` subprocess on 127.0.0.1, stopped at the end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from device.errors import UserError

DEMO_EVENTS = [
    {"event": "Starc to Kohli, FOUR, full and wide, driven through cover"},
    {"event": "Cummins to Root, no run, solid defence"},
    {"event": "Bumrah to Smith, OUT! Edged and taken at second slip"},
    {"event": "Ecclestone to Lanning, SIX, launched over long-on"},
    {"event": "Lyon to Pant, dropped at short leg, a sharp chance"},
    {"event": "33.4 Wood>Babar 1 worked to fine leg"},
    {
        "delivery": {
            "batter": "JE Root",
            "bowler": "PJ Cummins",
            "non_striker": "BA Stokes",
            "runs": {"batter": 0, "extras": 0, "total": 0},
            "wickets": [{"player_out": "JE Root", "kind": "lbw"}],
        },
        "context": {"match_type": "Test", "over": 41, "ball": 3, "score": "212/3"},
    },
    {
        "delivery": {
            "batter": "Smriti Mandhana",
            "bowler": "Sophie Ecclestone",
            "non_striker": "Shafali Verma",
            "runs": {"batter": 4, "extras": 0, "total": 4},
        },
        "context": {"match_type": "T20", "over": 0, "ball": 1, "score": "4/0"},
    },
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _describe(req: dict) -> str:
    if "event" in req:
        return req["event"]
    d = req["delivery"]
    wicket = d.get("wickets")
    what = f"OUT {wicket[0]['kind']}" if wicket else f"{d['runs']['total']} run(s)"
    return f"[delivery] {d['bowler']} to {d['batter']}, {what}"


def run_demo(config_path: Path, out: Path, skip_build: bool = False) -> None:
    """Build, serve and ask the Benaud bundle about a few deliveries (`make demo`)."""
    import httpx

    if not skip_build:
        from builder.pipeline import run_build

        start = time.perf_counter()
        run_build(config_path=config_path, out=out, stage=None, resume=True)
        print(f"build finished in {time.perf_counter() - start:.0f} s -> {out}")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "device.cli", "serve", "--bundle", str(out), "--port", str(port)], env=dict(os.environ)
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise UserError(f"suksham serve exited with code {proc.returncode}")
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise UserError("the server did not become ready in 120 s")
            time.sleep(0.2)
        print(f"\nsuksham serve --bundle {out}  (http://127.0.0.1:{port})\n")
        print(f"{'event':66} {'reply':24} {'ms':>6}")
        for req in DEMO_EVENTS:
            r = httpx.post(url + "/v1/commentary", json=req, timeout=60)
            r.raise_for_status()
            body = r.json()
            reply = body["text"] if not body["silent"] else "(silence)"
            print(f"{_describe(req)[:66]:66} {reply:24} {body['latency_ms']:>6.0f}")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
