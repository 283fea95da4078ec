"""Variety over replayed matches and the sampled Q4 vs 16-bit comparison (issue 15); the gate's new checks."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from builder.config import EvalThresholds
from builder.eval import variety
from builder.eval.gate import SAMPLED, SERVED, gate


def test_variety_metrics_count_distinct_bare_and_the_window():
    replies = ["Four.", "", "Lovely shot.", "four", "Got him.", "", "Lovely shot.", "Wide."]
    m = variety.variety_metrics(replies)
    assert m["n_spoken"] == 6
    assert m["distinct_share"] == pytest.approx(4 / 6)  # four, lovely shot, got him, wide
    assert m["bare_label_share"] == pytest.approx(3 / 6)  # Four., four, Wide.
    assert m["max_in_window"] == 2
    # one line at spoken positions 0, 19 and 38: twice in some window of 20, never three times
    spread = []
    for block in range(3):
        spread += ["Marvellous."] + [f"Line {block}.{i}." for i in range(18)]
    assert variety.variety_metrics(spread)["max_in_window"] == 2
    assert variety.variety_metrics(["Marvellous.", "Got him."] * 2 + ["Marvellous."])["max_in_window"] == 3
    assert variety.variety_metrics(["Marvellous."] * 3)["max_in_window"] == 3
    assert variety.variety_metrics(["", ""])["distinct_share"] is None


def test_the_replayed_matches_are_long_enough_and_not_training_data():
    matches = variety.match_set(SimpleNamespace(replay_balls=330, seed=0))
    assert [m[0] for m in matches] == [variety.SIM_MATCH_ID, "cricsheet-1144529", "cricsheet-1144530"]
    sim = matches[0][2]
    assert len(sim) == 330
    assert all(len(balls) > 450 for _mid, _info, balls in matches[1:])  # whole ODIs
    assert any(b["super_over"] for b in matches[2][2])  # the 2019 final's super over


def _report(**variety_fields):
    models = {
        SERVED: {"metrics": {"all": {"contradiction_rate": 0.02, "fit_rate": 0.93}}, "agreement_with_16bit": 0.5},
        f"{SERVED}-raw": {"metrics": {"all": {"contradiction_rate": 0.05, "fit_rate": 0.80}}},
        SAMPLED: {"metrics": {"all": {"within_words": 1.0, "exclamation_rate": 0.0, "contradiction_rate": 0.01}}},
    }
    return {"models": models, "variety": variety_fields, "quantization": {f"{SERVED} vs F16": {"kl_mean": 0.04}}}


def test_the_default_gate_has_no_issue_15_checks():
    result = gate(_report(), EvalThresholds())
    metrics = [c["metric"] for c in result["checks"]]
    assert not any("replayed" in m or "sampled decoding" in m or "-raw" in m for m in metrics)
    assert any("greedy agreement" in m for m in metrics)  # exact agreement still gates the default
    assert any(m.startswith(SAMPLED) for m in metrics)  # a sampled model row, when present, is what is judged


def test_the_colour_gate_checks_variety_and_sampled_rates_instead_of_exact_agreement():
    t = EvalThresholds(
        q4_agreement_kind="sampled",
        q4_sampled_rate_gap=0.03,
        q4_max_kl=0.05,
        match_distinct_share=0.5,
        max_bare_label_share=0.35,
        max_repeats_in_20=2,
        model_contradiction_rate=0.03,
        model_fit=0.90,
        raw_contradiction_rate=0.03,
        raw_fit=0.85,
    )
    good = {"distinct_share": 0.6, "bare_label_share": 0.2, "max_in_window": 2}
    result = gate(_report(matches=good, sampled_rates={"max_gap": 0.02}), t)
    by = {c["metric"]: c for c in result["checks"]}
    assert not any("greedy agreement" in m for m in by)
    assert by["replayed matches: distinct share of spoken replies (worst match)"]["passed"] is True
    assert by[f"{SERVED} vs 16-bit under sampled decoding: largest rubric-rate gap"]["passed"] is True
    assert by[f"{SERVED} vs F16 KL, nats per reply token"]["passed"] is True
    # the raw path misses both of its thresholds here
    assert [f for f in result["failures"] if "-raw" in f] and len([f for f in result["failures"] if "-raw" in f]) == 2
    bad = {"distinct_share": 0.3, "bare_label_share": 0.5, "max_in_window": 4}
    failures = gate(_report(matches=bad, sampled_rates={"max_gap": 0.08}), t)["failures"]
    for what in ("distinct share", "bare-label share", "consecutive", "rubric-rate gap"):
        assert any(what in f for f in failures), what
    skipped = gate({"models": {}}, t)["checks"]
    assert all(c["passed"] is None for c in skipped if "replayed" in c["metric"])
    # under a sampling Modelfile the raw path is judged by its sampled draws, not the greedy rows
    sampled_raw = {"rates": {"contradiction_rate": 0.02, "fit_rate": 0.9}}
    by = {c["metric"]: c for c in gate(_report(matches=good, raw_sampled=sampled_raw), t)["checks"]}
    raw = {m: c for m, c in by.items() if m.startswith(f"{SERVED}-raw (the Ollama path, sampled)")}
    assert len(raw) == 2 and all(c["passed"] for c in raw.values())
    assert [c["value"] for c in raw.values()] == [0.02, 0.9]


# -- on the real engine ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def engine(smollm2_gguf):
    from device.runtime.engine import Engine, EngineSettings

    return Engine(EngineSettings(model_path=smollm2_gguf, n_ctx=1024, n_threads=1)).load()


def test_replaying_a_real_match_keeps_one_memory_per_match(engine):
    from device.runtime.service import Commentator, Sampling, line_key

    sampling = Sampling(temperature=1.0, draws=3, memory=8)
    commentator = Commentator(engine, sampling=sampling)
    info, balls = variety.cricsheet_balls(variety.REAL_MATCHES / "1144530.json", limit=16)
    rows = variety.replay_match(commentator, info, balls, "final-2019")
    assert len(rows) == 16 and rows[0]["context"]["match_id"] == "final-2019"
    assert rows[0]["context"]["day_start"] is True
    spoken = [(r["text"], r["guarded"]) for r in rows if r["text"]]
    for i, (text, guarded) in enumerate(spoken):
        if not guarded:  # a model line is never one of the last 8 spoken lines of the match
            assert line_key(text) not in {line_key(t) for t, _g in spoken[max(0, i - 8) : i]}
    again = variety.replay_match(Commentator(engine, sampling=sampling), info, balls, "final-2019")
    assert [r["text"] for r in again] == [r["text"] for r in rows]  # same seeds, same memory: same replies


def test_the_same_model_under_paired_seeds_has_no_rate_gap(engine):
    from builder.eval.events import load_heldout
    from device.runtime.service import Sampling

    events = load_heldout()[:6]
    out = variety.sampled_rates(engine, engine, events, Sampling(temperature=0.8), seeds=2)
    assert out["n"] == 12 and out["max_gap"] == 0.0 and out["same_reply_share"] == 1.0


def test_sampled_draws_of_different_events_do_not_share_their_random_numbers(engine):
    # One seed for every event gave each token position the same random number on every event, so a draw
    # was one roll for the whole set: six copies of one prompt came back as one reply six times.
    from builder.eval.events import load_heldout
    from device.runtime.service import Sampling

    events, sampling = [load_heldout()[0]] * 6, Sampling(temperature=1.0, top_p=1.0)
    # A prompt evaluated cold and one found in the KV cache get slightly different logits, which can flip a
    # sample at temperature 1; one pass first puts every call below on the cached path.
    variety.sampled_replies(engine, events[:1], sampling, seeds=1)
    evs, replies = variety.sampled_replies(engine, events, sampling, seeds=1)
    assert len(replies) == 6 and len(set(replies)) > 1
    again = variety.sampled_replies(engine, events, sampling, seeds=1)[1]
    assert again == replies  # still reproducible: the seed is the event's index and the draw's


def test_the_raw_path_is_sampled_without_the_outcome_line(engine):
    from builder.eval.events import load_heldout
    from device.runtime.service import Sampling

    events = [e for e in load_heldout() if e.text][:4]
    sampling = Sampling(temperature=0.8)
    out = variety.raw_sampled(engine, events, sampling, seeds=2)
    assert out["n"] == 8 and out["seeds"] == 2 and set(out["rates"]) <= set(variety.RATE_KEYS)
    assert sum(int(v.split("/")[1]) for v in out["composite_by_style"].values()) == 8
    raw = variety.sampled_replies(engine, events, sampling, 2, outcome_line=False)[1]
    served = variety.sampled_replies(engine, events, sampling, 2)[1]
    passed = sum(int(v.split("/")[0]) for v in out["composite_by_style"].values())
    assert len(out["misses"]) == 8 - passed and all(m["reply"] in raw for m in out["misses"])
    assert out["rates"]["composite"] == pytest.approx(passed / 8)
    assert raw != served  # the same seeds on a different prompt: the outcome line is not there


def test_printing_replies_in_a_row(smollm2_gguf, capsys):
    assert (
        variety.main(
            ["--model", str(smollm2_gguf), "--threads", "1", "-n", "5", "--temperature", "0.7", "--draws", "2"]
        )
        == 0
    )
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert len(lines) == 5 and lines[0].startswith("1:0.1")
    assert "5 balls" in out.err and "distinct" in out.err
    assert "'runs_needed'" not in out.err  # a bare GGUF is shown the keys of bundles before issue 15


def test_printing_replies_of_a_candidate_served_as_its_config_would(smollm2_gguf, capsys):
    # A candidate that failed its gate has no manifest; --config gives it the sampling and every context key
    # a bundle built from that config serves, as the build's own replay does.
    colour = "builder/configs/benaud-smollm2-135m-colour.yaml"
    assert variety.main(["--model", str(smollm2_gguf), "--config", colour, "--threads", "1", "-n", "3"]) == 0
    err = capsys.readouterr().err
    assert "'temperature': 0.3" in err and "'runs_needed'" in err and "'match_id'" in err
    with pytest.raises(SystemExit):
        variety.main(["--bundle", "x", "--config", colour])


def test_the_colour_config_serves_sampling_and_the_default_stays_greedy():
    from builder.config import load_config
    from builder.export.modelfile import modelfile_parameters
    from device.commentary.render import ALL_KEYS

    colour = load_config("builder/configs/benaud-smollm2-135m-colour.yaml")
    fields = variety.serving_fields(colour)
    s = variety.served_sampling(colour)
    assert (s.temperature, s.draws, s.memory, s.context_keys) == (0.3, 4, 12, ALL_KEYS)
    params = modelfile_parameters(colour.export)  # the Modelfile carries the same values
    assert {k: params[k] for k in ("temperature", "top_k", "top_p", "min_p")} == {
        k: fields["sampling"][k] for k in ("temperature", "top_k", "top_p", "min_p")
    }
    default = load_config("builder/configs/benaud-smollm2-135m.yaml")
    assert variety.serving_fields(default) == {}
    assert variety.served_sampling(default).temperature == 0.0


def test_a_config_with_guard_vocabulary_serves_its_training_replies_words(tmp_path, smollm2_gguf, capsys):
    from builder.config import load_config
    from builder.data.dataset import write_dataset

    colour = load_config("builder/configs/benaud-smollm2-135m-colour.yaml")
    assert colour.export.guard_vocabulary
    write_dataset(tmp_path, 7, scale=0.1, variety=True)
    fields = variety.serving_fields(colour, tmp_path)
    assert "marvellous" in fields["reply_vocabulary"] and fields["reply_vocabulary"] == sorted(
        fields["reply_vocabulary"]
    )
    assert variety.served_sampling(colour, tmp_path).vocabulary == frozenset(fields["reply_vocabulary"])
    assert "reply_vocabulary" not in variety.serving_fields(colour)  # no data given, no list
    default = load_config("builder/configs/benaud-smollm2-135m.yaml")
    assert variety.serving_fields(default, tmp_path) == {}  # the default bundle's manifest is unchanged
    # reading replies of a candidate: --dataset gives it the vocabulary its bundle would have
    colour_yaml = "builder/configs/benaud-smollm2-135m-colour.yaml"
    args = ["--model", str(smollm2_gguf), "--config", colour_yaml, "--threads", "1", "-n", "2"]
    assert variety.main([*args, "--dataset", str(tmp_path)]) == 0
    assert f"'vocabulary_words': {len(fields['reply_vocabulary'])}" in capsys.readouterr().err
    assert variety.main(args) == 0
    assert "no --dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        variety.main(["--model", str(smollm2_gguf), "--dataset", str(tmp_path)])  # --dataset goes with --config


def test_the_kl_measured_in_the_eval_reaches_the_gate():
    """evaluate_replies takes the Q4-vs-F16 divergence before it gates: the KL threshold is judged,
    not skipped as unmeasured (it was, when the KL was added to the report after the gate)."""
    from builder.config import load_config
    from builder.eval.events import load_heldout
    from builder.eval.run import evaluate_replies

    cfg = load_config(Path("builder/configs/benaud-smollm2-135m-colour.yaml"))
    events = load_heldout()[:4]
    replies = {SERVED: ["Lovely shot."] * len(events)}
    metric = f"{SERVED} vs F16 KL, nats per reply token"
    for kl, passed in ((0.01, True), (0.2, False)):
        quant = {f"{SERVED} vs F16": {"kl_mean": kl, "tokens": 40}}
        report, _ = evaluate_replies(events, replies, cfg, quantization=quant)
        check = next(c for c in report["gate"]["checks"] if c["metric"] == metric)
        assert check["passed"] is passed and check["value"] == kl
        assert report["quantization"] == quant
