"""Typos: a word one slip away from a cue word is read as that word ("cauht", "wikcet", "dopped")."""

from __future__ import annotations

import re
from functools import lru_cache

# ---- typos: a word one slip away from a cue word is read as that word ("cauht", "wikcet", "dopped")
TYPO_TARGETS = (
    "caught",
    "bowled",
    "wicket",
    "dropped",
    "stumped",
    "timed",
    "retired",
    "twice",
    "catches",
    "catch",
    "boundary",
    "single",
    "couple",
    "maximum",
    "plumb",
    "edged",
    "taken",
    "defended",
    "blocked",
    "beaten",
    "spilled",
    "grassed",
    "overturned",
    "reprieve",
    "legbye",
    "legbyes",
    "defence",
    "alone",
    "misses",
    "leaves",
    "beats",
    "holes",
    "defends",
    "short",
    "takes",
    "survives",
    "keeps",
    "appeal",
    "review",
    "obstructing",
    "handled",
    "stumps",
)
REAL_WORDS = {
    "bowler",
    "bowlers",
    "bowling",
    "bowls",
    "catcher",
    "catchy",
    "wickets",
    "times",
    "tied",
    "timid",
    "match",
    "patch",
    "latch",
    "hatch",
    "batch",
    "watch",
    "taker",
    "shorts",
    "shirt",
    "shot",
    "hole",
    "holds",
    "edges",
    "edge",
    "edger",
    "keep",
    "keen",
    "peeks",
    "single",
    "singles",
    "singled",
    "couples",
    "coupled",
    "beater",
    "stump",
    "tired",
    "retire",
    "twine",
    "caughts",
    "plum",
    "boundar",
    "dropper",
    "beast",
    "leaver",
    "stamped",
    "stomped",
    "blocker",
    "spilt",
    "review",
    "reviews",
    "appeals",
    "handed",
    "handles",
    "maxim",
}


def _one_slip(a: str, b: str) -> bool:
    """Damerau distance 1 (insert, delete, swap; substitute only in long words)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]:
            return True
        return len(diff) == 1 and len(b) >= 7
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k in range(len(short)) if short[k] != long_[k]), len(short))
    return short[i:] == long_[i + 1 :]


@lru_cache(maxsize=4096)
def _fix_word(w: str) -> str:
    if len(w) < 5 or w in REAL_WORDS or w in TYPO_TARGETS:  # 4-letter words are too often real ("take", "time")
        return w
    return next((t for t in TYPO_TARGETS if len(t) >= 5 and _one_slip(w, t)), w)


CONTRACTION = re.compile(r"\b(should|would|could|must|might)'ve\b", re.IGNORECASE)
WOULD = re.compile(r"\b(\w+)'d (have|be)\b", re.IGNORECASE)  # "it'd have been six" reads as "it would have been six"


def _short_slips(words: tuple[str, ...]) -> dict:
    """Swapped or doubled letters in short outcome words ("fuor", "sixx", "wdie"): safe, unlike other 4-letter slips."""
    out = {}
    for w in words:
        for i in range(len(w) - 1):
            out[w[:i] + w[i + 1] + w[i] + w[i + 2 :]] = w
        for i in range(len(w)):
            out[w[: i + 1] + w[i] + w[i + 1 :]] = w
    return {k: v for k, v in out.items() if k != v}


SHORT_SLIPS = _short_slips(("four", "six", "wide", "wides", "byes"))
ABBREVIATIONS = {
    "bdry": "boundary",
    "bndry": "boundary",
    "bwld": "bowled",
    "bwd": "bowled",
    "wkt": "wicket",
    "wkts": "wickets",
    "rns": "runs",
    "rn": "run",
    "thru": "through",
}


def _fix_typos(low: str) -> str:
    low = re.sub(r"\b(?:bdry|bndry|bwld|bwd|wkts?|rns|rn|thru)\b", lambda m: ABBREVIATIONS[m.group(0)], low)
    low = re.sub(r"\bmid[- ]wicket\b", "midwicket", low)  # a fielding position: one word, so no "wicket" cue
    low = re.sub(r"\b[a-z]{3,6}\b", lambda m: SHORT_SLIPS.get(m.group(0), m.group(0)), low)
    return re.sub(r"[a-z]{5,}", lambda m: _fix_word(m.group(0)), low)
