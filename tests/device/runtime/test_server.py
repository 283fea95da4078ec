"""The HTTP server, for real: uvicorn on a free port, the SmolLM2 GGUF, httpx and the openai client."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from device.runtime.engine import Engine, EngineSettings
from device.runtime.http.app import Settings, create_app
from device.runtime.http.serve import bind_socket

KEY = "test-key-123"
# Generous: the CPU may be shared with other work; latency is measured by benchmarks, not here.
http = httpx.Client(timeout=180)


class LiveServer:
    """A real uvicorn server in a thread, on a port the OS picked."""

    def __init__(self, app):
        import uvicorn

        self.sock = bind_socket("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if http.get(self.url + "/health").status_code == 200:
                return
            time.sleep(0.05)
        raise AssertionError("server never became ready")

    def stop(self):
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def engine(smollm2_gguf):
    return Engine(EngineSettings(model_path=smollm2_gguf, n_ctx=512, n_threads=2)).load()


@pytest.fixture(scope="module")
def server(engine, smollm2_gguf):
    live = LiveServer(
        create_app(Settings(model_path=smollm2_gguf, model_id="smollm2-test", request_timeout=300), engine=engine)
    )
    live.wait_ready()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def keyed_server(engine, smollm2_gguf):
    live = LiveServer(create_app(Settings(model_path=smollm2_gguf, api_key=KEY, request_timeout=300), engine=engine))
    live.wait_ready()
    yield live
    live.stop()


# -- happy paths ----------------------------------------------------------------------------------------
def test_accepted_connections_have_nagle_off():
    """uvicorn writes a response's head and body apart: with Nagle on, each request after the first
    on a keep-alive connection waited ~40 ms for the client's delayed ACK (benchmarks/RESULTS.md)."""
    import socket

    listener = bind_socket("127.0.0.1", 0)
    listener.listen(1)
    try:
        with socket.create_connection(listener.getsockname()) as client:
            conn, _ = listener.accept()
            with conn:
                assert conn.proto == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY itself only for these
                assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                client.sendall(b"x")
                assert conn.recv(1) == b"x"
    finally:
        listener.close()


