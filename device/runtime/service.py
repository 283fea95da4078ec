"""From an event to a Benaud line: commentary (read, render) -> engine -> the guard.

`Commentator` is what `/v1/commentary` and `suksham comment` use. The tuned model carries the
manner; the check here is a safety net for a 135M model. A reply that breaks the manner (more
than five words, an exclamation mark, a banned phrase, silence on a wicket, a contradiction of
the event as the prompt module read it) is replaced by a plain line for the event's class and
counted as `guarded`, so that the evaluation can report how often the net was needed.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field, fields
from pathlib import Path

from device.commentary.delivery import clean_context, read_event
from device.commentary.events import Canonical, EventError
from device.commentary.guard import clean_reply, fallback_line, line_key, problems_with
from device.commentary.render import ALL_KEYS, LEGACY_KEYS, build_messages
from device.runtime.engine import COMMENTARY_MAX_TOKENS, Completion, Engine, EngineSettings

MAX_DRAWS = 8  # a bundle cannot ask for more samples per reply than this: each costs a decode
MAX_MEMORY = 64  # spoken lines remembered per match, at most
MEMORY_MATCHES = 256  # matches remembered at once (least recently used forgotten first)


@dataclass(frozen=True)
class Sampling:
    """How `/v1/commentary` decodes. The defaults are greedy, one draw, no memory: what a bundle built
    before issue 15 gets (its manifest has no `sampling`), so its replies do not change.

    `draws`: samples the guard may check per reply before the plain line; `memory`: spoken lines of a match
    (by `context.match_id`) that may not be said again; `context_keys`: what the bundle's prompts show;
    `vocabulary`: the words of the bundle's training replies (manifest `reply_vocabulary`), against which the
    guard also judges a reply's opening word (device.commentary.manner.strangers); empty: not judged."""

    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 40
    min_p: float = 0.05
    draws: int = 1
    memory: int = 0
    memory_matches: int = MEMORY_MATCHES
    context_keys: frozenset = field(default=LEGACY_KEYS)
    vocabulary: frozenset = field(default=frozenset(), repr=False)

    def __post_init__(self):
        checks = (
            ("temperature", isinstance(self.temperature, (int, float)) and 0 <= self.temperature <= 2, "0..2"),
            ("top_p", isinstance(self.top_p, (int, float)) and 0 < self.top_p <= 1, "in (0, 1]"),
            ("top_k", _whole(self.top_k) and self.top_k >= 0, ">= 0"),
            ("min_p", isinstance(self.min_p, (int, float)) and 0 <= self.min_p < 1, "in [0, 1)"),
            ("draws", _whole(self.draws) and 1 <= self.draws <= MAX_DRAWS, f"1..{MAX_DRAWS}"),
            ("memory", _whole(self.memory) and 0 <= self.memory <= MAX_MEMORY, f"0..{MAX_MEMORY}"),
            ("memory_matches", _whole(self.memory_matches) and self.memory_matches >= 1, ">= 1"),
        )
        for name, ok, span in checks:
            if isinstance(getattr(self, name), bool) or not ok:
                raise ValueError(f"sampling.{name} must be {span}, got {getattr(self, name)!r}")
        unknown = set(self.context_keys) - ALL_KEYS
        if unknown:
            raise ValueError(f"sampling.context_keys has unknown keys: {sorted(unknown)}")

    @classmethod
    def from_manifest(cls, manifest: dict | None) -> Sampling:
        """The bundle's decoding: its manifest's `sampling` table and its `context_keys` and `reply_vocabulary`
        lists; greedy, with no vocabulary, without them."""
        manifest = manifest or {}
        table = manifest.get("sampling") or {}
        if not isinstance(table, dict):
            raise ValueError(f"manifest sampling must be an object, got {type(table).__name__}")
        names = {f.name for f in fields(cls)} - {"context_keys", "vocabulary"}
        kwargs = {k: v for k, v in table.items() if k in names}
        for key, name, what in (
            ("context_keys", "context_keys", "key names"),
            ("reply_vocabulary", "vocabulary", "words"),
        ):
            listed = manifest.get(key)
            if listed is not None:
                if not isinstance(listed, list) or not all(isinstance(k, str) for k in listed):
                    raise ValueError(f"manifest {key} must be a list of {what}")
                kwargs[name] = frozenset(listed)
        return cls(**kwargs)

    def to_dict(self) -> dict:
        """For reports: the vocabulary as its size (`vocabulary_words`), not its words."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "vocabulary"}
        d["context_keys"] = sorted(self.context_keys)
        d["vocabulary_words"] = len(self.vocabulary)
        return d


def _whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def draw_seed(seed: int, draw: int) -> int:
    """The seed of sample `draw` (0-based) of a request: the request's own seed first, then derived from it."""
    if draw == 0:
        return seed & 0xFFFFFFFF
    digest = hashlib.sha256(f"suksham/{seed}/{draw}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


class MatchMemory:
    """The last K spoken lines of each match (by `match_id`), for at most `matches` matches (LRU). Thread-safe."""

    def __init__(self, size: int, matches: int = MEMORY_MATCHES):
        self.size = size
        self.matches = matches
        self._lines: OrderedDict[str, deque] = OrderedDict()
        self._lock = threading.Lock()

    def recent(self, match_id: str | None) -> list[str]:
        if not match_id or not self.size:
            return []
        with self._lock:
            lines = self._lines.get(match_id)
            if lines is None:
                return []
            self._lines.move_to_end(match_id)
            return list(lines)

    def remember(self, match_id: str | None, text: str) -> None:
        if not match_id or not self.size or not text:
            return
        with self._lock:
            lines = self._lines.get(match_id)
            if lines is None:
                lines = self._lines[match_id] = deque(maxlen=self.size)
            self._lines.move_to_end(match_id)
            lines.append(text)
            while len(self._lines) > self.matches:
                self._lines.popitem(last=False)

    def forget(self, match_id: str) -> None:
        with self._lock:
            self._lines.pop(match_id, None)

    def __len__(self) -> int:
        return len(self._lines)


@dataclass
class Commentary:
    text: str
    raw: str  # what the model said on its first draw, before the manner check
    guarded: bool  # no draw passed: the plain line for the event's class replaced them
    problems: list[str]  # what was wrong with the first draw
    event: Canonical
    completion: Completion  # the last draw's
    latency_ms: float
    draws: int = 1  # samples generated for this reply
    seed: int | None = None  # the request's seed (None when greedy)
    warnings: list[str] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)  # every draw's cleaned text, in order
    completions: list[Completion] = field(default_factory=list)

    @property
    def silent(self) -> bool:
        return self.text == ""


