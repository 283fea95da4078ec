"""The evaluation on real models: SmolLM2 through llama.cpp and a tiny random Llama via transformers.

The untuned SmolLM2 base stands in for a "deliberately bad model": it talks in sentences, so the
gate must fail it. Each test uses a handful of events to stay quick on a shared 2-core machine.
"""

from __future__ import annotations

import json
import shutil

import pytest

from builder.config import BuildConfig, EvalConfig
from builder.eval import run as evaluate
from builder.eval.events import load_heldout
from builder.eval.models import EnginePool, GGUFReplier, messages_for, quant_divergence
from device.commentary.render import SYSTEM_PROMPT, render_user
from device.runtime.bundle import GGUF_NAME, verify_bundle, write_manifest

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def events():
    hand = load_heldout()
    # one text event of each kind that matters most, and one Cricsheet delivery
    return [hand[1], hand[18], next(e for e in hand if e.delivery is not None)]


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory, tiny_llama, smollm2_tokenizer):
    """Two random tiny Llamas with SmolLM2's tokenizer (the builder conftest's, and one more)."""
    from transformers import AutoTokenizer

    from tests.builder.tiny_model import make_tiny_llama

    tok = AutoTokenizer.from_pretrained(str(smollm2_tokenizer))
    return tiny_llama, make_tiny_llama(tmp_path_factory.mktemp("tiny-b"), tok, seed=1)


@pytest.fixture()
def dataset_dir(tmp_path):
    rows = []
    for text, reply in (
        ("Starc to Kohli, SIX, over long-on", "Gone a long way."),
        ("Broad to Smith, no run, defended", ""),
    ):
        rows.append(
            {
                "messages": [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": render_user(text=text)},
                    {"role": "assistant", "content": reply},
                ]
            }
        )
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path / "data"


def test_prompt_modes(events):
    served, raw = messages_for(events[0], "served"), messages_for(events[0], "raw")
    few, zero = messages_for(events[0], "few"), messages_for(events[0], "zero")
    reader = messages_for(events[0], "few-reader")
    assert served[0]["content"] == SYSTEM_PROMPT and served[1]["content"].startswith("Outcome:")
    assert raw[1]["content"] == events[0].text  # the user's words alone, as `ollama run` sends them
    # the base prompted as Benaud gets the user's words; only "few-reader" also gets the reader's line
    assert zero[-1] == few[-1] == raw[-1] and len(few) > len(zero) == 2
    assert reader[-1] == served[-1] and reader[:-1] == few[:-1]
    assert [m["role"] for m in few[1:3]] == ["user", "assistant"]
    with pytest.raises(ValueError, match="few-reader"):
        messages_for(events[0], "fewshot")


def test_gguf_replier_runs_the_real_engine(smollm2_gguf, events):
    pool = EnginePool(n_ctx=1024, threads=1)
    try:
        replier = GGUFReplier(pool, smollm2_gguf, "few", max_new_tokens=8)
        replies = [replier.reply(e) for e in events]
        assert all(isinstance(text, str) and isinstance(cut, bool) for text, cut in replies)
        assert len(pool._engines) == 1  # one engine per file, shared by every mode
        again = GGUFReplier(pool, smollm2_gguf, "few", max_new_tokens=8).reply(events[0])
        assert again == replies[0]  # greedy: the same answer twice
        # The untuned base rambles: generation stops once the line is sure to be too long,
        # long before 40 tokens, and the reply is marked as cut off.
        text, cut = GGUFReplier(pool, smollm2_gguf, "zero", max_new_tokens=40).reply(events[0])
        assert cut and 6 <= len(text.split()) <= 8
    finally:
        pool.close()


def test_quant_divergence_of_a_model_with_itself_is_zero(smollm2_gguf, events):
    pool_a, pool_b = EnginePool(threads=1), EnginePool(threads=1)
    try:
        a, b = pool_a.get(smollm2_gguf), pool_b.get(smollm2_gguf)
        q = quant_divergence(a, b, events[:2], limit=2)
        assert q["tokens"] >= 2
        assert q["kl_mean"] == pytest.approx(0.0, abs=1e-6)
        assert q["ppl_delta"] == pytest.approx(0.0, abs=1e-6) and q["ppl_reference"] > 1.0
    finally:
        pool_a.close()
        pool_b.close()


