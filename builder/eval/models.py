"""The models the evaluation compares, each behind one `reply(event) -> str` call.

- `GGUFReplier`: a GGUF through `device.runtime.engine.Engine`, exactly as the server runs it (greedy,
  the same template and prompt module). Modes: "served" (as /v1/commentary builds the prompt),
  "raw" (the user's words only, as `ollama run` sends them), and for the base model "zero"/"few"
  (prompted as Benaud on the user's words, with no examples or with a few hand-written ones) and
  "few-reader" (few-shot, with this project's reader line "Outcome: ..." added as served).
- `HFReplier`: a Hugging Face folder (the merged 16-bit model, or a training checkpoint's adapter
  on its base) through transformers, greedy; also the validation loss on reference replies.
- `quant_divergence`: KL divergence and perplexity delta of a quantized GGUF against the F16
  GGUF, teacher-forced along reference replies, through llama.cpp.
"""

from __future__ import annotations

import copy
import math
import os
from pathlib import Path

import numpy as np

from builder.eval.events import EvalEvent
from device.commentary import manner
from device.commentary.guard import clean_reply
from device.commentary.render import SYSTEM_PROMPT, render_user
from device.runtime.engine import Completion, Engine, EngineSettings

MAX_NEW_TOKENS = 12
# The base gets a fuller brief than the tuned model's short system prompt: a fair comparison
# asks what prompting alone can do.
BASE_SYSTEM = (
    SYSTEM_PROMPT + " Be understated, like Richie Benaud: no exclamation marks, "
    "never say what did not happen, say nothing on routine balls."
)
# Hand-written few-shot examples (not taken from the dataset): event text -> Benaud reply.
FEW_SHOT = (
    ("Broad to Smith, no run, defended back down the pitch", ""),
    ("Starc to Root, OUT, bowled, the off stump is out of the ground", "Bowled him."),
    ("Rashid to Buttler, FOUR, cut away past point", "Lovely shot."),
    ("Shami to Warner, dropped at second slip, no run", "Put down."),
    ("Zampa to Stokes, SIX, hit over long-on into the crowd", "That's gone a long way."),
    ("Ecclestone to Mooney, 1 run, pushed to cover", ""),
)


def _few_shot_messages(system: str) -> list[dict]:
    msgs = [{"role": "system", "content": system}]
    for text, reply in FEW_SHOT:
        msgs.append({"role": "user", "content": render_user(text=text)})
        msgs.append({"role": "assistant", "content": reply})
    return msgs


def messages_for(event: EvalEvent, mode: str) -> list[dict]:
    """The chat messages a model sees for `event` in `mode` (served, raw, zero, few)."""
    if mode == "served":
        return event.messages(outcome_line=True)
    if mode == "raw":
        return event.messages(outcome_line=False)
    # The base prompted as Benaud gets what a user sends (the event's words); "few-reader" also gets
    # the reader's outcome line, which is part of this project's serving, not of prompting a base.
    user = event.messages(outcome_line=mode == "few-reader")[-1]
    if mode == "zero":
        return [{"role": "system", "content": BASE_SYSTEM}, user]
    if mode in ("few", "few-reader"):
        return _few_shot_messages(BASE_SYSTEM) + [user]
    raise ValueError(f"unknown prompt mode {mode!r}; use served, raw, zero, few or few-reader")


class EnginePool:
    """One loaded Engine per GGUF path, shared by every replier that uses that file."""

    def __init__(self, n_ctx: int = 1024, threads: int | None = None):
        self.n_ctx, self.threads, self._engines = n_ctx, threads, {}

    def get(self, path: str | Path) -> Engine:
        key = str(Path(path).resolve())
        if key not in self._engines:
            self._engines[key] = Engine(
                EngineSettings(model_path=Path(path), n_ctx=self.n_ctx, n_threads=self.threads)
            ).load()
        return self._engines[key]

    def close(self):
        for engine in self._engines.values():
            engine.close()
        self._engines.clear()


