"""`suksham dataset --check FILE`: validate a user's JSONL before it goes anywhere near training.

Accepted lines (one JSON object each):
    {"messages": [{"role": "system", ...}?, {"role": "user", "content": ...}, {"role": "assistant", "content": ...}]}
    {"event": "Starc to Kohli, FOUR, driven", "reply": "Lovely shot."}
    {"delivery": {<Cricsheet delivery>}, "context": {...}?, "reply": ""}
A chat line may carry "truth": {"delivery", "context"} (as `suksham dataset` writes): the reply is then
checked against that delivery rather than against a reading of the user text.
Every bad line gets a numbered error that says what is wrong and how to fix it; nothing is skipped
silently (blank lines are errors too). Any bad line makes the command fail (a device.errors.UserError,
which the CLI prints).

    suksham dataset --check my_pairs.jsonl
"""

from __future__ import annotations

import json
from pathlib import Path

from device.errors import UserError

MAX_ERRORS_SHOWN = 200
ROLES = ("system", "user", "assistant")


def _event_of_chat(msgs, problems: list[str]):
    if not isinstance(msgs, list) or not msgs:
        problems.append('"messages" must be a non-empty list of {"role", "content"} objects')
        return None, None
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or set(m) - {"role", "content", "name"} or "role" not in m or "content" not in m:
            problems.append(f'messages[{i}] must be an object with "role" and "content"')
            return None, None
        if m["role"] not in ROLES:
            problems.append(f"messages[{i}].role is {m['role']!r}; use one of {', '.join(ROLES)}")
            return None, None
        if not isinstance(m["content"], str):
            problems.append(f'messages[{i}].content must be a string (use "" for silence)')
            return None, None
    roles = [m["role"] for m in msgs]
    body = roles[1:] if roles[0] == "system" else roles
    if "system" in body:
        problems.append("a system message may only come first")
    if len(body) < 2 or body[-1] != "assistant" or body[-2] != "user":
        problems.append("the conversation must end with a user message followed by the assistant's reply")
        return None, None
    user = msgs[len(msgs) - 2]["content"]
    if not user.strip():
        problems.append("the user message is empty: it should describe the ball")
    return ("text", user), msgs[-1]["content"]


def check_line(obj) -> list[str]:
    """Problems with one parsed line (empty list = fine)."""
    from device.commentary import manner
    from device.commentary.delivery import read_delivery, read_text
    from device.commentary.events import EventError

    problems: list[str] = []
    if not isinstance(obj, dict):
        return [f"expected a JSON object, got {type(obj).__name__}"]
    # a chat line may carry metadata ("event", "canonical", "truth"), as `suksham dataset` writes it
    forms = ["messages"] if "messages" in obj else [k for k in ("event", "delivery") if k in obj]
    if len(forms) != 1:
        return [
            'give exactly one of "messages" (chat format), "event" (text) or "delivery" (Cricsheet), '
            f"found {forms or 'none'}"
        ]
    if forms[0] == "messages":
        event, reply = _event_of_chat(obj["messages"], problems)
        if event is None:
            return problems
    else:
        if "reply" not in obj:
            return ['missing "reply" (use "" for silence)']
        reply = obj["reply"]
        if not isinstance(reply, str):
            return [f'"reply" must be a string, got {type(reply).__name__} (use "" for silence)']
        if forms[0] == "event":
            if not isinstance(obj["event"], str) or not obj["event"].strip():
                return ['"event" must be a non-empty string describing the ball']
            event = ("text", obj["event"])
        else:
            event = ("delivery", obj["delivery"])
    truth = obj.get("truth") if forms[0] == "messages" else None
    try:
        if truth is not None:  # our own dataset lines carry the delivery they were made from
            if not isinstance(truth, dict) or not isinstance(truth.get("delivery"), dict):
                return problems + ['"truth" must be {"delivery": {...}, "context": {...}}']
            canon = read_delivery(truth["delivery"], truth.get("context"))
        elif event[0] == "text":
            canon = read_text(_strip_outcome_line(event[1]))
        else:
            canon = read_delivery(event[1], obj.get("context"))
    except EventError as exc:
        return problems + [f"the event cannot be read: {exc}"]
    for code in manner.check_reply(reply, canon):
        problems.append(_explain(code, reply, canon))
    return problems


def _strip_outcome_line(user: str) -> str:
    """A rendered prompt states its outcome on the first line; read the event text that follows."""
    lines = user.split("\n")
    if len(lines) > 1 and lines[0].startswith("Outcome:"):
        return lines[-1]
    return user


def _explain(code: str, reply: str, canon) -> str:
    from device.commentary.manner import MAX_WORDS

    kind, _, why = code.partition(":")
    msg = {
        "too_long": f"reply {reply!r} has {len(reply.split())} words; Benaud uses at most {MAX_WORDS}",
        "exclamation": f"reply {reply!r} has an exclamation mark; drop it, understatement is the point",
        "banned": f"reply {reply!r} uses {why!r}, which the manner forbids "
        "(no we/they/us for a team, no tragedy/disaster)",
        "silent_on_wicket": f"the reply is silent on a wicket ({canon.dismissal or 'out'}); say something short",
        "contradiction": f"reply {reply!r} contradicts the event (outcome {canon.outcome}): {why}",
        "echo": f"reply {reply!r} only repeats the event text; react to it instead",
    }.get(kind)
    return msg or f"reply {reply!r} fails the manner check: {code}"


def check_lines(lines: list[str]) -> tuple[int, list[str]]:
    """(number of lines checked, numbered error messages) for the text lines of a JSONL file."""
    errors: list[str] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            errors.append(f"line {n}: empty line; remove it or put one JSON object on it")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {n}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        errors += [f"line {n}: {p}" for p in check_line(obj)]
    return len(lines), errors


def check_file(path: Path) -> int:
    """Validate `path`; print a summary; raise UserError listing every bad line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    if not lines:
        raise UserError(f"{path} is empty: expected one JSON object per line")
    n, errors = check_lines(lines)
    bad = len({e.split(":", 1)[0] for e in errors})
    if errors:
        shown = errors[:MAX_ERRORS_SHOWN]
        more = f"\n... and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
        raise UserError(f"{path}: {bad} of {n} lines are bad\n" + "\n".join(shown) + more)
    print(f"{path}: all {n} lines are fine")
    return n
