"""From an event to a Benaud line: commentary (read, render) -> engine -> the guard.

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

from device.commentary.delivery import read_event
from device.commentary.events import Canonical, EventError
from device.commentary.guard import clean_reply, guard
from device.commentary.render import build_messages
from device.runtime.engine import Completion, Engine, EngineSettings


@dataclass
class Commentary:
    text: str
    raw: str  # what the model said before the manner check
    guarded: bool  # the raw reply was replaced
    problems: list[str]
    event: Canonical
    completion: Completion
    latency_ms: float

    @property
    def silent(self) -> bool:
        return self.text == ""


class Commentator:
    def __init__(self, engine: Engine, use_guard: bool = True):
        self.engine = engine
        self.use_guard = use_guard

    def comment(
        self,
        *,
        text: str | None = None,
        delivery: dict | None = None,
        context: dict | None = None,
        deadline: float | None = None,
        event: Canonical | None = None,
    ) -> Commentary:
        """`event`: the caller's own reading of the same input, when it already made one."""
        start = time.perf_counter()
        if event is None:
            event = read_event(text=text, delivery=delivery, context=context)
        messages = build_messages(text=text, delivery=delivery, context=context)
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
        return build_messages(text="Dot ball, defended.")


def resolve_model(bundle: Path | None, model: Path | None, n_ctx: int | None = None):
    """(gguf path, n_ctx, bundle or None, model id) from --bundle or --model, verifying a bundle."""
    from device.runtime.bundle import DEFAULT_N_CTX, verify_bundle
    from device.runtime.models import smollm2_gguf_path

    if bundle is not None and model is not None:
        raise ValueError("give either --bundle or --model, not both")
    if bundle is not None:
        b = verify_bundle(bundle)
        return b.gguf_path, n_ctx or b.n_ctx, b, "suksham-benaud"
    if model is not None:
        return Path(model), n_ctx or DEFAULT_N_CTX, None, Path(model).stem
    return smollm2_gguf_path(), n_ctx or DEFAULT_N_CTX, None, "smollm2-135m-instruct"


def comment_once(
    *, event: str, bundle: Path | None = None, model: Path | None = None, threads: int | None = None, warn=None
) -> str:
    """`suksham comment`: one line for one event; an empty line is silence. `warn(msg)` gets notes for the user."""
    warn = warn or (lambda msg: None)
    path, n_ctx, _bundle, _model_id = resolve_model(bundle, model)
    if bundle is None and model is None:
        warn("note: no --bundle given; using the untuned embedded base model")
    elif model is not None:
        warn(f"warning: serving {path} unverified (no bundle manifest)")
    event = event.strip()
    if not event:
        raise EventError("the event is empty")
    engine = Engine(EngineSettings(model_path=path, n_ctx=n_ctx, n_threads=threads)).load()
    return Commentator(engine).comment(text=event).text
