"""The evaluation without a model: held-out set, metrics, gate, reports (fast, no llama.cpp)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from builder.eval import events as eval_data
from builder.eval import run as evaluate
from builder.eval.metrics import aggregate, agreement, score_reply
from builder.eval.report import model_card_section, pick_samples
from device.commentary import manner
from device.commentary.delivery import read_delivery
from device.commentary.events import Canonical
from device.commentary.guard import safe_line
from device.commentary.render import SYSTEM_PROMPT, render_user


def C(outcome, **kw):
    return Canonical(outcome=outcome, **kw)


@pytest.fixture(scope="module")
def heldout():
    return eval_data.load_heldout()


# -- the hand-written held-out set ----------------------------------------------------------------
def test_heldout_set_is_large_varied_and_hashed(heldout):
    assert len(heldout) >= 80
    styles = {e.style for e in heldout}
    assert set(eval_data.STYLES) <= styles
    assert sum(e.delivery is not None for e in heldout) >= 25
    outcomes = {e.truth.outcome for e in heldout}
    assert {"dot", "runs", "four", "six", "wicket", "dropped", "wide", "noball", "byes", "legbyes"} <= outcomes
    kinds = {e.truth.dismissal for e in heldout if e.truth.outcome == "wicket"}
    assert len(kinds) >= 8  # many dismissal kinds, not just "caught"
    data = eval_data.HELDOUT_PATH.read_bytes()
    assert eval_data.heldout_sha256() == hashlib.sha256(data).hexdigest() == evaluate.heldout_sha256()


def test_delivery_labels_match_the_exact_reader(heldout):
    """Hand labels of Cricsheet deliveries agree with the prompt module's exact reader."""
    wrong = []
    for ev in heldout:
        if ev.delivery is None:
            continue
        got = read_delivery(ev.delivery, ev.context)
        if (got.outcome, got.dismissal) != (ev.label["outcome"], ev.label.get("dismissal")):
            wrong.append((ev.id, got.outcome, got.dismissal, ev.label))
    assert not wrong


def test_labelled_milestones_stay_in_the_truth(heldout):
    """A label's milestone flag keeps the milestone in the truth, so "Hundred." on it is no contradiction."""
    flagged = [e for e in heldout if e.label.get("milestone")]
    assert flagged and all(e.truth.milestone for e in flagged)
    radio = next(e for e in flagged if e.text and "hundred" in e.text)
    assert manner.contradicts("Hundred.", radio.truth) is None
    assert manner.contradicts("Fifty.", radio.truth)


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"id": "x1", "style": "radio", "text": "hm", "label": {"outcome": "boundary"}}', "not one of"),
        ('{"id": "x1", "style": "radio", "text": "hm", "label": {"outcome": "wicket"}}', "needs its dismissal"),
        ('{"id": "x1", "style": "poetry", "text": "hm", "label": {"outcome": "dot"}}', "style"),
        ('{"id": "x1", "style": "radio", "label": {"outcome": "dot"}}', "exactly one of"),
        (
            '{"id": "x1", "style": "cricsheet", "delivery": {"batter": "A", "bowler": "B", "runs": {"batter": -1}},'
            ' "label": {"outcome": "dot"}}',
            "refuses this delivery",
        ),
        ("not json", "not JSON"),
    ],
)
def test_bad_heldout_lines_are_reported(tmp_path, line, message):
    path = tmp_path / "events.jsonl"
    path.write_text(line + "\n")
    with pytest.raises(ValueError, match=message):
        eval_data.load_heldout(path)


def test_test_split_lines_are_read(tmp_path):
    rows = [
        {
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": render_user(text="Starc to Kohli, SIX, over long-on")},
                {"role": "assistant", "content": "Gone a long way."},
            ]
        },
        {
            "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": ""}],
            "event": {"text": "Cummins to Root, OUT, bowled"},
            "canonical": {"outcome": "wicket", "dismissal": "bowled"},
        },
        {
            "messages": [
                {"role": "user", "content": "7.5 W Islam hit the ball twice"},  # the dataset's own labels
                {"role": "assistant", "content": "Hit the ball twice."},
            ],
            "outcome": "wicket",
            "dismissal": "hit the ball twice",
            "style": "shorthand",
            "id": "test-00007",
        },
    ]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    events = eval_data.load_test_split(tmp_path, 10)
    assert [e.truth.outcome for e in events] == ["six", "wicket", "wicket"]
    assert (events[2].id, events[2].style, events[2].truth.dismissal) == (
        "test-00007",
        "shorthand",
        "hit the ball twice",
    )
    assert events[2].text == "7.5 W Islam hit the ball twice"
    assert events[2].dataset_messages()[1]["content"] == "7.5 W Islam hit the ball twice"
    assert (
        events[0].reference == "Gone a long way."
        and events[0].messages()[1]["content"] == rows[0]["messages"][1]["content"]
    )
    assert events[1].text == "Cummins to Root, OUT, bowled" and events[1].truth.dismissal == "bowled"
    with pytest.raises(ValueError, match="suksham dataset"):
        eval_data.load_test_split(tmp_path / "nope", 3)


