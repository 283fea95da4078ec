"""A tiny random Llama with SmolLM2's real tokenizer, made at test time (no hub, seconds on a CPU).

Width 64 is, like SmolLM2's 576, not a multiple of 256, so Q4_K_M falls back on most tensors here too.
"""

from __future__ import annotations

from pathlib import Path


def load_smollm2_tokenizer(cache_dir: Path):
    """SmolLM2's tokenizer (with its ChatML chat template), read from the packaged GGUF once and cached."""
    from transformers import AutoTokenizer

    from device.runtime.models import smollm2_gguf_path

    cache_dir = Path(cache_dir)
    if not (cache_dir / "tokenizer_config.json").is_file():
        gguf = smollm2_gguf_path()
        AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name).save_pretrained(str(cache_dir))
    return AutoTokenizer.from_pretrained(str(cache_dir))


def make_tiny_llama(out: Path, tokenizer, seed: int = 0, hidden: int = 64) -> Path:
    """Save a random 2-layer Llama plus the tokenizer as a plain 16-bit Hugging Face folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg).to(torch.float16)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return Path(out)


def make_terse_llama(out: Path, tokenizer, hidden: int = 64) -> Path:
    """A tiny Llama that always ends its turn at once (a 'silent Benaud'): every block writes zero to the
    residual stream, so the last hidden state is the embedding of the prompt's last token ("\\n" after
    "assistant"), and the untied output row of <|im_end|> is aligned with exactly that vector."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(1)
    model = LlamaForCausalLM(cfg)
    newline = tokenizer("\n", add_special_tokens=False)["input_ids"][-1]
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        x = model.model.embed_tokens.weight[newline]
        h = x * torch.rsqrt(x.pow(2).mean() + cfg.rms_norm_eps)
        model.lm_head.weight[end] = 20 * h / h.norm()
    model.to(torch.float16).save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return Path(out)


def copy_without_chat_template(src: Path, dst: Path) -> Path:
    """A copy of the model folder `src` whose tokenizer has no chat template (jinja file and config key)."""
    import json
    import shutil

    shutil.copytree(src, dst)
    (dst / "chat_template.jinja").unlink(missing_ok=True)
    cfg = json.loads((dst / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (dst / "tokenizer_config.json").write_text(json.dumps(cfg))
    return dst
