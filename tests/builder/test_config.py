"""builder.config: shipped configs load and are fully commented; bad configs fail with every problem listed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from builder.config import BuildConfig, ConfigError, config_from_dict, field_docs, load_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "builder" / "configs").glob("*.yaml"))


def test_shipped_configs_exist():
    names = {p.name for p in CONFIGS}
    assert {"benaud-smollm2-135m.yaml", "benaud-qwen2.5-0.5b-gpu.yaml"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_loads(path):
    cfg = load_config(path)
    assert isinstance(cfg, BuildConfig)
    assert cfg.source == str(path)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_first_line_is_the_command(path):
    first = path.read_text().splitlines()[0]
    assert first == f"# suksham build --config builder/configs/{path.name} --out " + first.split("--out ")[-1]
    assert re.fullmatch(r"# suksham build --config \S+ --out \S+", first)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_sets_and_comments_every_key(path):
    """Every key of the schema is written out, each with a trade-off comment on its line."""
    lines = path.read_text().splitlines()
    raw = yaml.safe_load(path.read_text())
    flat = {}

    def walk(d, prefix=""):
        for k, v in d.items():
            if isinstance(v, dict):
                walk(v, f"{prefix}{k}.")
            else:
                flat[f"{prefix}{k}"] = v

    walk(raw)
    leaf_keys = {k for k in field_docs() if k != "eval.thresholds"}
    assert set(flat) == leaf_keys, f"missing {leaf_keys - set(flat)}, extra {set(flat) - leaf_keys}"
    for line in lines:
        if re.match(r"^\s+\w+:\s*\S", line):  # a key with a value
            assert " # " in line and len(line.split(" # ", 1)[1].strip()) > 10, f"uncommented: {line!r}"


def test_every_field_has_a_doc():
    docs = field_docs()
    assert all(docs.values()), [k for k, v in docs.items() if not v]
    assert "train.lora_r" in docs and "eval.thresholds.q4_agreement" in docs


def test_defaults_when_keys_left_out():
    cfg = config_from_dict({})
    assert cfg.base.source == "package" and cfg.train.method == "qlora"
    assert cfg.export.quant_types == ["Q4_K_M"] and cfg.export.extra_quants == [] and cfg.export.n_ctx == 512
    assert cfg.export.imatrix is False
    t = cfg.eval.thresholds
    assert (
        t.max_words_share,
        t.exclamation_rate,
        t.contradiction_rate,
        t.handwritten_fit,
        t.composite_margin_over_fewshot,
        t.q4_agreement,
    ) == (0.98, 0.0, 0.02, 0.90, 0.5, 0.90)


def test_int_accepted_where_float_expected():
    cfg = config_from_dict({"train": {"lora_alpha": 16, "learning_rate": 1}})
    assert cfg.train.lora_alpha == 16.0 and isinstance(cfg.train.lora_alpha, float)


BAD = [
    ({"trian": {}}, ["trian: unknown section (did you mean 'train'?)"]),
    ({"train": {"lora_rank": 8}}, ["train.lora_rank: unknown key (did you mean 'lora_r'?)"]),
    ({"train": {"lora_r": "eight"}}, ["train.lora_r: must be an integer"]),
    ({"train": {"lora_r": 0}}, ["train.lora_r: 0 is below 1"]),
    ({"train": {"lora_r": True}}, ["train.lora_r: must be an integer"]),
    ({"train": {"method": "qlora8"}}, ["train.method: 'qlora8' is not allowed", "['qlora', 'lora']"]),
    ({"train": {"lora_dropout": 1.5}}, ["train.lora_dropout: 1.5 is above 0.9"]),
    ({"train": {"target_modules": "q_proj"}}, ["train.target_modules: must be a list"]),
    ({"train": {"target_modules": []}}, ["train.target_modules: must be a non-empty list"]),
    ({"train": {"warmup_steps": 50, "max_steps": 40}}, ["train.warmup_steps: 50 >= max_steps 40"]),
    ({"train": {"method": "lora", "compute_dtype": "float16"}}, ["train.compute_dtype: float16 LoRA"]),
    ({"train": {"gradient_checkpointing": "yes"}}, ["train.gradient_checkpointing: must be true or false"]),
    ({"train": 5}, ["train: must be a mapping"]),
    ({"base": {"source": "s3"}}, ["base.source: 's3' is not allowed"]),
    ({"base": {"source": "local"}}, ["base.path: required when source is 'local'"]),
    ({"base": {"source": "hub"}}, ["base.hub_id: required when source is 'hub'"]),
    ({"base": {"source": "gguf", "path": "model.bin"}}, ["base.path: 'model.bin' is not a .gguf file"]),
    ({"base": {"name": "llama-70b"}}, ["base.name: no packaged GGUF called 'llama-70b'"]),
    ({"base": {"dtype": "float32"}}, ["base.dtype: 'float32' is not allowed"]),
    ({"merge": {"min_agreement": 2}}, ["merge.min_agreement: 2 is above 1.0"]),
    ({"export": {"quant_types": ["Q4_K_X"]}}, ["export.quant_types: unknown quantization(s) ['Q4_K_X']"]),
    ({"export": {"quant_types": []}}, ["export.quant_types: empty"]),
    ({"export": {"n_ctx": 16}}, ["export.n_ctx: 16 is below 64"]),
    ({"eval": {"thresholds": {"q4_agreement": 1.5}}}, ["eval.thresholds.q4_agreement: 1.5 is above 1.0"]),
    (
        {"eval": {"thresholds": {"q4_agreemnt": 0.9}}},
        ["eval.thresholds.q4_agreemnt: unknown key (did you mean 'q4_agreement'?)"],
    ),
    ({"train": {"seq_len": 8192}, "export": {"n_ctx": 512}}, ["train.seq_len: 8192 is far beyond export.n_ctx"]),
]


@pytest.mark.parametrize("raw,expected", BAD, ids=[str(b[0]) for b in BAD])
def test_bad_config_is_refused_with_a_fix(raw, expected):
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw, source="bad.yaml")
    text = str(err.value)
    for part in expected:
        assert part in text, text
    assert "Fix:" in text and "bad.yaml" in text


def test_every_problem_is_reported_at_once():
    raw = {
        "base": {"source": "hub"},
        "train": {"lora_r": -1, "method": "x", "lr": 1},
        "export": {"n_ctx": 1},
        "evaluation": {},
    }
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw)
    assert len(err.value.problems) == 6, err.value.problems
    assert str(err.value).startswith("6 problem(s)")


def test_load_config_file_errors(tmp_path):
    bad_yaml = tmp_path / "broken.yaml"
    bad_yaml.write_text("train:\n  lora_r: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad_yaml)
    with pytest.raises(ConfigError, match="cannot read the config"):
        load_config(tmp_path / "missing.yaml")
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(listy)
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    assert load_config(empty).train.method == "qlora"


def test_to_dict_round_trips():
    cfg = load_config(CONFIGS[0])
    assert config_from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()
