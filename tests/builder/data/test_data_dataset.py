"""`suksham dataset --out DIR`: sizes, every pair checked, disjoint splits, determinism, prompt length."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner

from builder.data import dataset as D
from device.cli import main as cli
from device.commentary.delivery import read_delivery, read_text
from device.commentary.events import DISMISSAL_KINDS
from device.commentary.manner import check_reply
from device.commentary.render import SYSTEM_PROMPT, build_messages


def _load(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ds") / "data"
    result = CliRunner().invoke(cli, ["dataset", "--out", str(folder)])
    assert result.exit_code == 0, result.output
    assert "train" in result.output
    return folder


@pytest.fixture(scope="module")
def splits(out):
    return {s: _load(out / f"{s}.jsonl") for s in ("train", "val", "test")}


def test_files_and_sizes(out, splits):
    for name in ("train.jsonl", "val.jsonl", "test.jsonl", "dataset_card.md", "stats.json", "contamination.json"):
        assert (out / name).is_file(), name
    assert len(splits["train"]) >= 3000
    assert len(splits["val"]) >= 300 and len(splits["test"]) >= 300
    stats = json.loads((out / "stats.json").read_text())
    assert stats["sizes"] == {s: len(v) for s, v in splits.items()}
    card = (out / "dataset_card.md").read_text()
    assert str(len(splits["train"])) in card and "silence" in card and "Contamination" in card


def test_chat_format(splits):
    for ex in splits["train"][:500]:
        roles = [m["role"] for m in ex["messages"]]
        assert roles == ["system", "user", "assistant"]
        assert ex["messages"][0]["content"] == SYSTEM_PROMPT
        assert {"outcome", "style", "match_id", "truth"} <= set(ex)


def test_prompts_come_from_device_prompt(splits):
    """Each line's event re-renders, through device.commentary, to exactly the stored user message."""
    for ex in splits["train"][::3] + splits["test"]:
        ev = ex["event"]
        messages = build_messages(
            text=ev.get("text"), delivery=ev.get("delivery"), context=ev.get("context"), outcome_line=ex["outcome_line"]
        )
        assert messages == ex["messages"][:2], ex["id"]
        if ex["style"] != "structured" and ex["outcome_line"]:
            assert read_text(ev["text"]).outcome in (ex["outcome"], "unclear"), "never a wrong outcome line"


def test_every_pair_passes_the_checker(splits):
    for split, exs in splits.items():
        for ex in exs:
            if ex["truth"] is None:  # text with no outcome in it: its own reading is the truth
                truth = read_text(ex["event"]["text"])
            else:
                truth = read_delivery(ex["truth"]["delivery"], ex["truth"]["context"])
            reply = ex["messages"][2]["content"]
            assert truth.outcome == ex["outcome"]
            assert check_reply(reply, truth) == [], (split, ex["id"], reply, truth.outcome)
            if truth.outcome == "wicket":
                assert reply, "never silent on a wicket"
            if reply == "Morning, everyone.":
                assert ex["truth"]["context"].get("day_start")


def test_splits_are_disjoint_by_match_and_prompt(splits):
    matches = {s: {ex["match_id"] for ex in v} for s, v in splits.items()}
    prompts = {s: {D.normalise(ex["messages"][1]["content"]) for ex in v} for s, v in splits.items()}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not matches[a] & matches[b], (a, b)
        assert not prompts[a] & prompts[b], (a, b)


