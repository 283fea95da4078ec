"""Long subprocesses: output to a log file, a heartbeat line on the terminal."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from builder.wheelhouse import WheelhouseError

# make prints "[ 42%]", ninja "[17/230]".
_PERCENT = re.compile(r"\[\s*(\d+)%\]|\[(\d+)/(\d+)\]")


def say(msg: str) -> None:
    print(f"wheelhouse: {msg}", flush=True)


def run_logged(
    cmd: list[str],
    *,
    log: Path,
    label: str,
    env: dict | None = None,
    cwd: Path | None = None,
    every: float = 20.0,
    timeout: float | None = None,
) -> None:
    """Run `cmd`, its output to `log`; every `every` s print elapsed time and the build's last [NN%]."""
    log.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        next_beat = start + every
        while proc.poll() is None:
            time.sleep(0.5)
            now = time.monotonic()
            if timeout and now - start > timeout:
                proc.kill()
                proc.wait()
                raise WheelhouseError(f"{label}: timed out after {timeout:.0f} s; log: {log}")
            if now >= next_beat:
                say(f"{label}: {now - start:4.0f} s{_last_percent(log)}")
                next_beat = now + every
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-25:]
        sys.stderr.write("\n".join(tail) + "\n")
        raise WheelhouseError(f"{label} failed (exit {proc.returncode}); full log: {log}")
    say(f"{label}: done in {time.monotonic() - start:.0f} s")


def _last_percent(log: Path) -> str:
    try:
        with open(log, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 8192))
            found = _PERCENT.findall(f.read().decode(errors="replace"))
    except OSError:
        return ""
    if not found:
        return ""
    pct, done, total = found[-1]
    return f", build {pct}%" if pct else f", build step {done}/{total}"
