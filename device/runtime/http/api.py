"""The server's request and response shapes, its error format and its Prometheus metrics."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_EVENT_CHARS = 1000  # a ball's description; anything longer is not an event
MAX_JSON_DEPTH = 16  # a Cricsheet delivery nests about 4 deep
MAX_MESSAGES = 64
MAX_MESSAGE_CHARS = 8000
MAX_STOP_CHARS = 64  # a stop string is held back while it might still match: bound what is held


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        code: str | None = None,
        retry_after: int | None = None,  # a 503's Retry-After, when it is not the default
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code or str(status)
        self.retry_after = retry_after


def error_body(exc: ApiError) -> dict:
    return {"error": {"message": exc.message, "type": exc.type, "code": exc.code}}


def validation_message(errors: list[dict]) -> str:
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def check_body(obj: Any) -> None:
    """A parsed JSON body the routes may trust: not too deep, and every string (key or value) encodable
    as UTF-8; JSON allows a lone surrogate ("\\ud800"), which nothing after this could encode."""
    check_depth(obj)
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _has_surrogate(item):
                raise ApiError(
                    400,
                    "a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not text",
                    "invalid_request_error",
                    "invalid_unicode",
                )
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def check_depth(obj: Any, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse pathologically nested JSON before anything walks it recursively."""
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise ApiError(400, f"JSON nested deeper than {limit} levels", "invalid_request_error", "too_deep")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


class CommentaryRequest(BaseModel):
    """Either a free-text `event`, or a Cricsheet `delivery` with an optional `context`."""

    # The description says what the validators below enforce: exactly one of the two, context with a delivery.
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["event"],
                    "properties": {
                        "event": {"type": "string"},
                        "delivery": {"type": "null"},
                        "context": {"type": "null"},
                    },
                },
                {"required": ["delivery"], "properties": {"delivery": {"type": "object"}, "event": {"type": "null"}}},
            ]
        },
    )
    event: str | None = Field(default=None, max_length=MAX_EVENT_CHARS, json_schema_extra={"pattern": r"\S"})
    delivery: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)  # same seed and same match memory, same reply
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)  # None: the bundle's; 0: greedy

    @field_validator("event")
    @classmethod
    def _not_blank(cls, v):
        if v is not None and not v.strip():
            raise ValueError("event is empty")
        return v.strip() if v is not None else v

    @model_validator(mode="after")
    def _one_of(self):
        if (self.event is None) == (self.delivery is None):
            raise ValueError("give exactly one of 'event' (text) or 'delivery' (a Cricsheet delivery object)")
        if self.context is not None and self.delivery is None:
            raise ValueError("'context' goes with a 'delivery'")
        return self


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "user", "assistant"]
    content: str | list[TextPart] = Field(...)

    def as_dict(self) -> dict:
        content = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        return {"role": self.role, "content": content}

    @field_validator("content")
    @classmethod
    def _size(cls, v):
        text = v if isinstance(v, str) else "".join(p.text for p in v)
        if len(text) > MAX_MESSAGE_CHARS:
            raise ValueError(f"message longer than {MAX_MESSAGE_CHARS} characters")
        return v


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=MAX_MESSAGES)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    stream: bool = False
    seed: int | None = None
    n: int = Field(default=1, ge=1, le=1)

    @field_validator("stop")
    @classmethod
    def _stops(cls, v):
        if isinstance(v, list) and len(v) > 4:
            raise ValueError("at most 4 stop sequences")
        if any(len(s) > MAX_STOP_CHARS for s in ([v] if isinstance(v, str) else v or [])):
            raise ValueError(f"a stop sequence is longer than {MAX_STOP_CHARS} characters")
        return v

    @model_validator(mode="after")
    def _last_not_assistant(self):
        if self.messages[-1].role == "assistant":
            raise ValueError("the last message must be from the user or the system")
        return self

    def effective_max_tokens(self) -> int:
        return self.max_completion_tokens or self.max_tokens or 16

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)


class Metrics:
    """Prometheus metrics in a registry of the app's own (several apps can live in one process)."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
        from prometheus_client.exposition import CONTENT_TYPE_LATEST

        self.content_type = CONTENT_TYPE_LATEST
        self.registry = r = CollectorRegistry()
        self.requests = Counter("suksham_requests_total", "HTTP requests", ["path", "code"], registry=r)
        self.errors = Counter("suksham_errors_total", "HTTP error responses by status code", ["code"], registry=r)
        self.latency = Histogram(
            "suksham_request_seconds",
            "HTTP request latency",
            ["path"],
            registry=r,
            buckets=(0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 2, 5, 10, 30),
        )
        self.queue_depth = Gauge("suksham_queue_depth", "requests waiting or running in the engine", registry=r)
        self.prompt_tokens = Counter("suksham_prompt_tokens_total", "prompt tokens (rendered)", registry=r)
        self.prompt_eval_tokens = Counter(
            "suksham_prompt_eval_tokens_total", "prompt tokens evaluated (the rest came from the KV cache)", registry=r
        )
        self.completion_tokens = Counter("suksham_completion_tokens_total", "generated tokens", registry=r)
        self.prompt_tps = Histogram(
            "suksham_prompt_tokens_per_second",
            "prompt evaluation speed",
            registry=r,
            buckets=(10, 25, 50, 100, 200, 400, 800, 1600, 3200),
        )
        self.generation_tps = Histogram(
            "suksham_generation_tokens_per_second",
            "generation speed",
            registry=r,
            buckets=(2, 5, 10, 20, 40, 80, 160, 320),
        )
        self.ttft = Histogram(
            "suksham_time_to_first_token_seconds",
            "time to first token",
            registry=r,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
        )
        self.guarded = Counter(
            "suksham_guarded_replies_total", "commentary replies replaced because they broke the manner", registry=r
        )
        self.draws = Histogram(
            "suksham_commentary_draws",
            "samples the guard checked per commentary reply",
            registry=r,
            buckets=(1, 2, 3, 4, 6, 8),
        )
        self.fallbacks = Counter(
            "suksham_commentary_fallbacks_total",
            "commentary replies where no draw passed the guard and the plain line was sent",
            registry=r,
        )

    def observe_request(self, path: str, code: int, seconds: float):
        self.requests.labels(path=path, code=str(code)).inc()
        if code >= 400:
            self.errors.labels(code=str(code)).inc()
        self.latency.labels(path=path).observe(seconds)

    def observe_completion(self, comp) -> None:
        self.prompt_tokens.inc(comp.prompt_tokens)
        self.prompt_eval_tokens.inc(comp.prompt_eval_tokens)
        self.completion_tokens.inc(comp.completion_tokens)
        self.ttft.observe(comp.ttft_ms / 1000)
        pe_ms = comp.timings.get("prompt_eval_ms", 0.0)
        if comp.prompt_eval_tokens > 1 and pe_ms > 0:
            self.prompt_tps.observe(comp.prompt_eval_tokens / (pe_ms / 1000))
        ev_ms, n_ev = comp.timings.get("eval_ms", 0.0), comp.timings.get("n_eval", 0)
        if n_ev > 0 and ev_ms > 0:
            self.generation_tps.observe(n_ev / (ev_ms / 1000))

    def render(self) -> bytes:
        from prometheus_client import generate_latest

        return generate_latest(self.registry)