# -- metrics on hand-made replies -------------------------------------------------------------------
ACCEPT = [
    ("Got him.", C("wicket", dismissal="caught", runs=0)),
    ("Bowled him.", C("wicket", dismissal="bowled", runs=0)),
    ("", C("dot", runs=0)),
    ("Lovely shot.", C("four", runs=4)),
    ("Put down.", C("dropped", runs=0)),
    ("Marvellous.", C("six", runs=6)),
]
REJECT = [  # (reply, truth, the check that must fail)
    ("Gone.", C("dropped", runs=0), "no_contradiction"),
    ("Four.", C("six", runs=6), "no_contradiction"),
    ("Bowled him.", C("wicket", dismissal="run out", runs=0), "no_contradiction"),
    ("What a shot!", C("four", runs=4), "no_exclamation"),
    ("", C("wicket", dismissal="lbw", runs=0), "not_silent_on_wicket"),
    ("We are in real trouble.", C("wicket", dismissal="caught", runs=0), "no_banned"),
    ("A tragedy for the fielder.", C("dropped", runs=0), "no_banned"),
    ("That ball has gone all the way over the rope", C("six", runs=6), "within_words"),
    ("Marvellous.", C("wide", extras=1, extra_kind="wides"), "fits"),  # praise for a wide is no reaction
    ("Lovely.", C("dropped", runs=0), "fits"),
    ("Superb.", C("unclear", confident=False), "fits"),
]


@pytest.mark.parametrize("reply, truth", ACCEPT)
def test_good_replies_pass_every_check(reply, truth):
    row = score_reply(reply, truth)
    assert row["composite"], row["problems"]


@pytest.mark.parametrize("reply, truth, check", REJECT)
def test_bad_replies_fail_their_check(reply, truth, check):
    row = score_reply(reply, truth)
    assert not row[check], row
    assert not row["composite"]


def test_echo_is_caught():
    text = "Starc to Kohli, FOUR, driven through the covers"
    assert not score_reply("Driven through the covers.", C("four", runs=4), text)["no_echo"]
    assert score_reply("Lovely shot.", C("four", runs=4), text)["no_echo"]


def test_truncated_reply_counts_as_too_long():
    assert not score_reply("That is", C("four", runs=4), truncated=True)["within_words"]


def test_aggregate_counts():
    rows = [score_reply(r, t) for r, t in ACCEPT] + [score_reply(r, t) for r, t, _ in REJECT]
    m = aggregate(rows)
    assert m["n"] == 17
    assert m["composite"] == pytest.approx(6 / 17)
    assert m["exclamation_rate"] == pytest.approx(1 / 17)
    assert m["contradiction_rate"] == pytest.approx(3 / 17)
    assert m["silence_wicket"] == pytest.approx(1 / 5)  # 5 wickets, one silent
    assert m["silence_routine"] == pytest.approx(1.0)  # the only routine ball was silent
    assert m["within_words"] == pytest.approx(16 / 17)
    # of the three misplaced praises, the shared checker refuses the wide's and the drop's itself (they
    # react to nothing in the ball); only "Superb." on an unclear event is left to misplaced_praise
    assert m["manner_fit_rate"] - m["fit_rate"] == pytest.approx(1 / 17)
    spoken = [r["reply"].lower() for r in rows if r["reply"]]
    assert m["distinct_share"] == pytest.approx(len(set(spoken)) / len(spoken))
    assert agreement(["Got him.", ""], ["got him. ", "Four."]) == 0.5


