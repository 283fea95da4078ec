"""Player names in free text: "Starc to Kohli", scorecard lines, "caught by Smith" and the subject of a line."""

from __future__ import annotations

import re

from device.commentary.reader.cues import NUM_WORDS

# ---- names
NAME = r"[A-Za-z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,2}"
TO_LINE = re.compile(
    r"(?:^|[.:;!?]\s+)\s*(?:\d{1,3}\.\d\s*[:,-]?\s*)?(?P<bowler>"
    + NAME
    + r")(?:\s+(?:to|2)\s+|\s*(?:>|->|→)\s*)(?P<batter>[A-Za-z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,2})"
)
SCORECARD = re.compile(
    r"(?P<out>[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)?)\s+(?P<how>c\s*&\s*b|"
    r"c\s+and\s+b|c\s+[+†*]?(?P<f>[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,2}?)\s+b|"
    r"st\s+[+†*]?(?P<k>[A-Z][\w'’.-]*)\s+b|lbw\s+b|b|hit wicket\s+b|hw\s+b)\s+(?P<bowler>(?:(?:van|"
    r"de|du|der|da|von|le|la|ul)\s+)?[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]{2,})?)"
)
CARD_KIND = {"c": "caught", "st": "stumped", "lbw": "lbw", "b": "bowled", "hit": "hit wicket", "hw": "hit wicket"}
BY_FIELDER = re.compile(
    r"\b(?:caught|dropped|put down|taken|held|grassed|spilled|stumped|missed)\s+(?:by|"
    r"at \w+ by)\s+(?P<f>[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*)?)"
)
SUBJECT = re.compile(
    r"^\s*(?:\d{1,3}\.\d\s*)?(?P<n>[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+)?)\s+(?:is|"
    r"was|has|drives|cuts|pulls|hooks|sweeps|flicks|smashes|hits|slogs|lofts|"
    r"edges|nicks|launches|clips|plays|defends|leaves|goes|departs|survives|"
    r"reaches|brings|gets|takes|steers|guides|glances|works|pushes|punches|"
    r"blocks|scoops|ramps|reverse)\b"
)
NOT_NAMES = {
    "what",
    "the",
    "a",
    "an",
    "and",
    "dropped",
    "four",
    "six",
    "out",
    "wide",
    "no",
    "big",
    "huge",
    "lovely",
    "great",
    "good",
    "day",
    "that",
    "this",
    "it",
    "he",
    "she",
    "there",
    "oh",
    "wicket",
    "bowled",
    "caught",
    "lbw",
    "stumped",
    "run",
    "start",
    "free",
    "beaten",
    "edged",
    "edge",
    "short",
    "full",
    "another",
    "single",
    "dot",
    "boundary",
    "maximum",
    "gone",
    "plumb",
    "review",
    "not",
    "appeal",
    "overthrows",
    "played",
    "shot",
    "ball",
    "first",
    "last",
    "new",
    "drinks",
    "wd",
    "nb",
    "lb",
    "back",
    "up",
    "off",
    "on",
    "down",
    "what's",
    "that's",
    "play",
    "over",
    "end",
    "tea",
    "lunch",
    "stumps",
    "slip",
    "keeper",
    "is",
    "was",
}


def _name(n: str | None) -> str | None:
    if not n:
        return None
    n = n.strip(" .,'’-")
    words = n.split()
    while words and words[-1].lower() in NOT_NAMES:
        words.pop()
    if not words or words[0].lower() in NOT_NAMES or len(n) < 2 or n == "W":
        return None
    return " ".join(words)


def _names(text: str) -> dict:
    out: dict = {}
    m = TO_LINE.search(text)
    if m:
        out["bowler"], out["batter"] = _name(m.group("bowler")), _name(m.group("batter"))
    m = SCORECARD.search(text)
    if m and _name(m.group("out")) and _name(m.group("bowler")):
        out["player_out"], out["bowler"] = _name(m.group("out")), _name(m.group("bowler"))
        out.setdefault("batter", out["player_out"])
        f = m.group("f") or m.group("k")
        if f:
            out["fielder"] = _name(f)
    m = BY_FIELDER.search(text)
    if m and _name(m.group("f")):
        out.setdefault("fielder", _name(m.group("f")))
    if not out.get("batter"):
        m = SUBJECT.search(text)
        if m and _name(m.group("n")):
            out["batter"] = _name(m.group("n"))
    return {k: v for k, v in out.items() if v}


def _count(pattern_text: str, default: int) -> int:
    m = re.search(r"\b(\d|one|two|three|four|five|a|single|couple)\b", pattern_text)
    if not m:
        return default
    w = m.group(1)
    return int(w) if w.isdigit() else NUM_WORDS.get(w, default)
