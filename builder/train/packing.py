"""Chat examples -> token ids with an assistant-only loss mask, packed into fixed-length sequences.

Used by builder/train.py. The loss covers the assistant reply and its end-of-turn token
(`<|im_end|>`) and nothing else: not the system prompt, not the user's event, not the newline the
chat template writes after `<|im_end|>`. A silence example (empty reply) therefore trains exactly
one token: `<|im_end|>` right after `<|im_start|>assistant\\n`.

Packing puts several short examples in one sequence; each keeps its own positions (from 0) and a
block-diagonal causal attention mask, so a packed sequence trains exactly like its examples apart.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

IGNORE = -100


class DataError(ValueError):
    """Training data that cannot be used; the message says which file/line and what to do."""


@dataclass
class Example:
    ids: list[int]
    labels: list[int]


def read_jsonl(path: str | Path) -> list[list[dict]]:
    """The `messages` list of every line of a chat-format JSONL file ({"messages": [...]})."""
    out = []
    path = Path(path)
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            messages = json.loads(line)["messages"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(
                f"{path}:{n}: not a chat example ({exc}). Fix: each line must be "
                '{"messages": [{"role": ..., "content": ...}, ...]}.'
            ) from exc
        if not any(m.get("role") == "assistant" for m in messages):
            raise DataError(f"{path}:{n}: no assistant message, nothing to learn. Fix: add the reply.")
        out.append(messages)
    if not out:
        raise DataError(f"{path} holds no examples. Fix: write the dataset first (`suksham dataset --out DIR`).")
    return out


def end_of_turn_id(tokenizer) -> int:
    """The token that closes an assistant turn (<|im_end|> for ChatML models)."""
    for tok in ("<|im_end|>", tokenizer.eos_token):
        if tok is not None:
            tid = tokenizer.convert_tokens_to_ids(tok)
            if tid is not None and tid != tokenizer.unk_token_id:
                return tid
    raise DataError("the tokenizer has no <|im_end|> or eos token. Fix: use a ChatML instruct base.")


def _encode(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def tokenize_example(tokenizer, messages: list[dict]) -> Example:
    """Ids and labels for one conversation; labels are IGNORE except on assistant turns + <|im_end|>.

    The prompt part is tokenized on its own and each reply after it, as at inference time, where the
    runtime tokenizes the prompt and the model generates the reply's tokens."""
    eot = end_of_turn_id(tokenizer)
    ids: list[int] = []
    labels: list[int] = []
    rendered = ""
    for i, msg in enumerate(messages):
        if msg["role"] != "assistant":
            continue
        prompt = tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        if not prompt.startswith(rendered) or not full.startswith(prompt):
            raise DataError(
                "the chat template does not render turns as prefixes of each other. "
                "Fix: use a ChatML-style instruct base."
            )
        new_prompt = _encode(tokenizer, prompt[len(rendered) :])
        reply = _encode(tokenizer, full[len(prompt) :])
        if eot not in reply:
            raise DataError(f"the rendered assistant turn has no end-of-turn token: {full[len(prompt) :]!r}.")
        cut = reply.index(eot) + 1  # the newline after <|im_end|> is template glue, not the reply
        ids += new_prompt + reply
        labels += [IGNORE] * len(new_prompt) + reply[:cut] + [IGNORE] * (len(reply) - cut)
        rendered = full
    return Example(ids, labels)


def check_masks(tokenizer, examples: list[Example], messages: list[list[dict]]) -> None:
    """Fail before training unless every example's labelled tokens are exactly its replies + <|im_end|>."""
    eot = end_of_turn_id(tokenizer)
    for n, (ex, msgs) in enumerate(zip(examples, messages)):
        replies = [m["content"] for m in msgs if m["role"] == "assistant"]
        labelled = [t for t in ex.labels if t != IGNORE]
        if not labelled or labelled[-1] != eot or labelled.count(eot) != len(replies):
            raise DataError(
                f"example {n}: the loss mask does not end each reply with <|im_end|> "
                f"(labelled {tokenizer.decode(labelled)!r})."
            )
        want = "".join(r.strip() + tokenizer.convert_ids_to_tokens(eot) for r in replies)
        got = tokenizer.decode(labelled, skip_special_tokens=False).replace(" ", "")
        if got != want.replace(" ", ""):
            raise DataError(f"example {n}: the loss covers {got!r}, expected the replies {want!r}.")
        if len(ex.ids) != len(ex.labels):
            raise DataError(f"example {n}: ids and labels differ in length.")


def pack(examples: list[Example], seq_len: int, enabled: bool = True, seed: int = 0) -> list[list[Example]]:
    """Group examples into sequences of at most seq_len tokens (first fit, in a seeded order).

    With packing off, each sequence holds one example. Examples longer than seq_len are an error:
    cutting them would drop the reply or the system prompt."""
    too_long = [len(e.ids) for e in examples if len(e.ids) > seq_len]
    if too_long:
        raise DataError(
            f"{len(too_long)} example(s) longer than train.seq_len={seq_len} tokens (longest "
            f"{max(too_long)}). Fix: raise train.seq_len or shorten the prompts."
        )
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    if not enabled:
        return [[examples[i]] for i in order]
    bins: list[list[Example]] = []
    room: list[int] = []
    for i in order:
        n = len(examples[i].ids)
        for b, free in enumerate(room):
            if n <= free:
                bins[b].append(examples[i])
                room[b] -= n
                break
        else:
            bins.append([examples[i]])
            room.append(seq_len - n)
    return bins


def collate(seqs: list[list[Example]], pad_id: int, seq_len: int | None = None):
    """Tensors for a micro-batch: input_ids, labels, position_ids and a 4D block-diagonal causal mask.

    The mask is boolean (True = may attend), shape (batch, 1, L, L), as sdpa attention takes it."""
    import torch

    length = seq_len or max(sum(len(e.ids) for e in s) for s in seqs)
    length = max(length, max(sum(len(e.ids) for e in s) for s in seqs))
    b = len(seqs)
    ids = torch.full((b, length), pad_id, dtype=torch.long)
    labels = torch.full((b, length), IGNORE, dtype=torch.long)
    pos = torch.zeros((b, length), dtype=torch.long)
    seg = torch.full((b, length), -1, dtype=torch.long)  # padding forms its own segment
    for r, s in enumerate(seqs):
        at = 0
        for k, e in enumerate(s):
            n = len(e.ids)
            ids[r, at : at + n] = torch.tensor(e.ids)
            labels[r, at : at + n] = torch.tensor(e.labels)
            pos[r, at : at + n] = torch.arange(n)
            seg[r, at : at + n] = k
            at += n
        pos[r, at:] = torch.arange(length - at)
    causal = torch.tril(torch.ones(length, length, dtype=torch.bool))
    mask = (seg[:, :, None] == seg[:, None, :]) & causal
    return {"input_ids": ids, "labels": labels, "position_ids": pos, "attention_mask": mask[:, None]}


def label_tokens(seqs: list[list[Example]]) -> int:
    """How many tokens carry loss once labels are shifted (each labelled token is predicted once)."""
    return sum(sum(1 for t in e.labels[1:] if t != IGNORE) for s in seqs for e in s)
