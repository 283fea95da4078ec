"""The one place that touches llama-cpp-python: load a GGUF, render chat, generate.

A llama.cpp context is not thread-safe, so every call that evaluates tokens holds `Engine._lock`.
The context keeps the tokens of the previous request; llama-cpp-python's `generate` then reuses
the longest common prefix of the KV cache. Because every commentary prompt starts with the same
system prompt, a request evaluates only its own event tokens; `Completion.prompt_eval_tokens`
reports what was really evaluated, so this can be checked. The prompt is evaluated in chunks
(`_prefill`), so a deadline or a cancel (`cancel_scope`) stops it within one chunk, and every
chunk and token stamps `progress_at`, which the watchdog reads. Message contents are tokenized as
plain text; only the chat template's own text may hold control tokens.

    from device.runtime.engine import Engine, EngineSettings
    engine = Engine(EngineSettings(model_path="model.gguf")).load()
    print(engine.chat([{"role": "user", "content": "Hello"}], max_tokens=8).text)
"""

from __future__ import annotations

import codecs
import contextlib
import contextvars
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from device.settings import DEFAULT_N_CTX

# llama.cpp's OpenMP threads spin-wait at every barrier (OMP_WAIT_POLICY unset = active). On a
# dedicated CPU that is fastest (commentary p50 46 ms vs 136 ms passive, 2 threads); when something
# else holds a core, decode collapses 20-30x. On a shared CPU run with OMP_WAIT_POLICY=PASSIVE or
# --threads 1 (benchmarks/RESULTS.md, "OpenMP wait policy"); the process environment decides.

# Sampling for commentary: greedy, and a short leash; a Benaud line is at most five words.
COMMENTARY_MAX_TOKENS = 12
COMMENTARY_TEMPERATURE = 0.0
# Prompt tokens per llama_decode call: between two calls the deadline and a cancel are checked and the
# watchdog sees progress, so a long prompt of a request that went away stops within one chunk.
PROMPT_CHUNK = 32  # ~0.5 s at the Pi's floor of 60 prompt tokens/s; a commentary prompt's own tokens fit in one
# Private-use marks put in place of each message's content to find where the template puts it.
_MARK = "\ue000suksham-content-{}\ue001"


def usable_cores() -> int:
    """Cores this process may run on (its affinity), which a container or a unit may narrow."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class EngineError(RuntimeError):
    """The model could not be loaded or could not answer."""


class DeadlineExceeded(EngineError):
    """Generation was stopped because the request's deadline passed."""


class Cancelled(DeadlineExceeded):
    """Generation was stopped because its request went away (timed out, or the client disconnected)."""


_cancel: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("suksham_cancel", default=None)


@contextlib.contextmanager
def cancel_scope(event: threading.Event):
    """Generation in this block (on this thread) stops with `Cancelled` soon after `event` is set."""
    token = _cancel.set(event)
    try:
        yield
    finally:
        _cancel.reset(token)


def _check_stop(deadline: float | None) -> None:
    event = _cancel.get()
    if event is not None and event.is_set():
        raise Cancelled("the request went away")
    if deadline is not None and time.monotonic() > deadline:
        raise DeadlineExceeded("the request took longer than its timeout")


@dataclass(frozen=True)
class EngineSettings:
    model_path: Path
    n_ctx: int = DEFAULT_N_CTX
    n_threads: int | None = None  # None: all cores the process may use
    n_batch: int = 512
    seed: int = 0

    def threads(self) -> int:
        return self.n_threads or max(1, usable_cores())


@dataclass
class Completion:
    text: str
    prompt_tokens: int  # tokens in the rendered prompt
    completion_tokens: int  # tokens generated (the end-of-turn token not counted)
    prompt_eval_tokens: int  # prompt tokens llama.cpp actually evaluated (the rest came from the KV cache)
    ttft_ms: float  # request start to first generated token (or to the end, if none)
    total_ms: float
    finish_reason: str  # "stop" (end of turn or stop string) or "length"
    timings: dict = field(default_factory=dict)


