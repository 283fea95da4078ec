"""The durable match store: files, restarts (kill -9 included), bounds, retention and live subscribers."""

from __future__ import annotations

import ast
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from device.runtime import matchstore
from device.runtime.matchstore import (
    DeliveryError,
    InvalidMatchId,
    MatchConflict,
    MatchNotFound,
    MatchStore,
    PositionError,
    default_state_dir,
    new_match_id,
)

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data" / "cricsheet"
FINAL = DATA / "1144530.json"


def load(path: Path = FINAL) -> dict:
    return json.loads(path.read_text())


def deliveries(m: dict) -> list[tuple]:
    out = []
    for i, inn in enumerate(m["innings"], start=1):
        for over in inn["overs"]:
            for x, d in enumerate(over["deliveries"]):
                out.append((i, over["over"], x, d, inn["team"], inn.get("super_over", False)))
    return out


def feed_all(store: MatchStore, match_id: str, balls) -> list:
    return [store.feed(match_id, i, o, x, d, team=t, super_over=so) for i, o, x, d, t, so in balls]


def file_totals(m: dict) -> list[tuple]:
    out = []
    for inn in m["innings"]:
        balls = [d for over in inn["overs"] for d in over["deliveries"]]
        out.append(
            (
                sum(d["runs"]["total"] for d in balls),
                sum(len(d.get("wickets", [])) for d in balls),
                sum(1 for d in balls if not {"wides", "noballs"} & set(d.get("extras", {}))),
            )
        )
    return out


def totals(store: MatchStore, match_id: str) -> list[tuple]:
    return [(t["runs"], t["wickets"], t["legal_balls"]) for t in store.summary(match_id)["innings"]]


def file_lines(store: MatchStore, match_id: str) -> list[dict]:
    return [json.loads(line) for line in (store.folder / f"{match_id}.jsonl").read_text().splitlines()]


# ---------------------------------------------------------------- registering


def test_register_is_idempotent_and_conflicts_on_different_info(tmp_path):
    store = MatchStore(tmp_path)
    info = load()["info"]
    assert store.register(info, "final") == ("final", True)
    assert store.register(info, "final") == ("final", False)
    with pytest.raises(MatchConflict, match="different info"):
        store.register({**info, "venue": "The Oval"}, "final")
    # ... and across a restart, from the file
    assert MatchStore(tmp_path).register(info, "final") == ("final", False)
    with pytest.raises(MatchConflict):
        MatchStore(tmp_path).register({}, "final")
    header = file_lines(store, "final")[0]
    assert header["type"] == "match" and header["match_id"] == "final" and header["info"] == info


def test_generated_ids_are_short_url_safe_and_distinct(tmp_path):
    info = load()["info"]
    a, b = new_match_id(info), new_match_id(info)
    assert a != b and a.startswith("england-v-new-zealand-2019-07-14-") and len(a) <= 80
    assert new_match_id({}).startswith("match-")
    store = MatchStore(tmp_path)
    match_id, created = store.register(info)
    assert created and matchstore.MATCH_ID.match(match_id)


@pytest.mark.parametrize("bad", ["", "../etc", "a/b", "x" * 81, "-lead", "sp ace", 7])
def test_bad_match_ids_are_refused(tmp_path, bad):
    with pytest.raises(InvalidMatchId, match="match_id"):
        MatchStore(tmp_path).register({}, bad)
    assert not list((tmp_path / "matches").iterdir())


def test_info_must_be_an_object(tmp_path):
    with pytest.raises(InvalidMatchId, match="info"):
        MatchStore(tmp_path).register(["teams"], "m")


def test_unknown_match(tmp_path):
    store = MatchStore(tmp_path)
    with pytest.raises(MatchNotFound, match="POST /v1/matches"):
        store.feed("nope", 1, 0, 0, {"batter": "A", "bowler": "B", "runs": {"batter": 0}})
    with pytest.raises(MatchNotFound):
        store.delete("nope")


