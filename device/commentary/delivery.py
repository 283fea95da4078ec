"""Reading an event: a Cricsheet delivery (exact) or free text (best effort) into a `Canonical`.

A delivery's free-text `note` may report a dropped catch ("Dropped by Smith at slip"): with no
wicket on the ball, the outcome is then "dropped"; a note can also flag a hat-trick ball or a new
batter, as can the optional context booleans `hat_trick_ball` and `new_batter`. Free text goes to
the rule-based reader in `device.commentary.reader`; a pasted delivery as JSON is read exactly.

Try it:  python -c "from device.commentary.delivery import read_text; print(read_text('12.3 Starc>Kohli 4'))"
"""

from __future__ import annotations

import json

from device.commentary.events import (
    DISMISSAL_KINDS,
    EXTRA_KINDS,
    LEGAL_OFF_NOBALL,
    LEGAL_OFF_WIDE,
    MAX_NOTE_CHARS,
    MAX_READ_CHARS,
    MAX_RUNS,
    Canonical,
    EventError,
)
from device.commentary.match import CONTEXT_KEYS
from device.commentary.reader import read


def _int(value, where: str, lo: int = 0, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise EventError(f"{where} must be a whole number, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        span = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise EventError(f"{where} must be {span}, got {value}")
    return value


def _str(value, where: str, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise EventError(f"{where} must be a non-empty string, got {value!r}")
    return " ".join(value.split())


# Every context key and its type: the match feed's keys (`CONTEXT_KEYS`, which it derives) plus the free `note`.
CONTEXT_TYPES: dict[str, type] = {**CONTEXT_KEYS, "note": str}
# Bounds of the whole-number keys (inclusive); any other int key is 0..10_000.
_INT_BOUNDS = {"innings": (1, 10_000), "ball": (1, 10_000), "bowler_wickets": (0, 10)}


def _context_value(key: str, value):
    kind = CONTEXT_TYPES[key]
    where = f"context.{key}"
    if kind is str:
        return _str(value, where)
    if kind is int:
        lo, hi = _INT_BOUNDS.get(key, (0, 10_000))
        return _int(value, where, lo=lo, hi=hi)
    if not isinstance(value, bool):
        raise EventError(f"{where} must be true or false, got {value!r}")
    return value


def read_context(context, warnings: list[str] | None = None) -> dict:
    """Validate the optional context (every key in `CONTEXT_TYPES`); unknown keys are ignored (PRODUCT.md).

    A known key whose value does not parse raises EventError, or, when a `warnings` list is given, is
    dropped with a message appended to it (the server's way: the event is still commented on).
    """
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise EventError(f"context must be a JSON object, got {type(context).__name__}")
    out: dict = {}
    for key in CONTEXT_TYPES:
        if context.get(key) is None:
            continue
        try:
            out[key] = _context_value(key, context[key])
        except EventError as exc:
            if warnings is None:
                raise
            warnings.append(f"{exc}; dropped")
    return out


def clean_context(context) -> tuple[dict | None, list[str]]:
    """(the context with only its known keys that parse, a warning for each key dropped).

    What the server reads and renders: unknown keys go (they are ignored anyway), a bad optional key
    goes with a warning. A context that is not an object at all still raises EventError."""
    if context is None:
        return None, []
    warnings: list[str] = []
    return read_context(context, warnings), warnings


def _read_review(review) -> str | None:
    if review is None:
        return None
    if not isinstance(review, dict):
        raise EventError(f"review must be a JSON object, got {type(review).__name__}")
    if review.get("umpires_call") is True:
        return "umpire's call"
    decision = review.get("decision")
    if decision is None:
        return "review"
    decision = _str(decision, "review.decision").lower()
    if decision not in ("upheld", "struck down"):
        raise EventError(f"review.decision must be 'upheld' or 'struck down', got {decision!r}")
    return decision


def read_delivery(delivery: dict, context: dict | None = None) -> Canonical:
    """Read one Cricsheet delivery (plus optional context) exactly; raise EventError if illegal."""
    if not isinstance(delivery, dict):
        raise EventError(f"delivery must be a JSON object, got {type(delivery).__name__}")
    ctx = read_context(context)
    batter = _str(delivery.get("batter"), "delivery.batter")
    bowler = _str(delivery.get("bowler"), "delivery.bowler")
    _str(delivery.get("non_striker"), "delivery.non_striker")

    runs = delivery.get("runs")
    if not isinstance(runs, dict):
        raise EventError('delivery.runs must be an object like {"batter": 1, "extras": 0, "total": 1}')
    bat = _int(runs.get("batter"), "runs.batter", hi=MAX_RUNS)
    non_boundary = runs.get("non_boundary", False)
    if not isinstance(non_boundary, bool):
        raise EventError(f"runs.non_boundary must be true or false, got {non_boundary!r}")

    raw_extras = delivery.get("extras") or {}
    if not isinstance(raw_extras, dict):
        raise EventError(f"delivery.extras must be an object, got {type(raw_extras).__name__}")
    extras = {k: _int(raw_extras[k], f"extras.{k}", hi=MAX_RUNS) for k in EXTRA_KINDS if raw_extras.get(k) is not None}
    extras = {k: v for k, v in extras.items() if v > 0}
    n_extras = sum(extras.values())
    if runs.get("extras") is not None and _int(runs["extras"], "runs.extras", hi=3 * MAX_RUNS) != n_extras:
        raise EventError(f"runs.extras is {runs['extras']} but the extras object adds up to {n_extras}")
    if runs.get("total") is not None and _int(runs["total"], "runs.total", hi=4 * MAX_RUNS) != bat + n_extras:
        raise EventError(f"runs.total is {runs['total']} but runs.batter + extras is {bat + n_extras}")
    if "wides" in extras and "noballs" in extras:
        raise EventError("a ball cannot be both a wide and a no-ball")
    if "wides" in extras and (bat or "byes" in extras or "legbyes" in extras):
        raise EventError("on a wide every run is a wide: runs.batter, byes and legbyes must be 0")
    if "byes" in extras and "legbyes" in extras:
        raise EventError("a ball cannot give both byes and leg byes")
    if bat and ("byes" in extras or "legbyes" in extras):
        raise EventError("runs off the bat and byes/leg byes cannot come from the same ball")

    wickets = delivery.get("wickets") or []
    if not isinstance(wickets, list):
        raise EventError("delivery.wickets must be a list of {player_out, kind, fielders}")
    dismissal = player_out = fielder = None
    for i, w in enumerate(wickets):
        if not isinstance(w, dict):
            raise EventError(f"wickets[{i}] must be an object")
        kind = _str(w.get("kind"), f"wickets[{i}].kind", required=True).lower()
        if kind not in DISMISSAL_KINDS:
            raise EventError(
                f"wickets[{i}].kind {kind!r} is not a Cricsheet dismissal kind; use one of: "
                + ", ".join(DISMISSAL_KINDS)
            )
        if "noballs" in extras and kind not in LEGAL_OFF_NOBALL:
            raise EventError(f"nobody is out {kind} off a no-ball (only run out and the like)")
        if "wides" in extras and kind not in LEGAL_OFF_WIDE:
            raise EventError(f"nobody is out {kind} off a wide (only stumped, hit wicket, run out and the like)")
        who = _str(w.get("player_out"), f"wickets[{i}].player_out", required=True)
        fielders = w.get("fielders") or []
        if not isinstance(fielders, list) or not all(isinstance(f, dict) for f in fielders):
            raise EventError(f'wickets[{i}].fielders must be a list of {{"name": ...}}')
        names = [_str(f.get("name"), f"wickets[{i}].fielders.name") for f in fielders]
        if dismissal is None:  # the first wicket names the ball; a second one is vanishingly rare
            dismissal, player_out, fielder = kind, who, next((n for n in names if n), None)

    kind = next((k for k in EXTRA_KINDS if k in extras), None)
    # the free-text note may carry what Cricsheet has no field for: a dropped catch, a hat-trick ball
    note = read_text(ctx["note"][:MAX_NOTE_CHARS]) if ctx.get("note") else Canonical(outcome="unclear", confident=False)
    if dismissal:
        outcome = "wicket"
    elif note.outcome == "dropped":
        outcome = "dropped"
    elif bat == 6 and not non_boundary:
        outcome = "six"
    elif bat == 4 and not non_boundary:
        outcome = "four"
    elif kind == "wides":
        outcome = "wide"
    elif kind == "noballs":
        outcome = "noball"
    elif kind in ("byes", "legbyes"):
        outcome = kind
    elif bat:
        outcome = "runs"
    else:
        outcome = "dot"
    return Canonical(
        outcome=outcome,
        runs=bat,
        extras=n_extras,
        extra_kind=kind,
        dismissal=dismissal,
        player_out=player_out,
        batter=batter,
        bowler=bowler,
        fielder=fielder,
        milestone=ctx.get("milestone"),
        day_start=ctx.get("day_start", False),
        review=_read_review(delivery.get("review")),
        hat_trick_ball=ctx.get("hat_trick_ball", False) or note.hat_trick_ball,
        new_batter=ctx.get("new_batter", False) or note.new_batter,
        confident=True,
        source="delivery",
    )


# ---------------------------------------------------------------- reading free text


def read_text(text: str) -> Canonical:
    """Tolerant rule-based reading of free text; outcome "unclear" (confident=False) when unsure."""

    if not isinstance(text, str):
        raise EventError(f"event text must be a string, got {type(text).__name__}")
    pasted = json_event(text)
    if pasted is not None:
        try:
            return read_delivery(*pasted)
        except EventError:
            return Canonical(outcome="unclear", confident=False)  # tolerant: a broken delivery tells nothing sure
    if _is_json(text):
        return Canonical(outcome="unclear", confident=False)  # other JSON is no event: its digits are not runs
    return read(text[:MAX_READ_CHARS])


def _is_json(text: str) -> bool:
    t = text.strip()
    if t[:1] not in ("{", "[") or len(t) > 20_000:
        return False
    try:
        json.loads(t)
    except ValueError:
        return False
    return True


def json_event(text: str) -> tuple[dict, dict | None] | None:
    """(delivery, context) when the "text" is a pasted Cricsheet delivery as JSON, else None.

    A 135M model reads raw JSON badly (a probe said "Gone." to almost every unseen delivery),
    so a pasted delivery is read and rendered exactly as a structured one.
    Accepts a bare delivery or {"delivery": ..., "context": ...}.
    """
    t = text.strip()
    if not (t.startswith("{") and t.endswith("}")) or len(t) > 20_000:
        return None
    try:
        obj = json.loads(t)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("delivery"), dict):
        return obj["delivery"], obj.get("context")
    if isinstance(obj.get("runs"), dict) and ("batter" in obj or "bowler" in obj):
        return obj, obj.get("context")
    return None


def read_event(*, text: str | None = None, delivery: dict | None = None, context: dict | None = None) -> Canonical:
    if delivery is not None:
        return read_delivery(delivery, context)
    return read_text(text or "")
