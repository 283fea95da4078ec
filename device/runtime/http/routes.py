"""Our own routes: /health, /metrics, /v1/models and /v1/commentary (the Benaud line for one ball)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from device.runtime.http.api import CommentaryRequest
from device.runtime.http.state import Server


def router(server: Server) -> APIRouter:
    r = APIRouter()
    settings, metrics = server.settings, server.metrics

    @r.get("/health")
    async def health():
        if server.commentator is not None:
            return {
                "status": "ok",
                "model": settings.model_id,
                "verified": settings.verified,
                "queue_depth": server.worker.depth,
            }
        status = "error" if server.error else "loading"
        return JSONResponse(
            {"status": status, "detail": server.error},
            status_code=503,
            headers={"Retry-After": str(server.retry_after())},
        )

    @r.get("/metrics")
    async def metrics_endpoint(request: Request):
        server.authorize(request)
        metrics.queue_depth.set(server.worker.depth)
        return PlainTextResponse(metrics.render(), media_type=metrics.content_type)

    @r.get("/v1/models")
    async def models(request: Request):
        server.authorize(request)
        return {
            "object": "list",
            "data": [{"id": settings.model_id, "object": "model", "created": 0, "owned_by": "suksham-benaud"}],
        }

    @r.post("/v1/commentary")
    async def commentary(request: Request):
        server.authorize(request)
        req = await server.read_json(request, CommentaryRequest)
        return await server.commentary_reply(
            text=req.event, delivery=req.delivery, context=req.context, seed=req.seed, temperature=req.temperature
        )

    return r