class GGUFReplier:
    def __init__(self, pool: EnginePool, path: str | Path, mode: str = "served", max_new_tokens: int = MAX_NEW_TOKENS):
        self.pool, self.path, self.mode, self.max_new_tokens = pool, Path(path), mode, max_new_tokens

    def reply(self, event: EvalEvent) -> tuple[str, bool]:
        """(cleaned reply, True if it was cut off before its end).

        Generation stops as soon as the first line has more than MAX_WORDS + 1 words: the reply is
        too long whatever follows, and a rambling base model would otherwise cost the most time.
        """
        engine = self.pool.get(self.path)
        stream = engine.stream(messages_for(event, self.mode), max_tokens=self.max_new_tokens, temperature=0.0)
        text = ""
        try:
            for item in stream:
                if isinstance(item, Completion):
                    return clean_reply(item.text), item.finish_reason == "length"
                text += item
                first = text.lstrip().split("\n", 1)
                if len(first) == 1 and manner.word_count(first[0]) > manner.MAX_WORDS + 1:
                    return clean_reply(text), True
        finally:
            stream.close()  # releases the engine's lock at once
        return clean_reply(text), True


class HFReplier:
    """Greedy replies (and reference loss) from a Hugging Face model folder, on the CPU."""

    def __init__(
        self,
        model_dir: str | Path,
        base_dir: str | Path | None = None,
        mode: str = "served",
        max_new_tokens: int = MAX_NEW_TOKENS,
        threads: int | None = None,
    ):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a folder name must never turn into a hub download
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model_dir = Path(model_dir)
        adapter = (model_dir / "adapter_config.json").is_file()
        if not adapter and not (model_dir / "config.json").is_file():
            raise ValueError(
                f"{model_dir} is not a Hugging Face model folder (no config.json or adapter_config.json); "
                "pass the merged model's folder (OUT.build/merged)"
            )
        if adapter and (base_dir is None or not (Path(base_dir) / "config.json").is_file()):
            raise ValueError(
                f"{model_dir} holds a LoRA adapter; pass base_dir (the 16-bit base folder, "
                f"OUT.build/base) to load it on, got {base_dir}"
            )
        if threads:
            torch.set_num_threads(threads)
        tok_dir = model_dir if (model_dir / "tokenizer_config.json").is_file() else Path(base_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(str(tok_dir), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            str(base_dir if adapter else model_dir), dtype=torch.float32, local_files_only=True
        )
        if adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(model_dir), local_files_only=True)
        self.model = model.eval()
        self.mode, self.max_new_tokens = mode, max_new_tokens

    def with_mode(self, mode: str) -> HFReplier:
        """The same loaded weights, prompted another way (zero-shot vs few-shot base)."""
        other = copy.copy(self)
        other.mode = mode
        return other

    def _prompt_ids(self, messages: list[dict]):
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return self.tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids

    def reply(self, event: EvalEvent) -> tuple[str, bool]:
        """(cleaned reply, True if it was cut off at max_new_tokens)."""
        import torch

        ids = self._prompt_ids(messages_for(event, self.mode))
        eos = self.model.generation_config.eos_token_id
        eos = set(eos if isinstance(eos, list) else [eos]) | {self.tokenizer.eos_token_id}
        with torch.no_grad():
            out = self.model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            )
        new = out[0, ids.shape[1] :].tolist()
        truncated = len(new) >= self.max_new_tokens and not eos & set(new)
        return clean_reply(self.tokenizer.decode(new, skip_special_tokens=True)), truncated

    def reference_loss(self, events: list[EvalEvent]) -> dict | None:
        """Mean token NLL of the dataset's reference replies (and the end-of-turn token)."""
        import torch

        total, count = 0.0, 0
        for ev in events:
            if ev.reference is None:
                continue
            msgs = ev.dataset_messages()
            prompt_ids = self._prompt_ids(msgs)
            full = self.tokenizer.apply_chat_template(
                msgs + [{"role": "assistant", "content": ev.reference}], tokenize=False
            )
            full_ids = self.tokenizer(full.rstrip("\n"), add_special_tokens=False, return_tensors="pt").input_ids
            n_prompt = prompt_ids.shape[1]
            if full_ids.shape[1] <= n_prompt or not torch.equal(full_ids[0, :n_prompt], prompt_ids[0]):
                continue  # template does not extend the generation prompt; skip rather than mis-score
            labels = full_ids.clone()
            labels[0, :n_prompt] = -100
            with torch.no_grad():
                loss = self.model(full_ids, labels=labels).loss.item()
            n = int((labels[0, 1:] != -100).sum())
            total, count = total + loss * n, count + n
        if count == 0:
            return None
        return {"val_loss": total / count, "perplexity": math.exp(total / count), "tokens": count}


