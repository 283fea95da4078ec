"""A content-addressed cache of the base model's greedy replies (issue 15).

The gate compares the fine-tune with the base model prompted three ways, on the same held-out events
every build. Those replies depend only on the base GGUF, the prompt, the decoding and the runtime, so a
rebuild need not ask again. Each reply is kept under a key made of:

- the sha256 of the base GGUF file;
- the rendered prompt (the messages the replier sends), the mode and the token limit;
- llama-cpp-python's version, the thread count (greedy decoding may differ at a near tie between thread
  counts) and CACHE_VERSION, raised whenever the replier's cleaning or early stop changes.

One JSON file per (base, mode, limit, runtime) under ~/.cache/suksham/eval-base/ (or
$SUKSHAM_CACHE_DIR/eval-base/), written atomically once a model has answered every event. A missing,
unreadable or foreign file is a miss, never an error. `SUKSHAM_EVAL_CACHE=0` turns it off. A cold build
never sees it: the build budget is measured without it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from device.runtime.bundle import sha256_file
from device.util import atomic_write_json

CACHE_VERSION = 1
_SHA_MEMO: dict[tuple, str] = {}


def cache_root() -> Path:
    base = os.environ.get("SUKSHAM_CACHE_DIR") or Path.home() / ".cache" / "suksham"
    return Path(base) / "eval-base"


def enabled() -> bool:
    return os.environ.get("SUKSHAM_EVAL_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")


def file_sha256(path: Path) -> str:
    """The file's sha256, remembered by path, size and mtime for the life of the process."""
    st = path.stat()
    memo = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if memo not in _SHA_MEMO:
        _SHA_MEMO[memo] = sha256_file(path)
    return _SHA_MEMO[memo]


def _runtime() -> str:
    try:
        from importlib.metadata import version

        return f"llama-cpp-python {version('llama_cpp_python')}"
    except Exception:  # an unknown runtime only means nothing is shared
        return "llama-cpp-python unknown"


class CachedReplier:
    """A greedy replier's answers, kept by content: `reply(event)` as the wrapped one, `save()` after a run.

    `prompt_of(event)` renders what the wrapped replier sends (its messages); `threads` is the engine's
    thread count."""

    def __init__(self, inner, prompt_of, threads: int | None, root: Path | None = None):
        self.inner, self.prompt_of = inner, prompt_of
        self.hits = self.misses = 0
        model = file_sha256(Path(inner.path))
        ident = {
            "v": CACHE_VERSION,
            "model": model,
            "mode": inner.mode,
            "max_new_tokens": inner.max_new_tokens,
            "threads": threads,
            "runtime": _runtime(),
        }
        name = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24]
        self.path = (root or cache_root()) / f"{name}.json"
        self.ident = ident
        self.entries = self._read()
        self._dirty = False

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("ident") != self.ident or not isinstance(data.get("replies"), dict):
            return {}
        return data["replies"]

    @staticmethod
    def _key(prompt) -> str:
        return hashlib.sha256(json.dumps(prompt, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def reply(self, event) -> tuple[str, bool]:
        key = self._key(self.prompt_of(event))
        got = self.entries.get(key)
        if isinstance(got, list) and len(got) == 2 and isinstance(got[0], str) and isinstance(got[1], bool):
            self.hits += 1
            return got[0], got[1]
        self.misses += 1
        text, cut = self.inner.reply(event)
        self.entries[key] = [text, cut]
        self._dirty = True
        return text, cut

    def save(self) -> None:
        """Write the replies asked so far (atomically); a cache that cannot be written is left alone."""
        if not self._dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.path, {"ident": self.ident, "replies": self.entries})
            self._dirty = False
        except OSError:
            pass
