"""builder.train.base: the three base sources give one plain 16-bit Hugging Face folder."""

from __future__ import annotations

import json

import pytest

from builder.config import config_from_dict
from builder.train.base import BASE_INFO, BaseModelError, prepare_base, read_base_info


def _base(**kw):
    return config_from_dict({"base": kw}).base


def _assert_plain_folder(folder, dtype):
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["dtype"] == dtype
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    assert (folder / "chat_template.jinja").is_file() or "chat_template" in (
        folder / "tokenizer_config.json"
    ).read_text()
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), "pt") as fh:
        dtypes = {str(fh.get_slice(k).get_dtype()) for k in fh.keys()}
    assert dtypes == {"F16" if dtype == "float16" else "BF16"}, dtypes


@pytest.mark.slow
def test_packaged_gguf_becomes_a_plain_16bit_folder(tmp_path, smollm2_gguf):
    """The embedded SmolLM2 GGUF is dequantized into a plain folder that loads without gguf."""
    import numpy as np
    import torch
    from gguf import GGUFReader
    from gguf.quants import dequantize
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = prepare_base(_base(), tmp_path / "base")
    _assert_plain_folder(out, "float16")
    info = read_base_info(out)
    assert info["source"] == "package" and info["gguf_file"] == smollm2_gguf.name
    assert info["architecture"] == "LlamaForCausalLM" and 130e6 < info["parameters"] < 140e6

    # the saved weights are the GGUF's Q4_1 values, up to float16 rounding
    gguf_t = next(t for t in GGUFReader(str(smollm2_gguf)).tensors if t.name == "blk.0.ffn_down.weight")
    want = dequantize(gguf_t.data, gguf_t.tensor_type)
    with safe_open(str(out / "model.safetensors"), "pt") as fh:
        got = fh.get_tensor("model.layers.0.mlp.down_proj.weight").float().numpy()
    assert got.shape == want.shape
    assert np.all(np.abs(got - want) <= np.abs(want) * 2.0**-11 + 1e-7)

    plain = AutoModelForCausalLM.from_pretrained(str(out), dtype=torch.float32)
    assert getattr(plain, "hf_quantizer", None) is None
    assert all(type(m).__name__ == "Linear" for n, m in plain.named_modules() if n.endswith("proj"))
    tok = AutoTokenizer.from_pretrained(str(out))
    assert tok.convert_tokens_to_ids("<|im_end|>") == tok.eos_token_id
    messages = [{"role": "system", "content": "Reply in one word."}, {"role": "user", "content": "Say hello."}]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")
    ids = torch.tensor([tok(text, add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        gen = plain.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=16, do_sample=False)
    reply = gen[0, ids.shape[1] :].tolist()
    assert (
        tok.eos_token_id in reply and tok.decode(reply[: reply.index(tok.eos_token_id)]).strip()
    )  # a working chat model


def test_local_folder_source(tmp_path, tiny_llama):
    out = prepare_base(_base(source="local", path=str(tiny_llama), name="tiny", dtype="bfloat16"), tmp_path / "b")
    _assert_plain_folder(out, "bfloat16")
    info = read_base_info(out)
    assert info["source"] == "local" and info["path"] == str(tiny_llama.resolve())


def test_prepared_base_is_reused_then_redone_when_the_source_changes(tmp_path, tiny_llama):
    cfg = _base(source="local", path=str(tiny_llama), name="tiny")
    out = prepare_base(cfg, tmp_path / "b")
    stamp = (out / "model.safetensors").stat().st_mtime_ns
    assert prepare_base(cfg, out) == out
    assert (out / "model.safetensors").stat().st_mtime_ns == stamp  # skipped: same base
    prepare_base(_base(source="local", path=str(tiny_llama), name="tiny", dtype="bfloat16"), out)
    assert read_base_info(out)["dtype"] == "bfloat16"
    assert not (tmp_path / "b.tmp").exists()


def _fill_hub_cache(cache, repo_id: str, folder, commit: str = "0" * 40):
    """Lay out `folder` as huggingface_hub's cache does after `hf download repo_id`."""
    import shutil

    repo = cache / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)


def test_hub_source_reads_the_local_cache_only(tmp_path, tiny_qwen2, monkeypatch):
    import huggingface_hub.constants as hub

    assert hub.HF_HUB_OFFLINE, "tests must run offline (tests/conftest.py sets HF_HUB_OFFLINE=1)"
    cache = tmp_path / "hub"
    _fill_hub_cache(cache, "tiny-org/tiny-qwen2", tiny_qwen2)
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(cache))
    out = prepare_base(
        _base(source="hub", hub_id="tiny-org/tiny-qwen2", name="tiny-qwen2", dtype="bfloat16"), tmp_path / "b"
    )
    _assert_plain_folder(out, "bfloat16")
    info = read_base_info(out)
    assert info["hub_id"] == "tiny-org/tiny-qwen2" and info["architecture"] == "Qwen2ForCausalLM"

    with pytest.raises(BaseModelError, match="hf download tiny-org/absent"):
        prepare_base(_base(source="hub", hub_id="tiny-org/absent"), tmp_path / "c")


def test_missing_sources_say_what_to_do(tmp_path):
    with pytest.raises(BaseModelError, match="does not exist"):
        prepare_base(_base(source="gguf", path=str(tmp_path / "nope.gguf")), tmp_path / "b")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BaseModelError, match="no config.json"):
        prepare_base(_base(source="local", path=str(tmp_path / "empty")), tmp_path / "b")
    with pytest.raises(BaseModelError, match="the folder the base stage writes"):
        prepare_base(_base(source="local", path=str(tmp_path / "empty")), tmp_path / "empty")
    assert (tmp_path / "empty").is_dir()
    assert not (tmp_path / "b" / BASE_INFO).exists()


def test_base_without_chat_template_is_refused(tmp_path, tiny_llama):
    from tests.builder.tiny_model import copy_without_chat_template

    plain = copy_without_chat_template(tiny_llama, tmp_path / "no-template")
    with pytest.raises(BaseModelError, match="no chat template"):
        prepare_base(_base(source="local", path=str(plain)), tmp_path / "b")