def _last_logits(llama) -> np.ndarray:
    """Logits after the last evaluated token (llama.cpp keeps only that row without logits_all)."""
    return np.ctypeslib.as_array(llama._ctx.get_logits_ith(-1), shape=(llama.n_vocab(),)).astype(np.float64)


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max()
    return x - np.log(np.exp(x).sum())


def quant_divergence(reference: Engine, quantized: Engine, events: list[EvalEvent], limit: int = 32) -> dict:
    """KL(reference || quantized) per reply token and both perplexities, teacher-forced on references.

    Events without a reference reply are forced along the reference engine's own greedy reply.
    """
    kls, nll_ref, nll_q = [], [], []
    for ev in events[:limit]:
        msgs = ev.dataset_messages() if ev.reference is not None else messages_for(ev, "served")
        target_text = ev.reference
        if target_text is None:
            target_text = clean_reply(reference.chat(msgs, max_tokens=MAX_NEW_TOKENS).text)
        ids = reference.prompt_ids(msgs)
        target = (reference.tokenize(target_text, special=False) if target_text else []) + [reference.llama.token_eos()]
        if quantized.prompt_ids(msgs) != ids:
            raise ValueError("the two GGUFs tokenize the prompt differently; they are not the same model")
        with reference.lock, quantized.lock:
            for eng in (reference, quantized):
                eng.llama.reset()
                eng.llama.eval(ids)
            for tok in target:
                lp_r = _log_softmax(_last_logits(reference.llama))
                lp_q = _log_softmax(_last_logits(quantized.llama))
                kls.append(float(np.sum(np.exp(lp_r) * (lp_r - lp_q))))
                nll_ref.append(-lp_r[tok])
                nll_q.append(-lp_q[tok])
                for eng in (reference, quantized):
                    eng.llama.eval([tok])
    if not kls:
        return {"tokens": 0}
    ppl_r, ppl_q = math.exp(float(np.mean(nll_ref))), math.exp(float(np.mean(nll_q)))
    return {
        "tokens": len(kls),
        "kl_mean": float(np.mean(kls)),
        "kl_max": float(np.max(kls)),
        "ppl_reference": ppl_r,
        "ppl_quantized": ppl_q,
        "ppl_delta": ppl_q - ppl_r,
    }


def reply_logprob(engine: Engine, messages: list[dict], reply: str) -> float:
    """Log-probability the model gives `reply` (then its end of turn) after `messages`, teacher-forced."""
    ids = engine.prompt_ids(messages)
    target = (engine.tokenize(reply, special=False) if reply else []) + [engine.llama.token_eos()]
    total = 0.0
    with engine.lock:
        engine.llama.reset()
        engine.llama.eval(ids)
        for tok in target:
            total += float(_log_softmax(_last_logits(engine.llama))[tok])
            engine.llama.eval([tok])
    return total


def tie_aware_agreement(
    reference: Engine, events: list[EvalEvent], ref_replies: list[str], replies: list[str], margin: float = math.log(2)
) -> dict:
    """Share of replies the 16-bit model would give too: equal to its greedy reply, or a near tie.

    A tiny model's greedy choice between apt short lines is often a near coin toss (the F16 and Q8_0
    builds of one model disagree on ~1 reply in 4 at a KL of 0.003 nats/token). A reply counts as
    agreeing when the reference model finds it at least exp(-margin) (1/2) as likely as its own.
    """
    agree, ties = 0, 0
    for ev, ref, got in zip(events, ref_replies, replies):
        if got == ref:
            agree += 1
            continue
        msgs = messages_for(ev, "served")
        if reply_logprob(reference, msgs, got) >= reply_logprob(reference, msgs, ref) - margin:
            agree += 1
            ties += 1
    n = len(events)
    return {"agreement": agree / n if n else None, "near_ties": ties, "n": n, "margin_nats": margin}
