"""OpenAI's chat API: POST /v1/chat/completions, with `stream: true` as server-sent events."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from device.runtime.engine import Completion, DeadlineExceeded, EngineError
from device.runtime.http.api import ApiError, ChatRequest, error_body
from device.runtime.http.state import Server

_STARTED = object()  # the job checked its prompt and starts generating


async def _started(server: Server, fut, pieces: asyncio.Queue) -> None:
    """Wait until the stream's job has checked its prompt; its failure before that raises an ApiError."""
    timeout = server.settings.request_timeout
    getter = asyncio.ensure_future(pieces.get())
    job = asyncio.wrap_future(fut)
    done, _ = await asyncio.wait({getter, job}, timeout=timeout + 1, return_when="FIRST_COMPLETED")
    job.add_done_callback(lambda f: f.cancelled() or f.exception())  # the stream reads its outcome, not this
    if getter in done and getter.result() is _STARTED:
        return
    getter.cancel()
    fut.cancel()
    exc = fut.exception() if fut.done() and not fut.cancelled() else None
    if exc is None or isinstance(exc, DeadlineExceeded):
        raise ApiError(504, f"no reply within {timeout:g} s", "timeout", "timeout")
    if isinstance(exc, EngineError):
        raise ApiError(400, str(exc), "invalid_request_error", "engine_rejected")
    raise exc


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

        loop = asyncio.get_running_loop()
        pieces: asyncio.Queue = asyncio.Queue()
        cancelled = threading.Event()

        def produce(deadline):
            # A prompt that does not fit fails the job here, before the stream (and its 200) starts.
            engine.check_prompt(messages, kwargs["max_tokens"])
            loop.call_soon_threadsafe(pieces.put_nowait, _STARTED)
            for item in engine.stream(messages, deadline=deadline, **kwargs):
                if cancelled.is_set():
                    break
                loop.call_soon_threadsafe(pieces.put_nowait, item)
            return True

        deadline = time.monotonic() + settings.request_timeout
        fut = server.worker.submit(produce, deadline)  # 503 here, before the stream starts
        await _started(server, fut, pieces)  # bad input or a timeout: its 4xx/504 is the HTTP status

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
            yield chunk({"role": "assistant", "content": ""})
            try:
                while True:
                    getter = asyncio.ensure_future(pieces.get())
                    done, _ = await asyncio.wait(
                        {getter, asyncio.wrap_future(fut)},
                        timeout=settings.request_timeout + 1,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if getter not in done:
                        getter.cancel()
                        if fut.done() and pieces.empty():
                            exc = fut.exception()
                            msg = "timed out" if isinstance(exc, DeadlineExceeded) or exc is None else str(exc)
                            yield (
                                "data: "
                                + json.dumps(error_body(ApiError(500 if exc else 504, msg, "server_error")))
                                + "\n\n"
                            )
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
                fut.cancel()  # a client that went away stops the job within a token

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    return r
