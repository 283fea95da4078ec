"""Ollama's API, so that Ollama's clients (the Python and JavaScript libraries, `ollama` with OLLAMA_HOST, editor
and home-automation plugins) talk to a device with no Ollama installed.

POST /api/chat and /api/generate stream NDJSON by default (one JSON object and a newline per chunk); the last
chunk says `done: true` with Ollama's counters, durations in nanoseconds. One user message (with or without a
system message) to our model, or a generate call without `raw: true`, is one event: its reply comes from
`Server.commentary_reply`, the same reader, outcome line and guard as /v1/commentary. Longer conversations and
raw prompts go to the engine as plain chat. GET /api/tags, POST /api/show, GET /api/ps and GET /api/version
describe the one model; GET / answers "Ollama is running". Errors are Ollama's `{"error": "..."}`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from device.commentary.events import EventError
from device.commentary.match import CONTEXT_KEYS
from device.runtime.bundle import MANIFEST, MODELFILE_NAME, bundle_quants, sha256_file
from device.runtime.engine import Completion
from device.runtime.gguf_header import GGUFError, model_shape, read_metadata
from device.runtime.http.api import MAX_MESSAGE_CHARS, MAX_MESSAGES, MAX_STOP_CHARS, ApiError
from device.runtime.http.state import Server, StreamFailed
from device.settings import RETRY_AFTER_S, version

# The Ollama API level these routes follow; clients that compare versions see a recent Ollama.
OLLAMA_API_VERSION = "0.12.0"
NDJSON = "application/x-ndjson"
# Ollama's defaults for what neither the request nor the Modelfile sets.
OLLAMA_DEFAULTS = {"temperature": 0.8, "top_k": 40, "top_p": 0.9, "min_p": 0.0}
CONTEXT_OPTION_KEYS = frozenset(CONTEXT_KEYS) | {"note"}  # options that are the event's context, not sampling
# llama.cpp's general.file_type values, as Ollama names them in `quantization_level`
FILE_TYPES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S"}
FILE_TYPES |= {12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K"}
FILE_TYPES |= {32: "BF16"}
MAX_STOPS = 8  # a Modelfile's stops plus a client's own
NEVER = "2318-01-01T00:00:00Z"  # a loaded model's expiry: this server never unloads it


# -- requests ---------------------------------------------------------------------------------------------------
class Options(BaseModel):
    """Ollama's `options`: the sampling keys we map, and the event's context keys (match_id, score, ...)."""

    model_config = ConfigDict(extra="allow")
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)
    num_predict: int | None = None  # -1 (or any value < 1): as many as the cap allows
    seed: int | None = None  # Ollama's -1 (or any negative): no fixed seed
    stop: list[str] | str | None = None

    @field_validator("seed")
    @classmethod
    def _seed(cls, v):
        return None if v is None or v < 0 else v % 2**32

    @field_validator("stop")
    @classmethod
    def _stops(cls, v):
        stops = [v] if isinstance(v, str) else v or []
        if len(stops) > MAX_STOPS or any(len(s) > MAX_STOP_CHARS for s in stops):
            raise ValueError(f"at most {MAX_STOPS} stop strings of at most {MAX_STOP_CHARS} characters")
        return v

    def context(self) -> dict:
        return {k: v for k, v in (self.model_extra or {}).items() if k in CONTEXT_OPTION_KEYS and v is not None}


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = Field(..., min_length=1)
    stream: bool | None = None
    options: Options = Field(default_factory=Options)

    @field_validator("options", mode="before")
    @classmethod
    def _no_options(cls, v):
        return {} if v is None else v

    keep_alive: float | int | str | None = None  # accepted; the model stays loaded whatever it says
    format: Any = None
    images: list[Any] | None = None
    think: bool | str | None = None

    def refuse_unsupported(self) -> None:
        if self.format not in (None, ""):
            raise ApiError(400, "format (JSON output) is not supported by this model; leave it out")
        if self.images:
            raise ApiError(400, "images are not supported: this model reads text only")
        if self.think not in (None, False):
            raise ApiError(400, f'"{self.model}" does not support thinking; leave "think" out')


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant", "tool"]
    content: str = Field(default="", max_length=MAX_MESSAGE_CHARS)
    images: list[Any] | None = None
    tool_calls: list[Any] | None = None


class ChatBody(_Body):
    messages: list[Message] = Field(default_factory=list, max_length=MAX_MESSAGES)
    tools: list[Any] | None = None

    def refuse_unsupported(self) -> None:
        super().refuse_unsupported()
        if self.tools or any(m.role == "tool" or m.tool_calls for m in self.messages):
            raise ApiError(400, f'"{self.model}" does not support tools; leave "tools" out')
        if any(m.images for m in self.messages):
            raise ApiError(400, "images are not supported: this model reads text only")

    def event_text(self) -> str | None:
        """The event when the conversation is one user message (system messages aside): what `ollama run` sends."""
        rest = [m for m in self.messages if m.role != "system"]
        if len(rest) == 1 and rest[0].role == "user" and rest[0].content.strip():
            return rest[0].content
        return None


class GenerateBody(_Body):
    prompt: str | None = Field(default=None, max_length=MAX_MESSAGE_CHARS)
    system: str | None = None
    suffix: str | None = None
    raw: bool = False
    context: list[int] | None = None  # a previous reply's tokens; each event stands alone here

    def refuse_unsupported(self) -> None:
        super().refuse_unsupported()
        if self.suffix:
            raise ApiError(400, "suffix (fill-in-the-middle) is not supported by this model")


# -- the model, as Ollama describes it ------------------------------------------------------------------------------
@dataclass
class ModelCard:
    name: str  # "suksham-benaud:latest"
    path: Path
    size: int
    modified_at: str
    manifest: dict | None
    metadata: dict
    modelfile: str
    parameters: dict[str, list[str]]  # PARAMETER lines of the Modelfile, in order
    template: str
    system: str | None
    _digest: str | None = None

    @classmethod
    def load(cls, model_id: str, path: Path) -> ModelCard:
        path = Path(path)
        manifest = _bundle_manifest(path)
        metadata = read_metadata(path)
        modelfile_path = path.parent / MODELFILE_NAME
        if manifest is not None and modelfile_path.is_file():
            modelfile = modelfile_path.read_text(encoding="utf-8")
        else:
            modelfile = f"# served by suksham from a GGUF (no bundle, no Modelfile)\nFROM {path}\n"
        parameters, template, system = parse_modelfile(modelfile)
        stat = path.stat()
        digest = manifest["files"].get(path.name) if manifest else None
        return cls(
            name=f"{model_id}:latest",
            path=path,
            size=stat.st_size,
            modified_at=_rfc3339(stat.st_mtime),
            manifest=manifest,
            metadata=metadata,
            modelfile=modelfile,
            parameters=parameters,
            template=template or str(metadata.get("tokenizer.chat_template", "")),
            system=system,
            _digest=digest,
        )

    async def digest(self) -> str:
        """The GGUF's sha256: the manifest's for a bundle, else computed once (off the event loop)."""
        if self._digest is None:
            self._digest = await asyncio.to_thread(sha256_file, self.path)
        return self._digest

    def details(self) -> dict:
        meta = self.metadata
        family = str(meta.get("general.architecture", ""))
        quant = _served_quant(self.manifest, self.path.name) if self.manifest else None
        quant = quant or FILE_TYPES.get(meta.get("general.file_type"), "unknown")
        return {
            "parent_model": "",
            "format": "gguf",
            "family": family,
            "families": [family] if family else None,
            "parameter_size": _parameter_size(meta),
            "quantization_level": quant,
        }

    def model_info(self) -> dict:
        """The GGUF's metadata keys; long arrays (vocabulary, merges) are null, as in Ollama's non-verbose show."""
        out = {}
        for key, value in self.metadata.items():
            if key in ("GGUF.version", "tokenizer.chat_template"):
                continue
            out[key] = None if isinstance(value, dict) else value
        return out

    def parameters_text(self) -> str:
        return "\n".join(f"{k:<30} {_quote(v)}" for k, vs in self.parameters.items() for v in vs)

    def sampling_defaults(self) -> dict:
        """Sampling when the request leaves a key out: the Modelfile's PARAMETERs, else Ollama's defaults."""
        out = dict(OLLAMA_DEFAULTS)
        for key, cast in (("temperature", float), ("top_p", float), ("min_p", float), ("top_k", int)):
            if key in self.parameters:
                out[key] = cast(self.parameters[key][-1])
        if "num_predict" in self.parameters:
            out["num_predict"] = int(self.parameters["num_predict"][-1])
        out["stop"] = list(self.parameters.get("stop", []))
        return out


def _bundle_manifest(gguf: Path) -> dict | None:
    """The manifest of the bundle this GGUF sits in, when it names this GGUF (else a bare --model file)."""
    try:
        manifest = json.loads((gguf.parent / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return None
    return manifest if _served_quant(manifest, gguf.name) else None  # the default, or --quant's file


def _served_quant(manifest: dict, file: str) -> str | None:
    """The bundle's name for the quant in `file` (the default or one of its `quants`), else None."""
    try:
        quants = bundle_quants(manifest)
    except (AttributeError, KeyError, TypeError):  # a malformed quants table: no file is the bundle's
        return None
    return next((quant for quant, name in quants.items() if name == file), None)