def test_build_gate_fails_the_untuned_base(tmp_path, smollm2_gguf, tiny_dirs, dataset_dir):
    """The bundle being built holds the untuned base: the gate must refuse it and say why."""
    work = tmp_path / "bundle.tmp"
    work.mkdir()
    shutil.copyfile(smollm2_gguf, work / GGUF_NAME)
    cfg = BuildConfig(
        eval=EvalConfig(max_heldout=2, n_events=2, max_new_tokens=8, kl_events=2, step_events=2, threads=1)
    )
    result = evaluate.evaluate_bundle_dir(
        work,
        cfg,
        merged_dir=tiny_dirs[0],
        out=tmp_path / "eval",
        dataset_dir=dataset_dir,
        f16_gguf=smollm2_gguf,
        checkpoints=[(20, tiny_dirs[1]), (10, tiny_dirs[0])],
        base_dir=tiny_dirs[1],
    )
    assert not result.passed
    assert any("composite minus few-shot base composite" in f and "threshold >= 0.5" in f for f in result.failures)
    report = json.loads((work / "eval.json").read_text())
    assert set(report["models"]) == {
        "base-zero-shot",
        "base-few-shot",
        "base-few-shot+reader",
        "merged-16bit",
        "q4_k_m",
        "q4_k_m-raw",
        "q4_k_m+guard",
    }
    assert report["n_events"] == {"handwritten": 2, "test": 2}
    assert report["models"]["merged-16bit"]["loss"]["val_loss"] > 0
    base_loss = report["models"]["base-zero-shot"]["loss"]  # of the 16-bit base copy (base_dir)
    assert base_loss["tokens"] == report["models"]["merged-16bit"]["loss"]["tokens"] > 0
    assert base_loss["val_loss"] != report["models"]["merged-16bit"]["loss"]["val_loss"]  # two different models
    # the "F16" here is the same file as the "Q4": identical greedy replies, agreement exactly 1
    assert report["models"]["merged-16bit"]["runtime"].startswith("llama.cpp")
    assert report["models"]["q4_k_m"]["agreement_with_16bit"] == 1.0
    assert report["quantization"]["q4_k_m vs F16"]["kl_mean"] == pytest.approx(0.0, abs=1e-6)
    assert [s["step"] for s in report["steps"]] == [10, 20]
    # the base and the "q4" are the same file here: the same prompt gives the same greedy reply
    assert (
        report["models"]["q4_k_m"]["metrics"]
        == json.loads((tmp_path / "eval" / "eval.json").read_text())["models"]["q4_k_m"]["metrics"]
    )
    assert (tmp_path / "eval" / "report.md").read_text().count("| q4_k_m |") >= 1


def test_gate_off_lets_a_failing_build_through_but_keeps_the_failures(tmp_path, smollm2_gguf, tiny_dirs):
    """Also: a local (Hugging Face folder) base is compared through transformers, zero- and few-shot."""
    from builder.config import BaseConfig

    work = tmp_path / "w"
    work.mkdir()
    shutil.copyfile(smollm2_gguf, work / GGUF_NAME)
    cfg = BuildConfig(
        base=BaseConfig(source="local", path=str(tiny_dirs[0])),
        eval=EvalConfig(max_heldout=2, max_new_tokens=6, gate=False, threads=1),
    )
    result = evaluate.evaluate_bundle_dir(work, cfg, base_dir=tiny_dirs[0])
    assert result.passed and result.failures and result.report["gate"]["enforced"] is False
    assert {"base-zero-shot", "base-few-shot", "base-few-shot+reader"} <= set(result.report["models"])


def test_suksham_eval_rates_and_never_touches_the_bundle(tmp_path, smollm2_gguf):
    from click.testing import CliRunner

    from device.cli import main

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    shutil.copyfile(smollm2_gguf, bundle / GGUF_NAME)
    write_manifest(bundle, {"quant_type": "Q4_1", "base": {"name": "smollm2-135m-instruct", "source": "package"}})
    before = {p.name: p.stat().st_mtime_ns for p in bundle.iterdir()}
    out = tmp_path / "report"
    result = CliRunner().invoke(
        main,
        ["eval", "--bundle", str(bundle), "--out", str(out), "--rate", "--limit", "2"],
        input="0\n" + "4\n" * 6 + "2\n" * 6,
    )
    assert result.exit_code == 0, result.output
    assert "| q4_k_m |" in result.output and "gate:" in result.output
    assert {p.name: p.stat().st_mtime_ns for p in bundle.iterdir()} == before
    verify_bundle(bundle)
    ratings = json.loads((out / "ratings.json").read_text())
    assert ratings["n"] == 12 and {r["rating"] for r in ratings["ratings"]} == {2, 4}
    report = json.loads((out / "eval.json").read_text())
    assert report["ratings"]["per_model"] and "Human ratings" in (out / "report.md").read_text()
    assert not (bundle / "ratings.json").exists() and not (bundle / "eval.json").exists()


