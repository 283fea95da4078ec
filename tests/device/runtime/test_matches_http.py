"""The live match feed over HTTP, for real: `suksham serve` on the SmolLM2 GGUF, both real matches ball by ball.

To keep the run short on a shared CPU, the final is fed with `comment: true` on a bounded sample (every 10th
ball, every wicket and every fifty's ball: about 90 of 635) and `comment: false` on the rest; the semi-final goes
through `replay()` with `start=(2, 28)` (the chase's last overs commented, the rest catching up).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from click.testing import CliRunner

from device.cli import main
from device.commentary.match import Match
from device.runtime.replay import replay
from tests.device.runtime.feedserver import (
    FINAL,
    KEY,
    READ_KEY,
    SEMI,
    EventReader,
    ServeProcess,
    balls,
    body,
    fifties_by_hand,
    file_totals,
    read,
)

REPLY_KEYS = {"text", "silent", "latency_ms", "tokens", "outcome", "guarded", "commented", "status", "state"}


@pytest.fixture(scope="module")
def server(smollm2_gguf, tmp_path_factory):
    root = tmp_path_factory.mktemp("feed")
    (root / "read.key").write_text(READ_KEY + "\n")
    proc = ServeProcess(smollm2_gguf, root / "state", "--read-key-file", str(root / "read.key"), log=root / "serve.log")
    proc.start()
    yield proc
    proc.stop()


def register(server, path, match_id):
    r = server.post("/v1/matches", {"info": read(path)["info"], "match_id": match_id})
    assert r.status_code == 201, r.text
    return match_id


def fed_count(server, match_id):
    return next(m["deliveries"] for m in server.get("/v1/matches").json()["matches"] if m["match_id"] == match_id)


def totals(summary):
    return [{k: inn[k] for k in ("team", "runs", "wickets", "legal_balls", "super_over")} for inn in summary["innings"]]


def sampled(match: dict) -> set:
    """Every 10th ball, every wicket and every milestone's ball (found by the pure Match, not the server)."""
    local, chosen = Match(match["info"]), set()
    for n, (i, o, x, team, so, d) in enumerate(balls(match)):
        result = local.feed(i, o, x, d, team=team, super_over=so)
        if n % 10 == 0 or d.get("wickets") or result.milestones:
            chosen.add((i, o, x))
    return chosen


def test_the_final_ball_by_ball_totals_milestones_and_a_tie(server):
    match = read(FINAL)
    match_id = register(server, FINAL, "wc-final-2019")
    chosen = sampled(match)
    assert 60 <= len(chosen) <= 120
    said = {}
    for i, o, x, team, so, d in balls(match):
        comment = (i, o, x) in chosen
        r = server.post(f"/v1/matches/{match_id}/deliveries", body(i, o, x, team, so, d, comment))
        assert r.status_code == 200, (i, o, x, r.text)
        reply = r.json()
        assert REPLY_KEYS <= set(reply) and reply["status"] == "new"
        assert reply["commented"] is comment
        assert reply["silent"] == (reply["text"] == "")  # a reply or a silence, nothing else
        if comment:
            assert isinstance(reply["latency_ms"], float) and reply["latency_ms"] > 0
            said[(i, o, x)] = reply["text"]
        else:
            assert reply["silent"] and reply["tokens"] == 0
        assert reply["state"]["innings"] == i and reply["state"]["over"] == o

    summary = server.get(f"/v1/matches/{match_id}").json()
    assert totals(summary) == file_totals(match)
    assert [m for m in summary["milestones"] if m["kind"] != "five_wickets"] == fifties_by_hand(match)
    assert summary["result"]["result"] == "tie" == match["info"]["outcome"]["result"]
    assert summary["result"]["super_overs"] == [{"result": "tie"}]  # the super over was tied too

    lines = server.get(f"/v1/matches/{match_id}/commentary").json()["lines"]
    assert {(line["innings"], line["over"], line["index"]): line["text"] for line in lines} == said
    assert server.metric("suksham_match_deliveries_total") >= len(list(balls(match)))