# -- the gate on replies files ----------------------------------------------------------------------
def _write_replies(path: Path, events, fn_by_model: dict):
    lines = [json.dumps({"model": m, "id": e.id, "reply": fn(e)}) for m, fn in fn_by_model.items() for e in events]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_gate_fails_a_bad_replies_file(tmp_path, heldout):
    bad = _write_replies(
        tmp_path / "bad.jsonl",
        heldout,
        {
            "q4_k_m": lambda e: "What a tremendous piece of cricket that was!",
            "base-few-shot": lambda e: "Marvellous.",
            "merged-16bit": lambda e: "Lovely.",
        },
    )
    report, _rows = evaluate.evaluate_replies(heldout, evaluate.load_replies(bad, heldout))
    g = report["gate"]
    assert not g["passed"]
    text = "\n".join(g["failures"])
    assert "q4_k_m share of replies <= 5 words = 0.000, threshold >= 0.98" in text
    assert "exclamation rate = 1.000, threshold <= 0.0" in text
    assert "greedy agreement with the 16-bit model = 0.000, threshold >= 0.9" in text
    assert "composite minus few-shot base composite" in text
    assert evaluate.main(["--replies", str(bad)]) == 1


def test_gate_fails_a_model_that_contradicts(heldout):
    """Short, calm, but wrong: "Gone." on every ball."""
    replies = {"q4_k_m": ["Gone." for _ in heldout], "base-few-shot": ["" for _ in heldout]}
    report, _ = evaluate.evaluate_replies(heldout, replies)
    failed = " ".join(report["gate"]["failures"])
    assert "contradiction rate" in failed and "fit rate on the hand-written set" in failed


def test_gate_passes_a_good_replies_file(tmp_path, heldout):
    good = _write_replies(
        tmp_path / "good.jsonl",
        heldout,
        {
            "q4_k_m": lambda e: safe_line(e.truth),
            "merged-16bit": lambda e: safe_line(e.truth),
            "base-few-shot": lambda e: "Well, that is certainly something to see here today.",
        },
    )
    report, rows = evaluate.evaluate_replies(heldout, evaluate.load_replies(good, heldout))
    assert report["gate"]["passed"], report["gate"]["failures"]
    assert report["models"]["q4_k_m"]["agreement_with_16bit"] == 1.0
    assert evaluate.main(["--replies", str(good), "--out", str(tmp_path / "o")]) == 0
    assert json.loads((tmp_path / "o" / "eval.json").read_text())["gate"]["passed"]


def test_gate_fails_a_collapsed_model(heldout):
    """One calm line for everything passes most single checks; the distinct share catches it."""
    report, _ = evaluate.evaluate_replies(
        heldout, {"q4_k_m": ["Marvellous." for _ in heldout], "base-few-shot": ["" for _ in heldout]}
    )
    failed = " ".join(report["gate"]["failures"])
    assert "distinct share of spoken replies = 0.010, threshold >= 0.1" in failed


def test_composite_margin_absolute_or_gap(heldout):
    """Few-shot base at 0.75 composite: +0.5 absolute is out of reach, closing half the gap is not."""
    from builder.config import EvalThresholds
    from builder.eval.report import gate

    models = {
        "q4_k_m": {"metrics": {"all": {"composite": 0.9}, "handwritten": {}}},
        "base-few-shot": {"metrics": {"all": {"composite": 0.75}}},
    }
    absolute = {c["metric"]: c for c in gate({"models": models}, EvalThresholds())["checks"]}
    check = absolute["q4_k_m composite minus few-shot base composite"]
    assert check["value"] == pytest.approx(0.15) and check["passed"] is False
    gap = {c["metric"]: c for c in gate({"models": models}, EvalThresholds(composite_margin_kind="gap"))["checks"]}
    check = gap["q4_k_m share of the few-shot base's composite gap closed"]
    assert check["value"] == pytest.approx(0.6) and check["passed"] is True


@pytest.mark.parametrize("reader_base, passed", [(0.6, True), (0.85, False)])
def test_reader_helped_base_is_judged_by_the_gap_closed(reader_base, passed):
    """The base given the reader's outcome line too: 0.9 closes 75% of the gap above 0.6, a third above 0.85."""
    from builder.config import EvalThresholds
    from builder.eval.report import FEW_SHOT_READER, gate

    models = {
        "q4_k_m": {"metrics": {"all": {"composite": 0.9}, "handwritten": {}}},
        "base-few-shot": {"metrics": {"all": {"composite": 0.3}}},
        FEW_SHOT_READER: {"metrics": {"all": {"composite": reader_base}}},
    }
    result = gate({"models": models}, EvalThresholds())
    checks = {c["metric"]: c for c in result["checks"]}
    assert checks["q4_k_m composite minus few-shot base composite"]["passed"] is True
    check = checks["q4_k_m share of the reader-helped few-shot base's composite gap closed"]
    assert check["value"] == pytest.approx((0.9 - reader_base) / (1 - reader_base)) and check["passed"] is passed
    assert any("reader-helped few-shot base" in f for f in result["failures"]) is not passed


