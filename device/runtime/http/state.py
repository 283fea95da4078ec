"""What one running server holds: its settings, the engine behind the worker, metrics, systemd.

`Server` is created by `create_app` and handed to every route module; the helpers here (auth,
reading a JSON body under the size limit, running a job on the engine's worker) are what the
routes share.
"""

from __future__ import annotations

import asyncio
import contextvars
import hmac
import json
import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from device.commentary.delivery import clean_context, read_event
from device.commentary.events import EventError
from device.runtime.engine import Completion, DeadlineExceeded, Engine, EngineError, EngineSettings
from device.runtime.http.api import ApiError, Metrics, check_body, validation_message
from device.runtime.http.worker import Worker
from device.runtime.matchstore import (
    DEFAULT_KEEP_DAYS,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_MATCHES,
    MatchStore,
    default_state_dir,
)
from device.runtime.service import Commentator, Sampling
from device.runtime.systemd import Notifier
from device.settings import (
    DEFAULT_N_CTX,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_TIMEOUT_S,
    MAX_BODY_BYTES,
    MAX_TOKENS_CAP,
    RETRY_AFTER_S,
)

log = logging.getLogger("suksham.server")

# The request whose body `read_json` read, so that `run_job` can see its client go away.
_request: contextvars.ContextVar[Request | None] = contextvars.ContextVar("suksham_request", default=None)
LOAD_BYTES_PER_S = 200e6  # a GGUF loads (mmap + first touch) at about this rate: Retry-After while loading
LOOP_BEAT_S = 0.5  # the event loop stamps `loop_beat` this often; the watchdog reads it
_STARTED = object()  # a stream's job checked its prompt and starts generating


class Stream:
    """The text pieces of a started stream (then its Completion), as `async for` reads them. `aclose()`
    stops the job within a token, also when the stream was never read (a client gone before its first
    piece)."""

    def __init__(self, pieces, stop):
        self._pieces, self._stop = pieces, stop

    def __aiter__(self):
        return self._pieces

    async def aclose(self) -> None:
        self._stop()
        await self._pieces.aclose()