def test_mix_silence_and_variety(out, splits):
    train = splits["train"]
    n = len(train)
    outcomes = Counter(ex["outcome"] for ex in train)
    assert outcomes["wicket"] / n > 0.15, "wickets are oversampled on purpose"
    assert outcomes["dot"] / n < 0.35
    silent = [ex for ex in train if ex["messages"][2]["content"] == ""]
    assert 0.05 < len(silent) / n < 0.35
    dots = [ex for ex in train if ex["outcome"] == "dot"]
    assert sum(ex["messages"][2]["content"] == "" for ex in dots) / len(dots) > 0.8, (
        "silence is a plain dot's clear answer"
    )
    assert {ex["outcome"] for ex in silent} <= {"dot", "runs", "wide", "noball", "byes", "legbyes", "unclear"}
    raw = sum(not ex["outcome_line"] for ex in train) / n
    assert 0.15 < raw < 0.25, raw
    assert all(not ex["messages"][1]["content"].startswith("Outcome:") for ex in train if not ex["outcome_line"])
    assert len({ex["messages"][2]["content"] for ex in train}) >= 300
    assert set(Counter(ex["style"] for ex in train)) == {"structured", "cricinfo", "plain", "shorthand", "unclear"}
    assert {ex["dismissal"] for ex in train if ex["dismissal"]} == set(DISMISSAL_KINDS), "every dismissal kind"
    assert {ex["match_type"] for ex in train} == {"T20", "ODI", "Test"} and {ex["gender"] for ex in train} == {
        "male",
        "female",
    }
    replies = Counter(ex["messages"][2]["content"] for ex in train)
    assert replies["Marvellous."] / n < 0.02, "catchphrases stay rare"


def test_prompts_are_short(splits):
    counter = D.TokenCounter()
    if not counter.exact:
        pytest.skip("llama_cpp or the embedded SmolLM2 GGUF is missing: cannot count real tokens")
    for ex in splits["train"][::7]:
        assert counter(ex["messages"][1]["content"]) <= D.MAX_PROMPT_TOKENS


def test_contamination_report(out):
    report = json.loads((out / "contamination.json").read_text())
    assert report["exact"] == 0 and report["val"]["exact"] == 0
    assert 0 <= report["near_share"] <= 1


def test_deterministic_per_seed(tmp_path):
    a = D.write_dataset(tmp_path / "a", seed=7, scale=0.1)
    b = D.write_dataset(tmp_path / "b", seed=7, scale=0.1)
    c = D.write_dataset(tmp_path / "c", seed=8, scale=0.1)
    for name in ("train.jsonl", "test.jsonl", "stats.json", "dataset_card.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "train.jsonl").read_bytes() != (tmp_path / "c" / "train.jsonl").read_bytes()
    assert a["sizes"] == b["sizes"] and a["seed"] == 7 and c["seed"] == 8


def test_near_duplicates_are_found():
    """The MinHash report is not vacuous: a lightly edited copy of a train prompt is flagged."""
    from builder.data.report import contamination

    train = [
        D.Example(messages=[{}, {"content": f"T20 12.{i} Hartley to Kohli, FOUR, driven through cover, 9{i}/2"}])
        for i in range(1, 6)
    ]
    other = [
        D.Example(messages=[{}, {"content": "T20 12.3 Hartley to Kohli, FOUR, driven through cover, 93/2 ."}]),
        D.Example(messages=[{}, {"content": "Gone, caught at slip"}]),
    ]
    report = contamination(train, other)
    assert report["exact"] == 1 and report["near"] == 0
    other[0].messages[1]["content"] = "T20 12.3 Hartley to Kohli, FOUR, driven through cover, 93/2 today"
    report = contamination(train, other)
    assert report["near"] == 1


def test_template_share_masks_names_and_numbers():
    from builder.data.report import _template_share

    train = [f"Hartley to Mackay, FOUR, driven, {i}/2" for i in range(5)] + ["Joshi to Menon, no run"] * 3
    other = ["Brennan to Caldwell, FOUR, driven, 77/3", "A completely new way of saying it"]
    assert _template_share(train, other) == 0.5


def test_same_bytes_in_another_process(tmp_path):
    """No dependence on hash order: a fresh interpreter with another PYTHONHASHSEED writes the same files."""
    import os
    import subprocess
    import sys

    code = "import sys; from builder.data.dataset import write_dataset; write_dataset(sys.argv[1], seed=3, scale=0.05)"
    for name, hashseed in (("a", "1"), ("b", "2")):
        env = {**os.environ, "PYTHONHASHSEED": hashseed}
        subprocess.run([sys.executable, "-c", code, str(tmp_path / name)], check=True, env=env, timeout=300)
    for name in ("train.jsonl", "val.jsonl", "test.jsonl", "stats.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
