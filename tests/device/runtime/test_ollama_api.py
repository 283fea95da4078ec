"""Ollama's API (issue 18) with the official clients, unchanged: the `ollama` Python package and the `ollama` npm
package under Node, against a real uvicorn server on a free port serving a bundle around the SmolLM2 GGUF."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import httpx
import ollama
import pytest

from device.commentary.render import ALL_KEYS
from device.runtime.bundle import GGUF_NAME, MODELFILE_NAME, sha256_file, write_manifest
from device.runtime.engine import Engine, EngineSettings
from device.runtime.gguf_header import read_metadata
from device.runtime.http.app import Settings, create_app
from device.runtime.http.ollama import parse_modelfile
from device.runtime.http.serve import ServeError, bind_socket, listen
from device.runtime.service import Sampling
from tests.device.runtime.test_server import LiveServer, http

KEY = "ollama-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
REPO = Path(__file__).resolve().parents[3]
FOUR = "Starc to Kohli, FOUR, driven through cover"
# Sampled, with re-draws and a match memory: the same seed gives the same reply on every route.
SAMPLED = Sampling(temperature=1.0, top_p=0.95, min_p=0.05, draws=4, memory=8, context_keys=ALL_KEYS)
NPM_CACHE = Path(os.environ.get("SUKSHAM_NPM_CACHE", Path.home() / ".cache" / "suksham" / "npm"))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, smollm2_gguf):
    """A sealed bundle with the repo's own Modelfile.benaud, as `suksham build` lays one out."""
    folder = tmp_path_factory.mktemp("ollama-bundle")
    shutil.copyfile(smollm2_gguf, folder / GGUF_NAME)
    shutil.copyfile(REPO / MODELFILE_NAME, folder / MODELFILE_NAME)
    write_manifest(folder, {"n_ctx": 512, "quant_type": "Q4_1"})
    return folder


@pytest.fixture(scope="module")
def engine(smollm2_gguf):
    # One thread: on a shared CPU spinning OpenMP threads collapse decode (benchmarks/RESULTS.md)
    return Engine(EngineSettings(model_path=smollm2_gguf, n_ctx=512, n_threads=1)).load()


@pytest.fixture(scope="module")
def server(engine, bundle):
    settings = Settings(
        model_path=bundle / GGUF_NAME, model_id="suksham-benaud", api_key=KEY, request_timeout=300, sampling=SAMPLED
    )
    live = LiveServer(create_app(settings, engine=engine))
    live.wait_ready()
    yield live
    live.stop()


@pytest.fixture
def client(server):
    return ollama.Client(host=server.url, headers=AUTH, timeout=300)


def stats_ok(final):
    assert final.done is True and final.done_reason in ("stop", "length")
    for name in ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count"):
        assert isinstance(getattr(final, name), int), name
    assert final.total_duration > 0 and isinstance(final.eval_duration, int)


# -- the Python client ------------------------------------------------------------------------------------------
def test_chat_is_the_commentary_line(client):
    reply = client.chat(model="suksham-benaud", messages=[{"role": "user", "content": FOUR}], stream=False)
    assert isinstance(reply, ollama.ChatResponse)
    assert reply.message.role == "assistant" and isinstance(reply.message.content, str)
    assert "!" not in reply.message.content and len(reply.message.content.split()) <= 5  # the guard ran
    stats_ok(reply)
    assert reply.model == "suksham-benaud"


def test_chat_streams_ndjson_and_ends_with_the_counters(client):
    chunks = list(client.chat(model="suksham-benaud:latest", messages=[{"role": "user", "content": FOUR}], stream=True))
    assert chunks[-1].done and all(not c.done for c in chunks[:-1])
    assert chunks[-1].message.role == "assistant" and chunks[-1].message.content == ""  # present, even empty
    stats_ok(chunks[-1])
    text = "".join(c.message.content for c in chunks)
    assert "!" not in text and len(text.split()) <= 5


def test_a_longer_conversation_is_plain_chat_through_the_engine(client):
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "Blue."},
        {"role": "user", "content": "Name another one."},
    ]
    chunks = list(client.chat(model="suksham-benaud", messages=messages, stream=True, options={"num_predict": 6}))
    final = chunks[-1]
    stats_ok(final)
    assert final.eval_count <= 6 and final.prompt_eval_count > 20  # the whole conversation was the prompt
    whole = client.chat(model="suksham-benaud", messages=messages, options={"num_predict": 6, "temperature": 0})
    greedy = client.chat(model="suksham-benaud", messages=messages, options={"num_predict": 6, "temperature": 0})
    assert whole.message.content == greedy.message.content  # temperature 0 reaches the engine: greedy
    assert whole.done_reason in ("stop", "length") and whole.eval_count <= 6