def test_default_state_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path}/a:{tmp_path}/b")
    assert default_state_dir() == tmp_path / "a"
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_state_dir() == tmp_path / ".local" / "state" / "suksham"


# ---------------------------------------------------------------- feeding and rebuilding


def test_a_whole_match_survives_a_restart_with_its_commentary(tmp_path):
    m = load()
    store = MatchStore(tmp_path)
    store.register(m["info"], "final")
    balls = deliveries(m)
    for n, (i, o, x, d, t, so) in enumerate(balls):
        store.feed("final", i, o, x, d, team=t, super_over=so)
        if n % 3 == 0:
            store.record_reply("final", i, o, x, {"text": f"line {n}", "silent": False, "latency_ms": n})
    assert totals(store, "final") == file_totals(m)
    store.close()
    again = MatchStore(tmp_path)
    assert totals(again, "final") == file_totals(m)
    assert again.summary("final")["result"]["result"] == "tie"
    lines = again.commentary("final")
    assert len(lines) == len(range(0, len(balls), 3))
    assert lines[1] == {"innings": 1, "over": 0, "index": 3, "text": "line 3", "silent": False, "latency_ms": 3}
    assert again.reply_at("final", 1, 0, 3)["text"] == "line 3"


def test_duplicates_are_not_written_or_counted(tmp_path):
    m = load()
    store = MatchStore(tmp_path)
    store.register(m["info"], "final")
    balls = deliveries(m)[:20]
    feed_all(store, "final", balls)
    size = len(file_lines(store, "final"))
    again = feed_all(store, "final", balls[-5:])
    assert {r.status for r in again} == {"duplicate"}
    assert len(file_lines(store, "final")) == size
    assert store.stats()["deliveries_fed"] == 20 and store.stats()["duplicates"] == 5
    assert totals(MatchStore(tmp_path), "final") == totals(store, "final")


def test_a_bad_team_is_refused_before_anything_is_written(tmp_path):
    store = MatchStore(tmp_path)
    store.register({}, "m")
    ball = {"batter": "A", "bowler": "B", "runs": {"batter": 0, "extras": 0, "total": 0}}
    with pytest.raises(DeliveryError, match="team"):
        store.feed("m", 1, 0, 0, ball, team=7)
    with pytest.raises(DeliveryError, match="super_over"):
        store.feed("m", 1, 0, 0, ball, super_over="yes")
    assert len(file_lines(store, "m")) == 1 and store.stats()["deliveries_fed"] == 0


def test_out_of_order_is_refused_and_not_written(tmp_path):
    m = load()
    store = MatchStore(tmp_path)
    store.register(m["info"], "final")
    balls = deliveries(m)
    feed_all(store, "final", balls[:3])
    i, o, x, d, _, _ = balls[5]
    with pytest.raises(PositionError) as err:
        store.feed("final", i, o, x, d)
    assert err.value.accepted_dicts() == [
        {"innings": 1, "over": 0, "index": 3},
        {"innings": 1, "over": 1, "index": 0},
        {"innings": 2, "over": 0, "index": 0},
    ]
    assert len(file_lines(store, "final")) == 4


def test_a_correction_is_appended_and_wins_after_a_restart(tmp_path):
    m = load()
    store = MatchStore(tmp_path)
    store.register(m["info"], "final")
    balls = deliveries(m)[:30]
    feed_all(store, "final", balls)
    store.record_reply("final", 1, 0, 1, {"text": "Dot.", "silent": False, "latency_ms": 5})
    i, o, x, d, _, _ = balls[1]
    six = {**d, "runs": {"batter": 6, "extras": 0, "total": 6}}
    before = totals(store, "final")[0][0]
    r = store.feed("final", i, o, x, six)
    assert r.status == "correction" and store.stats()["corrections"] == 1
    assert store.reply_at("final", 1, 0, 1) is None  # the old line was about another ball
    assert MatchStore(tmp_path).reply_at("final", 1, 0, 1) is None  # ... after a restart too
    store.record_reply("final", 1, 0, 1, {"text": "Six.", "silent": False, "latency_ms": 7})
    assert totals(store, "final")[0][0] == before + 6
    kinds = [line["type"] for line in file_lines(store, "final")]
    assert kinds.count("delivery") == 31 and kinds.count("reply") == 2
    again = MatchStore(tmp_path)
    assert totals(again, "final")[0][0] == before + 6
    assert [line["text"] for line in again.commentary("final")] == ["Six."]


