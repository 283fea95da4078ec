"""Rendering an event as the model sees it: the system prompt, the user message, the chat messages.

The rendered user message states the outcome plainly above the event itself, because a 135M
model reads a plain label far more reliably than it infers one:

    Outcome: wicket, caught
    Starc to Kohli, OUT, edged to slip

The unclear case renders NO outcome line at all (only the event text and any flags), so there
is no label for the model to parrot ("Unclear." is also a banned reply in device.commentary.manner).
Such a prompt looks like what `ollama run` sends (render_user(outcome_line=False)): the model reads
the text itself, as the raw-text share of the training data teaches it to. When even the text tells
no outcome (drinks, new ball, rain), the apt reply claims none: silence or a neutral remark;
manner.fits() accepts only that on an unclear event, and the server's guard applies it.

Try it:  python -c "from device.commentary.render import render_user; print(render_user(text='12.3 Starc>Kohli 4'))"
"""

from __future__ import annotations

from device.commentary.delivery import CONTEXT_TYPES, json_event, read_context, read_delivery, read_text
from device.commentary.events import MAX_NOTE_CHARS, MAX_TEXT_CHARS, Canonical, EventError

SYSTEM_PROMPT = "You are Richie Benaud. Comment in at most five words, or stay silent."

# The context keys a prompt shows. Bundles built before issue 15 were taught only LEGACY_KEYS (new_batter and
# hat_trick_ball reach the outcome line); a bundle taught more lists them in its manifest (`context_keys`),
# and only those are rendered for it, so nothing reaches a model that it never saw in training.
LEGACY_KEYS = frozenset(
    {"match_type", "innings", "over", "ball", "score", "target", "milestone", "day_start", "note"}
    | {"new_batter", "hat_trick_ball"}
)
ALL_KEYS = frozenset(CONTEXT_TYPES)  # match_id is memory only: it is never rendered
CREDITED = frozenset({"bowled", "caught", "caught and bowled", "lbw", "stumped", "hit wicket"})


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


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _context_phrases(ev: Canonical, ctx: dict) -> list[str]:
    """Short phrases for the match-feed keys (issue 15), in a fixed order; empty for a context without them."""
    out = []
    need, left = ctx.get("runs_needed"), ctx.get("balls_left")
    if need and not ctx.get("winning_run"):
        out.append(f"need {need}" + (f" off {left}" if left is not None else ""))
    for key, phrase in (
        ("last_over_of_chase", "last over of the chase"),
        ("winning_run", "winning run"),
        ("tie", "scores level, match tied"),
        ("super_over", "super over"),
        ("maiden", "maiden over"),
    ):
        if ctx.get(key):
            out.append(phrase)
    stand = ctx.get("partnership_runs")
    if stand is not None and stand >= 50:
        out.append(f"partnership {stand}")
    wkts = ctx.get("bowler_wickets")
    if wkts and (wkts >= 3 or (ev.outcome == "wicket" and ev.dismissal in CREDITED and wkts >= 2)):
        who = ev.bowler or "bowler"
        out.append(f"{_ordinal(wkts)} wicket for {who}" if ev.outcome == "wicket" else f"{who} has {wkts} wickets")
    return out


def render_delivery(ev: Canonical, context: dict | None = None, keys=None) -> str:
    """A compact, human-readable line for a delivery (never raw JSON: tokens cost latency).

    `keys`: the context keys to show (default LEGACY_KEYS, what bundles before issue 15 were taught)."""
    keys = LEGACY_KEYS if keys is None else keys
    ctx = {k: v for k, v in read_context(context).items() if k in keys}
    head = " ".join(
        str(p)
        for p in (
            ctx.get("match_type"),
            f"{ctx['over']}.{ctx.get('ball', 1)}" if "over" in ctx else None,
        )
        if p
    )
    who = f"{ev.bowler} to {ev.batter}" if ev.bowler and ev.batter else (ev.batter or ev.bowler or "")
    parts = [p for p in (f"{head} {who}".strip(), _cricinfo(ev)) if p]
    if ctx.get("score"):
        parts.append(ctx["score"] + (f", target {ctx['target']}" if "target" in ctx else ""))
    elif "target" in ctx:
        parts.append(f"target {ctx['target']}")
    parts += _context_phrases(ev, ctx)
    line = ", ".join(parts)
    if ctx.get("note"):
        line += f". {ctx['note'][:MAX_NOTE_CHARS]}"
    return line


def _flag_lines(ev: Canonical) -> list[str]:
    lines = []
    if ev.day_start:
        lines.append("Start of the day's play.")
    if ev.milestone:
        lines.append(f"Milestone: {ev.milestone}")
    return lines


def _event(text, delivery, context, keys=None, event=None) -> tuple[Canonical, str, str]:
    """(canonical, the event as the prompt shows it, the event as typed); `event`: the caller's reading."""
    if (text is None) == (delivery is None):
        raise EventError("give exactly one of an event text or a delivery")
    if delivery is not None:
        ev = event or read_delivery(delivery, context)
        line = render_delivery(ev, context, keys)
        return ev, line, "\n".join(_flag_lines(ev) + [line])  # a delivery keeps its flags: they are its context
    ev = event or read_text(text)
    typed = " ".join(text.split())[:MAX_TEXT_CHARS]
    if not typed:
        raise EventError("the event text is empty")
    pasted = json_event(text)
    if pasted is not None and ev.source == "delivery":
        return ev, render_delivery(ev, pasted[1], keys), typed
    return ev, typed, typed


def render_user(*, text=None, delivery=None, context=None, outcome_line=True, keys=None, event=None) -> str:
    """The user message: "Outcome: ..." (when known), flag lines, then the event itself.

    With outcome_line=False it is the event alone, as `ollama run` would send it. `keys`: the context
    keys shown (see LEGACY_KEYS). `event`: the same input already read (`read_event`), not read again.
    """
    ev, shown, typed = _event(text, delivery, context, keys, event)
    if not outcome_line:
        return typed
    phrase = outcome_phrase(ev)
    lines = ([f"Outcome: {phrase}"] if phrase else []) + _flag_lines(ev) + [shown]
    return "\n".join(lines)


def build_messages(*, text=None, delivery=None, context=None, outcome_line=True, keys=None, event=None) -> list[dict]:
    user = render_user(text=text, delivery=delivery, context=context, outcome_line=outcome_line, keys=keys, event=event)
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
