"""The guard: a last check of the manner on the model's reply, and plain lines to fall back on.

The tuned model carries the manner; the guard is a safety net for a 135M model. A reply that
breaks the manner (more than five words, an exclamation mark, a banned phrase, silence on a
wicket, a contradiction of the event as read) is replaced by a plain, always-true line for the
event's class. Standard library only; the server and the evaluation share it.
"""

from __future__ import annotations

from device.commentary import manner
from device.commentary.events import Canonical

# Plain, always-true lines for when the model's own reply cannot be used. Indexed by the
# canonical outcome; a wicket uses its dismissal kind where one is known.
SAFE_LINES = {
    "dot": "",
    "runs": "",
    "four": "Four.",
    "six": "Six.",
    "dropped": "Put down.",
    "wide": "Wide.",
    "noball": "No ball.",
    "byes": "Byes.",
    "legbyes": "Leg byes.",
    "unclear": "",
}
SAFE_WICKET_LINES = {
    "bowled": "Bowled him.",
    "lbw": "Plumb.",
    "caught": "Caught.",
    "caught and bowled": "Caught and bowled.",
    "stumped": "Stumped.",
    "run out": "Run out.",
    "retired hurt": "Retired hurt.",
    "retired not out": "Retired.",
}
SAFE_WICKET_DEFAULT = "That's out."
# Plain alternates, in order, for a match whose memory heard the plain line lately (issue 15: the same line
# is not said twice within the memory, the fallback included). Each must pass the checks for its class, as the
# plain line does (tests/device/runtime/test_service.py); a class left without an unheard one goes silent,
# a wicket says its plain line again.
SPARE_LINES = {
    "four": ["Boundary.", "To the rope.", "Into the fence."],
    "six": ["Over the rope.", "Gone for six.", "Maximum."],
    "dropped": ["Dropped.", "A chance goes down."],
    "wide": ["Called wide.", "Too wide.", "Another wide."],
    "noball": ["Overstepped.", "A no ball, that."],
    "byes": ["Past the keeper.", "Byes, that."],
    "legbyes": ["Off the pad.", "Off the body."],
}
SPARE_WICKET_LINES = {
    "bowled": ["Bowled.", "Through the gate, bowled.", "Stumps broken."],
    "lbw": ["Leg before.", "Given, leg before.", "Trapped in front."],
    "caught": ["Taken.", "Held.", "Caught, and gone."],
    "caught and bowled": ["Taken by the bowler.", "Caught and bowled, that."],
    "stumped": ["Stumped him.", "Beaten, and stumped."],
    "run out": ["Short of the crease.", "Run out, that."],
    "retired hurt": [],
    "retired not out": [],
}
SPARE_WICKET_DEFAULT = ["Gone.", "He's out."]


def line_key(text: str) -> str:
    """What counts as the same line: case, spacing and end punctuation aside."""
    return " ".join(text.lower().split()).rstrip(".?,;: ")


def clean_reply(raw: str) -> str:
    """First line of the reply, without wrapping quotes or stray whitespace."""
    line = raw.strip().splitlines()[0].strip() if raw.strip() else ""
    if len(line) >= 2 and line[0] in "\"'“‘" and line[-1] in "\"'”’":
        line = line[1:-1].strip()
    return line


def safe_line(event: Canonical) -> str:
    if event.outcome == "wicket":
        return SAFE_WICKET_LINES.get(event.dismissal or "", SAFE_WICKET_DEFAULT)
    if event.milestone:
        return "Well played."
    if event.day_start:
        return "Morning, everyone."
    return SAFE_LINES.get(event.outcome, "")


def problems_with(
    reply: str,
    event: Canonical,
    event_text: str | None = None,
    prompt: str | None = None,
    vocabulary: frozenset[str] | None = None,
) -> list[str]:
    """Everything wrong with a reply: the manner checks, "unfit" when it is no apt reaction, "miscast:<name>"
    for a person named in a part they did not play, "initials:<letters>" for one named by their initials, and
    with `prompt` (what the model was shown) "stranger:<name>" for a name the prompt does not hold; with a
    `vocabulary` (the bundle's `reply_vocabulary`) also for an opening word that neither holds
    (manner.strangers)."""
    problems = manner.check_reply(reply, event, event_text=event_text)
    if not manner.fits(reply, event):
        problems.append("unfit")
    problems += [f"miscast:{name}" for name in manner.miscast(reply, event)]
    problems += [f"initials:{letters}" for letters in manner.initials(reply, event)]
    if prompt is not None:
        problems += [f"stranger:{name}" for name in manner.strangers(reply, prompt, vocabulary)]
    return problems


def guard(
    raw: str,
    event: Canonical,
    event_text: str | None = None,
    prompt: str | None = None,
    vocabulary: frozenset[str] | None = None,
) -> tuple[str, list[str]]:
    """The reply to send and the problems found in the model's own reply (`prompt`, `vocabulary`: see
    problems_with)."""
    reply = clean_reply(raw)
    problems = problems_with(reply, event, event_text, prompt, vocabulary)
    if not problems:
        return reply, []
    return fallback_line(event, event_text), problems


def spare_lines(event: Canonical) -> list[str]:
    """The plain alternates for the event's class, after its plain line."""
    if event.outcome == "wicket":
        return SPARE_WICKET_LINES.get(event.dismissal or "", SPARE_WICKET_DEFAULT)
    if event.milestone or event.day_start:
        return []
    return SPARE_LINES.get(event.outcome, [])


def fallback_line(
    event: Canonical, event_text: str | None = None, recent: frozenset[str] | set[str] = frozenset()
) -> str:
    """The plain line sent when the model's replies cannot be used.

    `recent`: `line_key`s of the match's last spoken lines. The plain line comes first, then its alternates,
    skipping those heard; a class with none unheard goes silent (a wicket repeats its plain line instead).
    """
    fallback = safe_line(event)
    # The fallback must itself pass; silence is the last resort for anything but a wicket.
    if problems_with(fallback, event, event_text):
        fallback = SAFE_WICKET_DEFAULT if event.outcome == "wicket" else ""
    if not fallback or line_key(fallback) not in recent:
        return fallback
    for line in spare_lines(event):
        if line_key(line) not in recent and not problems_with(line, event, event_text):
            return line
    return fallback if event.outcome == "wicket" else ""