def test_a_torn_last_line_is_dropped_with_a_warning(tmp_path, caplog):
    m = load()
    store = MatchStore(tmp_path)
    store.register(m["info"], "final")
    balls = deliveries(m)
    feed_all(store, "final", balls[:40])
    store.close()
    path = tmp_path / "matches" / "final.jsonl"
    whole = path.read_bytes()
    torn = json.dumps({"type": "delivery", "innings": 1, "over": 5, "index": 4, "delivery": balls[40][3]})
    path.write_bytes(whole + torn[: len(torn) // 2].encode())
    with caplog.at_level(logging.WARNING, logger="device.runtime.matchstore"):
        again = MatchStore(tmp_path)
        assert again.match("final").deliveries_fed == 40
    assert any("torn last line" in r.getMessage() for r in caplog.records)
    assert path.read_bytes() == whole  # cut off, so the next append starts a clean line
    feed_all(again, "final", balls[40:])
    assert totals(MatchStore(tmp_path), "final") == file_totals(m)
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_a_complete_last_line_without_its_newline_is_kept(tmp_path):
    m = load()
    store = MatchStore(tmp_path)
    store.register(m["info"], "final")
    balls = deliveries(m)
    feed_all(store, "final", balls[:10])
    store.close()
    path = tmp_path / "matches" / "final.jsonl"
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    again = MatchStore(tmp_path)
    assert again.match("final").deliveries_fed == 10
    feed_all(again, "final", balls[10:12])
    assert len(path.read_text().splitlines()) == 13


def test_a_corrupt_middle_line_is_skipped_and_a_bad_header_moved_aside(tmp_path, caplog):
    m = load()
    store = MatchStore(tmp_path)
    store.register(m["info"], "final")
    feed_all(store, "final", deliveries(m)[:10])
    store.register({}, "broken")
    store.close()
    path = tmp_path / "matches" / "final.jsonl"
    lines = path.read_text().splitlines()
    lines[5] = "{not json"
    path.write_text("\n".join(lines) + "\n")
    (tmp_path / "matches" / "broken.jsonl").write_text("garbage\n")
    with caplog.at_level(logging.WARNING, logger="device.runtime.matchstore"):
        again = MatchStore(tmp_path)
        # ball 4 of over 0 is lost; 5 and 6 no longer fit (skipped, logged); over 1 does fit
        assert again.match("final").deliveries_fed == 7
        with pytest.raises(MatchNotFound):
            again.summary("broken")
    assert (tmp_path / "matches" / "broken.corrupt").exists()
    assert again.register({}, "broken") == ("broken", True)
    assert sum("skipping" in r.getMessage() for r in caplog.records) >= 2


# ---------------------------------------------------------------- kill -9

CHILD = r"""
import json, sys, time
from device.runtime.matchstore import MatchStore
path, state = sys.argv[1], sys.argv[2]
m = json.load(open(path))
store = MatchStore(state)
store.register(m["info"], "final")
for i, inn in enumerate(m["innings"], 1):
    for ov in inn["overs"]:
        for x, d in enumerate(ov["deliveries"]):
            store.feed("final", i, ov["over"], x, d, team=inn["team"], super_over=inn.get("super_over", False))
            print(i, ov["over"], x, flush=True)
            time.sleep(0.003)
"""


def test_kill_9_mid_innings_then_carry_on(tmp_path):
    m = load()
    balls = deliveries(m)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(FINAL), str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT
    )
    acked = 0
    try:
        for _ in child.stdout:
            acked += 1
            if acked == 150:  # innings 1, over 24
                os.kill(child.pid, signal.SIGKILL)
                break
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert acked == 150
    store = MatchStore(tmp_path)
    held = store.match("final").deliveries_fed
    assert 150 <= held < len(balls), "every acknowledged delivery is in the file"
    # The scorer resends from the last ball it saw acknowledged: the overlap are duplicates, nothing twice.
    results = feed_all(store, "final", balls[acked - 1 :])
    assert [r.status for r in results[: held - acked + 1]] == ["duplicate"] * (held - acked + 1)
    assert {r.status for r in results[held - acked + 1 :]} == {"new"}
    assert totals(store, "final") == file_totals(m)
    assert store.match("final").deliveries_fed == len(balls)
    assert totals(MatchStore(tmp_path), "final") == file_totals(m)


# ---------------------------------------------------------------- bounds and retention


def test_more_matches_than_max_matches(tmp_path):
    m = load()
    balls = deliveries(m)[:12]
    store = MatchStore(tmp_path, max_matches=2)
    for name in ("a", "b", "c"):
        store.register(m["info"], name)
        feed_all(store, name, balls[:6])
    assert store.stats()["matches_in_memory"] == 2 and store.stats()["matches_on_disk"] == 3
    held = {row["match_id"]: row["in_memory"] for row in store.list_matches()}
    assert held == {"a": False, "b": True, "c": True}
    assert {row["deliveries"] for row in store.list_matches()} == {6}
    # feeding "b" makes "c" the least recently fed ... then "a" comes back from its file with its six balls
    store.feed("b", *balls[6][:4])
    feed_all(store, "a", balls[6:])
    assert totals(store, "a") == totals(MatchStore(tmp_path), "a")
    assert store.match("a").deliveries_fed == 12
    assert {row["match_id"]: row["in_memory"] for row in store.list_matches()} == {"a": True, "b": True, "c": False}


def test_old_files_go_after_keep_days_and_the_oldest_past_the_size_cap(tmp_path):
    m = load()
    store = MatchStore(tmp_path)
    for name in ("old", "older", "new"):
        store.register(m["info"], name)
        feed_all(store, name, deliveries(m)[:30])
    store.close()
    folder = tmp_path / "matches"
    now = time.time()
    os.utime(folder / "older.jsonl", (now - 40 * 86400, now - 40 * 86400))
    os.utime(folder / "old.jsonl", (now - 3 * 86400, now - 3 * 86400))
    MatchStore(tmp_path, keep_days=30)
    assert sorted(p.stem for p in folder.glob("*.jsonl")) == ["new", "old"]
    size = (folder / "new.jsonl").stat().st_size
    capped = MatchStore(tmp_path, max_bytes=size + 10)
    assert sorted(p.stem for p in folder.glob("*.jsonl")) == ["new"]
    # a match held in memory is never removed under it, however old its file looks
    capped.register(m["info"], "held")
    feed_all(capped, "held", deliveries(m)[:30])
    os.utime(folder / "held.jsonl", (now - 40 * 86400, now - 40 * 86400))
    assert capped.prune() == ["new"]
    assert (folder / "held.jsonl").exists()
    capped.feed("held", *deliveries(m)[30][:4])


# ---------------------------------------------------------------- live clients and concurrency


def test_subscribers_get_balls_and_lines(tmp_path):
    m = load()
    store = MatchStore(tmp_path)
    store.register(m["info"], "final")
    balls = deliveries(m)
    with store.subscribe("final") as sub:
        assert store.stats()["stream_clients"] == 1
        assert sub.get(timeout=0.05) is None  # time for a keep-alive
        store.feed("final", *balls[0][:4], team="New Zealand")
        store.record_reply("final", 1, 0, 0, {"text": "Wide.", "silent": False, "latency_ms": 9})
        ball, line = sub.get(timeout=1), sub.get(timeout=1)
        assert (ball["type"], ball["score"], ball["over_ball"]) == ("ball", "1/0", "0.1")
        assert line == {
            "type": "line",
            "innings": 1,
            "over": 0,
            "index": 0,
            "text": "Wide.",
            "silent": False,
            "latency_ms": 9,
            "score": "1/0",
            "over_ball": "0.1",
        }
        store.feed("final", *balls[0][:4])  # a duplicate is no news
        assert sub.get(timeout=0.05) is None
        store.delete("final")
        assert sub.get(timeout=1) == {"type": "deleted", "match_id": "final"}
    assert store.stats()["stream_clients"] == 0
    assert not (tmp_path / "matches" / "final.jsonl").exists()
    with pytest.raises(MatchNotFound):
        store.subscribe("final")


def test_sse_frames_keep_alive_and_end_after_delete(tmp_path):
    store = MatchStore(tmp_path)
    store.register({}, "m")
    frames = store.subscribe("m").frames(keepalive=0.05)
    assert next(frames) == ": keep-alive\n\n"
    store.feed("m", 1, 0, 0, {"batter": "A", "bowler": "B", "runs": {"batter": 4, "extras": 0, "total": 4}})
    frame = next(frames)
    head, data = frame.rstrip("\n").split("\n")
    assert head == "event: ball" and json.loads(data.removeprefix("data: "))["score"] == "4/0"
    assert frame.endswith("\n\n")
    store.delete("m")
    assert next(frames).startswith("event: deleted\n")
    assert list(frames) == [] and store.stats()["stream_clients"] == 0


def test_closing_wakes_a_blocked_stream(tmp_path):
    store = MatchStore(tmp_path)
    store.register({}, "m")
    sub = store.subscribe("m")
    got = []
    reader = threading.Thread(target=lambda: got.extend(sub.frames(keepalive=30)))
    reader.start()
    time.sleep(0.1)
    began = time.monotonic()
    store.close()  # server shutdown
    reader.join(timeout=5)
    assert not reader.is_alive() and time.monotonic() - began < 2 and got == []
    assert store.stats()["stream_clients"] == 0


def test_a_slow_subscriber_loses_the_oldest_events_and_never_blocks_the_feed(tmp_path):
    m = load()
    store = MatchStore(tmp_path)
    store.register(m["info"], "final")
    sub = store.subscribe("final", maxsize=5)
    feed_all(store, "final", deliveries(m)[:20])
    got = [sub.get(timeout=0.1) for _ in range(5)]
    assert [e["index"] for e in got] == [d[2] for d in deliveries(m)[15:20]]
    sub.close()


def test_wait_reply_returns_when_the_first_reply_is_recorded(tmp_path):
    store = MatchStore(tmp_path)
    store.register({}, "m")
    store.feed("m", 1, 0, 0, {"batter": "A", "bowler": "B", "runs": {"batter": 4, "extras": 0, "total": 4}})
    threading.Timer(
        0.2, store.record_reply, ("m", 1, 0, 0, {"text": "Four.", "silent": False, "latency_ms": 1})
    ).start()
    assert store.wait_reply("m", 1, 0, 0, timeout=5)["text"] == "Four."
    assert store.wait_reply("m", 1, 0, 1, timeout=0.05) is None


def test_concurrent_feeds_of_one_ball_count_it_once(tmp_path):
    m = load()
    store = MatchStore(tmp_path)
    store.register(m["info"], "final")
    balls = deliveries(m)[:50]
    errors = []

    def scorer():
        try:
            feed_all(store, "final", balls)
        except Exception as exc:  # noqa: BLE001 (the test reports any failure)
            errors.append(exc)

    threads = [threading.Thread(target=scorer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.stats()["deliveries_fed"] == 50 and store.stats()["duplicates"] == 150
    assert len(file_lines(store, "final")) == 51


def test_matchstore_uses_the_standard_library_and_the_match_module_only():
    tree = ast.parse(Path(matchstore.__file__).read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
    outside = {n for n in names if n.split(".")[0] not in sys.stdlib_module_names} - {"__future__"}
    assert outside == {"device.commentary.match"}