class StreamFailed(Exception):
    """A stream failed after its 200 was sent: the route writes `message` in its own format and ends."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass
class Settings:
    model_path: Path
    model_id: str = "suksham-benaud"
    n_ctx: int = DEFAULT_N_CTX
    threads: int | None = None
    api_key: str | None = None
    queue_size: int = DEFAULT_QUEUE_SIZE
    request_timeout: float = DEFAULT_TIMEOUT_S
    max_body_bytes: int = MAX_BODY_BYTES
    max_tokens_cap: int = MAX_TOKENS_CAP
    use_guard: bool = True
    verified: bool = True  # False for --model: nothing was checked
    sampling: Sampling | None = None  # /v1/commentary's decoding (issue 15); None: greedy, as bundles before it
    # The match feed (issue 16): where match files live, and who may read the live routes.
    state_dir: Path | None = None  # None: $STATE_DIRECTORY, else ~/.local/state/suksham
    max_matches: int = DEFAULT_MAX_MATCHES
    keep_days: float = DEFAULT_KEEP_DAYS
    max_state_bytes: int = DEFAULT_MAX_BYTES
    public_live: bool = False  # the read-only match routes need no key
    read_key: str | None = None  # a second key that opens only the read-only match routes


class Server:
    """The state of one server: loading, the engine's worker, the watchdog, and the shared helpers."""

    def __init__(self, settings: Settings, engine: Engine | None = None):
        self.settings = settings
        self.metrics = Metrics()
        self.notifier = Notifier.from_env()
        self.worker = Worker(settings.queue_size)
        self.engine: Engine | None = None
        self.commentator: Commentator | None = None
        self.error: str | None = None
        self._given_engine = engine
        self._stop = threading.Event()
        self.loop_beat = time.monotonic()  # stamped by a task on the event loop: the loop answers
        self.load_started = time.monotonic()
        self.on_fatal = None  # called (from the load thread) when loading fails; `serve` makes it exit non-zero
        self._store: MatchStore | None = None
        self._store_lock = threading.Lock()

    @property
    def store(self) -> MatchStore:
        """The match store, made on first use: a server that is never fed a match writes nothing."""
        with self._store_lock:
            if self._store is None:
                s = self.settings
                self._store = MatchStore(
                    s.state_dir or default_state_dir(), s.max_matches, s.keep_days, s.max_state_bytes
                )
            return self._store

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        self.load_started = time.monotonic()
        threading.Thread(target=self._load, name="suksham-load", daemon=True).start()
        if self.notifier.watchdog_interval():
            try:
                self._beat_task = asyncio.get_running_loop().create_task(self._beat())
            except RuntimeError:  # no running loop (started by hand): the loop cannot be watched
                self._beat_task = None
            threading.Thread(target=self._watchdog, name="suksham-watchdog", daemon=True).start()

    async def _beat(self) -> None:
        while not self._stop.is_set():
            self.loop_beat = time.monotonic()
            await asyncio.sleep(LOOP_BEAT_S)

    def stop(self) -> None:
        self._stop.set()
        self.worker.stop()
        if self._store is not None:
            self._store.close()  # ends the live streams
        self.notifier.notify("STOPPING=1")

    def _load(self) -> None:
        settings = self.settings
        try:
            eng = self._given_engine or Engine(
                EngineSettings(model_path=settings.model_path, n_ctx=settings.n_ctx, n_threads=settings.threads)
            )
            if not eng.loaded:
                eng.load()
            self.commentator = Commentator(eng, use_guard=settings.use_guard, sampling=settings.sampling)
            self.engine = eng
            log.info("model loaded: %s", settings.model_path)
            # Loading just proved the engine works: the first ping goes with READY, so a slow first
            # probe on a busy box cannot let WatchdogSec expire right after start.
            self.notifier.notify("READY=1", "WATCHDOG=1", f"STATUS=serving {settings.model_id}")
        except Exception as exc:  # reported on /health and to systemd, then the process exits
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("could not load the model: %s", self.error)
            self.notifier.notify(f"STATUS=load failed: {self.error}")
            if self.on_fatal is not None:
                self.on_fatal(self.error)

    def retry_after(self) -> int:
        """Seconds a client should wait: while loading, what is left of the expected load time."""
        if self.commentator is not None or self.error:
            return RETRY_AFTER_S
        try:
            expected = 1 + os.path.getsize(self.settings.model_path) / LOAD_BYTES_PER_S
        except OSError:
            expected = RETRY_AFTER_S
        return max(RETRY_AFTER_S, math.ceil(expected - (time.monotonic() - self.load_started)))

    def _watchdog(self) -> None:
        # Liveness is "the event loop answers and the engine makes progress": WATCHDOG=1 goes when the
        # loop stamped its beat within the window and either a job (or the engine) progressed within
        # it, or nothing runs and a one-token probe answers. A busy engine is not a hung one; a
        # stopped process, a blocked loop or a job that makes no progress stops the pings.
        # The window is 3/4 of WatchdogSec: a step (a prompt chunk, a token) slower than that is a hang.
        watchdog = 2 * self.notifier.watchdog_interval()  # WatchdogSec
        window, tick = 0.75 * watchdog, min(1.0, watchdog / 4)
        while not self._stop.wait(tick):
            if self.commentator is not None and self.alive(window, tick):
                self.notifier.notify("WATCHDOG=1")

    def alive(self, window: float, probe_timeout: float) -> bool:
        now = time.monotonic()
        if now - self.loop_beat > window:
            return False
        engine, worker = self.commentator.engine, self.worker
        progress = max(engine.progress_at, worker.progress_at)
        if now - progress <= window:
            return True
        if worker.busy or engine.busy:
            return False  # something runs and made no progress within the window
        return engine.probe(timeout=probe_timeout)

    # -- helpers for the routes ----------------------------------------------------------------------
    @staticmethod
    def given_key(request: Request) -> str | None:
        given = request.headers.get("x-api-key")
        auth = request.headers.get("authorization", "")
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        return given or None

    def authorize_read(self, request: Request) -> None:
        """The read-only match routes: open with `public_live`, else the read key or the API key."""
        read_key = self.settings.read_key
        if self.settings.public_live:
            return
        given = self.given_key(request)
        if read_key and given and hmac.compare_digest(given.encode(), read_key.encode()):
            return
        self.authorize(request)

    def authorize(self, request: Request) -> None:
        key = self.settings.api_key
        if not key:
            return
        given = self.given_key(request)
        if not given or not hmac.compare_digest(given.encode(), key.encode()):
            raise ApiError(
                401,
                "missing or wrong API key (Authorization: Bearer KEY or X-Api-Key: KEY)",
                "authentication_error",
                "invalid_api_key",
            )

    async def read_json(self, request: Request, model, any_type: bool = False):
        """The body as `model`; `any_type`: whatever its Content-Type (Ollama's API: `curl -d` sends a form type)."""
        limit = self.settings.max_body_bytes
        ctype = request.headers.get("content-type", "")
        if not any_type and ctype.split(";")[0].strip().lower() != "application/json":
            raise ApiError(
                415,
                "send the body as JSON with Content-Type: application/json",
                "invalid_request_error",
                "unsupported_media_type",
            )
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"body larger than {limit} bytes", "invalid_request_error", "body_too_large")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise ApiError(413, f"body larger than {limit} bytes", "invalid_request_error", "body_too_large")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise ApiError(400, f"malformed JSON: {str(exc)[:200]}", "invalid_request_error", "invalid_json") from None
        check_body(data)
        _request.set(request)
        from pydantic import ValidationError

        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ApiError(422, validation_message(exc.errors()), "invalid_request_error", "invalid_request") from None

    def ready_commentator(self) -> Commentator:
        if self.commentator is None:
            message = self.error or "the model is still loading"
            raise ApiError(503, message, "server_busy", "loading", retry_after=self.retry_after())
        return self.commentator

    async def commentary_reply(self, *, text=None, delivery=None, context=None, seed=None, temperature=None) -> dict:
        """The `/v1/commentary` reply for one event: what every route that comments returns (ours, the
        match feed, Ollama's). Bad input raises EventError (a 422) before anything queues; an optional context
        key that does not parse is dropped and named in `warnings`. `seed`/`temperature` override the
        bundle's sampling (temperature 0 is greedy); `context.match_id` keys the match's memory."""
        commentator = self.ready_commentator()
        if temperature is not None and (isinstance(temperature, bool) or not 0 <= temperature <= 2):
            raise ApiError(422, f"temperature must be 0..2, got {temperature!r}", "invalid_request_error")
        # Read once, here: bad input is a 422 before it queues, and the worker reuses the reading.
        context, warnings = clean_context(context)
        event = read_event(text=text, delivery=delivery, context=context)
        result = await self.run_job(
            lambda deadline: commentator.comment(
                text=text,
                delivery=delivery,
                context=context,
                deadline=deadline,
                event=event,
                seed=seed,
                temperature=temperature,
                warnings=warnings,
            )
        )
        for completion in result.completions:
            self.metrics.observe_completion(completion)
        self.metrics.draws.observe(result.draws)
        if result.guarded:
            self.metrics.guarded.inc()
            self.metrics.fallbacks.inc()
        return {
            "text": result.text,
            "silent": result.silent,
            "latency_ms": round(result.latency_ms, 1),
            "tokens": sum(c.completion_tokens for c in result.completions),
            "outcome": result.event.outcome,
            "guarded": result.guarded,
            "draws": result.draws,
            "seed": result.seed,
            "warnings": result.warnings,
        }

    async def run_job(self, fn):
        """Run `fn(deadline)` on the engine's worker. A job whose request times out or whose client
        disconnects (the request `read_json` read) is cancelled: skipped if queued, stopped if running."""
        timeout = self.settings.request_timeout
        fut = self.worker.submit(fn, time.monotonic() + timeout)
        self.metrics.queue_depth.set(self.worker.depth)
        request = _request.get()
        gone = asyncio.ensure_future(_disconnected(request)) if request is not None else None
        result = asyncio.wrap_future(fut)
        try:
            done, _ = await asyncio.wait({result, gone} - {None}, timeout=timeout + 1, return_when="FIRST_COMPLETED")
            if result not in done:
                fut.cancel()
                result.add_done_callback(_retrieved)  # its Cancelled, once the worker stops it, is expected
                if gone in done:
                    raise ApiError(499, "the client closed the request", "invalid_request_error", "client_closed")
                raise asyncio.TimeoutError
            return result.result()
        except asyncio.CancelledError:
            fut.cancel()
            raise
        except (asyncio.TimeoutError, DeadlineExceeded):
            fut.cancel()
            raise ApiError(504, f"no reply within {timeout:g} s", "timeout", "timeout") from None
        except EventError as exc:
            raise ApiError(422, str(exc), "invalid_request_error", "invalid_event") from None
        except EngineError as exc:
            raise ApiError(400, str(exc), "invalid_request_error", "engine_rejected") from None
        finally:
            if gone is not None:
                gone.cancel()
            self.metrics.queue_depth.set(self.worker.depth)

    async def open_stream(self, engine: Engine, prompt: list[dict] | str, kwargs: dict):
        """Start streaming `prompt` on the engine's worker (503 when the queue is full) and wait until its
        job has checked that the prompt fits: bad input or a timeout raise ApiError here, before the
        route sends its 200. Returns a Stream of text pieces that ends with the Completion (counted in
        the metrics); a failure after that raises StreamFailed. The route calls its `aclose()` when it
        ends, also for a client that went away: that stops the job within a token."""
        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue = asyncio.Queue()
        cancelled = threading.Event()
        timeout = self.settings.request_timeout

        def produce(deadline):
            engine.check_prompt(prompt, kwargs["max_tokens"])
            loop.call_soon_threadsafe(pieces.put_nowait, _STARTED)
            for item in engine.stream(prompt, deadline=deadline, **kwargs):
                if cancelled.is_set():
                    break
                loop.call_soon_threadsafe(pieces.put_nowait, item)
            return True

        fut = self.worker.submit(produce, time.monotonic() + timeout)

        def stop():
            cancelled.set()
            fut.cancel()

        getter = asyncio.ensure_future(pieces.get())
        job = asyncio.wrap_future(fut)
        done, _ = await asyncio.wait({getter, job}, timeout=timeout + 1, return_when="FIRST_COMPLETED")
        job.add_done_callback(_retrieved)  # the stream reads its outcome, not this
        if getter not in done or getter.result() is not _STARTED:
            getter.cancel()
            stop()
            exc = fut.exception() if fut.done() and not fut.cancelled() else None
            if exc is None or isinstance(exc, DeadlineExceeded):
                raise ApiError(504, f"no reply within {timeout:g} s", "timeout", "timeout")
            if isinstance(exc, EngineError):
                raise ApiError(400, str(exc), "invalid_request_error", "engine_rejected")
            raise exc
        return Stream(self._pieces(fut, pieces), stop)

    async def _pieces(self, fut, pieces: asyncio.Queue):
        timeout = self.settings.request_timeout
        while True:
            getter = asyncio.ensure_future(pieces.get())
            done, _ = await asyncio.wait(
                {getter, asyncio.wrap_future(fut)}, timeout=timeout + 1, return_when=asyncio.FIRST_COMPLETED
            )
            if getter not in done:
                getter.cancel()
                if fut.done() and pieces.empty():
                    exc = None if fut.cancelled() else fut.exception()
                    if exc is None or isinstance(exc, DeadlineExceeded):
                        raise StreamFailed("timed out", 504)
                    raise StreamFailed(str(exc), 500)
                if not done:
                    raise StreamFailed("timed out", 504)
                continue
            item = getter.result()
            yield item
            if isinstance(item, Completion):
                self.metrics.observe_completion(item)
                return


def _retrieved(future) -> None:
    if not future.cancelled():
        future.exception()


async def _disconnected(request: Request) -> None:
    """Returns when the client of `request` (whose body was read) goes away."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
