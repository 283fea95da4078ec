"""From an event to a Benaud line: prompt module -> engine -> a last check of the manner.

`Commentator` is what `/v1/commentary` and `suksham comment` use. The tuned model carries the
manner; the check here is a safety net for a 135M model. A reply that breaks the manner (more
than five words, an exclamation mark, a banned phrase, silence on a wicket, a contradiction of
the event as the prompt module read it) is replaced by a plain line for the event's class and
counted as `guarded`, so that the evaluation can report how often the net was needed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from device import manner, prompt
from device.engine import Completion, Engine, EngineSettings

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


@dataclass
class Commentary:
    text: str
    raw: str  # what the model said before the manner check
    guarded: bool  # the raw reply was replaced
    problems: list[str]
    event: prompt.Canonical
    completion: Completion
    latency_ms: float

    @property
    def silent(self) -> bool:
        return self.text == ""


def clean_reply(raw: str) -> str:
    """First line of the reply, without wrapping quotes or stray whitespace."""
    line = raw.strip().splitlines()[0].strip() if raw.strip() else ""
    if len(line) >= 2 and line[0] in "\"'“‘" and line[-1] in "\"'”’":
        line = line[1:-1].strip()
    return line


def safe_line(event: prompt.Canonical) -> str:
    if event.outcome == "wicket":
        return SAFE_WICKET_LINES.get(event.dismissal or "", SAFE_WICKET_DEFAULT)
    if event.milestone:
        return "Well played."
    if event.day_start:
        return "Morning, everyone."
    return SAFE_LINES.get(event.outcome, "")


def problems_with(reply: str, event: prompt.Canonical, event_text: str | None = None) -> list[str]:
    """Everything wrong with a reply: the manner checks, plus "unfit" when it is no apt reaction."""
    problems = manner.check_reply(reply, event, event_text=event_text)
    if not manner.fits(reply, event):
        problems.append("unfit")
    return problems


def guard(raw: str, event: prompt.Canonical, event_text: str | None = None) -> tuple[str, list[str]]:
    """The reply to send and the problems found in the model's own reply."""
    reply = clean_reply(raw)
    problems = problems_with(reply, event, event_text)
    if not problems:
        return reply, []
    fallback = safe_line(event)
    # The fallback must itself pass; silence is the last resort for anything but a wicket.
    if problems_with(fallback, event, event_text):
        fallback = SAFE_WICKET_DEFAULT if event.outcome == "wicket" else ""
    return fallback, problems


def read_event(*, text: str | None = None, delivery: dict | None = None, context: dict | None = None) -> prompt.Canonical:
    if delivery is not None:
        return prompt.read_delivery(delivery, context)
    return prompt.read_text(text or "")


class Commentator:
    def __init__(self, engine: Engine, use_guard: bool = True):
        self.engine = engine
        self.use_guard = use_guard

    def comment(self, *, text: str | None = None, delivery: dict | None = None, context: dict | None = None,
                deadline: float | None = None, event: prompt.Canonical | None = None) -> Commentary:
        """`event`: the caller's own reading of the same input, when it already made one."""
        start = time.perf_counter()
        if event is None:
            event = read_event(text=text, delivery=delivery, context=context)
        messages = prompt.build_messages(text=text, delivery=delivery, context=context)
        completion = self.engine.commentary(messages, deadline=deadline)
        raw = completion.text
        if self.use_guard:
            reply, problems = guard(raw, event, event_text=text)
        else:
            reply, problems = clean_reply(raw), []
        return Commentary(
            text=reply,
            raw=raw,
            guarded=bool(problems),
            problems=problems,
            event=event,
            completion=completion,
            latency_ms=(time.perf_counter() - start) * 1000,
        )

    def probe_messages(self) -> list[dict]:
        """A fixed commentary prompt for the watchdog: shares the system prompt, so the cache stays warm."""
        return prompt.build_messages(text="Dot ball, defended.")


def resolve_model(bundle: Path | None, model: Path | None, n_ctx: int | None = None):
    """(gguf path, n_ctx, bundle or None, model id) from --bundle or --model, verifying a bundle."""
    from device.bundle import DEFAULT_N_CTX, verify_bundle
    from device.models import smollm2_gguf_path

    if bundle is not None and model is not None:
        raise ValueError("give either --bundle or --model, not both")
    if bundle is not None:
        b = verify_bundle(bundle)
        return b.gguf_path, n_ctx or b.n_ctx, b, "suksham-benaud"
    if model is not None:
        return Path(model), n_ctx or DEFAULT_N_CTX, None, Path(model).stem
    return smollm2_gguf_path(), n_ctx or DEFAULT_N_CTX, None, "smollm2-135m-instruct"


def comment_once(*, event: str, bundle: Path | None = None, model: Path | None = None, threads: int | None = None) -> str:
    """`suksham comment`: one line for one event; an empty line is silence."""
    import click

    from device.bundle import BundleError
    from device.engine import EngineError

    try:
        path, n_ctx, _bundle, _model_id = resolve_model(bundle, model)
        if bundle is None and model is None:
            click.echo("note: no --bundle given; using the untuned embedded base model", err=True)
        elif model is not None:
            click.echo(f"warning: serving {path} unverified (no bundle manifest)", err=True)
        engine = Engine(EngineSettings(model_path=path, n_ctx=n_ctx, n_threads=threads)).load()
        event = event.strip()
        if not event:
            raise click.BadParameter("the event is empty", param_hint="EVENT")
        return Commentator(engine).comment(text=event).text
    except (BundleError, EngineError, prompt.EventError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