@pytest.mark.parametrize("path", ["/api/chat", "/api/generate"])
def test_a_stream_whose_prompt_does_not_fit_gets_400_as_its_status(server, path):
    """As on /v1/chat/completions: the NDJSON stream checks its prompt before it sends its 200."""

    def body(text):
        common = {"model": "suksham-benaud", "stream": True, "options": {"num_predict": 4}}
        if path == "/api/generate":
            return {**common, "prompt": text, "raw": True}
        turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hi"}]  # plain chat
        return {**common, "messages": [*turns, {"role": "user", "content": text}]}

    r = httpx.post(server.url + path, json=body("cricket " * 600), headers=AUTH, timeout=300)
    assert r.status_code == 400, r.text
    assert "exceeds the context" in r.json()["error"]
    short = body("The sky is")
    ok = httpx.post(server.url + path, json=short, headers=AUTH, timeout=300)
    assert ok.status_code == 200, ok.text
    assert json.loads(ok.text.splitlines()[-1])["done"] is True


def test_generate_and_generate_streaming(client):
    reply = client.generate(model="suksham-benaud", prompt="Cummins to Root, OUT, lbw", stream=False)
    assert isinstance(reply, ollama.GenerateResponse)
    assert reply.response and len(reply.response.split()) <= 5  # never silent on a wicket
    stats_ok(reply)
    chunks = list(client.generate(model="suksham-benaud", prompt="Cummins to Root, OUT, lbw", stream=True))
    assert chunks[-1].done and chunks[-1].response == ""
    stats_ok(chunks[-1])
    assert "".join(c.response for c in chunks).strip()


def test_raw_generate_sends_the_prompt_untemplated(client, engine):
    prompt = "The capital of France is"
    reply = client.generate(
        model="suksham-benaud", prompt=prompt, raw=True, options={"num_predict": 5, "temperature": 0}
    )
    assert reply.prompt_eval_count == len(engine.prompt_ids(prompt))  # no chat template around it
    assert reply.prompt_eval_count < len(engine.prompt_ids([{"role": "user", "content": prompt}]))
    assert reply.eval_count <= 5
    # a stop string from options cuts the (greedy) reply where it first appears
    greedy = client.generate(
        model="suksham-benaud", prompt=prompt, raw=True, options={"num_predict": 8, "temperature": 0}
    )
    words = greedy.response.split()
    assert len(words) >= 2, greedy.response
    stop = words[1]
    stopped = client.generate(
        model="suksham-benaud", prompt=prompt, raw=True, options={"num_predict": 8, "temperature": 0, "stop": [stop]}
    )
    assert stopped.response == greedy.response[: greedy.response.index(stop)] and stopped.done_reason == "stop"


def test_list_show_ps_describe_the_bundle(client, bundle):
    models = client.list().models
    assert [m.model for m in models] == ["suksham-benaud:latest"]
    m = models[0]
    gguf = bundle / GGUF_NAME
    assert m.digest == sha256_file(gguf) and m.size == gguf.stat().st_size and m.modified_at is not None
    assert m.details.format == "gguf" and m.details.family == "llama"
    assert m.details.parameter_size == "135M" and m.details.quantization_level == "Q4_1"

    shown = client.show("suksham-benaud")
    assert shown.modelfile == (bundle / MODELFILE_NAME).read_text()
    params, template, _system = parse_modelfile(shown.modelfile)
    assert shown.template == template and "<|im_start|>" in template
    assert "temperature" in shown.parameters and "num_predict" in shown.parameters
    meta = read_metadata(gguf)
    assert shown.modelinfo["general.architecture"] == "llama"
    assert shown.modelinfo["llama.block_count"] == meta["llama.block_count"]
    assert shown.modelinfo["tokenizer.ggml.tokens"] is None  # the vocabulary is not sent, as in Ollama
    assert shown.capabilities == ["completion"] and shown.details.family == "llama"

    running = client.ps().models
    assert len(running) == 1 and running[0].model == "suksham-benaud:latest"
    assert running[0].digest == m.digest and running[0].context_length == 512 and running[0].expires_at


def test_unknown_model_is_a_404(client):
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 404 and "llama3.2" in err.value.error
    with pytest.raises(ollama.ResponseError) as err:
        client.show("suksham-benaud:7b")
    assert err.value.status_code == 404


