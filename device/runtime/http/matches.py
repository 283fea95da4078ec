"""The live match feed (issue 16): the server keeps each match it is fed and comments with the context it derives.

    POST   /v1/matches                       register a match: {"info": {...}, "match_id": "optional"} -> 201
    POST   /v1/matches/{id}/deliveries       one Cricsheet delivery at (innings, over, index) -> reply + "state"
    GET    /v1/matches                       the matches held
    GET    /v1/matches/{id}                  info, innings totals, milestones, result        (read-only)
    GET    /v1/matches/{id}/commentary       the lines said so far                           (read-only)
    GET    /v1/matches/{id}/events           server-sent events: "ball", "line", "deleted"   (read-only)
    DELETE /v1/matches/{id}                  forget a match and its file
    GET    /live/{id}                        the clubhouse page (static HTML, no data of its own)

The state lives in `MatchStore` (durable, bounded); the context comes from `device.commentary.match`; the reply
comes from `Server.commentary_reply`, the one function every route that comments calls. A delivery is stored
before the model is asked, so a client that retries after a timeout or a restart sends a duplicate: nothing counts
twice, and the ball gets the reply it is missing. The read-only routes need no key with `public_live`, and
accept the read key as well as the API key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt
from starlette.concurrency import run_in_threadpool

from device.commentary.delivery import read_event
from device.commentary.events import EventError
from device.runtime import matchstore
from device.runtime.http.api import ApiError, error_body
from device.runtime.http.state import Server
from device.runtime.matchstore import (
    DeliveryError,
    InvalidMatchId,
    MatchConflict,
    MatchError,
    MatchNotFound,
    PositionError,
    StorageError,
    StoreError,
)

LIVE_PAGE = Path(__file__).with_name("live.html")
MAX_STREAM_CLIENTS = 32  # each live stream holds a thread; a clubhouse has a screen or two
STREAM_BACKLOG = 256  # frames a slow stream client may lag behind before it loses the oldest
MAX_OVER = 10_000  # a Test has ~180 overs; this only bounds nonsense
MAX_INDEX = 1_000  # deliveries in one over's list, extras included

log = logging.getLogger("suksham.server")


class MatchRequest(BaseModel):
    """Register a match: Cricsheet's `info` (every key optional) and an optional `match_id`."""

    model_config = ConfigDict(extra="ignore")
    info: dict[str, Any] | None = None
    match_id: str | None = Field(default=None, max_length=80)


class DeliveryRequest(BaseModel):
    """One Cricsheet delivery at its position: innings 1-based, over and index 0-based as in Cricsheet."""

    model_config = ConfigDict(extra="ignore")
    innings: StrictInt = Field(ge=1, le=64)
    over: StrictInt = Field(ge=0, le=MAX_OVER)
    index: StrictInt = Field(ge=0, le=MAX_INDEX)
    delivery: dict[str, Any]
    team: str | None = Field(default=None, max_length=200)
    super_over: StrictBool = False
    comment: StrictBool = True  # false: update the state only (catching up on balls already bowled)


def store_error(exc: Exception) -> ApiError:
    """A store or match error as the API's error: the status says which."""
    message = str(exc)
    if isinstance(exc, MatchNotFound):
        return ApiError(404, message, "invalid_request_error", "match_not_found")
    if isinstance(exc, MatchConflict):
        return ApiError(409, message, "invalid_request_error", "match_conflict")
    if isinstance(exc, InvalidMatchId):
        return ApiError(422, message, "invalid_request_error", "invalid_match_id")
    if isinstance(exc, StorageError):
        return ApiError(503, message, "server_busy", "storage_error")
    if isinstance(exc, DeliveryError | MatchError):
        return ApiError(422, message, "invalid_request_error", "invalid_delivery")
    return ApiError(500, message, "server_error", "store_error")