class Commentator:
    def __init__(self, engine: Engine, use_guard: bool = True, sampling: Sampling | None = None):
        self.engine = engine
        self.use_guard = use_guard
        self.sampling = sampling or Sampling()
        self.memory = MatchMemory(self.sampling.memory, self.sampling.memory_matches)

    def comment(
        self,
        *,
        text: str | None = None,
        delivery: dict | None = None,
        context: dict | None = None,
        deadline: float | None = None,
        event: Canonical | None = None,
        seed: int | None = None,
        temperature: float | None = None,
        warnings: list[str] | None = None,
        messages: list[dict] | None = None,
    ) -> Commentary:
        """One reply. `event`: the caller's own reading of the same (cleaned) input, when it made one.

        A context key that does not parse is dropped and noted in `warnings` (pass the list a caller's
        `clean_context` already filled, with the cleaned context). With temperature > 0 each draw is sampled
        with `draw_seed(seed, n)`; the guard checks it, and so does the match's memory (a line said within
        the last K spoken lines of the same match_id fails the draw), until one passes or the draws run out.
        `messages`: a prompt the caller already rendered for this event (the evaluation's test split).
        """
        start = time.perf_counter()
        if warnings is None:
            context, warnings = clean_context(context)
        if event is None:
            event = read_event(text=text, delivery=delivery, context=context)
        sampling = self.sampling
        temp = sampling.temperature if temperature is None else float(temperature)
        if temp < 0:
            raise EventError("temperature must be >= 0 (0 is greedy)")
        greedy = temp == 0
        if not greedy and seed is None:
            seed = secrets.randbits(31)
        match_id = (context or {}).get("match_id")
        recent = {line_key(t) for t in self.memory.recent(match_id)}
        if messages is None:
            messages = build_messages(
                text=text, delivery=delivery, context=context, keys=sampling.context_keys, event=event
            )
        prompt = "\n".join(m["content"] for m in messages if m.get("role") == "user")  # names it may use
        max_draws = 1 if greedy else sampling.draws
        samples, completions, first_problems = [], [], None
        reply = None
        for n in range(max_draws):
            completion = self.engine.chat(
                messages,
                max_tokens=COMMENTARY_MAX_TOKENS,
                deadline=deadline,
                temperature=temp,
                top_p=sampling.top_p,
                top_k=sampling.top_k,
                min_p=sampling.min_p,
                seed=None if greedy else draw_seed(seed, n),
            )
            completions.append(completion)
            candidate = clean_reply(completion.text)
            samples.append(candidate)
            problems = (
                problems_with(candidate, event, event_text=text, prompt=prompt, vocabulary=sampling.vocabulary)
                if self.use_guard
                else []
            )
            if self.use_guard and candidate and line_key(candidate) in recent:
                problems.append("repeated")
            if first_problems is None:
                first_problems = problems
            if not problems:
                reply = candidate
                break
        guarded = reply is None
        if guarded:
            reply = fallback_line(event, event_text=text, recent=recent)
        self.memory.remember(match_id, reply)
        return Commentary(
            text=reply,
            raw=completions[0].text,
            guarded=guarded,
            problems=first_problems or [],
            event=event,
            completion=completions[-1],
            latency_ms=(time.perf_counter() - start) * 1000,
            draws=len(completions),
            seed=None if greedy else seed,
            warnings=list(warnings),
            samples=samples,
            completions=completions,
        )

    def probe_messages(self) -> list[dict]:
        """A fixed commentary prompt for the watchdog: shares the system prompt, so the cache stays warm."""
        return build_messages(text="Dot ball, defended.")