_MULTI = re.compile(r'"""(.*?)"""', re.S)


def parse_modelfile(text: str) -> tuple[dict[str, list[str]], str, str | None]:
    """(PARAMETERs by name, TEMPLATE, SYSTEM) of a Modelfile; triple-quoted values may span lines."""
    parameters: dict[str, list[str]] = {}
    template, system = "", None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word, rest = word.upper(), rest.strip()
        if rest.startswith('"""'):
            while '"""' not in rest[3:] and i < len(lines):
                rest += "\n" + lines[i]
                i += 1
            m = _MULTI.match(rest)
            rest = m.group(1) if m else rest.strip('"')
        if word == "PARAMETER":
            name, _, value = rest.partition(" ")
            parameters.setdefault(name.lower(), []).append(value.strip().strip('"'))
        elif word == "TEMPLATE":
            template = rest
        elif word == "SYSTEM":
            system = rest
    return parameters, template, system


def _quote(value: str) -> str:
    return f'"{value}"' if not re.fullmatch(r"-?[0-9.]+", value) else value


def _parameter_size(meta: dict) -> str:
    if meta.get("general.size_label"):
        return str(meta["general.size_label"])
    try:  # a llama-style estimate from the shape: embeddings, attention and a gated FFN per layer
        s = model_shape(meta)
    except GGUFError:
        return "unknown"
    per_layer = s.n_embd * s.n_head * (s.head_dim_k + s.head_dim_v) + 2 * s.n_embd * s.n_head_kv * s.head_dim_k
    n = s.n_vocab * s.n_embd + s.n_layer * (per_layer + 3 * s.n_embd * s.n_ff)
    return f"{n / 1e9:.1f}B" if n >= 1e9 else f"{round(n / 1e6)}M"


