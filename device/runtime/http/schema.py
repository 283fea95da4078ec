"""The API's own description: /openapi.json, /docs and /redoc, behind the key when one is required.

The routes read their bodies raw (to enforce the size limit before parsing), so FastAPI never
learns their models; `describe` adds them (BODIES), the error responses every route can give, the
content types of the streams and the plain-text routes, and the key's security schemes. A route
added without its body here fails tests/device/runtime/test_openapi.py.
"""

from __future__ import annotations

import copy

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from device.runtime.http import matches, ollama
from device.runtime.http.api import ChatRequest, CommentaryRequest
from device.runtime.http.state import Server

# (path, method) -> the model its handler reads with `Server.read_json`
BODIES = {
    ("/v1/commentary", "post"): CommentaryRequest,
    ("/v1/chat/completions", "post"): ChatRequest,
    ("/v1/matches", "post"): matches.MatchRequest,
    ("/v1/matches/{match_id}/deliveries", "post"): matches.DeliveryRequest,
    ("/api/chat", "post"): ollama.ChatBody,
    ("/api/generate", "post"): ollama.GenerateBody,
    ("/api/show", "post"): ollama._ShowBody,
}
# A 200 that is not (only) JSON
CONTENT = {
    ("/metrics", "get"): ["text/plain"],
    ("/v1/chat/completions", "post"): ["application/json", "text/event-stream"],
    ("/v1/matches/{match_id}/events", "get"): ["text/event-stream"],
    ("/api/chat", "post"): ["application/json", "application/x-ndjson"],
    ("/api/generate", "post"): ["application/json", "application/x-ndjson"],
    ("/", "get"): ["text/plain"],
    ("/", "head"): ["text/plain"],
}
# answer without a key (the live page is a static page: it asks for the read key when its fetches get 401)
OPEN = {"/health", "/api/version", "/", "/live/{match_id}"}
MODEL_ROUTES = {  # need the loaded model: 503 while loading or when the queue is full, 504 past the timeout
    ("/v1/commentary", "post"),
    ("/v1/chat/completions", "post"),
    ("/v1/matches/{match_id}/deliveries", "post"),
    ("/api/chat", "post"),
    ("/api/generate", "post"),
}
HIDDEN = {"/api/{rest}"}  # Ollama's catch-all for what it does not serve: a 404, not part of the API
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "code"],
            "properties": {"message": {"type": "string"}, "type": {"type": "string"}, "code": {"type": "string"}},
        }
    },
}
OLLAMA_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
WHY = {
    "400": "Malformed JSON, a lone surrogate in a string, JSON nested too deep, or a prompt beyond the context",
    "401": "Missing or wrong API key",
    "404": "No such match (or model)",
    "409": "The match or delivery conflicts with what the server holds",
    "413": "Body larger than the limit",
    "415": "Body not sent as application/json",
    "422": "The body does not validate, or the event cannot be read",
    "503": "The model is loading, or the queue (or the stream limit) is full; see Retry-After",
    "504": "No reply within the request timeout",
}


def install(app: FastAPI, server: Server) -> None:
    """The description routes, behind `server.authorize`, and `app.openapi` as `describe` makes it."""
    cache: dict = {}

    def openapi() -> dict:
        if "doc" not in cache:
            cache["doc"] = describe(app, server)
        return cache["doc"]

    app.openapi = openapi

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_json(request: Request):
        server.authorize(request)
        return JSONResponse(openapi())

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request):
        server.authorize(request)
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} API")

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request):
        server.authorize(request)
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} API")


def describe(app: FastAPI, server: Server) -> dict:
    doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
    doc = copy.deepcopy(doc)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Error"], schemas["OllamaError"] = ERROR, OLLAMA_ERROR
    keyed = bool(server.settings.api_key)
    if keyed:
        components["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
        }
    for path in HIDDEN:
        doc["paths"].pop(path, None)
    for path, item in doc["paths"].items():
        for method, op in item.items():
            key = (path, method)
            if key in BODIES:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": _ref(BODIES[key], schemas)}},
                }
            if key in CONTENT:
                ok = op.setdefault("responses", {}).setdefault("200", {"description": "Successful Response"})
                ok["content"] = {ctype: {"schema": {}} for ctype in CONTENT[key]}
            errors = _errors(path, method, key, keyed)
            error_schema = {"$ref": "#/components/schemas/" + ("OllamaError" if path.startswith("/api/") else "Error")}
            responses = op.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's HTTPValidationError: our errors have one shape
            for status in errors:
                response = {"description": WHY[status], "content": {"application/json": {"schema": error_schema}}}
                if status == "503":
                    response["headers"] = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
                responses[status] = response
            if keyed and path not in OPEN:
                op["security"] = [{"bearer": []}, {"apiKey": []}]
    return doc


def _errors(path: str, method: str, key, keyed: bool) -> list[str]:
    errors = []
    if key in BODIES:
        errors += ["400", "413", "415", "422"]
    if "{" in path:
        errors += ["404", "422"]
    if path.startswith("/v1/matches"):
        errors += ["409", "422", "503"]
    if key in MODEL_ROUTES:
        errors += ["400", "503", "504"]
    if path == "/health":
        errors += ["503"]
    if path.startswith("/api/") and key in BODIES:
        errors += ["404"]  # Ollama: a model it does not have
    if keyed and path not in OPEN:
        errors += ["401"]
    if path.startswith("/api/"):  # Ollama's API: any Content-Type, and a bad body is a 400 (it has no 422)
        errors = [e for e in errors if e not in ("415", "422")]
    return sorted(set(errors))


def _ref(model, schemas: dict) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}
