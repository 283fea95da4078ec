"""builder.train.merge: the adapter merged into the 16-bit base behaves like the adapter on that base."""

from __future__ import annotations

import json
import shutil

import pytest

from builder.train.merge import MergeError, greedy_replies, merge, merge_from_config


@pytest.fixture(scope="module")
def merged(tmp_path_factory, trained_tiny, tiny_llama):
    cfg, data, result = trained_tiny
    out = merge_from_config(
        cfg, tiny_llama, result.adapter_dir, tmp_path_factory.mktemp("m") / "merged", prompts_file=data / "val.jsonl"
    )
    return out


def test_merged_folder_is_plain_16bit_with_tokenizer_and_template(merged, tiny_llama):
    config = json.loads((merged / "config.json").read_text())
    assert "quantization_config" not in config and config["dtype"] == "float16"
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(merged))
    assert tok.chat_template == AutoTokenizer.from_pretrained(str(tiny_llama)).chat_template
    assert not any(p.name.startswith("adapter") for p in merged.iterdir())  # no peft leftovers
    report = json.loads((merged / "merge_report.json").read_text())
    assert report["agreement"] == 1.0 and report["check_prompts"] == 4
    assert all(s["merged"] == s["unmerged"] for s in report["samples"])


def test_merged_weights_equal_base_plus_adapter(merged, trained_tiny, tiny_llama):
    """Logits of the saved merged model match the unmerged adapter on the same 16-bit base."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    _, _, result = trained_tiny
    base = AutoModelForCausalLM.from_pretrained(str(tiny_llama), dtype=torch.float32)
    plain = AutoModelForCausalLM.from_pretrained(str(tiny_llama), dtype=torch.float32)
    adapted = PeftModel.from_pretrained(base, result.adapter_dir).eval()
    model = AutoModelForCausalLM.from_pretrained(str(merged), dtype=torch.float32).eval()
    ids = torch.tensor([[1, 9690, 198, 4093, 2, 198, 1, 520, 9531, 198]])
    with torch.no_grad():
        a, b, c = adapted(ids).logits, model(ids).logits, plain(ids).logits
    assert (a - b).abs().max().item() < 2e-2  # float16 rounding of the merged weights only
    assert (a - c).abs().max().item() > 10 * (a - b).abs().max().item()  # and the adapter did change the model


def test_greedy_replies_agree_on_the_sample(merged, trained_tiny, tiny_llama):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from builder.train.merge import _prompts_from

    cfg, data, result = trained_tiny
    tok = AutoTokenizer.from_pretrained(str(tiny_llama))
    prompts = _prompts_from(data / "val.jsonl", 4)
    base = AutoModelForCausalLM.from_pretrained(str(tiny_llama), dtype=torch.float32)
    a = greedy_replies(PeftModel.from_pretrained(base, result.adapter_dir), tok, prompts, 6)
    b = greedy_replies(AutoModelForCausalLM.from_pretrained(str(merged), dtype=torch.float32), tok, prompts, 6)
    assert a == b and all(len(x) >= 1 for x in a)


def test_refuses_a_quantized_base(tmp_path, trained_tiny, tiny_llama):
    _, _, result = trained_tiny
    q = tmp_path / "quantized-base"
    shutil.copytree(tiny_llama, q)
    config = json.loads((q / "config.json").read_text())
    config["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_4bit": True}
    (q / "config.json").write_text(json.dumps(config))
    with pytest.raises(MergeError, match="16-bit base"):
        merge(q, result.adapter_dir, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_adapter_says_run_train(tmp_path, tiny_llama):
    with pytest.raises(MergeError, match="run the train stage"):
        merge(tiny_llama, tmp_path / "nothing", tmp_path / "out")


def test_disagreement_fails_the_merge():
    from builder.train.merge import check_agreement

    same = {"prompt": "a", "unmerged": "Got him.", "merged": "Got him."}
    differ = {"prompt": "b", "unmerged": "Lovely shot.", "merged": "Lovely."}
    check_agreement({"samples": [same, same], "min_agreement": 1.0})
    check_agreement({"samples": [same, differ], "min_agreement": 0.5})
    with pytest.raises(MergeError, match="disagrees .* on 1/2 prompts"):
        check_agreement({"samples": [same, differ], "min_agreement": 1.0})
