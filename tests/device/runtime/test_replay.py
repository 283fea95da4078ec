"""``suksham replay``'s core against a real loopback HTTP server that keeps its matches in a real MatchStore.

The server here is a small stand-in for the app's match routes (no model: a fixed line for fours, sixes and
wickets, silence otherwise), so that the replay's requests, pacing, retries and transcripts are tested before
the routes are wired into the app.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")

from device.runtime.matchstore import DeliveryError, MatchConflict, MatchStore, PositionError  # noqa: E402
from device.runtime.replay import (  # noqa: E402
    ReplayError,
    format_line,
    iter_balls,
    parse_from,
    percentile,
    read_match,
    replay,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "cricsheet"
FINAL, T20 = DATA / "1144530.json", DATA / "hand_t20_super_over.json"


def line_for(delivery: dict) -> str:
    if delivery.get("wickets"):
        return "Got him."
    return {4: "Four.", 6: "Six."}.get(delivery["runs"]["batter"], "")


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: MatchStore):
        super().__init__(("127.0.0.1", 0), Handler)
        self.store = store
        self.busy_once = True
        self.bodies: list[dict] = []


class Handler(BaseHTTPRequestHandler):
    server: FeedServer

    def log_message(self, *args):
        pass

    def reply(self, status: int, body: dict, headers: dict | None = None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status: int, message: str, extra: dict | None = None):
        self.reply(status, {"error": {"message": message, "type": "match", "code": status}, **(extra or {})})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        store = self.server.store
        if self.path == "/v1/matches":
            try:
                match_id, _ = store.register(body.get("info"), body.get("match_id"))
            except MatchConflict as exc:
                return self.error(409, str(exc))
            return self.reply(201, {"match_id": match_id})
        found = re.fullmatch(r"/v1/matches/([^/]+)/deliveries", self.path)
        if not found:
            return self.error(404, "no route")
        if self.server.busy_once:
            self.server.busy_once = False
            return self.reply(
                503, {"error": {"message": "queue full", "type": "busy", "code": 503}}, {"Retry-After": "0"}
            )
        self.server.bodies.append(body)
        match_id = found.group(1)
        pos = (body["innings"], body["over"], body["index"])
        try:
            result = store.feed(
                match_id, *pos, body["delivery"], team=body.get("team"), super_over=body.get("super_over", False)
            )
        except PositionError as exc:
            return self.error(409, str(exc), {"accepted": exc.accepted_dicts()})
        except DeliveryError as exc:
            return self.error(422, str(exc))
        reply = store.reply_at(match_id, *pos) if result.status == "duplicate" else None
        if reply is None and body.get("comment", True):
            text = line_for(body["delivery"])
            reply = {"text": text, "silent": not text, "latency_ms": 5 + len(text), "tokens": 2}
            store.record_reply(match_id, *pos, reply)
        self.reply(200, {**(reply or {"text": "", "silent": True, "latency_ms": 0}), "state": result.state})

    def do_GET(self):
        found = re.fullmatch(r"/v1/matches/([^/]+)", self.path)
        self.reply(200, self.server.store.summary(found.group(1)))


@pytest.fixture
def server(tmp_path):
    srv = FeedServer(MatchStore(tmp_path / "state"))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def url(srv: FeedServer) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}"


def test_replay_the_final_from_the_45th_over(server, tmp_path):
    seen = []
    out = tmp_path / "out"
    summary = replay(
        FINAL,
        url(server),
        speed=0,
        start=(2, 45),
        out_dir=out,
        progress=lambda line, done, total: seen.append((done, total, format_line(line))),
    )
    balls = list(iter_balls(read_match(FINAL)))
    late = [b for b in balls if (b.innings, b.over) >= (2, 45)]
    assert summary["balls"] == len(balls) == 635 and summary["commented"] == len(late)
    assert [b["comment"] for b in server.bodies] == [(b.innings, b.over) >= (2, 45) for b in balls]
    assert server.bodies[-1]["super_over"] is True and server.bodies[-1]["team"] == "New Zealand"
    expected = [line_for(b.delivery) for b in late]
    assert summary["silences"] == expected.count("")
    assert summary["distinct_lines"] == len(set(expected) - {""})
    assert summary["result"]["result"] == "tie" and len(summary["milestones"]) == 3
    assert summary["latency_ms"]["p50"] is not None and summary["latency_ms"]["p95"] >= summary["latency_ms"]["p50"]
    assert [t["runs"] for t in summary["innings"]] == [241, 241, 15, 15]
    # the terminal lines carry over.ball and score
    assert seen[-1][:2] == (635, 635) and seen[-1][2].split(maxsplit=2) == ["0.6", "15/1", "Got him."]
    assert "49.6" in [s[2].split()[0] for s in seen] and "241/10" in " ".join(s[2] for s in seen)
    rows = [json.loads(line) for line in (out / "transcript.jsonl").read_text().splitlines()]
    assert len(rows) == 635 and rows[0]["commented"] is False and rows[-1]["text"] == "Got him."
    assert json.loads((out / "summary.json").read_text()) == summary
    md = (out / "transcript.md").read_text()
    assert "# England v New Zealand" in md and "## super over" in md and "| 49.6 | 241/10 |" in md
    assert "distinct lines" in md


def test_pace_is_real_time_divided_by_speed(server):
    waits = []
    summary = replay(T20, url(server), speed=4, seconds_per_ball=40, sleep=waits.append)
    balls = summary["balls"]
    pauses = [w for w in waits if w > 0]
    assert len(pauses) == balls and all(9 < w <= 10 for w in pauses)  # 40 s / 4, less the request's own time
    assert summary["result"]["super_overs"] == [{"winner": "Alphas", "by": {"wickets": 2}}]


def test_replaying_into_a_match_id_twice_counts_nothing_twice(server):
    first = replay(T20, url(server), speed=0, match_id="t20")
    again = replay(T20, url(server), speed=0, match_id="t20")
    assert again["innings"] == first["innings"] and again["lines"] == first["lines"]
    assert server.store.stats()["duplicates"] == first["balls"]


def test_a_refused_ball_stops_the_replay_with_the_servers_message(server, tmp_path):
    bad = read_match(T20)
    del bad["innings"][0]["overs"][0]["deliveries"][2]["bowler"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(ReplayError, match="422: delivery.bowler"):
        replay(path, url(server), speed=0)


@pytest.mark.parametrize(
    "text, ok", [("2:10", (2, 10)), ("1:0", (1, 0)), ("0:3", None), ("2", None), ("a:b", None), ("1:-1", None)]
)
def test_parse_from(text, ok):
    if ok:
        assert parse_from(text) == ok
    else:
        with pytest.raises(ReplayError, match="--from"):
            parse_from(text)


def test_bad_arguments(tmp_path):
    with pytest.raises(ReplayError, match="--speed"):
        replay(T20, "http://127.0.0.1:9", speed=-1)
    with pytest.raises(ReplayError, match="url"):
        replay(T20)
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ReplayError, match="not a Cricsheet match"):
        replay(tmp_path / "x.json", "http://127.0.0.1:9")
    with pytest.raises(ReplayError, match="cannot read"):
        read_match(tmp_path / "missing.json")
    with pytest.raises(ReplayError, match="past the last ball"):
        replay(T20, "http://127.0.0.1:9", start=(9, 0))


def test_percentile():
    assert percentile([], 50) is None
    assert percentile([10], 95) == 10
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(101)), 95) == 95
