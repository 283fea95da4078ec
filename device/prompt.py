"""Event -> chat messages. Shared word for word by the server, the dataset and the evaluation.

An event is either free text ("Starc to Kohli, FOUR, driven through cover") or a Cricsheet
delivery plus optional context. It is first read into a `Canonical` form, and the rendered user
message states that outcome plainly above the event itself, because a 135M model reads a plain
label far more reliably than it infers one:

    Outcome: wicket, caught
    Starc to Kohli, OUT, edged to slip

Outcome classes (`OUTCOMES`, one per ball):
    dot      no run off the bat, no extras, no wicket
    runs     1, 2, 3 (or 5, 7 ...) runs off the bat, not a boundary
    four     a boundary four off the bat;   six: a six off the bat
    wicket   any entry in Cricsheet's `wickets` (kind in `DISMISSAL_KINDS`)
    dropped  a chance missed (catch put down, missed stumping or run out), batter not out
    wide / noball / byes / legbyes   the extra that defines the ball
    unclear  the text reader could not tell; nothing is stated about the outcome
Non-ball facts ride on top as flags: milestone, day_start, hat_trick_ball, new_batter, review.

Precedence when one ball has several things (first match wins; the rest is kept in the fields):
    1. wicket    - even off a wide or no-ball (run out off a wide: outcome wicket, extra_kind wides)
    2. dropped   - a chance missed, even if runs came from it ("dropped, and it runs away for four")
    3. six, 4. four - boundaries off the bat, even off a no-ball (extra_kind noballs, extras 1);
                   a four with `non_boundary` set is "runs"
    5. wide      - all wides, including wides that run to the boundary (extras 5)
    6. noball    - a no-ball without a boundary off the bat (runs off the bat kept in `runs`)
    7. byes, 8. legbyes - including four byes; byes off a no-ball are a noball
    9. runs, 10. dot   (penalty runs never define the ball: "1 run" plus 5 penalty is "runs")
`extra_kind` uses Cricsheet's keys (wides, noballs, byes, legbyes, penalty); `extras` is their sum.

The unclear case renders NO outcome line at all (only the event text and any flags), so there
is no label for the model to parrot ("Unclear." is also a banned reply in device.manner). Such a
prompt looks like what `ollama run` sends (render_user(outcome_line=False)): the model reads the
text itself, as the raw-text share of the training data teaches it to. When even the text tells
no outcome (drinks, new ball, rain), the apt reply claims none: silence or a neutral remark;
device.manner.fits() accepts only that on an unclear event, and the server's guard applies it.
A delivery's free-text `note` may report a dropped catch ("Dropped by Smith at slip"): with no
wicket on the ball, the outcome is then "dropped"; a note can also flag a hat-trick ball or a new
batter, as can the optional context booleans `hat_trick_ball` and `new_batter`.

Try it:  python -c "from device.prompt import render_user; print(render_user(text='12.3 Starc>Kohli 4'))"
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

SYSTEM_PROMPT = "You are Richie Benaud. Comment in at most five words, or stay silent."

OUTCOMES = ("dot", "runs", "four", "six", "wicket", "dropped", "wide", "noball", "byes", "legbyes", "unclear")

DISMISSAL_KINDS = (
    "bowled", "caught", "caught and bowled", "lbw", "stumped", "run out", "hit wicket",
    "retired hurt", "retired not out", "retired out", "obstructing the field",
    "handled the ball", "hit the ball twice", "timed out",
)
EXTRA_KINDS = ("wides", "noballs", "byes", "legbyes", "penalty")

# Laws of cricket: the only ways out off a no-ball or a wide (anything else is an illegal event).
LEGAL_OFF_NOBALL = {"run out", "obstructing the field", "handled the ball", "hit the ball twice",
                    "retired hurt", "retired not out", "retired out", "timed out"}
LEGAL_OFF_WIDE = LEGAL_OFF_NOBALL | {"stumped", "hit wicket"}
MAX_TEXT_CHARS = 400  # longer text is cut in the prompt (the reader reads up to MAX_READ_CHARS)
MAX_READ_CHARS = 2000  # keeps the reader's regex work bounded on absurd input
MAX_RUNS = 10  # off the bat, or extras of one kind, on one ball: beyond this is a typo


class EventError(ValueError):
    """An event that cannot be read: the message says what is wrong."""


@dataclass(frozen=True)
class Canonical:
    """What happened on one ball, read from a delivery (exact) or from text (best effort)."""

    outcome: str
    runs: int | None = None  # off the bat
    extras: int | None = None  # all extras on the ball
    extra_kind: str | None = None  # the defining extra, a Cricsheet key (wides, noballs, ...)
    dismissal: str | None = None  # a DISMISSAL_KINDS entry
    player_out: str | None = None
    batter: str | None = None
    bowler: str | None = None
    fielder: str | None = None
    milestone: str | None = None
    day_start: bool = False
    review: str | None = None  # "upheld", "struck down", "umpire's call" or "review"
    hat_trick_ball: bool = False
    new_batter: bool = False
    confident: bool = True
    source: str = "text"

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- reading a Cricsheet delivery

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


def _read_context(context) -> dict:
    """Validate the optional context; unknown keys are ignored (PRODUCT.md)."""
    if context is None:
        return {}
    if not isinstance(context, dict):
        raise EventError(f"context must be a JSON object, got {type(context).__name__}")
    out: dict = {}
    for key in ("match_type", "score", "milestone", "note"):
        if context.get(key) is not None:
            out[key] = _str(context[key], f"context.{key}")
    for key, lo in (("innings", 1), ("over", 0), ("ball", 1), ("target", 0)):
        if context.get(key) is not None:
            out[key] = _int(context[key], f"context.{key}", lo=lo, hi=10_000)
    # day_start is PRODUCT.md's; hat_trick_ball/new_batter are optional extras the simulator sends.
    for key in ("day_start", "hat_trick_ball", "new_batter"):
        if context.get(key) is not None:
            if not isinstance(context[key], bool):
                raise EventError(f"context.{key} must be true or false, got {context[key]!r}")
            out[key] = context[key]
    return out


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
    ctx = _read_context(context)
    batter = _str(delivery.get("batter"), "delivery.batter")
    bowler = _str(delivery.get("bowler"), "delivery.bowler")
    _str(delivery.get("non_striker"), "delivery.non_striker")

    runs = delivery.get("runs")
    if not isinstance(runs, dict):
        raise EventError("delivery.runs must be an object like {\"batter\": 1, \"extras\": 0, \"total\": 1}")
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
            raise EventError(f"wickets[{i}].kind {kind!r} is not a Cricsheet dismissal kind; use one of: "
                             + ", ".join(DISMISSAL_KINDS))
        if "noballs" in extras and kind not in LEGAL_OFF_NOBALL:
            raise EventError(f"nobody is out {kind} off a no-ball (only run out and the like)")
        if "wides" in extras and kind not in LEGAL_OFF_WIDE:
            raise EventError(f"nobody is out {kind} off a wide (only stumped, hit wicket, run out and the like)")
        who = _str(w.get("player_out"), f"wickets[{i}].player_out", required=True)
        fielders = w.get("fielders") or []
        if not isinstance(fielders, list) or not all(isinstance(f, dict) for f in fielders):
            raise EventError(f"wickets[{i}].fielders must be a list of {{\"name\": ...}}")
        names = [_str(f.get("name"), f"wickets[{i}].fielders.name") for f in fielders]
        if dismissal is None:  # the first wicket names the ball; a second one is vanishingly rare
            dismissal, player_out, fielder = kind, who, next((n for n in names if n), None)

    kind = next((k for k in EXTRA_KINDS if k in extras), None)
    # the free-text note may carry what Cricsheet has no field for: a dropped catch, a hat-trick ball
    note = read_text(ctx["note"]) if ctx.get("note") else Canonical(outcome="unclear", confident=False)
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
        outcome=outcome, runs=bat, extras=n_extras, extra_kind=kind, dismissal=dismissal,
        player_out=player_out, batter=batter, bowler=bowler, fielder=fielder,
        milestone=ctx.get("milestone"), day_start=ctx.get("day_start", False),
        review=_read_review(delivery.get("review")),
        hat_trick_ball=ctx.get("hat_trick_ball", False) or note.hat_trick_ball,
        new_batter=ctx.get("new_batter", False) or note.new_batter,
        confident=True, source="delivery",
    )


# ---------------------------------------------------------------- reading free text

def read_text(text: str) -> Canonical:
    """Tolerant rule-based reading of free text; outcome "unclear" (confident=False) when unsure."""
    from device.reader import read  # the rules live in their own module to keep this one readable

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
    if not t[:1] in ("{", "[") or len(t) > 20_000:
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


# ---------------------------------------------------------------- rendering

def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def outcome_phrase(ev: Canonical) -> str | None:
    """The plain label of the outcome line, e.g. "wicket, caught" or "six, off a no-ball"; None if unclear."""
    o = ev.outcome
    if o == "unclear":
        return None
    if o == "wicket":
        s = "wicket" + (f", {ev.dismissal}" if ev.dismissal else "")
        if ev.player_out and ev.batter and ev.player_out != ev.batter:
            s += f", {ev.player_out} out"
        if ev.extra_kind == "wides":
            s += ", off a wide"
        elif ev.extra_kind == "noballs":
            s += ", off a no-ball"
    elif o == "dropped":
        s = "dropped, not out" + (f", {_plural(ev.runs, 'run')}" if ev.runs else "")
    elif o in ("four", "six"):
        s = o + (", off a no-ball" if ev.extra_kind == "noballs" else "")
    elif o == "runs":
        s = _plural(ev.runs, "run") if ev.runs else "runs"
    elif o == "dot":
        s = "dot ball"
    elif o == "wide":
        s = "wide" if not ev.extras or ev.extras == 1 else f"wide, {ev.extras} wides"
    elif o == "noball":
        s = "no-ball" + (f", {_plural(ev.runs, 'run')} off the bat" if ev.runs else "")
    else:  # byes, legbyes
        word = "bye" if o == "byes" else "leg bye"
        s = _plural(ev.extras, word) if ev.extras else word + "s"
    if ev.hat_trick_ball:
        s += ", hat-trick ball"
    if ev.new_batter:
        s += ", new batter"
    if ev.review:
        s += f", review {ev.review}" if ev.review != "review" else ", reviewed"
    return s


def _cricinfo(ev: Canonical) -> str:
    """Cricinfo-style result words for a delivery: "FOUR", "OUT, caught by Smith", "2 leg byes"."""
    o = ev.outcome
    if o == "wicket":
        s = "OUT, " + (ev.dismissal or "out")
        if ev.fielder and ev.dismissal in ("caught", "stumped", "run out"):
            s += f" by {ev.fielder}"
        if ev.player_out and ev.player_out != ev.batter:
            s = f"OUT, {ev.player_out} {ev.dismissal}"
        return s
    if o in ("four", "six"):
        return ("no ball, " if ev.extra_kind == "noballs" else "") + o.upper()
    if o == "dot":
        return "no run"
    if o == "wide":
        return _plural(ev.extras or 1, "wide")
    if o == "noball":
        return "no ball" + (f", {_plural(ev.runs, 'run')}" if ev.runs else "")
    if o in ("byes", "legbyes"):
        return _plural(ev.extras or 1, "bye" if o == "byes" else "leg bye")
    if o == "dropped":
        return "dropped" + (f", {_plural(ev.runs, 'run')}" if ev.runs else "")
    return _plural(ev.runs or 0, "run")


def render_delivery(ev: Canonical, context: dict | None = None) -> str:
    """A compact, human-readable line for a delivery (never raw JSON: tokens cost latency)."""
    ctx = _read_context(context)
    head = " ".join(str(p) for p in (
        ctx.get("match_type"),
        f"{ctx['over']}.{ctx.get('ball', 1)}" if "over" in ctx else None,
    ) if p)
    who = f"{ev.bowler} to {ev.batter}" if ev.bowler and ev.batter else (ev.batter or ev.bowler or "")
    parts = [p for p in (f"{head} {who}".strip(), _cricinfo(ev)) if p]
    if ctx.get("score"):
        parts.append(ctx["score"] + (f", target {ctx['target']}" if "target" in ctx else ""))
    elif "target" in ctx:
        parts.append(f"target {ctx['target']}")
    line = ", ".join(parts)
    if ctx.get("note"):
        line += f". {ctx['note'][:120]}"
    return line


def _flag_lines(ev: Canonical) -> list[str]:
    lines = []
    if ev.day_start:
        lines.append("Start of the day's play.")
    if ev.milestone:
        lines.append(f"Milestone: {ev.milestone}")
    return lines


def _event(text, delivery, context) -> tuple[Canonical, str, str]:
    """(canonical, the event as the prompt shows it, the event as typed)."""
    if (text is None) == (delivery is None):
        raise EventError("give exactly one of an event text or a delivery")
    if delivery is not None:
        ev = read_delivery(delivery, context)
        line = render_delivery(ev, context)
        return ev, line, "\n".join(_flag_lines(ev) + [line])  # a delivery keeps its flags: they are its context
    ev = read_text(text)
    typed = " ".join(text.split())[:MAX_TEXT_CHARS]
    if not typed:
        raise EventError("the event text is empty")
    pasted = json_event(text)
    if pasted is not None and ev.source == "delivery":
        return ev, render_delivery(ev, pasted[1]), typed
    return ev, typed, typed


def render_user(*, text=None, delivery=None, context=None, outcome_line=True) -> str:
    """The user message: "Outcome: ..." (when known), flag lines, then the event itself.

    With outcome_line=False it is the event alone, as `ollama run` would send it.
    """
    ev, shown, typed = _event(text, delivery, context)
    if not outcome_line:
        return typed
    phrase = outcome_phrase(ev)
    lines = ([f"Outcome: {phrase}"] if phrase else []) + _flag_lines(ev) + [shown]
    return "\n".join(lines)


def build_messages(*, text=None, delivery=None, context=None, outcome_line=True) -> list[dict]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": render_user(text=text, delivery=delivery, context=context, outcome_line=outcome_line)},
    ]