async def call_store(fn, *args, **kwargs):
    """Run a store call off the event loop (it takes a lock and fsyncs) and turn its errors into ApiErrors."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except (StoreError, MatchError) as exc:
        raise store_error(exc) from None


def position_conflict(exc: PositionError) -> JSONResponse:
    """409 in the house format, with the positions the match accepts next."""
    body = error_body(ApiError(409, str(exc), "invalid_request_error", "out_of_order"))
    body["error"]["accepted"] = exc.accepted_dicts()
    return JSONResponse(body, status_code=409)


def quiet_reply(delivery: dict, context: dict) -> dict:
    """The reply to a `comment: false` ball: the fields of /v1/commentary, and nothing said."""
    try:
        outcome = read_event(delivery=delivery, context=context).outcome
    except EventError:
        outcome = None
    return {
        "text": "",
        "silent": True,
        "latency_ms": 0.0,
        "tokens": 0,
        "outcome": outcome,
        "guarded": False,
        "commented": False,
    }


class StoreCollector:
    """The match store's counters as Prometheus metrics, read when /metrics is scraped."""

    def __init__(self, server: Server):
        self.server = server

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        if self.server._store is None:  # never fed a match: nothing to count, and no folder made
            stats = dict.fromkeys(
                ("matches_in_memory", "matches_on_disk", "deliveries_fed", "corrections", "duplicates"), 0
            )
            stats["stream_clients"] = 0
        else:
            stats = self.server.store.stats()
        yield GaugeMetricFamily("suksham_matches_held", "matches held in memory", value=stats["matches_in_memory"])
        yield GaugeMetricFamily("suksham_matches_on_disk", "match files kept", value=stats["matches_on_disk"])
        yield CounterMetricFamily(
            "suksham_match_deliveries", "deliveries fed (new and corrected)", value=stats["deliveries_fed"]
        )
        yield CounterMetricFamily("suksham_match_corrections", "deliveries corrected", value=stats["corrections"])
        yield CounterMetricFamily(
            "suksham_match_duplicates", "deliveries sent again (counted once)", value=stats["duplicates"]
        )
        yield GaugeMetricFamily("suksham_stream_clients", "live event streams open", value=stats["stream_clients"])


async def stream_frames(sub: matchstore.Subscription):
    """The subscription's SSE frames without blocking the event loop.

    A thread of the stream's own runs `sub.frames()` (a blocking queue, keep-alive comments every 15 s) and
    hands each frame to the loop; when the client goes, closing the subscription wakes and ends that thread at
    once. The shared threadpool is left for the routes.
    """
    loop = asyncio.get_running_loop()
    frames: asyncio.Queue = asyncio.Queue()
    end = object()

    def offer(frame) -> None:
        if frames.qsize() >= STREAM_BACKLOG and frame is not end:
            frames.get_nowait()  # a client that cannot keep up loses the oldest frame
        frames.put_nowait(frame)

    def pump() -> None:
        try:
            for frame in sub.frames(matchstore.KEEPALIVE_S):
                loop.call_soon_threadsafe(offer, frame)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is gone: the server stopped
                loop.call_soon_threadsafe(offer, end)

    threading.Thread(target=pump, name=f"suksham-sse-{sub.match_id}", daemon=True).start()
    try:
        while True:
            frame = await frames.get()
            if frame is end:
                return
            yield frame
    finally:
        sub.close()


