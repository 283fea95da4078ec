"""The LAN commentary server's app factory: FastAPI, one llama.cpp engine behind a bounded queue.

Endpoints (PRODUCT.md): POST /v1/commentary (`routes`), POST /v1/chat/completions (OpenAI-compatible,
with SSE streaming, `openai`), GET /v1/models, GET /health (503 while loading), GET /metrics
(Prometheus), and the live match feed under /v1/matches and /live (`matches`). Requests go
through a bounded queue to a single worker thread that owns the engine (`worker`), because a
llama.cpp context is not thread-safe; when the queue is full the answer is 503 + Retry-After.
`state.Server` holds what the routes share; `serve` runs it under uvicorn.
"""

from __future__ import annotations

import contextlib
import logging
import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from device.commentary.events import EventError
from device.runtime.engine import Engine
from device.runtime.http import matches, ollama, openai, routes, schema
from device.runtime.http.api import ApiError, error_body, validation_message
from device.runtime.http.limits import Limits, StreamCap
from device.runtime.http.state import Server, Settings
from device.settings import RETRY_AFTER_S, version

__all__ = ["Settings", "create_app"]

log = logging.getLogger("suksham.server")


class CountRequests:
    """Requests, errors and latency per route for /metrics. Plain ASGI: `@app.middleware("http")`
    (BaseHTTPMiddleware) runs every request through an extra task and stream, which showed in the
    server-overhead benchmark."""

    def __init__(self, inner, metrics):
        self.inner = inner
        self.metrics = metrics

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
            response = api_error_response(exc)
            await response(scope, receive, send)
        finally:
            route = scope.get("route")
            self.metrics.observe_request(route.path if route else "other", status[0], time.perf_counter() - start)


def api_error_response(exc: ApiError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after or RETRY_AFTER_S)} if exc.status == 503 else None
    return JSONResponse(error_body(exc), status_code=exc.status, headers=headers)


def add_error_handlers(app: FastAPI) -> None:
    """Every error is {"error": {...}} with the right status; bad input never gets a 500."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return api_error_response(exc)

    @app.exception_handler(EventError)
    async def _event_error(request: Request, exc: EventError):
        return api_error_response(ApiError(422, str(exc), "invalid_request_error", "invalid_event"))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse(
            error_body(ApiError(exc.status_code, str(exc.detail), "invalid_request_error")),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),  # a 405 says which methods are Allowed
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        return JSONResponse(
            error_body(ApiError(422, validation_message(exc.errors()), "invalid_request_error")), status_code=422
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse(error_body(ApiError(500, "internal error", "server_error")), status_code=500)


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The FastAPI app. Loads the model in the background so /health can say 503 meanwhile."""
    server = Server(settings, engine)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        server.start()
        yield
        server.stop()

    # The description routes are schema.install's, behind the key when one is required.
    app = FastAPI(
        title="Suksham-Benaud", version=version(), lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None
    )
    add_error_handlers(app)
    limits = Limits(server.metrics.registry)
    app.add_middleware(StreamCap, limits=limits)  # inside CountRequests: a capped stream counts as its 503
    app.add_middleware(CountRequests, metrics=server.metrics)
    app.include_router(routes.router(server))
    app.include_router(openai.router(server))
    app.include_router(matches.router(server))
    app.include_router(ollama.router(server))  # last: its /api/{rest} catch-all
    app.state.settings = settings
    app.state.metrics = server.metrics
    app.state.server = server
    app.state.limits = limits
    schema.install(app, server)
    return app
