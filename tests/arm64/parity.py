"""Parity of the emulated Cortex-A76 with x86-64: the same GGUF, the same events, greedy.

    python3 tests/arm64/parity.py --model M.gguf --events 32 --out /tmp/parity   # the full report
    (the tests in this folder run a handful of events)

Two comparisons, each x86-64 (the project venv) against the arm64 bookworm root under qemu (its own
python, the device extra installed from the wheelhouse with no index):
- `/v1/commentary` from a real `suksham serve --model` on each side, loopback only;
- tests/arm64/probe.py on each side: greedy tokens with the top-two logit margin at every step.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from builder.wheelhouse import emulate  # noqa: E402
from builder.wheelhouse.house import MANIFEST  # noqa: E402

HERE = Path(__file__).resolve().parent
EVENTS = HERE / "events.json"
# The x86-64 side: the project venv, or another python with the device extra (SUKSHAM_X86_PYTHON),
# importing this tree's device package.
VENV_PY = Path(os.environ.get("SUKSHAM_X86_PYTHON", REPO / ".venv" / "bin" / "python"))


def events(n: int) -> list[str]:
    return json.loads(EVENTS.read_text())[:n]


def emulated_site(root: Path, wheelhouse: Path) -> Path:
    """The device extra installed from `wheelhouse` by the root's own pip, no index (cached)."""
    return emulate.installed_site(root, wheelhouse)


def native_argv() -> list[str]:
    return [str(VENV_PY)]


def native_env() -> dict:
    return {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(REPO)}


def emulated_argv(root: Path) -> list[str]:
    return emulate.python_argv(root)


def run_probe(
    argv: list[str],
    env: dict,
    model: Path,
    n: int,
    out: Path,
    verbose_log: Path | None = None,
    cwd: str | None = None,
    timeout: float = 3600,
) -> dict:
    evfile = out.with_suffix(".events.json")
    evfile.write_text(json.dumps(events(n)))
    cmd = [*argv, str(HERE / "probe.py"), "--model", str(model), "--events", str(evfile), "--out", str(out)]
    if verbose_log:
        cmd += ["--verbose-log", str(verbose_log)]
    subprocess.run(cmd, env=env, cwd=cwd, check=True, timeout=timeout)
    return json.loads(out.read_text())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_and_ask(
    argv: list[str],
    env: dict,
    model: Path,
    evs: list[str],
    *,
    cwd: str | None = None,
    start_timeout: float = 900,
    log: Path | None = None,
) -> list[dict]:
    """Replies of a real `suksham serve --model` (127.0.0.1 only) to each event, in order."""
    port = free_port()
    cmd = [
        *argv,
        "-m",
        "device.cli",
        "serve",
        "--model",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--threads",
        "2",
        "--timeout",
        "900",
    ]
    out = open(log, "wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + start_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}; log: {log}")
            try:
                with urllib.request.urlopen(base + "/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not ready in {start_timeout:.0f} s; log: {log}")
            time.sleep(1)
        replies = []
        for ev in evs:
            req = urllib.request.Request(
                base + "/v1/commentary",
                data=json.dumps({"event": ev}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=900) as r:
                replies.append(json.loads(r.read()))
        return replies
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log:
            out.close()


def compare_probes(a: dict, b: dict) -> dict:
    """Agreement of two probe runs, and for each differing event the margins where they part."""
    diffs, same = [], 0
    min_margin = min(s["margin"] for r in a["results"] for s in r["steps"])
    for ra, rb in zip(a["results"], b["results"]):
        if ra["tokens"] == rb["tokens"]:
            same += 1
            continue
        step = next(
            (i for i, (x, y) in enumerate(zip(ra["steps"], rb["steps"])) if x["token"] != y["token"]),
            min(len(ra["steps"]), len(rb["steps"])),
        )
        diffs.append(
            {
                "event": ra["event"],
                "a": ra["text"],
                "b": rb["text"],
                "step": step,
                "margin_a": ra["steps"][step]["margin"] if step < len(ra["steps"]) else None,
                "margin_b": rb["steps"][step]["margin"] if step < len(rb["steps"]) else None,
            }
        )
    max_dlogit = max(
        (
            abs(x["logit"] - y["logit"])
            for ra, rb in zip(a["results"], b["results"])
            for x, y in zip(ra["steps"], rb["steps"])
            if x["token"] == y["token"]
        ),
        default=0.0,
    )
    return {
        "events": len(a["results"]),
        "same": same,
        "diffs": diffs,
        "min_margin_a": min_margin,
        "max_top_logit_delta": max_dlogit,
    }


def repacked(log_text: str) -> list[str]:
    """llama.cpp's repack lines (tensor -> layout) from a verbose load."""
    return [line.strip() for line in log_text.splitlines() if "repack" in line.lower()]


def main() -> int:
    import argparse

    from builder.wheelhouse.house import build

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--events", type=int, default=32)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--wheelhouse", type=Path, default=REPO / "build" / "wheelhouse-pi")
    ap.add_argument("--no-server", action="store_true", help="probe only")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if not (args.wheelhouse / MANIFEST).is_file():
        build(args.wheelhouse, REPO, pythons=["3.11"], test_imports=False)
    root = emulate.ensure_root("bookworm")
    site = emulated_site(root, args.wheelhouse)
    env_e = emulate.emulated_env(site, OMP_WAIT_POLICY="PASSIVE")
    env_n = native_env()
    report: dict = {"model": str(args.model)}
    t = time.monotonic()
    pn = run_probe(
        native_argv(),
        env_n,
        args.model,
        args.events,
        args.out / "probe-x86.json",
        verbose_log=args.out / "llama-x86.log",
        cwd=str(REPO),
    )
    report["probe_x86_s"] = round(time.monotonic() - t, 1)
    t = time.monotonic()
    pe = run_probe(
        emulated_argv(root),
        env_e,
        args.model,
        args.events,
        args.out / "probe-a76.json",
        verbose_log=args.out / "llama-a76.log",
        cwd="/",
    )
    report["probe_a76_s"] = round(time.monotonic() - t, 1)
    report["system_info"] = {"x86": pn["system_info"], "a76": pe["system_info"]}
    report["probe"] = compare_probes(pn, pe)
    report["repack_a76"] = repacked((args.out / "llama-a76.log").read_text(errors="replace"))
    report["repack_x86"] = repacked((args.out / "llama-x86.log").read_text(errors="replace"))
    if not args.no_server:
        evs = events(args.events)
        t = time.monotonic()
        rn = serve_and_ask(native_argv(), env_n, args.model, evs, cwd=str(REPO), log=args.out / "serve-x86.log")
        report["serve_x86_s"] = round(time.monotonic() - t, 1)
        t = time.monotonic()
        re_ = serve_and_ask(emulated_argv(root), env_e, args.model, evs, cwd="/", log=args.out / "serve-a76.log")
        report["serve_a76_s"] = round(time.monotonic() - t, 1)
        pairs = [{"event": e, "x86": a["text"], "a76": b["text"]} for e, a, b in zip(evs, rn, re_)]
        report["serve"] = {
            "events": len(pairs),
            "same": sum(p["x86"] == p["a76"] for p in pairs),
            "diffs": [p for p in pairs if p["x86"] != p["a76"]],
            "pairs": pairs,
        }
    (args.out / "parity.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("serve",)}, indent=2)[:6000])
    if "serve" in report:
        print(
            f"serve: {report['serve']['same']}/{report['serve']['events']} identical; diffs {report['serve']['diffs']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