def router(server: Server) -> APIRouter:
    r = APIRouter()
    server.metrics.registry.register(StoreCollector(server))
    # Replies being made, so that a duplicate sent meanwhile waits for the same reply: key -> (generation, future).
    making: dict[tuple, tuple[int, asyncio.Future]] = {}
    generation: dict[tuple, int] = {}  # bumped by each correction: a stale reply is not recorded

    @r.post(
        "/v1/matches",
        status_code=201,
        responses={200: {"description": "Already registered with the same info: nothing changed"}},
    )
    async def register(request: Request):
        server.authorize(request)
        req = await server.read_json(request, MatchRequest)
        match_id, created = await call_store(server.store.register, req.info, req.match_id)
        return JSONResponse({"match_id": match_id, "created": created}, status_code=201 if created else 200)

    @r.get("/v1/matches")
    async def list_matches(request: Request):
        server.authorize(request)
        return {"matches": await call_store(server.store.list_matches)}

    @r.get("/v1/matches/{match_id}")
    async def summary(match_id: str, request: Request):
        server.authorize_read(request)
        return {"match_id": match_id, **await call_store(server.store.summary, match_id)}

    @r.get("/v1/matches/{match_id}/commentary")
    async def commentary(match_id: str, request: Request):
        server.authorize_read(request)  # the live page reads it too
        return {"lines": await call_store(server.store.commentary, match_id)}

    @r.delete("/v1/matches/{match_id}")
    async def delete(match_id: str, request: Request):
        server.authorize(request)
        await call_store(server.store.delete, match_id)
        for key in [k for k in generation if k[0] == match_id]:
            del generation[key]
        return {"match_id": match_id, "deleted": True}

    @r.get("/v1/matches/{match_id}/events")
    async def events(match_id: str, request: Request):
        server.authorize_read(request)
        store = server.store
        if (await run_in_threadpool(store.stats))["stream_clients"] >= MAX_STREAM_CLIENTS:
            raise ApiError(503, f"at most {MAX_STREAM_CLIENTS} live streams at once", "server_busy", "too_many_streams")
        sub = await call_store(store.subscribe, match_id)
        return StreamingResponse(
            stream_frames(sub),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @r.get("/live/{match_id}", response_class=HTMLResponse)
    async def live(match_id: str):
        # Open to all: a browser cannot send a key when it loads a page. The page holds no data; the routes it
        # reads (summary, commentary, events) ask for the read key unless the server runs with public_live.
        if not matchstore.MATCH_ID.match(match_id):
            raise ApiError(404, f"no match {match_id!r}", "invalid_request_error", "match_not_found")
        return HTMLResponse(LIVE_PAGE.read_text(encoding="utf-8"), headers={"Cache-Control": "no-cache"})

    @r.post("/v1/matches/{match_id}/deliveries")
    async def deliveries(match_id: str, request: Request):
        server.authorize(request)
        req = await server.read_json(request, DeliveryRequest)
        if req.comment:
            server.ready_commentator()  # 503 while loading, before the ball is counted
            read_event(delivery=req.delivery)  # an unreadable ball is a 422 before it is counted
        try:
            result = await run_in_threadpool(
                server.store.feed,
                match_id,
                req.innings,
                req.over,
                req.index,
                req.delivery,
                team=req.team,
                super_over=req.super_over,
            )
        except PositionError as exc:
            return position_conflict(exc)
        except (StoreError, MatchError) as exc:
            raise store_error(exc) from None
        pos = (req.innings, req.over, req.index)
        key = (match_id, *pos)
        if result.status == "correction":
            generation[key] = generation.get(key, 0) + 1
        reply = await reply_for(key, result, req)
        return {**reply, "status": result.status, "state": result.state}

    async def reply_for(key: tuple, result, req: DeliveryRequest) -> dict:
        match_id, pos = key[0], key[1:]
        gen = generation.get(key, 0)
        if result.status == "duplicate":
            stored = await call_store(server.store.reply_at, match_id, *pos)
            if stored is not None:
                return stored
            pending = making.get(key)
            if pending is not None and pending[0] == gen:
                with contextlib.suppress(ApiError):  # it failed: make the reply here instead
                    return await asyncio.shield(pending[1])
        if not req.comment:
            return quiet_reply(req.delivery, result.context)
        future = asyncio.get_running_loop().create_future()
        making[key] = (gen, future)
        try:
            reply = {**await server.commentary_reply(delivery=req.delivery, context=result.context), "commented": True}
            if generation.get(key, 0) == gen:  # not corrected while the model spoke
                try:
                    await run_in_threadpool(server.store.record_reply, match_id, *pos, reply)
                except MatchNotFound:
                    pass  # deleted meanwhile: the reply stands
                except StoreError as exc:  # not kept: a duplicate later asks the model again
                    log.warning("could not keep the reply for %s: %s", key, exc)
            future.set_result(reply)
            return reply
        except BaseException as exc:
            future.set_exception(exc if isinstance(exc, ApiError) else ApiError(500, "internal error", "server_error"))
            future.exception()  # retrieved: a future nobody waits on must not warn
            raise
        finally:
            if making.get(key, (None, None))[1] is future:
                del making[key]

    return r
