"""Builder fixtures: tiny random models made at test time, and a tiny chat dataset.

The tokenizer is the real SmolLM2 one, read from the embedded GGUF (ChatML template, <|im_end|>);
the models are random LlamaForCausalLM / Qwen2ForCausalLM with a few thousand hidden units, so a
training step takes well under a second on the CPU. Each is built once per session.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Tiny models gain nothing from threads, and on a shared 2-core machine OpenMP spin-waits make
    two threads far slower than one."""
    import torch

    torch.set_num_threads(1)


# Qwen2.5's ChatML template (default system prompt when none is given), without the tool branches.
QWEN_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if not (message.role == 'system' and loop.first) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

REPLIES = {
    "Starc to Kohli, FOUR, driven through cover": "Lovely shot.",
    "Cummins to Root, no run": "",
    "Anderson to Smith, OUT, caught at slip": "Got him.",
    "Broad to Warner, SIX over long on": "That's gone all the way.",
    "Lyon to Stokes, 1 run": "",
    "Wood to Labuschagne, dropped at gully": "Put down.",
    "Bumrah to Head, OUT, bowled": "Bowled him.",
    "Rabada to Pope, 2 runs": "",
}


@pytest.fixture(scope="session")
def smollm2_tokenizer(tmp_path_factory, smollm2_gguf):
    """The SmolLM2 tokenizer and chat template extracted from the GGUF, saved as a plain folder."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(smollm2_gguf.parent), gguf_file=smollm2_gguf.name)
    folder = tmp_path_factory.mktemp("smollm2-tokenizer")
    tok.save_pretrained(folder)
    return folder


def _save_tiny(folder: Path, model, tokenizer_dir: Path, template: str | None = None) -> Path:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    if template:
        tok.chat_template = template
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory, smollm2_tokenizer):
    """A random 2-layer LlamaForCausalLM (float16 on disk, like a prepared base) with SmolLM2's tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=49152,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config).to(torch.float16)
    return _save_tiny(tmp_path_factory.mktemp("tiny-llama"), model, smollm2_tokenizer)


@pytest.fixture(scope="session")
def tiny_qwen2(tmp_path_factory, smollm2_tokenizer):
    """A random 2-layer Qwen2ForCausalLM (bfloat16, Qwen2.5-style template), the GPU config's architecture."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(1)
    config = Qwen2Config(
        vocab_size=49152,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
        tie_word_embeddings=True,
    )
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    return _save_tiny(tmp_path_factory.mktemp("tiny-qwen2"), model, smollm2_tokenizer, QWEN_TEMPLATE)


def chat(event: str, reply: str, system: str = "You are Richie Benaud. At most five words, or silence.") -> dict:
    return {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": event},
            {"role": "assistant", "content": reply},
        ]
    }


def write_dataset(folder: Path, n_train: int = 24, n_val: int = 8) -> Path:
    """train.jsonl / val.jsonl of short Benaud-style examples (with silences), as builder.data writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    items = list(REPLIES.items())
    for name, n in (("train", n_train), ("val", n_val)):
        lines = [json.dumps(chat(*items[(i + (name == "val")) % len(items)])) for i in range(n)]
        (folder / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def tiny_data(tmp_path):
    return write_dataset(tmp_path / "data")


def tiny_config(base_dir: Path | None = None, **train):
    """A BuildConfig for tiny models: a local base, a few fast steps, plain defaults elsewhere."""
    from builder.config import config_from_dict

    t = {
        "max_steps": 6,
        "eval_every": 2,
        "save_every": 2,
        "warmup_steps": 1,
        "seq_len": 128,
        "threads": 1,
        "batch_size": 2,
        "grad_accum": 2,
        "learning_rate": 0.01,
        "compute_dtype": "float32",
    }
    t.update(train)
    base = {"source": "local", "path": str(base_dir), "name": "tiny"} if base_dir else {}
    return config_from_dict({"base": base, "train": t, "merge": {"check_prompts": 4, "check_max_new_tokens": 6}})


@pytest.fixture(scope="session")
def trained_tiny(tmp_path_factory, tiny_llama):
    """One QLoRA run on the tiny llama, shared by the tests that only read its outputs."""
    from builder.train.loop import train

    root = tmp_path_factory.mktemp("trained")
    data = write_dataset(root / "data")
    cfg = tiny_config(tiny_llama)
    result = train(cfg, data, tiny_llama, root / "train", resume=False)
    return cfg, data, result
