"""The LAN commentary server: FastAPI on uvicorn, one llama.cpp engine behind a bounded queue.

    suksham serve --bundle DIR [--host H] [--port 8222] [--api-key-file F] [--budget FILE]

Endpoints (PRODUCT.md): POST /v1/commentary, POST /v1/chat/completions (OpenAI-compatible, with
SSE streaming), GET /v1/models, GET /health (503 while loading), GET /metrics (Prometheus).
Requests go through a bounded queue to a single worker thread that owns the engine, because a
llama.cpp context is not thread-safe; when the queue is full the answer is 503 + Retry-After.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import os
import queue
import socket
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from device import prompt
from device.engine import Completion, DeadlineExceeded, Engine, EngineError, EngineSettings
from device.server_api import (
    ApiError, ChatRequest, CommentaryRequest, Metrics, check_depth, error_body, validation_message,
)
from device.service import Commentator, read_event
from device.systemd import Notifier

log = logging.getLogger("suksham.server")

DEFAULT_PORT = 8222
MAX_BODY_BYTES = 64 * 1024  # a commentary request is a few hundred bytes; a chat a few KB
MAX_TOKENS_CAP = 256  # replies are five words; this bounds what a chat client can ask for
DEFAULT_QUEUE_SIZE = 8  # requests allowed to wait for the engine; beyond this, 503
DEFAULT_TIMEOUT_S = 30.0
RETRY_AFTER_S = 1


@dataclass
class Settings:
    model_path: Path
    model_id: str = "suksham-benaud"
    n_ctx: int = 512
    threads: int | None = None
    api_key: str | None = None
    queue_size: int = DEFAULT_QUEUE_SIZE
    request_timeout: float = DEFAULT_TIMEOUT_S
    max_body_bytes: int = MAX_BODY_BYTES
    max_tokens_cap: int = MAX_TOKENS_CAP
    use_guard: bool = True
    verified: bool = True  # False for --model: nothing was checked


class Worker:
    """One thread that owns the engine; jobs wait in a bounded queue."""

    def __init__(self, size: int):
        self.jobs: queue.Queue = queue.Queue(maxsize=size)
        self.busy = 0
        self.last_success = 0.0  # monotonic time of the last job the engine finished
        self._thread = threading.Thread(target=self._run, name="suksham-engine", daemon=True)
        self._thread.start()

    @property
    def depth(self) -> int:
        return self.jobs.qsize() + self.busy

    def submit(self, fn, deadline: float) -> Future:
        fut: Future = Future()
        try:
            self.jobs.put_nowait((fn, fut, deadline))
        except queue.Full:
            raise ApiError(503, "the server is busy; retry shortly", "server_busy", "queue_full") from None
        return fut

    def _run(self):
        while True:
            job = self.jobs.get()
            if job is None:
                return
            fn, fut, deadline = job
            if not fut.set_running_or_notify_cancel():
                continue
            if time.monotonic() > deadline:
                fut.set_exception(DeadlineExceeded("timed out while waiting in the queue"))
                continue
            self.busy = 1
            try:
                fut.set_result(fn(deadline))
                self.last_success = time.monotonic()
            except BaseException as exc:  # handed to the request; the worker lives on
                fut.set_exception(exc)
            finally:
                self.busy = 0

    def stop(self):
        with contextlib.suppress(queue.Full):
            self.jobs.put_nowait(None)


def create_app(settings: Settings, engine: Engine | None = None):
    """The FastAPI app. Loads the model in the background so /health can say 503 meanwhile."""
    metrics = Metrics()
    notifier = Notifier.from_env()
    state = {"engine": None, "commentator": None, "error": None, "worker": Worker(settings.queue_size)}
    stop = threading.Event()

    def load():
        try:
            eng = engine or Engine(EngineSettings(model_path=settings.model_path, n_ctx=settings.n_ctx,
                                                  n_threads=settings.threads))
            if not eng.loaded:
                eng.load()
            state["commentator"] = Commentator(eng, use_guard=settings.use_guard)
            state["engine"] = eng
            log.info("model loaded: %s", settings.model_path)
            # Loading just proved the engine works: the first ping goes with READY, so a slow first
            # probe on a busy box cannot let WatchdogSec expire right after start.
            notifier.notify("READY=1", "WATCHDOG=1", f"STATUS=serving {settings.model_id}")
        except Exception as exc:  # reported on /health and to systemd, then the process exits
            state["error"] = f"{type(exc).__name__}: {exc}"
            log.error("could not load the model: %s", state["error"])
            notifier.notify(f"STATUS=load failed: {state['error']}")

    def watchdog():
        # WATCHDOG=1 only when the engine really answered since the last ping: a completed request,
        # or a one-token probe through the engine. A stopped or wedged engine stops the pings.
        interval = notifier.watchdog_interval()
        last_ping = time.monotonic()
        while not stop.wait(interval):
            commentator = state["commentator"]
            if commentator is None:
                continue
            alive = state["worker"].last_success > last_ping
            if not alive:
                alive = commentator.engine.probe(commentator.probe_messages(), timeout=interval / 2)
            if alive:
                last_ping = time.monotonic()
                notifier.notify("WATCHDOG=1")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        loader = threading.Thread(target=load, name="suksham-load", daemon=True)
        loader.start()
        if notifier.watchdog_interval():
            threading.Thread(target=watchdog, name="suksham-watchdog", daemon=True).start()
        app.state.suksham = state
        yield
        stop.set()
        state["worker"].stop()
        notifier.notify("STOPPING=1")

    app = FastAPI(title="Suksham-Benaud", version="0.1.0", lifespan=lifespan)

    # -- errors: always {"error": {...}} with the right status ------------------------------------
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        headers = {"Retry-After": str(RETRY_AFTER_S)} if exc.status == 503 else None
        return JSONResponse(error_body(exc), status_code=exc.status, headers=headers)

    @app.exception_handler(prompt.EventError)
    async def _event_error(request: Request, exc: prompt.EventError):
        return await _api_error(request, ApiError(422, str(exc), "invalid_request_error", "invalid_event"))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse(error_body(ApiError(exc.status_code, str(exc.detail), "invalid_request_error")),
                            status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        return JSONResponse(error_body(ApiError(422, validation_message(exc.errors()), "invalid_request_error")),
                            status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse(error_body(ApiError(500, "internal error", "server_error")), status_code=500)

    class CountRequests:
        """Requests, errors and latency per route for /metrics. Plain ASGI: `@app.middleware("http")`
        (BaseHTTPMiddleware) runs every request through an extra task and stream, which showed in the
        server-overhead benchmark."""

        def __init__(self, inner):
            self.inner = inner

        async def __call__(self, scope, receive, send):
            if scope["type"] != "http":
                return await self.inner(scope, receive, send)
            start, status = time.perf_counter(), [500]

            async def send_counted(message):
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            try:
                await self.inner(scope, receive, send_counted)
            except ApiError as exc:  # an ApiError the route's handlers did not turn into a response
                status[0] = exc.status
                response = await _api_error(Request(scope, receive), exc)
                await response(scope, receive, send)
            finally:
                route = scope.get("route")
                metrics.observe_request(route.path if route else "other", status[0], time.perf_counter() - start)

    app.add_middleware(CountRequests)

    # -- helpers ---------------------------------------------------------------------------------------
    def authorize(request: Request):
        if not settings.api_key:
            return
        given = request.headers.get("x-api-key")
        auth = request.headers.get("authorization", "")
        if not given and auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if not given or not hmac.compare_digest(given.encode(), settings.api_key.encode()):
            raise ApiError(401, "missing or wrong API key (Authorization: Bearer KEY or X-Api-Key: KEY)",
                           "authentication_error", "invalid_api_key")

    async def read_json(request: Request, model):
        ctype = request.headers.get("content-type", "")
        if ctype.split(";")[0].strip().lower() != "application/json":
            raise ApiError(415, "send the body as JSON with Content-Type: application/json",
                           "invalid_request_error", "unsupported_media_type")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_body_bytes:
            raise ApiError(413, f"body larger than {settings.max_body_bytes} bytes", "invalid_request_error",
                           "body_too_large")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > settings.max_body_bytes:
                raise ApiError(413, f"body larger than {settings.max_body_bytes} bytes", "invalid_request_error",
                               "body_too_large")
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

    def ready_commentator() -> Commentator:
        if state["commentator"] is None:
            msg = state["error"] or "the model is still loading"
            raise ApiError(503, msg, "server_busy", "loading")
        return state["commentator"]

    async def run_job(fn):
        deadline = time.monotonic() + settings.request_timeout
        fut = state["worker"].submit(fn, deadline)
        metrics.queue_depth.set(state["worker"].depth)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(fut), timeout=settings.request_timeout + 1)
        except (asyncio.TimeoutError, DeadlineExceeded):
            fut.cancel()
            raise ApiError(504, f"no reply within {settings.request_timeout:g} s", "timeout", "timeout") from None
        except prompt.EventError as exc:
            raise ApiError(422, str(exc), "invalid_request_error", "invalid_event") from None
        except EngineError as exc:
            raise ApiError(400, str(exc), "invalid_request_error", "engine_rejected") from None
        finally:
            metrics.queue_depth.set(state["worker"].depth)

    # -- endpoints ---------------------------------------------------------------------------------------
    @app.get("/health")
    async def health():
        if state["commentator"] is not None:
            return {"status": "ok", "model": settings.model_id, "verified": settings.verified,
                    "queue_depth": state["worker"].depth}
        status = "error" if state["error"] else "loading"
        return JSONResponse({"status": status, "detail": state["error"]}, status_code=503,
                            headers={"Retry-After": str(RETRY_AFTER_S)})

    @app.get("/metrics")
    async def metrics_endpoint(request: Request):
        authorize(request)
        metrics.queue_depth.set(state["worker"].depth)
        return PlainTextResponse(metrics.render(), media_type=metrics.content_type)

    @app.get("/v1/models")
    async def models(request: Request):
        authorize(request)
        return {"object": "list", "data": [{"id": settings.model_id, "object": "model", "created": 0,
                                             "owned_by": "suksham-benaud"}]}

    @app.post("/v1/commentary")
    async def commentary(request: Request):
        authorize(request)
        req = await read_json(request, CommentaryRequest)
        commentator = ready_commentator()
        # Read once, here: bad input is a 422 before it queues, and the worker reuses the reading.
        event = read_event(text=req.event, delivery=req.delivery, context=req.context)
        result = await run_job(lambda deadline: commentator.comment(
            text=req.event, delivery=req.delivery, context=req.context, deadline=deadline, event=event))
        metrics.observe_completion(result.completion)
        if result.guarded:
            metrics.guarded.inc()
        return {
            "text": result.text,
            "silent": result.silent,
            "latency_ms": round(result.latency_ms, 1),
            "tokens": result.completion.completion_tokens,
            "outcome": result.event.outcome,
            "guarded": result.guarded,
        }

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        authorize(request)
        req = await read_json(request, ChatRequest)
        commentator = ready_commentator()
        engine = commentator.engine
        messages = [m.as_dict() for m in req.messages]
        kwargs = dict(max_tokens=min(req.effective_max_tokens(), settings.max_tokens_cap),
                      temperature=req.temperature, top_p=req.top_p, stop=req.stop_list(), seed=req.seed)
        created = int(time.time())
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        model_id = settings.model_id

        if not req.stream:
            comp: Completion = await run_job(lambda deadline: engine.chat(messages, deadline=deadline, **kwargs))
            metrics.observe_completion(comp)
            return {
                "id": cid, "object": "chat.completion", "created": created, "model": model_id,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": comp.text},
                             "finish_reason": comp.finish_reason, "logprobs": None}],
                "usage": {"prompt_tokens": comp.prompt_tokens, "completion_tokens": comp.completion_tokens,
                          "total_tokens": comp.prompt_tokens + comp.completion_tokens},
            }

        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue = asyncio.Queue()
        cancelled = threading.Event()

        def produce(deadline):
            for item in engine.stream(messages, deadline=deadline, **kwargs):
                if cancelled.is_set():
                    break
                loop.call_soon_threadsafe(pieces.put_nowait, item)
            return True

        deadline = time.monotonic() + settings.request_timeout
        fut = state["worker"].submit(produce, deadline)  # 503 here, before the stream starts

        def chunk(delta, finish=None):
            return "data: " + json.dumps({
                "id": cid, "object": "chat.completion.chunk", "created": created, "model": model_id,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
            }) + "\n\n"

        async def events():
            yield chunk({"role": "assistant", "content": ""})
            try:
                while True:
                    getter = asyncio.ensure_future(pieces.get())
                    done, _ = await asyncio.wait({getter, asyncio.wrap_future(fut)},
                                                 timeout=settings.request_timeout + 1,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if getter not in done:
                        getter.cancel()
                        if fut.done() and pieces.empty():
                            exc = fut.exception()
                            msg = "timed out" if isinstance(exc, DeadlineExceeded) or exc is None else str(exc)
                            yield "data: " + json.dumps(error_body(ApiError(500 if exc else 504, msg, "server_error"))) + "\n\n"
                            break
                        if not done:
                            yield "data: " + json.dumps(error_body(ApiError(504, "timed out", "timeout"))) + "\n\n"
                            break
                        continue
                    item = getter.result()
                    if isinstance(item, Completion):
                        metrics.observe_completion(item)
                        yield chunk({}, item.finish_reason)
                        break
                    yield chunk({"content": item})
                yield "data: [DONE]\n\n"
            finally:
                cancelled.set()

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    app.state.settings = settings
    app.state.metrics = metrics
    app.state.suksham = state
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_api_key(path: Path | None) -> str | None:
    if path is None:
        return None
    key = Path(path).read_text(encoding="utf-8").strip()
    if not key:
        raise ValueError(f"the API key file {path} is empty")
    return key


def bind_socket(host: str, port: int) -> socket.socket:
    """The listening socket, with Nagle's algorithm off for every connection it accepts.

    uvicorn writes a response's head and body separately. With Nagle on, the body waits for the
    client to ACK the head, and the client delays that ACK by ~40 ms: every request after the first
    on a keep-alive connection took 44 ms, /health included. asyncio turns Nagle off only for sockets
    made with proto IPPROTO_TCP, and an accepted socket inherits both the proto and (on Linux)
    TCP_NODELAY from this one.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def serve(*, bundle=None, model=None, host="127.0.0.1", port=DEFAULT_PORT, api_key_file=None,
          insecure_no_key=False, budget=None, threads=None, n_ctx=None, queue_size=None, request_timeout=None):
    """`suksham serve`: verify, preflight, bind, then load in the background and serve."""
    import click
    import uvicorn

    from device.bundle import BundleError
    from device.service import resolve_model

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        path, n_ctx, verified_bundle, model_id = resolve_model(bundle, model, n_ctx)
        api_key = read_api_key(api_key_file)
    except (BundleError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    if model is not None:
        click.echo(f"warning: serving {path} UNVERIFIED: no bundle manifest, no evaluation gate", err=True)
    if not api_key and not is_loopback(host) and not insecure_no_key:
        raise click.ClickException(
            f"listening on {host} (beyond loopback) needs an API key: pass --api-key-file FILE, "
            "or --insecure-no-key to waive it on a trusted network")
    if budget is not None:
        from device.budget import load_budget, preflight

        try:
            spec = load_budget(budget)
            result = preflight(path, n_ctx, spec)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        if not result.ok:
            raise click.ClickException(result.message)
        click.echo(f"preflight: {result.message}", err=True)
        if threads is None:
            from device.machine import usable_cores

            threads = min(spec.threads, usable_cores())  # a budget written for a Pi 5 on a smaller box
    settings = Settings(model_path=path, model_id=model_id, n_ctx=n_ctx, threads=threads, api_key=api_key,
                        queue_size=queue_size or DEFAULT_QUEUE_SIZE,
                        request_timeout=request_timeout or DEFAULT_TIMEOUT_S, verified=model is None)
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    actual = sock.getsockname()[1]
    click.echo(f"suksham: listening on http://{host}:{actual} (model {model_id}, loading...)", err=True)
    config = uvicorn.Config(create_app(settings), log_level=os.environ.get("SUKSHAM_LOG_LEVEL", "warning"),
                            access_log=False, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