def test_health_models_and_commentary_on_text(server):
    health = http.get(server.url + "/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    models = http.get(server.url + "/v1/models").json()
    assert models["data"][0]["id"] == "smollm2-test"
    r = http.post(server.url + "/v1/commentary", json={"event": "Starc to Kohli, FOUR, driven through cover"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"text", "silent", "latency_ms", "tokens"}
    assert body["silent"] == (body["text"] == "")
    assert "!" not in body["text"] and len(body["text"].split()) <= 5
    assert body["outcome"] == "four"


def test_commentary_on_a_cricsheet_delivery(server):
    delivery = {
        "batter": "JE Root",
        "bowler": "PJ Cummins",
        "non_striker": "BA Stokes",
        "runs": {"batter": 0, "extras": 0, "total": 0},
        "wickets": [{"player_out": "JE Root", "kind": "lbw"}],
    }
    r = http.post(
        server.url + "/v1/commentary", json={"delivery": delivery, "context": {"over": 12, "ball": 3, "unknown_key": 1}}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "wicket"
    assert body["silent"] is False  # never silent on a wicket
    assert "!" not in body["text"] and 1 <= len(body["text"].split()) <= 5


def test_openai_client_plain_and_streaming(server):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused")
    messages = [{"role": "user", "content": "Say hello."}]
    plain = client.chat.completions.create(model="smollm2-test", messages=messages, max_tokens=8, temperature=0)
    assert plain.choices[0].message.role == "assistant"
    text = plain.choices[0].message.content
    assert text and plain.usage.completion_tokens >= 1
    stream = client.chat.completions.create(
        model="smollm2-test", messages=messages, max_tokens=8, temperature=0, stream=True
    )
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed == text  # greedy: the same reply either way
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_stream_ends_with_done(server):
    with http.stream(
        "POST",
        server.url + "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "stream": True},
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)


def test_metrics_parse_with_prometheus_parser(server):
    from prometheus_client.parser import text_string_to_metric_families

    http.post(server.url + "/v1/commentary", json={"event": "dot ball"})
    http.post(server.url + "/v1/commentary", json={"event": ""})
    text = http.get(server.url + "/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in (
        "suksham_requests",
        "suksham_errors",
        "suksham_request_seconds",
        "suksham_queue_depth",
        "suksham_completion_tokens",
        "suksham_prompt_tokens_per_second",
        "suksham_generation_tokens_per_second",
        "suksham_time_to_first_token_seconds",
    ):
        assert name in families, name
    ok = [
        s
        for s in families["suksham_requests"].samples
        if s.labels.get("path") == "/v1/commentary" and s.labels.get("code") == "200"
    ]
    assert ok and ok[0].value >= 1
    errors = {s.labels["code"]: s.value for s in families["suksham_errors"].samples if s.name.endswith("_total")}
    assert errors.get("422", 0) >= 1


# -- bad input: a specific 4xx and a JSON error, never a 500 ------------------------------------------

DELIVERY = {"batter": "A", "bowler": "B", "non_striker": "C", "runs": {"batter": 0, "extras": 0, "total": 0}}
BAD = [
    ("malformed json", "/v1/commentary", b'{"event": "FOUR', "application/json", 400),
    ("not json at all", "/v1/commentary", b"four runs", "application/json", 400),
    ("wrong content type", "/v1/commentary", b'{"event": "FOUR"}', "text/plain", 415),
    ("form encoded", "/v1/commentary", b"event=FOUR", "application/x-www-form-urlencoded", 415),
    ("empty body", "/v1/commentary", b"", "application/json", 400),
    ("json array", "/v1/commentary", b'["FOUR"]', "application/json", 422),
    ("json string", "/v1/commentary", b'"FOUR"', "application/json", 422),
    ("empty object", "/v1/commentary", {}, None, 422),
    ("empty event", "/v1/commentary", {"event": ""}, None, 422),
    ("blank event", "/v1/commentary", {"event": "   \n "}, None, 422),
    ("event is a number", "/v1/commentary", {"event": 4}, None, 422),
    ("event is a list", "/v1/commentary", {"event": ["FOUR"]}, None, 422),
    ("huge event", "/v1/commentary", {"event": "FOUR " * 400}, None, 422),
    ("body too large", "/v1/commentary", {"event": "x" * 70000}, None, 413),
    ("event and delivery", "/v1/commentary", {"event": "FOUR", "delivery": DELIVERY}, None, 422),
    ("context without delivery", "/v1/commentary", {"event": "FOUR", "context": {"over": 1}}, None, 422),
    ("delivery is a string", "/v1/commentary", {"delivery": "Starc to Kohli"}, None, 422),
    (
        "unknown dismissal kind",
        "/v1/commentary",
        {"delivery": {**DELIVERY, "wickets": [{"player_out": "A", "kind": "vanished"}]}},
        None,
        422,
    ),
    (
        "negative runs",
        "/v1/commentary",
        {"delivery": {**DELIVERY, "runs": {"batter": -4, "extras": 0, "total": -4}}},
        None,
        422,
    ),
    (
        "deeply nested",
        "/v1/commentary",
        b'{"delivery": ' + b'{"a": ' * 500 + b"1" + b"}" * 501,
        "application/json",
        400,
    ),
    ("chat without messages", "/v1/chat/completions", {"model": "x"}, None, 422),
    ("chat empty messages", "/v1/chat/completions", {"messages": []}, None, 422),
    ("chat bad role", "/v1/chat/completions", {"messages": [{"role": "wizard", "content": "hi"}]}, None, 422),
    ("chat content number", "/v1/chat/completions", {"messages": [{"role": "user", "content": 5}]}, None, 422),
    ("chat message not object", "/v1/chat/completions", {"messages": ["hi"]}, None, 422),
    (
        "chat negative max_tokens",
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": "hi"}], "max_tokens": -5},
        None,
        422,
    ),
    (
        "chat zero max_tokens",
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0},
        None,
        422,
    ),
    (
        "chat temperature too high",
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": "hi"}], "temperature": 9},
        None,
        422,
    ),
    ("chat n=3", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "n": 3}, None, 422),
    (
        "chat ends with assistant",
        "/v1/chat/completions",
        {"messages": [{"role": "assistant", "content": "hi"}]},
        None,
        422,
    ),
    (
        "chat prompt beyond context",
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": "cricket " * 900}]},
        None,
        400,
    ),
]


@pytest.mark.parametrize("name,path,body,ctype,status", BAD, ids=[b[0] for b in BAD])
def test_bad_requests_get_a_specific_4xx_and_a_json_error(server, name, path, body, ctype, status):
    if isinstance(body, bytes):
        r = http.post(server.url + path, content=body, headers={"content-type": ctype})
    else:
        r = http.post(server.url + path, json=body)
    assert r.status_code == status, (name, r.status_code, r.text)
    err = r.json()["error"]
    assert set(err) == {"message", "type", "code"} and err["message"]


def test_unknown_path_and_wrong_method_are_json_errors(server):
    r = http.get(server.url + "/v1/nothing")
    assert r.status_code == 404 and "error" in r.json()
    r = http.get(server.url + "/v1/commentary")
    assert r.status_code == 405 and "error" in r.json()


def test_server_still_answers_after_the_bad_requests(server):
    assert http.get(server.url + "/health").status_code == 200
    assert http.post(server.url + "/v1/commentary", json={"event": "SIX, over long-on"}).status_code == 200


# -- auth, queue, loading ------------------------------------------------------------------------------


def test_api_key_bearer_and_header(keyed_server):
    url = keyed_server.url + "/v1/commentary"
    event = {"event": "dot ball"}
    assert http.post(url, json=event).status_code == 401
    assert http.post(url, json=event, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert http.post(url, json=event, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert http.post(url, json=event, headers={"X-Api-Key": KEY}).status_code == 200
    assert http.get(keyed_server.url + "/v1/models").status_code == 401
    assert http.get(keyed_server.url + "/health").status_code == 200  # health stays open for probes


def test_full_queue_answers_503_with_retry_after(engine, smollm2_gguf):
    live = LiveServer(create_app(Settings(model_path=smollm2_gguf, queue_size=1, request_timeout=300), engine=engine))
    live.wait_ready()
    statuses, lock = [], threading.Lock()

    def send():
        r = http.post(live.url + "/v1/commentary", json={"event": "dot ball"})
        with lock:
            statuses.append((r.status_code, r.headers.get("retry-after"), r.json()))

    try:
        with engine.lock:  # the engine is busy: the worker takes one job and waits, one job queues
            threads = []
            for _ in range(4):
                t = threading.Thread(target=send)
                t.start()
                threads.append(t)
                time.sleep(0.3)
        for t in threads:
            t.join(timeout=60)
    finally:
        live.stop()
    codes = sorted(s[0] for s in statuses)
    assert codes == [200, 200, 503, 503], statuses
    for code, retry_after, body in statuses:
        if code == 503:
            assert retry_after is not None and int(retry_after) >= 1
            assert body["error"]["code"] == "queue_full"


class GatedEngine(Engine):
    """A real engine whose load waits for a signal, so the loading state can be observed."""

    def __init__(self, settings, gate):
        super().__init__(settings)
        self.gate = gate

    def load(self):
        self.gate.wait(30)
        return super().load()


def test_health_is_503_while_loading_then_200(smollm2_gguf):
    gate = threading.Event()
    engine = GatedEngine(EngineSettings(model_path=smollm2_gguf, n_threads=2), gate)
    live = LiveServer(create_app(Settings(model_path=smollm2_gguf), engine=engine))
    try:
        r = http.get(live.url + "/health")
        assert r.status_code == 503 and r.json()["status"] == "loading"
        r = http.post(live.url + "/v1/commentary", json={"event": "FOUR"})
        assert r.status_code == 503 and r.headers.get("retry-after")
        gate.set()
        live.wait_ready()
    finally:
        gate.set()
        live.stop()


def test_a_model_that_fails_to_load_reports_it_on_health(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    live = LiveServer(create_app(Settings(model_path=bad)))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            body = http.get(live.url + "/health").json()
            if body["status"] == "error":
                break
            time.sleep(0.05)
        assert body["status"] == "error" and "could not load" in body["detail"]
    finally:
        live.stop()


def _drain(sock, seconds):

    messages, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            messages.append(sock.recv(4096).decode())
        except TimeoutError:
            break
    return messages


def test_systemd_ready_then_watchdog_only_while_the_engine_answers(engine, smollm2_gguf, tmp_path, monkeypatch):
    """READY=1 after loading; WATCHDOG=1 stops while the engine cannot answer and resumes after."""
    import socket as socket_mod

    path = tmp_path / "notify.sock"
    sock = socket_mod.socket(socket_mod.AF_UNIX, socket_mod.SOCK_DGRAM)
    sock.bind(str(path))
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "600000")  # pings every 0.3 s
    live = LiveServer(create_app(Settings(model_path=smollm2_gguf, request_timeout=300), engine=engine))
    try:
        live.wait_ready()
        first, deadline = [], time.monotonic() + 60  # the first probe may evaluate the whole prompt
        while sum("WATCHDOG=1" in m for m in first) < 2 and time.monotonic() < deadline:
            first += _drain(sock, 0.5)
        assert any("READY=1" in m for m in first), first
        assert sum("WATCHDOG=1" in m for m in first) >= 2, first
        with engine.lock:  # a wedged engine: the probe cannot run, so no proof of life
            _drain(sock, 0.7)  # a ping already under way may still arrive
            held = _drain(sock, 2)
        assert not any("WATCHDOG=1" in m for m in held), held
        after, deadline = [], time.monotonic() + 60
        while not any("WATCHDOG=1" in m for m in after) and time.monotonic() < deadline:
            after += _drain(sock, 0.5)
        assert any("WATCHDOG=1" in m for m in after), after
    finally:
        live.stop()
        sock.close()