def test_the_semi_final_through_replay_from_late_in_the_chase(server, tmp_path):
    match = read(SEMI)
    seen = []
    summary = replay(
        SEMI,
        server.url,
        speed=0,
        start=(2, 28),
        out_dir=tmp_path,
        api_key=KEY,
        match_id="wc-semi-2019",
        progress=lambda line, done, total: seen.append((done, total)),
    )
    n = len(list(balls(match)))
    assert seen[-1] == (n, n) and summary["balls"] == n
    assert 0 < summary["commented"] < 40  # England won in the 33rd over
    assert summary["commented"] == sum(1 for i, o, *_ in balls(match) if (i, o) >= (2, 28))
    assert totals(summary) == file_totals(match)
    assert summary["result"] == match["info"]["outcome"]
    assert summary["milestones"] == fifties_by_hand(match)
    for name in ("transcript.jsonl", "transcript.md", "summary.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert "England" in (tmp_path / "transcript.md").read_text()


def test_duplicates_out_of_order_and_corrections(server):
    match = read(FINAL)
    match_id = register(server, FINAL, "order-test")
    deliveries = list(balls(match))
    url = f"/v1/matches/{match_id}/deliveries"
    first = server.post(url, body(*deliveries[0], True)).json()
    assert first["status"] == "new"
    dups_before = server.metric("suksham_match_duplicates_total")
    again = server.post(url, body(*deliveries[0], True)).json()
    assert again["status"] == "duplicate"
    assert {k: again[k] for k in ("text", "latency_ms", "tokens")} == {
        k: first[k] for k in ("text", "latency_ms", "tokens")
    }
    assert server.metric("suksham_match_duplicates_total") == dups_before + 1
    assert fed_count(server, match_id) == 1
    assert server.get(f"/v1/matches/{match_id}").json()["innings"][0]["runs"] == 1  # the final's first ball: a wide

    # Out of order: the house error format, and the positions accepted next.
    i, o, x, team, so, d = deliveries[5]
    r = server.post(url, body(1, 3, 0, team, so, d, False))
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["code"] == "out_of_order" and error["type"] == "invalid_request_error" and error["message"]
    assert error["accepted"] == [
        {"innings": 1, "over": 0, "index": 1},
        {"innings": 1, "over": 1, "index": 0},
        {"innings": 2, "over": 0, "index": 0},
    ]

    for ball in deliveries[1:4]:
        assert server.post(url, body(*ball, False)).status_code == 200
    before = server.get(f"/v1/matches/{match_id}").json()["innings"][0]
    corrections = server.metric("suksham_match_corrections_total")
    # A correction of the second ball: a four instead of what the file has. The state is recomputed.
    i, o, x, team, so, d = deliveries[1]
    four = {**d, "runs": {"batter": 4, "extras": 0, "total": 4}}
    four.pop("extras", None)
    fixed = server.post(url, body(i, o, x, team, so, four, True))
    assert fixed.status_code == 200 and fixed.json()["status"] == "correction"
    after = server.get(f"/v1/matches/{match_id}").json()["innings"][0]
    assert after["runs"] == before["runs"] - d["runs"]["total"] + 4
    was_legal = not {"wides", "noballs"} & set(d.get("extras", {}))
    assert after["legal_balls"] == before["legal_balls"] + (0 if was_legal else 1)
    assert server.metric("suksham_match_corrections_total") == corrections + 1
    lines = {
        (ln["over"], ln["index"]): ln["text"] for ln in server.get(f"/v1/matches/{match_id}/commentary").json()["lines"]
    }
    assert lines[(0, 1)] == fixed.json()["text"]  # the corrected ball's reply is the new one

    # Bad input: 4xx in the house format, and nothing counted.
    bad = {**deliveries[4][5], "runs": {"batter": 3, "extras": 0, "total": 9}}
    r = server.post(url, body(*deliveries[4][:5], bad, True))
    assert r.status_code == 422 and r.json()["error"]["message"]
    assert server.get(f"/v1/matches/{match_id}").json()["innings"][0]["runs"] == after["runs"]
    assert server.post("/v1/matches/nobody-here/deliveries", body(*deliveries[0], False)).status_code == 404
    assert server.post("/v1/matches", {"info": {"teams": ["A", "B"]}, "match_id": "order-test"}).status_code == 409
    assert server.post("/v1/matches", {"info": {}, "match_id": "no spaces please"}).status_code == 422
    assert server.post(url, {"innings": 0, "over": 0, "index": 0, "delivery": d}).status_code == 422
    assert server.post(url, {"innings": "1", "over": 0, "index": 0, "delivery": d}).status_code == 422


def test_a_duplicate_sent_while_the_first_is_said_gets_the_same_reply(server):
    match = read(FINAL)
    match_id = register(server, FINAL, "concurrent-dup")
    first_ball = next(balls(match))
    replies = [None, None]

    def send(n):
        replies[n] = server.post(f"/v1/matches/{match_id}/deliveries", body(*first_ball, True)).json()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["status"] for r in replies) == ["duplicate", "new"]
    assert replies[0]["text"] == replies[1]["text"] and replies[0]["latency_ms"] == replies[1]["latency_ms"]
    assert fed_count(server, match_id) == 1
    assert len(server.get(f"/v1/matches/{match_id}/commentary").json()["lines"]) == 1


