"""A short soak (issue 17): the mix of benchmarks/soak_mix.py against a real `suksham serve`, bounded in
count and time. Commentary, chat, streams read whole and dropped midway, every kind of bad request,
idle sockets: no answer other than the right one, a deliberate 4xx or a 503, and the server stays up.
The long run (10,000 requests, RSS drift) is in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import httpx

from device.measure.loadtest import running_server

SOAK = Path(__file__).resolve().parents[3] / "benchmarks" / "soak_mix.py"


def _soak_module():
    spec = importlib.util.spec_from_file_location("soak_mix", SOAK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_short_soak_of_the_mix_has_no_errors(tiny_bundle, tmp_path):
    soak = _soak_module()
    (tmp_path / "key").write_text(soak.KEY + "\n")
    extra = ["--api-key-file", str(tmp_path / "key"), "--state-dir", str(tmp_path / "state"), "--timeout", "60"]
    with running_server(tiny_bundle, threads=1, queue_size=4, extra_args=extra) as server:
        result = soak.run_mix(server.url, 120, clients=6, seed=3, max_seconds=25)
        health = httpx.get(server.url + "/health", timeout=30)
        assert server.process.poll() is None
    print({k: result[k] for k in ("requests", "wall_s", "ok", "deliberate", "errors")})
    assert result["errors"] == 0, result["error_samples"]
    assert health.status_code == 200
    assert result["requests"] >= 40, result  # bounded by time on a loaded box, but not empty
    kinds = set(result["by_kind"])
    assert {"commentary_text", "chat", "stream_dropped", "idle"} <= kinds, kinds
    assert any(k.startswith("bad:") for k in kinds), kinds
