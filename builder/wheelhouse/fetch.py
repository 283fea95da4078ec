"""Every wheel but our own llama-cpp-python, for one CPython version on a Pi 5, cached by the request."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

from builder.wheelhouse import PLATFORMS, WheelhouseError, cache_root
from builder.wheelhouse.progress import run_logged, say

# So that `pip install --no-index --find-links WH '.[device]'` can also build the project from a clone.
BUILD_BACKEND = ("setuptools>=68", "wheel")


def fetch_wheels(requirements: list[str], python: str, llama_wheel: Path, *, refresh: bool = False) -> list[Path]:
    """Wheels (ours included, from `llama_wheel`'s folder) that `requirements` resolve to on CPython `python`."""
    reqs = [*requirements, *BUILD_BACKEND]
    key_src = {
        "requirements": reqs,
        "python": python,
        "platforms": PLATFORMS,
        "llama": llama_wheel.name,
        "llama_sha": hashlib.sha256(llama_wheel.read_bytes()).hexdigest(),
    }
    key = hashlib.sha256(json.dumps(key_src, sort_keys=True).encode()).hexdigest()[:20]
    slot = cache_root() / "wheels" / f"pi-cp{python.replace('.', '')}" / key
    if (slot / "request.json").is_file() and not refresh:
        wheels = sorted(slot.glob("*.whl"))
        say(f"CPython {python}: {len(wheels)} cached wheels (request {key})")
        return wheels

    abi = "cp" + python.replace(".", "")
    staging = slot.with_name(key + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--python-version",
        python,
        "--implementation",
        "cp",
        "--abi",
        abi,
        "--abi",
        "abi3",
        "--abi",
        "none",
        *[arg for p in PLATFORMS for arg in ("--platform", p)],
        "--find-links",
        str(llama_wheel.parent),
        "-d",
        str(staging),
        *reqs,
    ]
    say(f"CPython {python}: pip download for linux_aarch64")
    run_logged(cmd, log=cache_root() / "logs" / f"download-{abi}-{key}.log", label=f"download cp{python}", every=15)
    wheels = sorted(staging.glob("*.whl"))
    if not any(w.name == llama_wheel.name for w in wheels):
        raise WheelhouseError(f"pip did not pick our {llama_wheel.name} for CPython {python}")
    (staging / "request.json").write_text(json.dumps(key_src, indent=2) + "\n")
    shutil.rmtree(slot, ignore_errors=True)
    staging.rename(slot)
    return sorted(slot.glob("*.whl"))
