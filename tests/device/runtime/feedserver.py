"""Helpers for the match feed's HTTP tests: a real `suksham serve` process, and totals worked out from a file.

The server is the command a Pi runs (`python -m device.cli serve --model SmolLM2 --port 0 --state-dir DIR`),
so that a test can kill -9 it and start it again on the same state directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "tests" / "data" / "cricsheet"
FINAL, SEMI = DATA / "1144530.json", DATA / "1144529.json"
KEY, READ_KEY = "feed-test-key", "feed-read-key"
http = httpx.Client(timeout=300)  # generous: two cores shared with other work


class ServeProcess:
    """`suksham serve` in a child process on a port the OS picked; `kill9()` is a power cut."""

    def __init__(self, model: Path, state_dir: Path, *extra: str, api_key: str | None = KEY, log: Path):
        self.args = [sys.executable, "-m", "device.cli", "serve", "--model", str(model), "--port", "0"]
        self.args += ["--threads", "1", "--timeout", "300", "--state-dir", str(state_dir), *extra]
        if api_key:
            key_file = state_dir.parent / f"{state_dir.name}.key"
            key_file.write_text(api_key + "\n")
            self.args += ["--api-key-file", str(key_file)]
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.log_path = log
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 180) -> ServeProcess:
        env = {**os.environ, "SUKSHAM_LOG_LEVEL": "warning", "PYTHONUNBUFFERED": "1"}
        env.pop("STATE_DIRECTORY", None)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, cwd=REPO, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while not self.url:
            found = re.search(rb"listening on (http://127\.0\.0\.1:\d+)", self.log_path.read_bytes())
            if found:
                self.url = found.group(1).decode()
                break
            self._check_alive(deadline)
            time.sleep(0.05)
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if http.get(self.url + "/health").status_code == 200:
                    return self
            self._check_alive(deadline)
            time.sleep(0.1)

    def _check_alive(self, deadline: float) -> None:
        assert self.proc is not None
        tail = self.log_path.read_text(errors="replace")[-3000:]
        assert self.proc.poll() is None, f"suksham serve exited with {self.proc.returncode}:\n{tail}"
        assert time.monotonic() < deadline, f"suksham serve was not ready in time:\n{tail}"

    def restart(self) -> ServeProcess:
        """Start again on the same state directory (the old log is kept beside, the new port read afresh)."""
        self.url = ""
        self.log_path.rename(self.log_path.with_suffix(f".{int(time.time() * 1000)}.log"))
        return self.start()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    # -- calls ------------------------------------------------------------------------------------------
    def post(self, path: str, body: dict, headers: dict | None = None) -> httpx.Response:
        return http.post(self.url + path, json=body, headers=self.headers if headers is None else headers)

    def get(self, path: str, headers: dict | None = None) -> httpx.Response:
        return http.get(self.url + path, headers=self.headers if headers is None else headers)

    def delete(self, path: str, headers: dict | None = None) -> httpx.Response:
        return http.delete(self.url + path, headers=self.headers if headers is None else headers)

    def metric(self, name: str) -> float:
        text = self.get("/metrics").text
        found = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
        assert found, f"{name} not in /metrics"
        return float(found.group(1))


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def file_totals(match: dict) -> list[dict]:
    """Each innings' runs, wickets and legal balls, counted straight from the file (not by the Match class)."""
    out = []
    for inn in match["innings"]:
        runs = wickets = legal = 0
        for over in inn["overs"]:
            for d in over["deliveries"]:
                runs += d["runs"]["total"]
                extras = d.get("extras", {})
                legal += not ("wides" in extras or "noballs" in extras)
                wickets += sum(w["kind"] not in ("retired hurt", "retired not out") for w in d.get("wickets", []))
        out.append(
            {
                "team": inn["team"],
                "runs": runs,
                "wickets": wickets,
                "legal_balls": legal,
                "super_over": bool(inn.get("super_over")),
            }
        )
    return out


def fifties_by_hand(match: dict) -> list[dict]:
    """Each batter's 50 (and 100...), found by adding up runs off the bat ball by ball (main innings only)."""
    found = []
    for i, inn in enumerate(match["innings"], start=1):
        if inn.get("super_over"):
            continue
        scores: dict[str, int] = {}
        for over in inn["overs"]:
            for x, d in enumerate(over["deliveries"]):
                before = scores.get(d["batter"], 0)
                scores[d["batter"]] = after = before + d["runs"]["batter"]
                for mark, kind in ((50, "fifty"), (100, "hundred"), (150, "one_fifty"), (200, "double_hundred")):
                    if before < mark <= after:
                        found.append(
                            {"kind": kind, "player": d["batter"], "innings": i, "over": over["over"], "index": x}
                        )
    return found


def balls(match: dict):
    """(innings, over, index, team, super_over, delivery) in the file's order."""
    for i, inn in enumerate(match["innings"], start=1):
        for over in inn["overs"]:
            for x, d in enumerate(over["deliveries"]):
                yield i, over["over"], x, inn["team"], bool(inn.get("super_over")), d


def body(i, o, x, team, so, d, comment: bool) -> dict:
    return {"innings": i, "over": o, "index": x, "team": team, "super_over": so, "delivery": d, "comment": comment}


class EventReader(threading.Thread):
    """Reads a match's SSE stream in a thread: `events` gets (monotonic time, type, data) per event or comment."""

    def __init__(self, url: str, headers: dict):
        super().__init__(daemon=True)
        self.url, self.headers = url, headers
        self.events: queue.Queue = queue.Queue()
        self.status: int | None = None
        self.opened = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=httpx.Timeout(10, read=60)) as client:
            with client.stream("GET", self.url, headers=self.headers) as response:
                self.status = response.status_code
                self.content_type = response.headers.get("content-type", "")
                self.opened.set()
                kind, data = "message", []
                for line in response.iter_lines():
                    if line.startswith(":"):
                        self.events.put((time.monotonic(), "comment", line))
                    elif line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif not line and data:
                        self.events.put((time.monotonic(), kind, json.loads("\n".join(data))))
                        kind, data = "message", []
        self.events.put((time.monotonic(), "end", None))

    def next(self, kind: str, timeout: float = 30) -> tuple[float, dict]:
        """The next event of that type (others before it are skipped), or an AssertionError."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                at, got, data = self.events.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"no {kind!r} event within {timeout} s") from None
            if got == kind:
                return at, data
            assert got != "end" or kind == "end", f"the stream ended while waiting for {kind!r}"