def test_a_wrong_or_missing_key_is_a_401(server, monkeypatch):
    monkeypatch.setenv("OLLAMA_API_KEY", "not-the-key")  # ollama-python >= 0.6 sends it as Authorization: Bearer
    with pytest.raises(ollama.ResponseError) as err:
        ollama.Client(host=server.url).list()
    assert err.value.status_code == 401
    monkeypatch.setenv("OLLAMA_API_KEY", KEY)
    assert ollama.Client(host=server.url).list().models
    monkeypatch.delenv("OLLAMA_API_KEY")
    r = http.post(server.url + "/api/chat", json={"model": "suksham-benaud", "messages": []})
    assert r.status_code == 401 and isinstance(r.json()["error"], str)


def test_format_images_and_tools_are_a_clear_400(client):
    user = [{"role": "user", "content": FOUR}]
    cases = [
        dict(messages=user, format="json"),
        dict(messages=[{"role": "user", "content": FOUR, "images": ["aGVsbG8="]}]),
        dict(messages=user, tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}]),
    ]
    for kwargs in cases:
        with pytest.raises(ollama.ResponseError) as err:
            client.chat(model="suksham-benaud", **kwargs)
        assert err.value.status_code == 400 and err.value.error, kwargs


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"messages": []}',  # no model
        b'{"model": "suksham-benaud", "messages": [{"role": "robot", "content": "x"}]}',
        b'{"model": "suksham-benaud", "messages": [{"role": "user", "content": "x"}], "options": {"top_p": 3}}',
        b'{"model": "suksham-benaud", "messages": [{"role": "user", "content": "x"}], "keep_alive": [1]}',
    ],
)
def test_a_bad_body_is_a_400_in_ollamas_shape(server, body):
    r = http.post(server.url + "/api/chat", content=body, headers=AUTH)  # no Content-Type, as curl -d would
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"error"} and isinstance(r.json()["error"], str)


def test_keep_alive_as_number_or_string_and_an_empty_request_loads(server):
    for keep_alive in (300, "5m", -1, 0.5):
        r = http.post(
            server.url + "/api/chat",
            json={"model": "suksham-benaud", "messages": [], "keep_alive": keep_alive, "stream": False},
            headers=AUTH,
        )
        assert r.status_code == 200 and r.json()["done_reason"] == "load", r.text
    r = http.post(server.url + "/api/generate", json={"model": "suksham-benaud"}, headers=AUTH)
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert json.loads(r.text)["done"] is True


def test_the_stream_is_ndjson_by_default(server):
    with http.stream(
        "POST",
        server.url + "/api/generate",
        json={"model": "suksham-benaud", "prompt": "1 2 3 4", "raw": True, "options": {"num_predict": 4}},
        headers=AUTH,
    ) as r:
        assert r.headers["content-type"].startswith("application/x-ndjson")
        body = r.read().decode()
    lines = body.split("\n")
    assert lines[-1] == "" and all(lines[:-1])  # one object and a newline per chunk, no blank lines
    parts = [json.loads(line) for line in lines[:-1]]
    assert parts[-1]["done"] is True and all(p["done"] is False for p in parts[:-1])


def test_api_chat_replies_equal_v1_commentary_for_the_same_event_and_seed(client, server):
    for seed, event in enumerate([FOUR, "Cummins to Root, OUT, lbw"], start=11):
        ours = http.post(server.url + "/v1/commentary", json={"event": event, "seed": seed}, headers=AUTH).json()
        chat = client.chat(
            model="suksham-benaud", messages=[{"role": "user", "content": event}], options={"seed": seed}
        )
        gen = client.generate(model="suksham-benaud", prompt=event, options={"seed": seed})
        assert chat.message.content == ours["text"] == gen.response, event
        # a system message of the client's own does not change the commentary path
        with_system = client.chat(
            model="suksham-benaud",
            messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": event}],
            options={"seed": seed},
        )
        assert with_system.message.content == ours["text"]


def test_match_id_in_options_keys_the_match_memory(client, server):
    memory = server.server.config.app.state.server.commentator.memory
    said = []
    for i, event in enumerate([FOUR, "Cummins to Root, OUT, bowled", "Wood to Smith, SIX over long-on"]):
        reply = client.chat(
            model="suksham-benaud",
            messages=[{"role": "user", "content": event}],
            options={"match_id": "ollama-m1", "seed": i, "over": 3, "ball": i + 1},
        )
        if reply.message.content:
            said.append(reply.message.content)
    assert said and memory.recent("ollama-m1") == said
    assert memory.recent("no-such-match") == []


def test_metrics_count_requests_by_ollama_route(client, server):
    client.list()
    client.ps()
    text = http.get(server.url + "/metrics", headers=AUTH).text
    for path in ("/api/tags", "/api/ps", "/api/chat"):
        assert f'suksham_requests_total{{code="200",path="{path}"}}' in text, path


