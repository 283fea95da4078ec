"""The live page's JavaScript, run by Node against a loopback server that streams a real MatchStore's SSE frames.

Node has fetch and streams but no DOM, so the page gets a few stand-in elements; what is tested is the page's
own logic: the 401 that makes it ask once for the read key, the key kept in sessionStorage and sent as a Bearer
token, the SSE parser (keep-alive comments, CRLF, frames split across chunks), the score and the lines.
The issue's headless-Chromium test of the served page is separate.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from device.runtime.matchstore import MatchStore

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "device" / "runtime" / "http" / "live.html"
T20 = ROOT / "tests" / "data" / "cricsheet" / "hand_t20_super_over.json"
KEY = "screen-key"

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="needs Node.js to run the page's script")

HARNESS = r"""
const fs = require("fs");
const [base, scriptPath] = process.argv.slice(2);
function el() {
  return { textContent: "", children: [], className: "",
    prepend(x) { this.children.unshift(x); }, append(...xs) { this.children.push(...xs); },
    replaceChildren() { this.children = []; },
    get lastElementChild() { const me = this; return { remove() { me.children.pop(); } }; } };
}
const els = {};
globalThis.document = {
  getElementById: (id) => (els[id] ||= el()),
  createElement: () => { const e = el(); Object.defineProperty(e, "textContent",
    { get() { return this.children.map((c) => c.textContent).join(" "); },
      set(v) { this.children = [{ textContent: v }]; } }); return e; },
  createTextNode: (t) => ({ textContent: t }),
};
const store = {};
globalThis.sessionStorage = { getItem: (k) => store[k] ?? null, setItem: (k, v) => { store[k] = v; },
                              removeItem: (k) => { delete store[k]; } };
globalThis.location = { pathname: "/live/t20" };
let prompts = 0;
globalThis.window = { prompt: () => { prompts++; return "KEY"; } };
const realFetch = fetch;
globalThis.fetch = (path, options) => realFetch(base + path, options);
const script = fs.readFileSync(scriptPath, "utf8").replace(/\nmain\(\);\s*$/, "\nglobalThis.done = main();");
eval(script);
globalThis.done.then(() => {
  console.log(JSON.stringify({ prompts, key: store["suksham-read-key"], teams: els.teams.textContent,
    score: els.score.textContent, detail: els.detail.textContent, status: els.status.textContent,
    lines: els.lines.children.map((c) => c.textContent) }));
});
""".replace("KEY", KEY)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: MatchStore):
        super().__init__(("127.0.0.1", 0), Handler)
        self.store = store
        self.authorizations: list[str | None] = []


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, *args):
        pass

    def send(self, status: int, body: dict):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.server.authorizations.append(self.headers.get("Authorization"))
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            return self.send(401, {"error": {"message": "read key needed", "type": "auth", "code": 401}})
        store = self.server.store
        found = re.fullmatch(r"/v1/matches/([^/]+)(/commentary|/events)?", self.path)
        match_id, tail = found.group(1), found.group(2)
        if tail is None:
            return self.send(200, store.summary(match_id))
        if tail == "/commentary":
            return self.send(200, {"lines": store.commentary(match_id)})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for frame in store.subscribe(match_id).frames(keepalive=0.05):
            raw = frame.replace("\n", "\r\n").encode()
            # CRLF line ends, and each frame in three chunks: the first ends between a \r and its \n
            cuts = [raw.index(b"\r") + 1, (len(raw) + raw.index(b"\r")) // 2]
            for chunk in (raw[: cuts[0]], raw[cuts[0] : cuts[1]], raw[cuts[1] :]):
                self.wfile.write(chunk)
                self.wfile.flush()


def test_the_page_asks_once_for_the_key_and_shows_the_stream(tmp_path):
    match = json.loads(T20.read_text())
    store = MatchStore(tmp_path)
    store.register(match["info"], "t20")
    balls = [
        (i, o["over"], x, d, inn["team"], inn.get("super_over", False))
        for i, inn in enumerate(match["innings"], 1)
        for o in inn["overs"]
        for x, d in enumerate(o["deliveries"])
    ]
    # the first over is in before the page opens: its lines come from /commentary
    for i, o, x, d, team, so in balls[:6]:
        store.feed("t20", i, o, x, d, team=team, super_over=so)
    store.record_reply("t20", 1, 0, 0, {"text": "Early line.", "silent": False, "latency_ms": 1})
    server = Server(store)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    script = tmp_path / "live.js"
    script.write_text(re.search(r"<script>(.*)</script>", PAGE.read_text(), re.S).group(1))

    def scorer():
        deadline = time.monotonic() + 20
        while store.stats()["stream_clients"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # a keep-alive or two first
        for n, (i, o, x, d, team, so) in enumerate(balls[6:18]):
            store.feed("t20", i, o, x, d, team=team, super_over=so)
            store.record_reply(
                "t20", i, o, x, {"text": f"Line {n}." if n % 2 else "", "silent": n % 2 == 0, "latency_ms": 3}
            )
        time.sleep(0.2)
        store.delete("t20")

    feeder = threading.Thread(target=scorer)
    feeder.start()
    try:
        harness = tmp_path / "harness.js"
        harness.write_text(HARNESS)
        run = subprocess.run(
            [NODE, str(harness), f"http://127.0.0.1:{server.server_address[1]}", str(script)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        feeder.join(timeout=30)
        server.shutdown()
        server.server_close()
    assert run.returncode == 0, run.stderr
    page = json.loads(run.stdout.strip().splitlines()[-1])
    assert page["prompts"] == 1 and page["key"] == KEY
    assert server.authorizations[0] is None and set(server.authorizations[1:]) == {f"Bearer {KEY}"}
    assert page["teams"] == "Alphas v Betas"
    # after 18 balls: Betas have hit six sixes off the first over of the chase
    assert page["score"] == "Betas  36/0" and page["detail"] == "1.0 ov  ·  need 11 from 6"
    assert page["status"] == "this match was removed"
    # newest first, silences left out, at most six lines: the early line has scrolled off
    assert page["lines"] == ["0.6 Line 11.", "0.4 Line 9.", "0.2 Line 7.", "1.6 Line 5.", "1.4 Line 3.", "1.2 Line 1."]