def test_unmeasured_checks_are_skipped_not_passed(heldout):
    report, _ = evaluate.evaluate_replies(heldout, {"q4_k_m": [safe_line(e.truth) for e in heldout]})
    skipped = {c["metric"] for c in report["gate"]["checks"] if c.get("skipped")}
    assert any("16-bit" in s for s in skipped) and any("few-shot" in s for s in skipped)
    assert report["gate"]["passed"]


def test_replies_file_with_gaps_is_refused(tmp_path, heldout):
    path = _write_replies(tmp_path / "r.jsonl", heldout[:3], {"q4_k_m": lambda e: ""})
    with pytest.raises(ValueError, match="no reply for"):
        evaluate.load_replies(path, heldout)
    assert evaluate.main(["--replies", str(path)]) == 2  # a clear error, not a gate verdict


def test_shipped_thresholds_are_at_least_the_starting_points():
    from builder.config import EvalConfig, load_config

    configs = [EvalConfig()]
    configs += [load_config(p).eval for p in sorted(Path("builder/configs").glob("*.yaml"))]
    for ecfg in configs:
        t = ecfg.thresholds
        assert t.max_words_share >= 0.98
        assert t.exclamation_rate <= 0.0
        assert t.contradiction_rate <= 0.02
        assert t.handwritten_fit >= 0.90
        assert t.composite_margin_over_fewshot >= 0.5 and t.composite_margin_kind == "absolute"
        assert t.composite_gap_over_reader_base >= 0.5
        if t.q4_agreement_kind == "sampled":  # issue 15 retires exact greedy agreement for sampled decoding
            assert t.q4_sampled_rate_gap is not None and t.q4_sampled_rate_gap <= 0.03
            assert t.q4_max_kl is not None and t.q4_max_kl <= 0.05
            assert t.match_distinct_share >= 0.5 and t.max_bare_label_share <= 0.35 and t.max_repeats_in_20 <= 2
        else:
            assert t.q4_agreement >= 0.90 and t.q4_agreement_kind == "exact"
        assert t.min_distinct_share > 0.0
        assert ecfg.gate and ecfg.max_heldout is None  # shipped configs score the whole set


# -- reports ------------------------------------------------------------------------------------
def test_model_card_section_has_tables_and_failing_samples(heldout):
    replies = {
        "q4_k_m": [safe_line(e.truth) if i % 4 else "Gone!" for i, e in enumerate(heldout)],
        "base-few-shot": ["Hello there, what a day for cricket." for _ in heldout],
    }
    report, rows = evaluate.evaluate_replies(heldout, replies)
    card = model_card_section(report)
    assert card.startswith("## Evaluation")
    assert "| q4_k_m | 96 |" in card and "| base-few-shot | 96 |" in card
    assert len(report["samples"]) == 10
    assert sum(not s["composite"] for s in report["samples"]) >= 2
    assert card.count("FAIL:") >= 2
    assert "Gate" in card and "threshold" in card
    assert len(pick_samples(rows["q4_k_m"], 10, 2)) == 10
    from builder.eval.report import _sample_lines

    day_start = [e for e in heldout if e.delivery is not None and e.truth.day_start][0]
    assert "\n" in day_start.describe()
    lines = _sample_lines(
        [
            {
                "event": day_start.describe(),
                "outcome": "wicket",
                "dismissal": "bowled",
                "reply": "Bowled | him",
                "composite": True,
                "problems": [],
            }
        ]
    )
    assert len(lines) == 3 and lines[2].count("|") == 5  # a multi-line event stays in one table row


