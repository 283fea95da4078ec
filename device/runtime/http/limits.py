"""Limits below the routes: a header timeout, a bound on open connections, and one on open streams.

uvicorn closes an idle keep-alive connection, but never one that has not completed its request
headers, and its `limit_concurrency` counts idle connections too (so 256 idle sockets would turn
every real request into a 503). Here instead:

- a connection whose request headers are not complete within HEADER_TIMEOUT_S (from the
  connection, or from the end of its previous response) is closed; once the headers are in, the
  timer is off, so a long server-sent-event stream is never cut;
- at most MAX_CONNECTIONS stay open: a new one beyond that closes the oldest connection that has
  not sent a byte (an idle socket holds no request), else the oldest one waiting for the headers
  of its next request (a keep-alive client opens another), or, when every one is busy with a
  request, is closed itself;
- at most MAX_STREAMS streaming responses (SSE, NDJSON) run at once; one more gets 503 before its
  first byte.

Every connection dropped is counted on /metrics as `suksham_connections_dropped_total{reason}`.
`serve` passes `guarded_protocol(limits)` to uvicorn as its HTTP protocol.
"""

from __future__ import annotations

from collections import OrderedDict

from fastapi.responses import JSONResponse

from device.runtime.http.api import ApiError, error_body
from device.settings import HEADER_TIMEOUT_S, MAX_CONNECTIONS, MAX_STREAMS, RETRY_AFTER_S

STREAM_TYPES = (b"text/event-stream", b"application/x-ndjson")


class Limits:
    """What the connection guard and the stream cap share: the limits, the waiting list, the counters."""

    def __init__(
        self,
        registry,
        max_connections: int = MAX_CONNECTIONS,
        header_timeout: float = HEADER_TIMEOUT_S,
        max_streams: int = MAX_STREAMS,
    ):
        from prometheus_client import Counter, Gauge

        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.max_streams = max_streams
        self.open: set = set()
        # connections waiting for request headers, oldest first: `silent` never sent a byte
        self.silent: OrderedDict = OrderedDict()
        self.waiting: OrderedDict = OrderedDict()
        self.streams = 0
        self.dropped = Counter(
            "suksham_connections_dropped",
            "connections closed by the server's limits (header_timeout, evicted, over_limit, stream_limit)",
            ["reason"],
            registry=registry,
        )
        for reason in ("header_timeout", "evicted", "over_limit", "stream_limit"):
            self.dropped.labels(reason=reason)
        self.open_gauge = Gauge("suksham_open_connections", "open HTTP connections", registry=registry)
        self.open_gauge.set_function(lambda: len(self.open))
        self.streams_gauge = Gauge("suksham_open_streams", "streaming responses under way", registry=registry)
        self.streams_gauge.set_function(lambda: self.streams)


def guarded_protocol(limits: Limits):
    """uvicorn's h11 protocol with the header timeout and the connection bound of `limits`."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        _header_timer = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            limits.open.add(self)
            if len(limits.open) > limits.max_connections:
                victim = next(iter(limits.silent), None) or next(iter(limits.waiting), None)
                if victim is None:  # every other connection is busy with a request
                    self._drop("over_limit")
                    return
                victim._drop("evicted")
            self._wait_for_headers(fresh=True)

        def data_received(self, data: bytes) -> None:
            if limits.silent.pop(self, None) is not None:  # it spoke: no longer the first to go
                limits.waiting[self] = None
            super().data_received(data)
            self._check_headers()

        def on_response_complete(self) -> None:
            super().on_response_complete()  # may start a pipelined request at once
            if not self.transport.is_closing():
                if self._in_request():
                    self._headers_done()
                else:
                    self._wait_for_headers()

        def connection_lost(self, exc) -> None:
            self._headers_done()
            limits.open.discard(self)
            super().connection_lost(exc)

        def _in_request(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

        def _check_headers(self) -> None:
            if self._in_request():
                self._headers_done()

        def _wait_for_headers(self, fresh: bool = False) -> None:
            if self._header_timer is None:
                (limits.silent if fresh else limits.waiting)[self] = None
                self._header_timer = self.loop.call_later(limits.header_timeout, self._drop, "header_timeout")

        def _headers_done(self) -> None:
            limits.silent.pop(self, None)
            limits.waiting.pop(self, None)
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _drop(self, reason: str) -> None:
            self._headers_done()
            limits.open.discard(self)
            limits.dropped.labels(reason=reason).inc()
            if not self.transport.is_closing():
                self.transport.close()

    return GuardedH11Protocol


class _OverStreamLimit(Exception):
    pass


class StreamCap:
    """Plain ASGI: a response that starts as a stream beyond `limits.max_streams` becomes a 503."""

    def __init__(self, inner, limits: Limits):
        self.inner = inner
        self.limits = limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.inner(scope, receive, send)
        limits, counted = self.limits, [False]

        async def send_capped(message):
            if message["type"] == "http.response.start" and not counted[0] and _is_stream(message):
                if limits.streams >= limits.max_streams:
                    raise _OverStreamLimit
                limits.streams += 1
                counted[0] = True
            await send(message)

        try:
            await self.inner(scope, receive, send_capped)
        except _OverStreamLimit:
            limits.dropped.labels(reason="stream_limit").inc()
            exc = ApiError(503, f"{limits.max_streams} streams are open; retry shortly", "server_busy", "stream_limit")
            await JSONResponse(error_body(exc), status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})(
                scope, receive, send
            )
        finally:
            if counted[0]:
                limits.streams -= 1


def _is_stream(message) -> bool:
    for name, value in message.get("headers", ()):
        if name.lower() == b"content-type":
            return value.split(b";")[0].strip().lower() in STREAM_TYPES
    return False
