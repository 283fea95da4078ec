"""The whole build at tiny scale: data -> base -> train -> merge -> export -> eval -> bundle, resumable,
into a bundle the device accepts; a failed gate or an interrupted build leaves the previous bundle intact."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from builder.export.modelfile import validate_modelfile
from device.cli import main as cli
from device.runtime.bundle import GGUF_NAME, MANIFEST, MODELFILE_NAME, verify_bundle

LENIENT = {
    "max_words_share": 0.0,
    "exclamation_rate": 1.0,
    "contradiction_rate": 1.0,
    "handwritten_fit": 0.0,
    "composite_margin_over_fewshot": -1.0,
    "composite_gap_over_reader_base": -1.0,
    "q4_agreement": 0.0,
    "max_guarded_share": 1.0,
    "min_distinct_share": 0.0,
}


def tiny_config(tmp: Path, base: Path, data: Path, **overrides) -> Path:
    cfg = {
        "base": {"source": "local", "name": "tiny-random-llama", "path": str(base)},
        "data": {"path": str(data)},
        "train": {
            "method": "qlora",
            "max_steps": 3,
            "warmup_steps": 1,
            "batch_size": 1,
            "grad_accum": 1,
            "seq_len": 160,
            "eval_every": 2,
            "save_every": 2,
            "max_val_examples": 4,
            "lora_r": 4,
            "lora_alpha": 8.0,
            "threads": 2,
        },
        "merge": {"check_prompts": 2, "check_max_new_tokens": 4},
        "export": {"quant_types": ["Q4_K_M"], "n_ctx": 512, "parity_natural_stop": False},
        "eval": {
            "n_events": 2,
            "max_heldout": 3,
            "kl_events": 2,
            "step_events": 1,
            "max_new_tokens": 4,
            "n_ctx": 512,
            "threads": 2,
            "thresholds": dict(LENIENT),
        },
    }
    for key, value in overrides.items():
        section, _, name = key.partition(".")
        if "." in name:
            sub, _, leaf = name.partition(".")
            cfg[section][sub][leaf] = value
        else:
            cfg[section][name] = value
    path = tmp / f"tiny-{len(list(tmp.glob('tiny-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_llama):
    from builder.data.dataset import write_dataset

    tmp = tmp_path_factory.mktemp("build")
    write_dataset(tmp / "dataset", 1234, scale=0.02)
    cfg = tiny_config(tmp, tiny_llama, tmp / "dataset")
    out = tmp / "bundle"
    result = CliRunner().invoke(cli, ["build", "--config", str(cfg), "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return {"tmp": tmp, "out": out, "cfg": cfg, "output": result.output, "base": tiny_llama}


@pytest.mark.slow
def test_tiny_build_makes_a_bundle_the_device_accepts(built):
    from device.runtime.engine import Engine, EngineSettings

    out = built["out"]
    bundle = verify_bundle(out)
    m = bundle.manifest
    assert m["quant_type"] == "Q4_K_M" and m["gguf"] == GGUF_NAME and m["n_ctx"] == 512
    assert m["expected_ram_mb"] > 0 and m["eval"]["passed"] is True
    assert len(m["dataset"]["sha256"]) == 64 and m["dataset"]["heldout_sha256"]
    assert m["base"]["name"] == "tiny-random-llama" and m["versions"]["llama-cpp-python"]
    assert m["hyperparameters"]["max_steps"] == 3
    assert {GGUF_NAME, MODELFILE_NAME, "eval.json", "MODEL_CARD.md", "train_log.jsonl"} <= set(m["files"])
    parsed = validate_modelfile((out / MODELFILE_NAME).read_text(), base_dir=out)
    assert parsed.parameters["num_ctx"] == m["n_ctx"]
    card = (out / "MODEL_CARD.md").read_text()
    assert "required fallback quantization" in card and "## Evaluation" in card
    engine = Engine(EngineSettings(model_path=bundle.gguf_path, n_ctx=bundle.n_ctx, n_threads=2)).load()
    done = engine.chat(
        [{"role": "system", "content": m["system_prompt"]}, {"role": "user", "content": "Starc to Kohli, FOUR"}],
        max_tokens=4,
    )
    assert done.prompt_tokens > 0 and done.finish_reason in ("stop", "length")
    # the progress lines and the summary table
    assert "[7/7] bundle" in built["output"] and "total" in built["output"]
    assert not (out.parent / f".{out.name}.candidate").exists()


@pytest.mark.slow
def test_a_build_with_guard_vocabulary_seals_its_training_replies_words(built):
    """export.guard_vocabulary: the manifest lists the training replies' words and the server's Sampling reads
    them; the default build's manifest has no list."""
    from builder.data.vocabulary import load_reply_vocabulary
    from device.runtime.service import Sampling

    assert "reply_vocabulary" not in verify_bundle(built["out"]).manifest
    cfg = tiny_config(built["tmp"], built["base"], built["tmp"] / "dataset", **{"export.guard_vocabulary": True})
    out = built["tmp"] / "bundle-vocabulary"
    result = CliRunner().invoke(cli, ["build", "--config", str(cfg), "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    m = verify_bundle(out).manifest
    assert m["reply_vocabulary"] == load_reply_vocabulary(built["tmp"] / "dataset") and len(m["reply_vocabulary"]) > 50
    assert Sampling.from_manifest(m).vocabulary == frozenset(m["reply_vocabulary"])


@pytest.mark.slow
def test_resume_skips_finished_stages(built):
    result = CliRunner().invoke(cli, ["build", "--config", str(built["cfg"]), "--out", str(built["out"])])
    assert result.exit_code == 0, result.output
    for stage in ("data", "base", "train", "merge", "export", "eval"):
        assert f"{stage}: up to date, skipped" in result.output
    assert "already published" in result.output
    verify_bundle(built["out"])


@pytest.mark.slow
def test_another_thread_count_still_reuses_every_stage(built):
    """Threads change speed, not results: a build resumed on a busier machine with 1 thread reuses it all.
    (Nothing runs when it holds: 3 threads on 2 cores would only be slower.)"""
    one = yaml.safe_load(built["cfg"].read_text())
    assert (one["train"].get("threads"), one["eval"].get("threads")) != (3, 3)
    one["train"]["threads"] = one["eval"]["threads"] = 3
    cfg = built["tmp"] / "three-threads.yaml"
    cfg.write_text(yaml.safe_dump(one))
    result = CliRunner().invoke(cli, ["build", "--config", str(cfg), "--out", str(built["out"])])
    assert result.exit_code == 0, result.output
    for stage in ("data", "base", "train", "merge", "export", "eval"):
        assert f"{stage}: up to date, skipped" in result.output


@pytest.mark.slow
def test_failed_gate_and_interrupted_build_keep_the_previous_bundle(built, monkeypatch):
    out = built["out"]
    before = (out / MANIFEST).read_bytes()
    strict = tiny_config(
        built["tmp"], built["base"], built["tmp"] / "dataset", **{"eval.thresholds.handwritten_fit": 1.0}
    )
    strict_cfg = yaml.safe_load(strict.read_text())
    strict_cfg["eval"]["thresholds"]["q4_agreement"] = 1.0
    strict_cfg["eval"]["thresholds"]["max_words_share"] = 1.0
    strict_cfg["eval"]["thresholds"]["max_guarded_share"] = 0.0  # the guard's output alone would pass the rest
    strict.write_text(yaml.safe_dump(strict_cfg))
    result = CliRunner().invoke(cli, ["build", "--config", str(strict), "--out", str(out)])
    assert result.exit_code != 0
    assert "evaluation gate failed" in result.output and "was not sealed" in result.output
    assert (out / MANIFEST).read_bytes() == before
    verify_bundle(out)

    # Ctrl-C during the gate of a rebuild (export settings changed, so export and eval run again).
    import builder.pipeline as pipeline

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "run_eval_gate", interrupted)
    changed = tiny_config(built["tmp"], built["base"], built["tmp"] / "dataset", **{"export.temperature": 0.3})
    result = CliRunner().invoke(cli, ["build", "--config", str(changed), "--out", str(out)])
    assert result.exit_code != 0  # click turns Ctrl-C into "Aborted!"
    assert "eval: interrupted" in result.output and "was not touched" in result.output
    assert (out / MANIFEST).read_bytes() == before
    assert "PARAMETER temperature 0.2" in (out / MODELFILE_NAME).read_text()
    verify_bundle(out)


@pytest.mark.slow
def test_killed_build_keeps_the_previous_bundle(built):
    """SIGKILL (no Python cleanup at all) while the candidate is being gated: OUT is untouched and
    the next build resumes from the stages that had finished."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import time

    out = built["out"]
    before = (out / MANIFEST).read_bytes()
    changed = tiny_config(built["tmp"], built["base"], built["tmp"] / "dataset", **{"export.top_k": 30})
    cand = out.parent / f".{out.name}.candidate"
    shutil.rmtree(cand, ignore_errors=True)  # a failed gate earlier left its candidate for inspection
    proc = subprocess.Popen(
        [sys.executable, "-m", "device.cli", "build", "--config", str(changed), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not cand.is_dir() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cand.is_dir(), "the build never reached the eval stage"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert (out / MANIFEST).read_bytes() == before
    verify_bundle(out)
    result = CliRunner().invoke(cli, ["build", "--config", str(changed), "--out", str(out), "--stage", "eval"])
    assert result.exit_code == 0, result.output
    assert (out / MANIFEST).read_bytes() == before  # gated again, not yet published


@pytest.mark.slow
def test_single_stage_needs_earlier_stages(tmp_path, tiny_llama):
    cfg = tiny_config(tmp_path, tiny_llama, tmp_path / "nodata")
    result = CliRunner().invoke(cli, ["build", "--config", str(cfg), "--out", str(tmp_path / "b"), "--stage", "export"])
    assert result.exit_code != 0
    assert "needs stage data, which has not completed" in result.output


@pytest.mark.slow
def test_single_stage_refuses_stale_inputs(built):
    """Export alone with a changed training config: merge's inputs changed, so its output is stale."""
    changed = tiny_config(built["tmp"], built["base"], built["tmp"] / "dataset", **{"train.lora_r": 8})
    out = built["out"]
    result = CliRunner().invoke(cli, ["build", "--config", str(changed), "--out", str(out), "--stage", "export"])
    assert result.exit_code != 0
    assert "stage train is out of date" in result.output
    verify_bundle(out)


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("export:\n  quant_types: [Q8_0]\n", "put Q4_K_M first"),
        ("export:\n  imatrix: true\n", "export.imatrix"),
        ("export:\n  num_predict: 0\n", "export.num_predict"),
        ("exports: {}\n", "unknown section"),
    ],
)
def test_bad_config_is_a_clean_cli_error(tmp_path, text, fragment):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    result = CliRunner().invoke(cli, ["build", "--config", str(cfg), "--out", str(tmp_path / "b")])
    assert result.exit_code == 1 and fragment in result.output
    assert "Traceback" not in result.output and not (tmp_path / "b.build").exists()


def test_out_that_is_not_a_bundle_is_refused(tmp_path):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "todo.txt").write_text("keep me")
    cfg = tmp_path / "ok.yaml"
    cfg.write_text("data:\n  seed: 1\n")
    result = CliRunner().invoke(cli, ["build", "--config", str(cfg), "--out", str(out)])
    assert result.exit_code == 1 and "not a bundle" in result.output
    assert (out / "todo.txt").read_text() == "keep me"
