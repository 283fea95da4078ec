"""What one running server holds: its settings, the engine behind the worker, metrics, systemd.

`Server` is created by `create_app` and handed to every route module; the helpers here (auth,
reading a JSON body under the size limit, running a job on the engine's worker) are what the
routes share.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from device.commentary.delivery import read_event
from device.commentary.events import EventError
from device.runtime.engine import DeadlineExceeded, Engine, EngineError, EngineSettings
from device.runtime.http.api import ApiError, Metrics, check_depth, validation_message
from device.runtime.http.worker import Worker
from device.runtime.service import Commentator
from device.runtime.systemd import Notifier
from device.settings import (
    DEFAULT_N_CTX,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_TIMEOUT_S,
    MAX_BODY_BYTES,
    MAX_TOKENS_CAP,
)

log = logging.getLogger("suksham.server")


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

    # -- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        threading.Thread(target=self._load, name="suksham-load", daemon=True).start()
        if self.notifier.watchdog_interval():
            threading.Thread(target=self._watchdog, name="suksham-watchdog", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self.worker.stop()
        self.notifier.notify("STOPPING=1")

    def _load(self) -> None:
        settings = self.settings
        try:
            eng = self._given_engine or Engine(
                EngineSettings(model_path=settings.model_path, n_ctx=settings.n_ctx, n_threads=settings.threads)
            )
            if not eng.loaded:
                eng.load()
            self.commentator = Commentator(eng, use_guard=settings.use_guard)
            self.engine = eng
            log.info("model loaded: %s", settings.model_path)
            # Loading just proved the engine works: the first ping goes with READY, so a slow first
            # probe on a busy box cannot let WatchdogSec expire right after start.
            self.notifier.notify("READY=1", "WATCHDOG=1", f"STATUS=serving {settings.model_id}")
        except Exception as exc:  # reported on /health and to systemd, then the process exits
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("could not load the model: %s", self.error)
            self.notifier.notify(f"STATUS=load failed: {self.error}")

    def _watchdog(self) -> None:
        # WATCHDOG=1 only when the engine really answered since the last ping: a completed request,
        # or a one-token probe through the engine. A stopped or wedged engine stops the pings.
        interval = self.notifier.watchdog_interval()
        last_ping = time.monotonic()
        while not self._stop.wait(interval):
            commentator = self.commentator
            if commentator is None:
                continue
            alive = self.worker.last_success > last_ping
            if not alive:
                alive = commentator.engine.probe(commentator.probe_messages(), timeout=interval / 2)
            if alive:
                last_ping = time.monotonic()
                self.notifier.notify("WATCHDOG=1")

    # -- helpers for the routes ----------------------------------------------------------------------
    def authorize(self, request: Request) -> None:
        key = self.settings.api_key
        if not key:
            return
        given = request.headers.get("x-api-key")
        auth = request.headers.get("authorization", "")
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if not given or not hmac.compare_digest(given.encode(), key.encode()):
            raise ApiError(
                401,
                "missing or wrong API key (Authorization: Bearer KEY or X-Api-Key: KEY)",
                "authentication_error",
                "invalid_api_key",
            )

    async def read_json(self, request: Request, model):
        limit = self.settings.max_body_bytes
        ctype = request.headers.get("content-type", "")
        if ctype.split(";")[0].strip().lower() != "application/json":
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
        check_depth(data)
        from pydantic import ValidationError

        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ApiError(422, validation_message(exc.errors()), "invalid_request_error", "invalid_request") from None

    def ready_commentator(self) -> Commentator:
        if self.commentator is None:
            raise ApiError(503, self.error or "the model is still loading", "server_busy", "loading")
        return self.commentator

    async def commentary_reply(self, *, text=None, delivery=None, context=None) -> dict:
        """The `/v1/commentary` reply for one event: what every route that comments returns (ours, the
        match feed, Ollama's). Bad input raises EventError (a 422) before anything queues."""
        commentator = self.ready_commentator()
        # Read once, here: bad input is a 422 before it queues, and the worker reuses the reading.
        event = read_event(text=text, delivery=delivery, context=context)
        result = await self.run_job(
            lambda deadline: commentator.comment(
                text=text, delivery=delivery, context=context, deadline=deadline, event=event
            )
        )
        self.metrics.observe_completion(result.completion)
        if result.guarded:
            self.metrics.guarded.inc()
        return {
            "text": result.text,
            "silent": result.silent,
            "latency_ms": round(result.latency_ms, 1),
            "tokens": result.completion.completion_tokens,
            "outcome": result.event.outcome,
            "guarded": result.guarded,
        }

    async def run_job(self, fn):
        timeout = self.settings.request_timeout
        fut = self.worker.submit(fn, time.monotonic() + timeout)
        self.metrics.queue_depth.set(self.worker.depth)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(fut), timeout=timeout + 1)
        except (asyncio.TimeoutError, DeadlineExceeded):
            fut.cancel()
            raise ApiError(504, f"no reply within {timeout:g} s", "timeout", "timeout") from None
        except EventError as exc:
            raise ApiError(422, str(exc), "invalid_request_error", "invalid_event") from None
        except EngineError as exc:
            raise ApiError(400, str(exc), "invalid_request_error", "engine_rejected") from None
        finally:
            self.metrics.queue_depth.set(self.worker.depth)