def test_metrics_against_steps_from_adapter_checkpoints(tmp_path, tiny_dirs, events):
    """The train stage's layout (checkpoints/step-N/adapter + train_log.jsonl), LoRA adapters on a 16-bit base."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base_dir = tiny_dirs[0]
    train = tmp_path / "train"
    for step in (10, 20):
        model = get_peft_model(
            AutoModelForCausalLM.from_pretrained(base_dir),
            LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
        )
        model.save_pretrained(str(train / "checkpoints" / f"step-{step:06d}" / "adapter"))
    (train / "checkpoints" / "step-000030").mkdir()  # an unfinished one: no adapter, ignored
    (train / "train_log.jsonl").write_text(
        '{"step": 10, "loss": 3.0, "val_loss": 2.5}\n{"step": 15, "loss": 2.0}\n'
        '{"step": 20, "loss": 1.0, "val_loss": 1.5}\n'
    )
    found = evaluate.find_checkpoints(train)
    assert [s for s, _ in found] == [10, 20]
    assert evaluate.training_val_losses(train) == {10: 2.5, 20: 1.5}
    steps = evaluate.evaluate_checkpoints(
        found, events[:2], base_dir=base_dir, cfg=BuildConfig(eval=EvalConfig(max_new_tokens=6, threads=1))
    )
    assert [s["step"] for s in steps] == [10, 20] and all(s["metrics"]["n"] == 2 for s in steps)
    with pytest.raises(ValueError, match="LoRA adapter; pass base_dir"):
        evaluate.evaluate_checkpoints(found, events[:1])


def test_suksham_eval_uses_the_bundles_own_thresholds(tmp_path, smollm2_gguf):
    """A bundle gated with lenient thresholds is re-judged by them; no base in the manifest, no base run."""
    from click.testing import CliRunner

    from device.cli import main

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    shutil.copyfile(smollm2_gguf, bundle / GGUF_NAME)
    lenient = {
        "max_words_share": 0.0,
        "exclamation_rate": 1.0,
        "contradiction_rate": 1.0,
        "handwritten_fit": 0.0,
        "composite_margin_over_fewshot": -1.0,
        "q4_agreement": 0.0,
        "min_distinct_share": 0.0,
        "max_guarded_share": 1.0,
    }
    (bundle / "eval.json").write_text(json.dumps({"thresholds": lenient}))
    write_manifest(bundle, {"quant_type": "Q4_1", "base": {"name": "tiny-random-llama", "source": "local"}})
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["eval", "--bundle", str(bundle), "--out", str(out), "--limit", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "eval.json").read_text())
    assert report["thresholds"]["max_words_share"] == 0.0 and report["gate"]["passed"]
    assert set(report["models"]) == {"q4_k_m", "q4_k_m-raw", "q4_k_m+guard"}
    assert any("few-shot comparison was skipped" in n for n in report["notes"])


def test_tie_aware_agreement_counts_near_ties_and_refuses_unlikely_replies(smollm2_gguf, events):
    from builder.eval.models import EnginePool, GGUFReplier, reply_logprob, tie_aware_agreement

    pool = EnginePool(n_ctx=512, threads=1)
    try:
        engine = pool.get(smollm2_gguf)
        few = events[:4]
        own = [GGUFReplier(pool, smollm2_gguf).reply(e)[0] for e in few]
        same = tie_aware_agreement(engine, few, own, own)
        assert same == {"agreement": 1.0, "near_ties": 0, "n": len(few), "margin_nats": pytest.approx(0.6931, abs=1e-3)}
        odd = ["Purple zebra crossing quietly." for _ in few]
        assert tie_aware_agreement(engine, few, own, odd)["agreement"] == 0.0
        # the reference's own greedy reply is never less likely than an arbitrary one
        msgs = messages_for(few[0], "served")
        assert reply_logprob(engine, msgs, own[0]) > reply_logprob(engine, msgs, odd[0])
    finally:
        pool.close()
