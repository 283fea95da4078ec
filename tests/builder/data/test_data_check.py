"""`suksham dataset --check FILE` on a table of good and bad files (CliRunner on the real CLI)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from device.cli import main as cli

SYS = {"role": "system", "content": "You are Richie Benaud."}
DELIVERY = {
    "batter": "Kohli",
    "bowler": "Starc",
    "non_striker": "Gill",
    "runs": {"batter": 0, "extras": 1, "total": 1},
    "extras": {"noballs": 1},
}


def chat(user, reply, system=True):
    msgs = ([SYS] if system else []) + [{"role": "user", "content": user}, {"role": "assistant", "content": reply}]
    return json.dumps({"messages": msgs})


GOOD = [
    chat("Starc to Kohli, FOUR, driven through cover", "Lovely shot."),
    chat("Starc to Kohli, no run, defended", "", system=False),
    json.dumps({"event": "Starc to Kohli, OUT, edged to first slip", "reply": "Edged and taken."}),
    json.dumps({"delivery": DELIVERY, "context": {"match_type": "T20", "over": 3}, "reply": "No-ball."}),
]

BAD = [  # (line content, words the error must contain)
    ("{not json", ["not valid JSON"]),
    ("", ["empty line"]),
    ("[1, 2]", ["expected a JSON object"]),
    (json.dumps({"event": "Starc to Kohli, FOUR"}), ['missing "reply"']),
    (json.dumps({"event": "Starc to Kohli, FOUR", "reply": 4}), ['"reply" must be a string']),
    (json.dumps({"event": "", "reply": "Four."}), ['"event" must be a non-empty string']),
    (json.dumps({"event": "x", "delivery": DELIVERY, "reply": "x"}), ["exactly one of"]),
    (json.dumps({"reply": "Four."}), ["exactly one of"]),
    (json.dumps({"event": "Starc to Kohli, FOUR, driven", "reply": "What a glorious cover drive that was"}), ["words"]),
    (json.dumps({"event": "Starc to Kohli, FOUR, driven", "reply": "Lovely shot!"}), ["exclamation mark"]),
    (json.dumps({"event": "Dropped at slip by Smith", "reply": "A tragedy."}), ["tragedy"]),
    (json.dumps({"event": "Starc to Kohli, SIX, over long-on", "reply": "They'll enjoy that."}), ["forbids"]),
    (json.dumps({"event": "Starc to Kohli, OUT, bowled", "reply": ""}), ["silent on a wicket"]),
    (json.dumps({"event": "Dropped at slip by Smith", "reply": "Gone."}), ["contradicts"]),
    (json.dumps({"event": "Starc to Kohli, SIX, over long-on", "reply": "Four."}), ["contradicts"]),
    (json.dumps({"event": "Starc to Kohli, OUT, run out by Smith", "reply": "Bowled him."}), ["contradicts"]),
    (
        json.dumps(
            {"delivery": {**DELIVERY, "wickets": [{"player_out": "Kohli", "kind": "bowled"}]}, "reply": "Bowled."}
        ),
        ["cannot be read", "no-ball"],
    ),
    (
        json.dumps({"delivery": {**DELIVERY, "runs": {"batter": -1, "extras": 1, "total": 0}}, "reply": "x"}),
        ["cannot be read"],
    ),
    (json.dumps({"messages": []}), ["non-empty list"]),
    (json.dumps({"messages": [{"role": "user", "content": "Starc to Kohli, FOUR"}]}), ["must end with a user message"]),
    (
        json.dumps({"messages": [{"role": "coach", "content": "x"}, {"role": "assistant", "content": "x"}]}),
        ["role is 'coach'"],
    ),
    (
        json.dumps({"messages": [{"role": "user", "content": "FOUR"}, {"role": "assistant", "content": None}]}),
        ["content must be a string"],
    ),
    (
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "x"},
                    {"role": "system", "content": "x"},
                    {"role": "user", "content": "Starc to Kohli, FOUR"},
                    {"role": "assistant", "content": "Four."},
                ]
            }
        ),
        ["system message may only come first"],
    ),
    (
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "Starc to Kohli, FOUR"},
                    {"role": "assistant", "content": "Four."},
                ],
                "truth": {"delivery": {**DELIVERY, "runs": {"batter": 6, "extras": 1, "total": 7}}},
            }
        ),
        ["contradicts"],
    ),
]


def run(tmp_path, lines, name="in.jsonl"):
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return CliRunner().invoke(cli, ["dataset", "--check", str(path)])


def test_good_file_passes(tmp_path):
    result = run(tmp_path, GOOD)
    assert result.exit_code == 0, result.output
    assert f"all {len(GOOD)} lines are fine" in result.output


@pytest.mark.parametrize("line,expect", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_line_is_reported_with_its_number(tmp_path, line, expect):
    result = run(tmp_path, GOOD[:2] + [line] + GOOD[2:])
    assert result.exit_code != 0
    assert "line 3:" in result.output, result.output
    for word in expect:
        assert word in result.output, result.output
    assert "line 1:" not in result.output and "line 4:" not in result.output


def test_every_bad_line_is_listed(tmp_path):
    """Nothing is dropped silently: a file of only bad lines names every one of them."""
    lines = [line for line, _ in BAD]
    result = run(tmp_path, lines)
    assert result.exit_code != 0
    for n in range(1, len(lines) + 1):
        assert f"line {n}:" in result.output
    assert f"{len(lines)} of {len(lines)} lines are bad" in result.output


@pytest.mark.parametrize("content,expect", [(b"", "is empty"), (b"\xff\xfe{}\n", "not UTF-8")])
def test_unreadable_files(tmp_path, content, expect):
    path = tmp_path / "f.jsonl"
    path.write_bytes(content)
    result = CliRunner().invoke(cli, ["dataset", "--check", str(path)])
    assert result.exit_code != 0 and expect in result.output


def test_missing_file_and_missing_out():
    assert CliRunner().invoke(cli, ["dataset", "--check", "/nonexistent.jsonl"]).exit_code != 0
    result = CliRunner().invoke(cli, ["dataset"])
    assert result.exit_code != 0 and "--out" in result.output
