"""Merge a trained LoRA adapter into the 16-bit base and save a plain Hugging Face folder for export.

The base is reloaded from the plain 16-bit folder (builder.train.base), never from the 4-bit model that
was trained: merging into dequantized NF4 weights bakes the quantization error into the result.
The merge happens in float32 (the 16-bit base upcast exactly), then is cast back to the base's
16-bit dtype and saved with its tokenizer and chat template. Before the folder is accepted, the
saved model's greedy replies on a sample of prompts must equal those of the unmerged adapter on
the same base; merge_report.json records the comparison.

    python -m builder.train.merge BASE_DIR ADAPTER_DIR OUT_DIR [--prompts val.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from device.commentary.render import SYSTEM_PROMPT
from device.util import atomic_write_json

REPORT = "merge_report.json"

# Used when no validation file is given: short events in the dataset's style.
DEFAULT_PROMPTS = [
    [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": e}]
    for e in (
        "Starc to Kohli, FOUR, driven through cover",
        "Cummins to Root, no run",
        "Anderson to Smith, OUT, caught at slip",
        "Broad to Warner, SIX over long on",
        "Lyon to Stokes, 1 run",
        "Wood to Labuschagne, dropped at gully",
        "Bumrah to Head, OUT, bowled",
        "Rabada to Pope, wide",
    )
]


class MergeError(RuntimeError):
    """The merge failed a check; the message says what differs and what to do."""


def _prompts_from(path: Path | None, n: int) -> list[list[dict]]:
    if path is None or not Path(path).is_file():
        return DEFAULT_PROMPTS[:n]
    from builder.train.packing import read_jsonl

    out = []
    for messages in read_jsonl(path):
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        out.append(messages[:last])
        if len(out) >= n:
            break
    return out


def greedy_replies(model, tokenizer, prompts: list[list[dict]], max_new_tokens: int) -> list[list[int]]:
    """Greedy continuation token ids for each chat prompt (stops at <|im_end|>/eos)."""
    import torch

    out = []
    model.eval()
    for messages in prompts:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
        with torch.no_grad():
            gen = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                do_sample=False,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
        out.append(gen[0, ids.shape[1] :].tolist())
    return out


def _load_base_fp32(base_dir: Path):
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)


def merge(
    base_dir,
    adapter_dir,
    out_dir,
    *,
    prompts_file=None,
    check_prompts: int = 8,
    max_new_tokens: int = 12,
    min_agreement: float = 1.0,
) -> Path:
    """Merge `adapter_dir` into the 16-bit base at `base_dir`; write a plain HF folder at `out_dir`.

    Raises MergeError if fewer than `min_agreement` of the check prompts give the same greedy
    reply before and after merging."""
    import torch
    from peft import PeftModel
    from transformers import AutoConfig, AutoTokenizer

    from builder.train.loop import count_linear4bit

    base_dir, adapter_dir, out_dir = Path(base_dir), Path(adapter_dir), Path(out_dir)
    started = time.time()
    if not (adapter_dir / "adapter_config.json").is_file():
        raise MergeError(f"{adapter_dir} holds no adapter (adapter_config.json). Fix: run the train stage first.")
    base_cfg = AutoConfig.from_pretrained(str(base_dir))
    if getattr(base_cfg, "quantization_config", None):
        raise MergeError(
            f"{base_dir} is a quantized model; merging into it would bake in the quantization "
            "error. Fix: merge into the plain 16-bit base folder written by the base stage."
        )
    save_dtype = getattr(torch, str(getattr(base_cfg, "dtype", None) or "float16").replace("torch.", ""))
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir))
    prompts = _prompts_from(prompts_file, check_prompts)

    model = PeftModel.from_pretrained(_load_base_fp32(base_dir), str(adapter_dir))
    if count_linear4bit(model):
        raise MergeError("the model to merge into holds 4-bit layers. Fix: merge into the 16-bit base.")
    unmerged = greedy_replies(model, tokenizer, prompts, max_new_tokens)
    merged = model.merge_and_unload().to(save_dtype)
    merged.config.dtype = save_dtype
    if hasattr(merged.config, "quantization_config"):
        delattr(merged.config, "quantization_config")

    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
    if not tokenizer.chat_template:
        raise MergeError("the base tokenizer has no chat template. Fix: use an Instruct base.")
    del model, merged
    # Check what export will read: the saved 16-bit folder, reloaded.
    reloaded = greedy_replies(_load_base_fp32(tmp), tokenizer, prompts, max_new_tokens)
    same = [a == b for a, b in zip(unmerged, reloaded)]
    agreement = sum(same) / max(len(same), 1)
    report = {
        "base_dir": str(base_dir),
        "adapter_dir": str(adapter_dir),
        "dtype": str(save_dtype).replace("torch.", ""),
        "check_prompts": len(prompts),
        "max_new_tokens": max_new_tokens,
        "agreement": agreement,
        "min_agreement": min_agreement,
        "samples": [
            {"prompt": p[-1]["content"], "unmerged": tokenizer.decode(a), "merged": tokenizer.decode(b), "same": a == b}
            for p, a, b in zip(prompts, unmerged, reloaded)
        ],
        "seconds": round(time.time() - started, 1),
    }
    atomic_write_json(tmp / REPORT, report)
    check_agreement(report, where=tmp / REPORT)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    return out_dir


def check_agreement(report: dict, where: Path | str = REPORT) -> None:
    """Raise MergeError if too few check prompts got the same greedy reply before and after merging."""
    samples = report["samples"]
    bad = [s for s in samples if not s.get("same", s["merged"] == s["unmerged"])]  # token ids when known
    agreement = 1 - len(bad) / max(len(samples), 1)
    if agreement < report["min_agreement"]:
        raise MergeError(
            f"merged model disagrees with the unmerged adapter on {len(bad)}/{len(samples)} prompts "
            f"(first: {bad[0]}). Fix: check the base dtype (float16 vs bfloat16) or lower "
            f"merge.min_agreement; report in {where}."
        )


def merge_from_config(cfg, base_dir, adapter_dir, out_dir, prompts_file=None) -> Path:
    """merge() with the config's merge section (what builder.pipeline calls)."""
    m = cfg.merge
    return merge(
        base_dir,
        adapter_dir,
        out_dir,
        prompts_file=prompts_file,
        check_prompts=m.check_prompts,
        max_new_tokens=m.check_max_new_tokens,
        min_agreement=m.min_agreement,
    )


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m builder.train.merge", description=__doc__.split("\n")[0])
    ap.add_argument("base")
    ap.add_argument("adapter")
    ap.add_argument("out")
    ap.add_argument("--prompts", default=None, help="chat JSONL whose prompts are used for the check")
    args = ap.parse_args(argv)
    out = merge(args.base, args.adapter, args.out, prompts_file=args.prompts)
    print(json.dumps(json.loads((out / REPORT).read_text()), indent=2))


if __name__ == "__main__":
    main()