class Engine:
    def __init__(self, settings: EngineSettings):
        self.settings = settings
        self._lock = threading.Lock()
        self._llama = None
        self._formatter = None
        self.load_seconds: float | None = None
        # monotonic time of the last prompt chunk or token the engine evaluated: the watchdog's proof of progress
        self.progress_at = time.monotonic()

    # -- loading -----------------------------------------------------------------------------
    def load(self) -> Engine:
        import llama_cpp
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        path = Path(self.settings.model_path)
        if not path.is_file():
            raise EngineError(f"model file not found: {path}")
        start = time.perf_counter()
        try:
            llama = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=self.settings.n_ctx,
                n_threads=self.settings.threads(),
                n_threads_batch=self.settings.threads(),
                n_batch=self.settings.n_batch,
                seed=self.settings.seed,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise EngineError(f"llama.cpp could not load {path}: {exc}") from exc
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise EngineError(f"{path} has no embedded chat template (tokenizer.chat_template); rebuild it")
        eos_id = llama.token_eos()
        bos_id = llama.token_bos()
        self._formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=llama._model.token_get_text(eos_id) if eos_id != -1 else "",
            bos_token=llama._model.token_get_text(bos_id) if bos_id != -1 else "",
            add_generation_prompt=True,
        )
        self._llama = llama
        self.load_seconds = time.perf_counter() - start
        return self

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def close(self) -> None:
        """Free the model and its context now, rather than whenever the garbage collector gets to it."""
        with self._lock:
            llama, self._llama = self._llama, None
        if llama is not None and hasattr(llama, "close"):
            llama.close()

    @property
    def llama(self):
        """The raw llama_cpp.Llama, for benchmarks and evaluations that need logits."""
        self._require()
        return self._llama

    @property
    def metadata(self) -> dict:
        return dict(self.llama.metadata)

    @property
    def chat_template(self) -> str:
        return self.llama.metadata["tokenizer.chat_template"]

    @property
    def busy(self) -> bool:
        """A generation (or probe) holds the engine right now."""
        return self._lock.locked()

    @property
    def lock(self) -> threading.Lock:
        """Hold this around any direct use of `llama` from another thread."""
        return self._lock

    def _require(self):
        if self._llama is None:
            raise EngineError("the model is not loaded yet")

    # -- text <-> tokens -------------------------------------------------------------------------
    def render(self, messages: list[dict]) -> str:
        """The prompt text for `messages`, through the GGUF's embedded chat template."""
        self._require()
        return self._formatter(messages=messages).prompt

    def tokenize(self, text: str, special: bool = True, add_bos: bool = False) -> list[int]:
        return self.llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=special)

    def detokenize(self, ids: list[int], special: bool = False) -> str:
        return self.llama.detokenize(ids, special=special).decode("utf-8", errors="replace")

    def prompt_ids(self, messages: list[dict] | str) -> list[int]:
        """Token ids of the rendered prompt; the template itself writes any BOS it wants.

        A str is a raw prompt (Ollama's `raw: true`): no template, and the model's own BOS rule applies."""
        if isinstance(messages, str):
            return self.tokenize(messages, special=True, add_bos=True)
        ids: list[int] = []
        for piece, is_template in self.prompt_pieces(messages):
            ids += self.tokenize(piece, special=is_template, add_bos=False)
        return ids

    def prompt_pieces(self, messages: list[dict]) -> list[tuple[str, bool]]:
        """The rendered prompt as (text, is_template) pieces: the template's own text may hold control
        tokens (`<|im_start|>`), a message's content is plain text, so a user cannot type a new turn."""
        marked = [{**m, "content": _MARK.format(i)} for i, m in enumerate(messages)]
        layout = self.render(marked)
        pieces: list[tuple[str, bool]] = []
        pos = 0
        for i, m in enumerate(messages):
            at = layout.find(_MARK.format(i), pos)
            if at < 0:  # the template dropped this message (or its content): nothing to place
                continue
            pieces += [(layout[pos:at], True), (m.get("content") or "", False)]
            pos = at + len(_MARK.format(i))
        pieces.append((layout[pos:], True))
        return [(text, special) for text, special in pieces if text]

    # -- generation ------------------------------------------------------------------------------
    def stream(
        self,
        messages: list[dict] | str,
        max_tokens: int = 16,
        temperature: float = 0.0,
        top_p: float = 1.0,
        top_k: int = 40,
        stop: list[str] | None = None,
        seed: int | None = None,
        deadline: float | None = None,
        min_p: float = 0.05,
    ) -> Iterator[str | Completion]:
        """Yield text pieces as they are decoded, then one final `Completion`.

        `deadline` is a `time.monotonic()` value; past it generation stops with DeadlineExceeded.
        `min_p` defaults to llama.cpp's own 0.05.
        """
        with self._lock:
            yield from self._generate(
                messages, max_tokens, temperature, top_p, top_k, stop or [], seed, deadline, min_p=min_p
            )

    def chat(self, messages: list[dict] | str, **kwargs) -> Completion:
        """Generate a whole reply and return it with its counters."""
        for item in self.stream(messages, **kwargs):
            if isinstance(item, Completion):
                return item
        raise EngineError("generation ended without a result")  # unreachable: _generate always ends with one

    def commentary(self, messages: list[dict], deadline: float | None = None) -> Completion:
        """One Benaud line: greedy, a few tokens, the end-of-turn token stops it."""
        return self.chat(
            messages, max_tokens=COMMENTARY_MAX_TOKENS, temperature=COMMENTARY_TEMPERATURE, deadline=deadline
        )

    def probe(self, messages: list[dict] | None = None, timeout: float = 5.0) -> bool:
        """True when the engine decodes one token within `timeout` seconds: proof of life for the
        systemd watchdog when no request ran. It re-evaluates the last cached token (or a first one),
        so it needs no context room and leaves the cached prompt prefix as it was. `messages` is unused.
        """
        if not self._lock.acquire(timeout=timeout):
            return False  # busy: the caller counts progress of the running job instead
        try:
            llama = self._llama
            if llama is None:
                return False
            if llama.n_tokens > 0:
                last = int(llama.input_ids[llama.n_tokens - 1])
                llama.n_tokens -= 1
            else:
                last = llama.token_bos() if llama.token_bos() >= 0 else 0
            llama.eval([last])
            self.progress_at = time.monotonic()
            return True
        except (RuntimeError, ValueError, EngineError):
            return False
        finally:
            self._lock.release()

    def check_prompt(self, messages: list[dict] | str, max_tokens: int) -> list[int]:
        """The prompt's token ids; EngineError when they and `max_tokens` do not fit the context."""
        ids = self.prompt_ids(messages)
        if len(ids) + max_tokens > self.settings.n_ctx:
            raise EngineError(
                f"prompt of {len(ids)} tokens plus max_tokens {max_tokens} exceeds the context of {self.settings.n_ctx}"
            )
        return ids

    def _prefill(self, ids: list[int], deadline: float | None) -> int:
        """Evaluate the prompt tokens the KV cache does not hold, PROMPT_CHUNK at a time, checking the
        deadline and a cancel before each chunk; returns how many were evaluated. llama-cpp-python's
        `generate` then finds the whole prompt cached and samples at once."""
        llama = self._llama
        cached = llama.input_ids[: llama.n_tokens].tolist()
        common = 0
        for a, b in zip(cached, ids):
            if a != b:
                break
            common += 1
        if common == len(ids):
            _check_stop(deadline)
            return 0  # all cached: generate re-evaluates (at most) the last token itself
        if common == 0 or not llama._ctx.kv_cache_seq_rm(-1, common, -1):
            llama.reset()
            common = 0
        llama.n_tokens = common
        for i in range(common, len(ids), PROMPT_CHUNK):
            _check_stop(deadline)
            llama.eval(ids[i : i + PROMPT_CHUNK])
            self.progress_at = time.monotonic()
        return len(ids) - common

    def _generate(self, messages, max_tokens, temperature, top_p, top_k, stop, seed, deadline, min_p=0.05):
        import llama_cpp

        self._require()
        llama = self._llama
        start = time.perf_counter()
        ids = self.check_prompt(messages, max_tokens)
        if seed is not None:
            llama.set_seed(seed)
        llama_cpp.llama_perf_context_reset(llama.ctx)
        evaluated = self._prefill(ids, deadline)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        out_ids: list[int] = []
        text = ""
        emitted = 0
        ttft_ms = None
        finish = "length"
        stop_hold = max((len(s) for s in stop), default=0)
        for token in llama.generate(
            ids, top_k=top_k, top_p=top_p, min_p=min_p, temp=temperature, repeat_penalty=1.0, reset=True
        ):
            self.progress_at = time.monotonic()
            if ttft_ms is None:
                ttft_ms = (time.perf_counter() - start) * 1000
            if llama_cpp.llama_vocab_is_eog(llama._model.vocab, token):
                finish = "stop"
                break
            out_ids.append(token)
            text += decoder.decode(llama.detokenize([token], special=False))
            cut = _find_stop(text, stop)
            if cut is not None:
                text = text[:cut]
                finish = "stop"
                break
            # Hold back a tail that could still become a stop string.
            safe = len(text) - stop_hold
            if safe > emitted:
                yield text[emitted:safe]
                emitted = safe
            if len(out_ids) >= max_tokens:
                break
            _check_stop(deadline)
        text += decoder.decode(b"", final=True)
        if finish == "length" and (cut := _find_stop(text, stop)) is not None:
            text, finish = text[:cut], "stop"
        if len(text) > emitted:
            yield text[emitted:]
        perf = llama_cpp.llama_perf_context(llama.ctx)
        total_ms = (time.perf_counter() - start) * 1000
        yield Completion(
            text=text,
            prompt_tokens=len(ids),
            completion_tokens=len(out_ids),
            prompt_eval_tokens=evaluated or int(perf.n_p_eval),
            ttft_ms=ttft_ms if ttft_ms is not None else total_ms,
            total_ms=total_ms,
            finish_reason=finish,
            timings={
                "prompt_eval_ms": float(perf.t_p_eval_ms),
                "eval_ms": float(perf.t_eval_ms),
                "n_eval": int(perf.n_eval),
            },
        )


def _find_stop(text: str, stop: list[str]) -> int | None:
    cuts = [i for s in stop if s and (i := text.find(s)) != -1]
    return min(cuts) if cuts else None


def system_info() -> str:
    """llama.cpp's own build and CPU feature line."""
    import llama_cpp

    return llama_cpp.llama_print_system_info().decode("utf-8", errors="replace").strip()
