"""The match feed across a power cut, past --max-matches, and with --public-live: each test runs its own
`suksham serve` process on the SmolLM2 GGUF (one at a time), and kill -9 is a real SIGKILL."""

from __future__ import annotations

import json
import threading

from tests.device.runtime.feedserver import FINAL, SEMI, EventReader, ServeProcess, balls, body, file_totals, read


def totals(summary):
    return [{k: inn[k] for k in ("team", "runs", "wickets", "legal_balls", "super_over")} for inn in summary["innings"]]


def test_kill_9_mid_innings_then_go_on(smollm2_gguf, tmp_path):
    match = read(FINAL)
    deliveries = list(balls(match))
    cut = next(n for n, b in enumerate(deliveries) if b[:3] == (2, 20, 0))  # the chase's 21st over
    server = ServeProcess(smollm2_gguf, tmp_path / "state", log=tmp_path / "serve.log").start()
    try:
        assert server.post("/v1/matches", {"info": match["info"], "match_id": "power-cut"}).status_code == 201
        url = "/v1/matches/power-cut/deliveries"
        for n, ball in enumerate(deliveries[:cut]):
            assert server.post(url, body(*ball, n >= cut - 2)).status_code == 200
        # The power goes while the next ball is being said: it may or may not have been stored.
        in_flight = threading.Thread(target=lambda: _quietly(server.post, url, body(*deliveries[cut], True)))
        in_flight.start()
        in_flight.join(timeout=0.3)
        server.kill9()
        in_flight.join(timeout=30)
        # A torn write at the end of the file: the restart drops it with a warning.
        with open(tmp_path / "state" / "matches" / "power-cut.jsonl", "ab") as f:
            f.write(b'{"type":"delivery","innings":2,"over":20,"ind')

        server.restart()
        summary = server.get("/v1/matches/power-cut").json()  # the file is read back on first use
        assert "torn last line" in server.log_path.read_text()
        fed = summary["innings"][1]["legal_balls"] + summary["innings"][0]["legal_balls"]
        assert fed in (_legal(deliveries[:cut]), _legal(deliveries[: cut + 1]))
        # The scorer's app sends again from a few balls back: duplicates count nothing.
        again = [server.post(url, body(*ball, False)).json()["status"] for ball in deliveries[cut - 3 : cut]]
        assert again == ["duplicate"] * 3
        resent = server.post(url, body(*deliveries[cut], True)).json()
        assert (
            resent["status"] in ("new", "duplicate")
            and resent["commented"]
            and resent["silent"] == (not resent["text"])
        )
        for ball in deliveries[cut + 1 :]:
            assert server.post(url, body(*ball, False)).status_code == 200
        summary = server.get("/v1/matches/power-cut").json()
        assert totals(summary) == file_totals(match)
        assert summary["result"]["result"] == "tie"
        lines = server.get("/v1/matches/power-cut/commentary").json()["lines"]
        assert [(ln["innings"], ln["over"], ln["index"]) for ln in lines] == [
            b[:3] for b in deliveries[cut - 2 : cut + 1]
        ]
    finally:
        server.stop()


def _quietly(fn, *args):
    try:
        fn(*args)
    except Exception:  # the server was killed under it
        pass


def _legal(deliveries) -> int:
    return sum(not {"wides", "noballs"} & set(b[5].get("extras", {})) for b in deliveries)


def test_more_matches_than_max_matches(smollm2_gguf, tmp_path):
    server = ServeProcess(smollm2_gguf, tmp_path / "state", "--max-matches", "2", log=tmp_path / "serve.log").start()
    try:
        files = {"m1": FINAL, "m2": SEMI, "m3": FINAL}
        fed = {}
        for match_id, path in files.items():
            match = read(path)
            assert server.post("/v1/matches", {"info": match["info"], "match_id": match_id}).status_code == 201
            fed[match_id] = list(balls(match))[:30]
            for ball in fed[match_id]:
                assert server.post(f"/v1/matches/{match_id}/deliveries", body(*ball, False)).status_code == 200
        listed = {m["match_id"]: m for m in server.get("/v1/matches").json()["matches"]}
        assert set(listed) == {"m1", "m2", "m3"}
        assert [listed[m]["in_memory"] for m in ("m1", "m2", "m3")] == [False, True, True]  # least recently fed
        assert all(listed[m]["deliveries"] == 30 for m in listed)
        assert server.metric("suksham_matches_held") == 2 and server.metric("suksham_matches_on_disk") == 3
        # The dropped match comes back from its file and goes on where it was.
        rest = list(balls(read(FINAL)))[30:]
        for ball in rest:
            assert server.post("/v1/matches/m1/deliveries", body(*ball, False)).status_code == 200
        assert totals(server.get("/v1/matches/m1").json()) == file_totals(read(FINAL))
        listed = {m["match_id"]: m["in_memory"] for m in server.get("/v1/matches").json()["matches"]}
        assert listed == {"m1": True, "m2": False, "m3": True}
        assert server.delete("/v1/matches/m2").status_code == 200
        assert server.get("/v1/matches/m2").status_code == 404
        assert server.metric("suksham_matches_on_disk") == 2
    finally:
        server.stop()


def test_public_live_opens_only_the_read_only_routes(smollm2_gguf, tmp_path):
    server = ServeProcess(smollm2_gguf, tmp_path / "state", "--public-live", log=tmp_path / "serve.log").start()
    try:
        match = read(SEMI)
        assert server.post("/v1/matches", {"info": match["info"], "match_id": "open"}).status_code == 201
        first = next(balls(match))
        assert server.post("/v1/matches/open/deliveries", body(*first, False)).status_code == 200
        anyone: dict = {}
        summary = server.get("/v1/matches/open", headers=anyone)
        assert summary.status_code == 200 and summary.json()["innings"][0]["legal_balls"] == 1
        assert server.get("/v1/matches/open/commentary", headers=anyone).status_code == 200
        assert server.get("/live/open", headers=anyone).status_code == 200
        reader = EventReader(f"{server.url}/v1/matches/open/events", anyone)
        reader.start()
        assert reader.opened.wait(30) and reader.status == 200
        # Writing, listing, metrics and deleting still need the key.
        assert server.post("/v1/matches/open/deliveries", body(*first, False), headers=anyone).status_code == 401
        assert server.post("/v1/matches", {"info": {}}, headers=anyone).status_code == 401
        assert server.get("/v1/matches", headers=anyone).status_code == 401
        assert server.get("/metrics", headers=anyone).status_code == 401
        assert server.delete("/v1/matches/open", headers=anyone).status_code == 401
        assert server.delete("/v1/matches/open").status_code == 200
        reader.next("deleted", timeout=10)
    finally:
        server.stop()


def test_suksham_replay_with_a_bundle_serves_it_in_process(tiny_bundle, tmp_path):
    from click.testing import CliRunner

    from device.cli import main

    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["replay", str(FINAL), "--bundle", str(tiny_bundle), "--speed", "0", "--from", "4:0", "--out", str(out)]
        + ["--threads", "1"],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["balls"] == len(list(balls(read(FINAL))))
    assert summary["commented"] == sum(1 for i, *_ in balls(read(FINAL)) if i == 4)
    assert summary["result"]["result"] == "tie"
    assert [inn["runs"] for inn in summary["innings"]] == [t["runs"] for t in file_totals(read(FINAL))]