def test_the_read_key_opens_only_the_read_only_routes(server):
    match_id = register(server, FINAL, "read-key")
    read_only = {"Authorization": f"Bearer {READ_KEY}"}
    no_key: dict = {}
    for path in (f"/v1/matches/{match_id}", f"/v1/matches/{match_id}/commentary"):
        assert server.get(path, headers=read_only).status_code == 200
        assert server.get(path, headers={"X-Api-Key": READ_KEY}).status_code == 200
        assert server.get(path).status_code == 200  # the API key opens them too
        r = server.get(path, headers=no_key)
        assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    events = EventReader(f"{server.url}/v1/matches/{match_id}/events", read_only)
    events.start()
    assert events.opened.wait(30) and events.status == 200 and events.content_type.startswith("text/event-stream")
    refused = EventReader(f"{server.url}/v1/matches/{match_id}/events", no_key)
    refused.start()
    assert refused.opened.wait(30) and refused.status == 401
    ball = body(*next(balls(read(FINAL))), False)
    assert server.post(f"/v1/matches/{match_id}/deliveries", ball, headers=read_only).status_code == 401
    assert server.post("/v1/matches", {"info": {}}, headers=read_only).status_code == 401
    assert server.get("/v1/matches", headers=read_only).status_code == 401
    assert server.get("/metrics", headers=read_only).status_code == 401
    assert server.delete(f"/v1/matches/{match_id}", headers=read_only).status_code == 401
    page = server.get(f"/live/{match_id}", headers=no_key)  # a browser cannot send a key for the page itself
    assert (
        page.status_code == 200 and "EventSource" in page.text and page.headers["content-type"].startswith("text/html")
    )
    assert server.delete(f"/v1/matches/{match_id}").status_code == 200
    events.next("deleted")
    events.next("end")


def test_the_event_stream_sends_each_line_as_it_is_made_and_keeps_alive(server):
    match_id = register(server, FINAL, "sse-test")
    reader = EventReader(f"{server.url}/v1/matches/{match_id}/events", server.headers)
    reader.start()
    assert reader.opened.wait(30) and reader.status == 200
    clients = server.metric("suksham_stream_clients")
    assert clients >= 1
    for ball in list(balls(read(FINAL)))[:4]:
        reply = server.post(f"/v1/matches/{match_id}/deliveries", body(*ball, True)).json()
        # Both events are already on the wire when the POST returns: read them before the next ball is sent.
        _, fed = reader.next("ball", timeout=10)
        _, line = reader.next("line", timeout=10)
        assert (fed["innings"], fed["over"], fed["index"]) == ball[:3] == (line["innings"], line["over"], line["index"])
        assert fed["score"] == reply["state"]["score"] == line["score"]
        assert line["text"] == reply["text"] and line["silent"] == reply["silent"]
    # Quiet: a keep-alive comment within 15 s (and a little), so that idle-connection limits leave it alone.
    reader.next("comment", timeout=20)
    # A client that just goes away (a screen switched off) is forgotten at once, its thread with it.
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as raw:
        request = f"GET /v1/matches/{match_id}/events HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n\r\n"
        raw.sendall(request.encode())
        assert raw.recv(200).startswith(b"HTTP/1.1 200")
        assert server.metric("suksham_stream_clients") == clients + 1
    deadline = time.monotonic() + 5
    while server.metric("suksham_stream_clients") != clients:
        assert time.monotonic() < deadline, "a closed stream was still counted after 5 s"
        time.sleep(0.1)
    assert server.delete(f"/v1/matches/{match_id}").status_code == 200
    reader.next("deleted", timeout=10)
    reader.next("end", timeout=10)
    reader.join(timeout=10)
    assert server.metric("suksham_stream_clients") == clients - 1


def test_suksham_replay_against_a_running_server(server, tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text(KEY)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["replay", str(FINAL), "--url", server.url, "--speed", "0", "--from", "4:0", "--out", str(out)]
        + ["--api-key-file", str(key_file), "--match-id", "cli-final"],
    )
    assert result.exit_code == 0, result.output
    super_over = sum(1 for i, *_ in balls(read(FINAL)) if i == 4)
    assert "tie" in result.output and f"635 ({super_over} commented)" in result.output
    assert (out / "summary.json").exists() and (out / "transcript.md").exists()
    bad = CliRunner().invoke(main, ["replay", str(FINAL), "--url", server.url, "--from", "x"])
    assert bad.exit_code == 2 and "INNINGS:OVER" in bad.output
    both = CliRunner().invoke(main, ["replay", str(FINAL)])
    assert both.exit_code == 2 and "--url URL or --bundle DIR" in both.output
    refused = CliRunner().invoke(main, ["replay", str(FINAL), "--url", server.url, "--speed", "0"])
    assert refused.exit_code == 1 and "401" in refused.output  # no key: a message, not a traceback
