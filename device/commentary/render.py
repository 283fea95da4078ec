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

from device.commentary.delivery import json_event, read_context, read_delivery, read_text
from device.commentary.events import MAX_TEXT_CHARS, Canonical, EventError

SYSTEM_PROMPT = "You are Richie Benaud. Comment in at most five words, or stay silent."


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
    ctx = read_context(context)
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
        {
            "role": "user",
            "content": render_user(text=text, delivery=delivery, context=context, outcome_line=outcome_line),
        },
    ]