def test_root_and_version_answer_as_ollama_does(server):
    assert http.get(server.url + "/").text == "Ollama is running"
    assert http.head(server.url + "/").status_code == 200
    version = http.get(server.url + "/api/version").json()["version"]
    assert [int(p) for p in version.split(".")] >= [0, 6]
    r = http.post(server.url + "/api/pull", json={"model": "suksham-benaud"}, headers=AUTH)
    assert r.status_code == 404 and "not served" in r.json()["error"]


def test_a_bare_gguf_is_described_from_its_header(engine, smollm2_gguf):
    live = LiveServer(
        create_app(Settings(model_path=smollm2_gguf, model_id="smollm2", request_timeout=300), engine=engine)
    )
    try:
        live.wait_ready()
        c = ollama.Client(host=live.url, timeout=300)
        m = c.list().models[0]
        assert m.model == "smollm2:latest" and m.digest == sha256_file(smollm2_gguf)
        shown = c.show("smollm2")
        assert shown.template == read_metadata(smollm2_gguf)["tokenizer.chat_template"]
        assert "FROM" in shown.modelfile
    finally:
        live.stop()


# -- --ollama-port ----------------------------------------------------------------------------------------------
def test_a_taken_ollama_port_refuses_to_start():
    taken = bind_socket("127.0.0.1", 0)
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        with pytest.raises(ServeError, match="--ollama-port"):
            listen("127.0.0.1", 0, port)
        with pytest.raises(ServeError, match="same as --port"):
            listen("127.0.0.1", port, port)
    finally:
        taken.close()
    socks = listen("127.0.0.1", 0, port)  # free again: both sockets, the second on the asked port
    try:
        assert len(socks) == 2 and socks[1].getsockname()[1] == port
    finally:
        for s in socks:
            s.close()


def test_both_sockets_serve_the_same_app(engine, bundle):
    import threading
    import time

    import uvicorn

    app = create_app(
        Settings(model_path=bundle / GGUF_NAME, model_id="suksham-benaud", request_timeout=300), engine=engine
    )
    socks = listen("127.0.0.1", 0, _free_port())
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": socks}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        urls = [f"http://127.0.0.1:{s.getsockname()[1]}" for s in socks]
        assert [httpx.get(u + "/").text for u in urls] == ["Ollama is running"] * 2
        assert ollama.Client(host=urls[1]).list().models[0].model == "suksham-benaud:latest"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the npm client under Node ----------------------------------------------------------------------------------
NODE_SCRIPT = r"""
const { Ollama } = require(process.env.OLLAMA_JS);
(async () => {
  const client = new Ollama({ host: process.env.HOST, headers: { Authorization: "Bearer " + process.env.KEY } });
  const messages = [{ role: "user", content: process.env.EVENT }];
  const whole = await client.chat({ model: "suksham-benaud", messages, options: { seed: 7 } });
  const parts = [];
  const stream = await client.chat({ model: "suksham-benaud", messages, stream: true, options: { seed: 7 } });
  for await (const part of stream) parts.push(part);
  const list = await client.list();
  let missing = null;
  try { await client.chat({ model: "nope", messages }); } catch (e) { missing = e.status_code; }
  console.log(JSON.stringify({ whole, parts, names: list.models.map((m) => m.name), missing }));
})().catch((e) => { console.error(e); process.exit(1); });
"""


@pytest.fixture(scope="module")
def ollama_js():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are not installed (apt-get install nodejs npm; tests/deploy/setup_host_deps.sh)")
    package = NPM_CACHE / "node_modules" / "ollama"
    if not (package / "package.json").is_file():
        NPM_CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--prefix", str(NPM_CACHE), "--no-audit", "--no-fund", "ollama@^0.6"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.skip(f"could not install the ollama npm package into {NPM_CACHE}: {done.stderr[-300:]}")
    return node, package


def test_the_npm_client_chats_and_streams(ollama_js, server, tmp_path):
    node, package = ollama_js
    script = tmp_path / "chat.cjs"
    script.write_text(NODE_SCRIPT)
    env = {**os.environ, "OLLAMA_JS": str(package), "HOST": server.url, "KEY": KEY, "EVENT": FOUR}
    done = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    ours = http.post(server.url + "/v1/commentary", json={"event": FOUR, "seed": 7}, headers=AUTH).json()
    assert out["whole"]["message"]["content"] == ours["text"] and out["whole"]["done"] is True
    assert out["parts"][-1]["done"] is True and out["parts"][-1]["eval_count"] >= 0
    assert "".join(p["message"]["content"] for p in out["parts"]) == ours["text"]
    assert out["names"] == ["suksham-benaud:latest"] and out["missing"] == 404