def _rfc3339(ts: float | None = None) -> str:
    moment = datetime.fromtimestamp(ts, timezone.utc) if ts is not None else datetime.now(timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")


# -- responses ----------------------------------------------------------------------------------------------------
def error_response(status: int, message: str, retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after or RETRY_AFTER_S)} if status == 503 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def ollama_errors(handler):
    """Ollama's error shape and statuses: a bad body or event is a 400 (Ollama has no 422)."""

    @functools.wraps(handler)
    async def wrapped(request: Request):
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(400 if exc.status == 422 else exc.status, exc.message, exc.retry_after)
        except EventError as exc:
            return error_response(400, str(exc))

    return wrapped


def _ns(ms: float) -> int:
    return int(ms * 1_000_000)


def completion_stats(comp: Completion, start: float) -> dict:
    return {
        "total_duration": _ns((time.perf_counter() - start) * 1000),
        "load_duration": 0,  # the model was loaded at start and stays loaded
        "prompt_eval_count": comp.prompt_tokens,
        "prompt_eval_duration": _ns(comp.timings.get("prompt_eval_ms", 0.0)),
        "eval_count": comp.completion_tokens,
        "eval_duration": _ns(comp.timings.get("eval_ms", 0.0)),
    }


def reply_stats(reply: dict, start: float) -> dict:
    """The counters of a commentary reply: the engine's, when `commentary_reply` gives them."""
    latency = reply.get("latency_ms", 0.0)
    return {
        "total_duration": _ns((time.perf_counter() - start) * 1000),
        "load_duration": 0,
        "prompt_eval_count": reply.get("prompt_tokens", 0),
        "prompt_eval_duration": _ns(reply.get("prompt_eval_ms", 0.0)),
        "eval_count": reply.get("tokens", 0),
        "eval_duration": _ns(reply.get("eval_ms", latency)),
    }


