"""The words a bundle's training replies use: what its guard judges an opening word against (issue 15).

A sampled 135M model now and then opens a reply with a word it was never taught
("Slogan.", "Strawed it.") or with a name that is no one of the ball ("Starc goes big." to a four of Roy's).
The guard's name check (`device.commentary.manner.strangers`) cannot tell either from "Marvellous." without
the words the model was taught, so a build that asks for it (`export.guard_vocabulary`) writes them to the
manifest as `reply_vocabulary` and the server draws again on an opening word that neither the prompt nor
this list holds.

The list is every word of the train and val replies, as `manner.word_key`s, less each pair's names: the
words of its people (batter, bowler, fielder, player out) and any word the reply capitalises that its
prompt writes capitalised too ("Over to Ahmadzai." to "Ngidi on strike, Ahmadzai to bowl"). The
simulator's names are no one in a real match, and a real name reaches the guard in the prompt it came
with; a common word dropped from one pair this way ("Four." to "Four for Abbasi") comes in from others.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from device.commentary.manner import PEOPLE_ROLES, word_keys

SPLITS = ("train.jsonl", "val.jsonl")
_CAPITALISED = re.compile(r"\b[A-Z][a-z][A-Za-z'’-]*")  # "Ahmadzai", "Root's"; not "FOUR" or "W"


def reply_vocabulary(rows: Iterable[dict]) -> list[str]:
    """Sorted word keys of the rows' assistant replies, without the row's people (module docstring)."""
    words: set[str] = set()
    for row in rows:
        reply = next((m["content"] for m in reversed(row["messages"]) if m["role"] == "assistant"), "")
        canonical = row.get("canonical") or {}
        prompt = "\n".join(m["content"] for m in row["messages"] if m["role"] == "user")
        names = {k for role in PEOPLE_ROLES for k in word_keys(canonical.get(role) or "")}
        names |= set(word_keys(" ".join(_CAPITALISED.findall(reply)))) & set(
            word_keys(" ".join(_CAPITALISED.findall(prompt)))
        )
        words.update(k for k in word_keys(reply) if k not in names)
    return sorted(words)


def load_reply_vocabulary(dataset_dir: str | Path) -> list[str]:
    """`reply_vocabulary` of a dataset folder's train and val splits; a clear error when one is missing."""
    dataset_dir = Path(dataset_dir)
    rows = []
    for name in SPLITS:
        path = dataset_dir / name
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing: the reply vocabulary is read from the dataset the bundle was trained on"
            )
        with path.open(encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return reply_vocabulary(rows)