def resolve_model(bundle: Path | None, model: Path | None, n_ctx: int | None = None, quant: str | None = None):
    """(gguf path, n_ctx, bundle or None, model id) from --bundle or --model, verifying a bundle.

    `quant`: one of the bundle's quants (manifest `quants`, e.g. Q4_0) instead of its default; a quant
    the bundle does not ship is a BundleError naming those it does."""
    from device.runtime.bundle import DEFAULT_N_CTX, verify_bundle
    from device.runtime.models import smollm2_gguf_path

    if bundle is not None and model is not None:
        raise ValueError("give either --bundle or --model, not both")
    if quant is not None and bundle is None:
        raise ValueError("--quant picks one of a bundle's quants: give --bundle too (--model serves the file given)")
    if bundle is not None:
        b = verify_bundle(bundle, quant=quant)
        return b.gguf_path, n_ctx or b.n_ctx, b, "suksham-benaud"
    if model is not None:
        return Path(model), n_ctx or DEFAULT_N_CTX, None, Path(model).stem
    return smollm2_gguf_path(), n_ctx or DEFAULT_N_CTX, None, "smollm2-135m-instruct"


def comment_once(
    *,
    event: str,
    bundle: Path | None = None,
    model: Path | None = None,
    threads: int | None = None,
    warn=None,
    quant: str | None = None,
) -> str:
    """`suksham comment`: one line for one event; an empty line is silence. `warn(msg)` gets notes for the user."""
    warn = warn or (lambda msg: None)
    path, n_ctx, found, _model_id = resolve_model(bundle, model, quant=quant)
    if bundle is None and model is None:
        warn("note: no --bundle given; using the untuned embedded base model")
    elif model is not None:
        warn(f"warning: serving {path} unverified (no bundle manifest)")
    event = event.strip()
    if not event:
        raise EventError("the event is empty")
    engine = Engine(EngineSettings(model_path=path, n_ctx=n_ctx, n_threads=threads)).load()
    sampling = Sampling.from_manifest(found.manifest if found else None)
    return Commentator(engine, sampling=sampling).comment(text=event).text