def test_report_is_written_atomically(tmp_path, heldout, monkeypatch):
    import device.util

    report, rows = evaluate.evaluate_replies(heldout, {"q4_k_m": ["" for _ in heldout]})
    out = tmp_path / "out"
    evaluate._write_outputs(out, report, rows)
    first = (out / "eval.json").read_bytes()
    assert json.loads(first)["n_events"]["handwritten"] == len(heldout)

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(device.util.os, "replace", broken_replace)
    report2, rows2 = evaluate.evaluate_replies(heldout, {"q4_k_m": ["Got him." for _ in heldout]})
    with pytest.raises(OSError, match="disk full"):
        evaluate._write_outputs(out, report2, rows2)
    assert (out / "eval.json").read_bytes() == first  # the old report is whole
    assert sorted(p.name for p in out.iterdir()) == ["eval.json", "replies.jsonl", "report.md"]  # no temp files


def test_rating_is_blind_and_summarised(tmp_path):
    import click
    from click.testing import CliRunner

    from builder.eval.report import rate_replies

    rows = {
        m: [{"id": f"h{i}", "event": f"event {i}", "reply": reply} for i in range(3)]
        for m, reply in (("alpha", "Lovely."), ("beta", ""))
    }

    @click.command()
    def cmd():
        rate_replies(rows, tmp_path, n=4, seed=1)

    result = CliRunner().invoke(cmd, input="7\n5\n4\n3\n2\n")
    assert result.exit_code == 0, result.output
    assert "7 is not in the range" in result.output  # a bad rating is asked again, not stored
    assert "alpha" not in result.output and "beta" not in result.output  # blind
    assert "(silence)" in result.output
    saved = json.loads((tmp_path / "ratings.json").read_text())
    assert saved["n"] == 4 and sorted(r["rating"] for r in saved["ratings"]) == [2, 3, 4, 5]
    per = saved["per_model"]
    assert per["alpha"]["n"] == per["beta"]["n"] == 2
    means = [per["alpha"]["mean"], per["beta"]["mean"]]
    assert sum(means) / 2 == pytest.approx(3.5)


def test_eval_refuses_an_out_folder_inside_the_bundle(tmp_path):
    from device.errors import UserError

    (tmp_path / "b").mkdir()
    with pytest.raises(UserError, match="never modified"):
        evaluate.run_eval(tmp_path / "b", tmp_path / "b" / "report")


def test_build_gate_refuses_missing_inputs_with_the_fix(tmp_path):
    from device.runtime.bundle import GGUF_NAME

    with pytest.raises(ValueError, match="export stage must put the Q4_K_M GGUF"):
        evaluate.evaluate_bundle_dir(tmp_path, None)
    (tmp_path / GGUF_NAME).write_bytes(b"GGUF")
    with pytest.raises(ValueError, match="merged_dir .* is not a Hugging Face model folder"):
        evaluate.evaluate_bundle_dir(tmp_path, None, merged_dir=tmp_path / "gone")


def test_the_guarded_replies_have_the_bundles_reply_vocabulary_as_the_server_does(heldout):
    """With a reply vocabulary (export.guard_vocabulary) an opening word it lacks is replaced, as the server
    draws again on it; without one it is kept, as before."""
    fours = [e for e in heldout if e.label.get("outcome") == "four"][:3]
    assert fours
    _, kept = evaluate.guarded_replies(fours, ["Slogan." for _ in fours])
    _, replaced = evaluate.guarded_replies(fours, ["Slogan." for _ in fours], frozenset({"lovely"}))
    assert not any(kept) and all(replaced)
    _, kept = evaluate.guarded_replies(fours, ["Lovely." for _ in fours], frozenset({"lovely"}))
    assert not any(kept)


def test_gate_judges_the_guarded_replies_and_caps_the_guard_share(heldout):
    """The listener gets the guard's output; the model must not lean on the guard for everything."""
    from builder.eval.report import GUARDED

    wrong = ["Gone." for _ in heldout]  # contradicts every non-wicket
    guarded, replaced = evaluate.guarded_replies(heldout, wrong)
    assert sum(replaced) > len(heldout) // 2
    report, _ = evaluate.evaluate_replies(
        heldout,
        {"q4_k_m": wrong, GUARDED: guarded, "base-few-shot": ["" for _ in heldout]},
        extra={"q4_k_m": {"guarded_share": sum(replaced) / len(replaced)}},
    )
    failed = " ".join(report["gate"]["failures"])
    assert "share of replies the guard replaces" in failed
    # the guarded replies themselves rarely contradict: the manner checks are judged on them
    checks = {c["metric"]: c for c in report["gate"]["checks"]}
    assert (
        checks[f"{GUARDED} contradiction rate"]["value"]
        < report["models"]["q4_k_m"]["metrics"]["all"]["contradiction_rate"]
    )
