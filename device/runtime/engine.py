"""The one place that touches llama-cpp-python: load a GGUF, render chat, generate.

A llama.cpp context is not thread-safe, so every call that evaluates tokens holds `Engine._lock`.
The context keeps the tokens of the previous request; llama-cpp-python's `generate` then reuses
the longest common prefix of the KV cache. Because every commentary prompt starts with the same
system prompt, a request evaluates only its own event tokens; `Completion.prompt_eval_tokens`
reports what llama.cpp really evaluated (from its perf counters), so this can be checked.

    from device.runtime.engine import Engine, EngineSettings
    engine = Engine(EngineSettings(model_path="model.gguf")).load()
    print(engine.chat([{"role": "user", "content": "Hello"}], max_tokens=8).text)
"""

from __future__ import annotations

import codecs
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


def usable_cores() -> int:
    """Cores this process may run on (its affinity), which a container or a unit may narrow."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


class EngineError(RuntimeError):
    """The model could not be loaded or could not answer."""


class DeadlineExceeded(EngineError):
    """Generation was stopped because the request's deadline passed."""


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
        return self.tokenize(self.render(messages), special=True, add_bos=False)

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

    def probe(self, messages: list[dict], timeout: float = 5.0) -> bool:
        """True when the engine generates a token for `messages` within `timeout` seconds.

        Used for the systemd watchdog: proof of life is a real decode, not a timer. Pass messages
        that share the commentary system prompt, so the cached prefix stays useful.
        """
        if not self._lock.acquire(timeout=timeout):
            return False  # busy; the caller counts completed requests as proof of life instead
        try:
            if self._llama is None:
                return False
            deadline = time.monotonic() + timeout
            for item in self._generate(messages, 1, 0.0, 1.0, 40, [], None, deadline):
                if isinstance(item, Completion):
                    return True
            return False
        except EngineError:
            return False
        finally:
            self._lock.release()

    def _generate(self, messages, max_tokens, temperature, top_p, top_k, stop, seed, deadline, min_p=0.05):
        import llama_cpp

        self._require()
        llama = self._llama
        start = time.perf_counter()
        ids = self.prompt_ids(messages)
        if len(ids) + max_tokens > self.settings.n_ctx:
            raise EngineError(
                f"prompt of {len(ids)} tokens plus max_tokens {max_tokens} exceeds the context of {self.settings.n_ctx}"
            )
        if seed is not None:
            llama.set_seed(seed)
        llama_cpp.llama_perf_context_reset(llama.ctx)
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
            if deadline is not None and time.monotonic() > deadline:
                raise DeadlineExceeded("the request took longer than its timeout")
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
            prompt_eval_tokens=int(perf.n_p_eval),
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