def _line(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":")) + "\n"


# -- the router -------------------------------------------------------------------------------------------------
def router(server: Server) -> APIRouter:
    r = APIRouter()
    settings, metrics = server.settings, server.metrics
    card: list[ModelCard] = []  # loaded on first use: a GGUF header read and the Modelfile

    async def model_card() -> ModelCard:
        if not card:
            try:  # off the event loop: the header holds the whole vocabulary
                card.append(await asyncio.to_thread(ModelCard.load, settings.model_id, settings.model_path))
            except (OSError, GGUFError) as exc:
                raise ApiError(500, f"cannot read the model file: {exc}", "server_error") from None
        return card[0]

    async def check_model(name: str) -> ModelCard:
        if name not in (settings.model_id, f"{settings.model_id}:latest"):
            raise ApiError(404, f"model '{name}' not found; this device serves '{settings.model_id}:latest'")
        return await model_card()

    async def read_body(request: Request, model):
        # Any Content-Type: Ollama's documented examples are `curl -d`, which sends a form type.
        return await server.read_json(request, model, any_type=True)

    def sampling(body: _Body, mc: ModelCard) -> dict:
        o, d = body.options, mc.sampling_defaults()
        num_predict = o.num_predict if o.num_predict is not None else d.get("num_predict", -1)
        cap = settings.max_tokens_cap
        stop = o.stop if o.stop is not None else d["stop"]
        return dict(
            max_tokens=cap if num_predict < 1 else min(num_predict, cap),
            temperature=o.temperature if o.temperature is not None else d["temperature"],
            top_p=o.top_p if o.top_p is not None else d["top_p"],
            top_k=o.top_k if o.top_k is not None else d["top_k"],
            min_p=o.min_p if o.min_p is not None else d["min_p"],
            stop=[stop] if isinstance(stop, str) else list(stop),
            seed=o.seed,
        )

    async def comment(text: str, options: Options) -> dict:
        # The ONE commentary function, as /v1/commentary calls it: the event's context (match_id, which keys
        # the match's memory, and the rest) rides in `options`, with seed and temperature.
        return await server.commentary_reply(
            text=text.strip(), context=options.context() or None, seed=options.seed, temperature=options.temperature
        )

    async def respond(body: _Body, start: float, shape, *, reply: dict | None = None, prompt=None):
        """A commentary `reply` already made, or a plain `prompt` (messages or a raw string) for the engine,
        as one JSON object or as an NDJSON stream. `shape(text, done, extra)` makes one chunk."""
        stream = body.stream is not False
        if reply is not None:
            final = {"done_reason": "stop", **reply_stats(reply, start)}
            if not stream:
                return shape(reply["text"], True, final)
            lines = ([_line(shape(reply["text"], False, {}))] if reply["text"] else []) + [
                _line(shape("", True, final))
            ]
            return StreamingResponse(iter(lines), media_type=NDJSON)
        engine = server.ready_commentator().engine
        kwargs = sampling(body, await model_card())
        if not stream:
            return await _complete(engine, prompt, kwargs, start, shape)
        return await _stream(engine, prompt, kwargs, start, shape)

    async def _complete(engine, prompt, kwargs, start, shape):
        comp: Completion = await server.run_job(lambda deadline: engine.chat(prompt, deadline=deadline, **kwargs))
        metrics.observe_completion(comp)
        return shape(comp.text, True, {"done_reason": comp.finish_reason, **completion_stats(comp, start)})

    async def _stream(engine, prompt, kwargs, start, shape):
        pieces = await server.open_stream(engine, prompt, kwargs)  # 400/503/504 before the stream's 200

        async def lines():
            try:
                async for item in pieces:
                    if isinstance(item, Completion):
                        final = {"done_reason": item.finish_reason, **completion_stats(item, start)}
                        yield _line(shape("", True, final))
                    else:
                        yield _line(shape(item, False, {}))
            except StreamFailed as exc:
                yield _line({"error": str(exc)})
            finally:
                await pieces.aclose()

        return StreamingResponse(lines(), media_type=NDJSON, headers={"Cache-Control": "no-cache"})

    def loaded_reply(body: _Body, shape):
        """Ollama's answer to a request with nothing to say (how clients load a model): done at once."""
        final = {"done_reason": "load"}
        if body.stream is False:
            return shape("", True, final)
        return StreamingResponse(iter([_line(shape("", True, final))]), media_type=NDJSON)

    # -- generation ------------------------------------------------------------------------------------------------
    @r.post("/api/chat")
    @ollama_errors
    async def chat(request: Request):
        start = time.perf_counter()
        server.authorize(request)
        body = await read_body(request, ChatBody)
        await check_model(body.model)
        body.refuse_unsupported()

        def shape(text, done, extra):
            return {
                "model": body.model,
                "created_at": _rfc3339(),
                "message": {"role": "assistant", "content": text},
                "done": done,
                **extra,
            }

        server.ready_commentator()
        if not body.messages:
            return loaded_reply(body, shape)
        if body.messages[-1].role == "assistant":
            raise ApiError(400, "the last message must be from the user or the system")
        event = body.event_text()
        if event is not None:
            return await respond(body, start, shape, reply=await comment(event, body.options))
        messages = [{"role": m.role, "content": m.content} for m in body.messages]
        return await respond(body, start, shape, prompt=messages)

    @r.post("/api/generate")
    @ollama_errors
    async def generate(request: Request):
        start = time.perf_counter()
        server.authorize(request)
        body = await read_body(request, GenerateBody)
        await check_model(body.model)
        body.refuse_unsupported()

        def shape(text, done, extra):
            return {"model": body.model, "created_at": _rfc3339(), "response": text, "done": done, **extra}

        server.ready_commentator()
        if not (body.prompt or "").strip():
            return loaded_reply(body, shape)
        if body.raw:  # untemplated: the prompt is the model's whole input
            return await respond(body, start, shape, prompt=body.prompt)
        return await respond(body, start, shape, reply=await comment(body.prompt, body.options))

    # -- the model -------------------------------------------------------------------------------------------------
    async def describe(mc: ModelCard) -> dict:
        return {
            "name": mc.name,
            "model": mc.name,
            "size": mc.size,
            "digest": await mc.digest(),
            "details": mc.details(),
        }

    @r.get("/api/tags")
    @ollama_errors
    async def tags(request: Request):
        server.authorize(request)
        mc = await model_card()
        return {"models": [{**await describe(mc), "modified_at": mc.modified_at}]}

    @r.post("/api/show")
    @ollama_errors
    async def show(request: Request):
        server.authorize(request)
        body = await read_body(request, _ShowBody)
        mc = await check_model(body.model)
        out = {
            "modelfile": mc.modelfile,
            "parameters": mc.parameters_text(),
            "template": mc.template,
            "details": mc.details(),
            "model_info": mc.model_info(),
            "capabilities": ["completion"],
            "modified_at": mc.modified_at,
        }
        if mc.system is not None:
            out["system"] = mc.system
        if mc.metadata.get("general.license"):
            out["license"] = str(mc.metadata["general.license"])
        return out

    @r.get("/api/ps")
    @ollama_errors
    async def ps(request: Request):
        server.authorize(request)
        if server.commentator is None:
            return {"models": []}
        mc = await model_card()
        return {
            "models": [{**await describe(mc), "expires_at": NEVER, "size_vram": 0, "context_length": settings.n_ctx}]
        }

    @r.get("/api/version")
    async def api_version():
        return {"version": OLLAMA_API_VERSION, "suksham": version()}

    @r.api_route("/", methods=["GET", "HEAD"])
    async def root():
        return PlainTextResponse("Ollama is running")

    @r.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "HEAD"])
    async def not_served(rest: str):
        return error_response(404, f"/api/{rest} is not served by this device (suksham serves one built-in model)")

    return r


class _ShowBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = Field(..., min_length=1)
    verbose: bool = False

    @model_validator(mode="before")
    @classmethod
    def _name(cls, data):
        if isinstance(data, dict) and "model" not in data and "name" in data:  # older clients
            return {**data, "model": data["name"]}
        return data
