"""OpenAI's chat API: POST /v1/chat/completions, with `stream: true` as server-sent events."""

from __future__ import annotations

import json
import time
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from device.runtime.engine import Completion
from device.runtime.http.api import ApiError, ChatRequest, error_body
from device.runtime.http.state import Server, StreamFailed


def router(server: Server) -> APIRouter:
    r = APIRouter()
    settings, metrics = server.settings, server.metrics

    @r.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        server.authorize(request)
        req = await server.read_json(request, ChatRequest)
        commentator = server.ready_commentator()
        engine = commentator.engine
        messages = [m.as_dict() for m in req.messages]
        kwargs = dict(
            max_tokens=min(req.effective_max_tokens(), settings.max_tokens_cap),
            temperature=req.temperature,
            top_p=req.top_p,
            stop=req.stop_list(),
            seed=req.seed,
        )
        created = int(time.time())
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        model_id = settings.model_id

        if not req.stream:
            comp: Completion = await server.run_job(lambda deadline: engine.chat(messages, deadline=deadline, **kwargs))
            metrics.observe_completion(comp)
            return {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": model_id,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": comp.text},
                        "finish_reason": comp.finish_reason,
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": comp.prompt_tokens,
                    "completion_tokens": comp.completion_tokens,
                    "total_tokens": comp.prompt_tokens + comp.completion_tokens,
                },
            }

        # A prompt that does not fit, a full queue or a timeout before the first token: its 4xx/5xx is the
        # HTTP status, before the stream (and its 200) starts.
        pieces = await server.open_stream(engine, messages, kwargs)

        def chunk(delta, finish=None):
            return (
                "data: "
                + json.dumps(
                    {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model_id,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
                    }
                )
                + "\n\n"
            )

        async def events():
            try:
                yield chunk({"role": "assistant", "content": ""})
                async for item in pieces:
                    if isinstance(item, Completion):
                        yield chunk({}, item.finish_reason)
                    else:
                        yield chunk({"content": item})
            except StreamFailed as exc:
                kind = "timeout" if exc.status == 504 else "server_error"
                yield "data: " + json.dumps(error_body(ApiError(exc.status, str(exc), kind))) + "\n\n"
            finally:
                await pieces.aclose()  # a client that went away stops the job within a token
            yield "data: [DONE]\n\n"

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    return r
