"""Benaud-manner and event-consistency metrics over (event, reply) pairs.

Every check comes from `device.commentary.manner` (the same rule-based checker the dataset and the server
use), applied against the event's true canonical form (the hand label, or the exact reading of a
Cricsheet delivery). This module only counts.

    from builder.eval.metrics import score_reply, aggregate
    rows = [score_reply("Got him.", event.truth, event.event_text())]
    print(aggregate(rows))
"""

from __future__ import annotations

import re

from device.commentary import manner
from device.commentary.events import Canonical

ROUTINE = ("dot", "runs")  # balls where silence is often the right answer
# The composite: a reply passes only if it passes all of these at once.
COMPOSITE_CHECKS = (
    "within_words",
    "no_exclamation",
    "no_banned",
    "no_contradiction",
    "fits",
    "no_echo",
    "not_silent_on_wicket",
)


word_count = manner.word_count  # the checker's own notion of a word ("Caught & bowled." is 3)


# Praise is no reaction to a wide, byes, a drop or a rain break. The shared checker refuses it on
# the extras and a drop (it reacts to nothing in the ball) but lets "Superb." pass on an unclear
# event, where it claims nothing; a model collapsed onto praise would score well there.
_NO_PRAISE = ("wide", "byes", "legbyes", "dropped", "unclear")
_PRAISE = re.compile(r"\b(?:lovely|great|fine|good|nice|well played|shot)\b")


def misplaced_praise(reply: str, truth: Canonical) -> bool:
    """Praise alone, on an event that gives nobody anything to praise."""
    low = reply.lower()
    if truth.outcome not in _NO_PRAISE and not (truth.outcome == "noball" and not truth.runs):
        return False
    praise = bool(manner.PRAISE_ANY.search(low) or _PRAISE.search(low))
    return praise and not manner.claims(reply)


def apt(reply: str, truth: Canonical) -> bool:
    """The fit check of the gate: the shared `manner.fits`, and no misplaced praise."""
    return bool(manner.fits(reply, truth)) and not misplaced_praise(reply, truth)


def score_reply(reply: str, truth: Canonical, event_text: str | None = None, truncated: bool = False) -> dict:
    """Every check on one reply, as booleans, plus the manner checker's problem codes.

    `truncated`: generation hit its token limit, so the reply was longer than what we kept.
    """
    reply = reply or ""
    problems = list(manner.check_reply(reply, truth, event_text=event_text))
    if truncated and not any(p.startswith("too_long") for p in problems):
        problems.append("too_long")  # a cut-off reply was longer than five words would need
    codes = {p.split(":", 1)[0] for p in problems}
    silent = reply.strip() == ""
    row = {
        "reply": reply,
        "outcome": truth.outcome,
        "words": word_count(reply),
        "silent": silent,
        "within_words": "too_long" not in codes and word_count(reply) <= manner.MAX_WORDS,
        "no_exclamation": "exclamation" not in codes and "!" not in reply,
        "no_banned": "banned" not in codes,
        "no_contradiction": "contradiction" not in codes,
        "fits": apt(reply, truth),
        "manner_fits": bool(manner.fits(reply, truth)),  # the shared checker alone, for comparison
        "no_echo": "echo" not in codes,
        "not_silent_on_wicket": "silent_on_wicket" not in codes,
        "no_format": "format" not in codes,  # quotes, markup, emoji: reported, not part of the composite
        "problems": problems,
    }
    if not row["fits"]:
        row["problems"] = problems + ["unfit"]
    row["composite"] = all(row[c] for c in COMPOSITE_CHECKS)
    return row


def _share(rows: list[dict], key: str, where=None) -> float | None:
    pool = [r for r in rows if where is None or where(r)]
    if not pool:
        return None
    return sum(1 for r in pool if r[key]) / len(pool)


def aggregate(rows: list[dict]) -> dict:
    """The per-model metrics of the report (rates are shares in [0, 1]; None when nothing to count)."""
    n = len(rows)
    if n == 0:
        return {"n": 0}
    spoken = [r["reply"].strip().lower() for r in rows if not r["silent"]]
    wickets = [r for r in rows if r["outcome"] == "wicket"]
    out = {
        "n": n,
        "within_words": _share(rows, "within_words"),
        "exclamation_rate": 1 - _share(rows, "no_exclamation"),
        "banned_rate": 1 - _share(rows, "no_banned"),
        "silence_routine": _share(rows, "silent", lambda r: r["outcome"] in ROUTINE),
        "silence_wicket": _share(rows, "silent", lambda r: r["outcome"] == "wicket"),
        "contradiction_rate": 1 - _share(rows, "no_contradiction"),
        "fit_rate": _share(rows, "fits"),
        "manner_fit_rate": _share(rows, "manner_fits"),
        "echo_rate": 1 - _share(rows, "no_echo"),
        "format_rate": 1 - _share(rows, "no_format"),
        # Distinct replies among the spoken ones: 1.0 = never repeats, low = collapsed onto a few lines.
        "distinct_share": len(set(spoken)) / len(spoken) if spoken else None,  # None: never spoke
        "composite": _share(rows, "composite"),
        "n_spoken": len(spoken),
        "mean_words": sum(r["words"] for r in rows) / n,
        "n_wickets": len(wickets),
    }
    return out


def agreement(replies_a: list[str], replies_b: list[str]) -> float | None:
    """Share of events where two models gave the same reply (case and outer space ignored)."""
    if len(replies_a) != len(replies_b):
        raise ValueError(f"agreement needs replies to the same events: {len(replies_a)} vs {len(replies_b)}")
    if not replies_a:
        return None
    same = sum(1 for a, b in zip(replies_a, replies_b) if a.strip().lower() == b.strip().lower())
    return same / len(replies_a)
