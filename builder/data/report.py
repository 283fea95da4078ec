"""Stats, contamination report and dataset card for `suksham dataset` (called by dataset.write_dataset).

Contamination: exact overlap of normalised prompts between train and val/test (zero by construction,
reported anyway) and near-duplicates found with MinHash over word 3-grams (64 hashes, LSH 16x4),
confirmed by exact Jaccard >= 0.8.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from pathlib import Path

import numpy as np

from builder.data import spec as D

NEAR = 0.8
N_HASH, BANDS = 64, 16
CATCH = ("Marvellous.", "Got him.", "Got her.", "Morning, everyone.")


def _shingles(text: str) -> set[str]:
    words = D.normalise(text).split()
    if len(words) < 3:
        return {" ".join(words)}
    return {" ".join(words[i : i + 3]) for i in range(len(words) - 2)}


def _signature(sh: set[str], salts: np.ndarray) -> np.ndarray:
    h = np.array(
        [int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "little") for s in sh], dtype=np.uint64
    )
    mixed = (h[None, :] ^ salts[:, None]) * np.uint64(0x9E3779B97F4A7C15)  # wraps mod 2**64, as intended
    return (mixed >> np.uint64(16)).min(axis=1)


def contamination(train: list, other: list) -> dict:
    """Exact and near-duplicate prompts of `other` (val or test) in `train`."""
    r = random.Random(0)
    salts = np.array([r.getrandbits(64) for _ in range(N_HASH)], dtype=np.uint64)
    rows = N_HASH // BANDS
    t_prompts = [ex.messages[1]["content"] for ex in train]
    t_sh = [_shingles(p) for p in t_prompts]
    buckets: dict = {}
    for i, sh in enumerate(t_sh):
        sig = _signature(sh, salts)
        for b in range(BANDS):
            buckets.setdefault((b, sig[b * rows : (b + 1) * rows].tobytes()), []).append(i)
    exact_keys = {D.normalise(p) for p in t_prompts}
    exact = near = 0
    pairs = []
    with np.errstate(over="ignore"):
        for ex in other:
            p = ex.messages[1]["content"]
            if D.normalise(p) in exact_keys:
                exact += 1
                continue
            sh = _shingles(p)
            sig = _signature(sh, salts)
            cands: set[int] = set()
            for b in range(BANDS):
                cands.update(buckets.get((b, sig[b * rows : (b + 1) * rows].tobytes()), [])[:200])
            best, best_i = 0.0, None
            for i in cands:
                j = len(sh & t_sh[i]) / len(sh | t_sh[i])
                if j > best:
                    best, best_i = j, i
            if best >= NEAR:
                near += 1
                if len(pairs) < 5:
                    pairs.append({"test": p, "train": t_prompts[best_i], "jaccard": round(best, 2)})
    n = max(1, len(other))
    return {
        "exact": exact,
        "near": near,
        "near_share": near / n,
        "threshold": NEAR,
        "examples": pairs,
        "template_share": _template_share(t_prompts, [ex.messages[1]["content"] for ex in other]),
    }


def _template_share(train: list[str], other: list[str]) -> float:
    """Share of `other` prompts whose template (names, typos and numbers masked) also occurs in train.

    A word is masked when it is a number, a squad name, or occurs in fewer than 3 prompts overall
    (invented names and typos are rare; template words are not).
    """
    from builder.data.names import NATIONS

    known = {w for lists in NATIONS.values() for names in lists for n in names for w in D.normalise(n).split()}
    docs = [D.normalise(p).split() for p in train + other]
    df = Counter(w for words in docs for w in set(words))

    def mask(words):
        return " ".join("#" if w.isdigit() or df[w] < 3 or w in known else w for w in words)

    seen = {mask(w) for w in docs[: len(train)]}
    return sum(mask(w) in seen for w in docs[len(train) :]) / max(1, len(other))


def _share(counter: Counter, total: int) -> dict:
    return {k: round(v / max(1, total), 4) for k, v in counter.most_common()}


def compute_stats(data: dict) -> dict:
    info = data["info"]
    splits = {s: data[s] for s in ("train", "val", "test")}
    train = splits["train"]
    replies = Counter(ex.messages[2]["content"] for ex in train)
    words = Counter(len(ex.messages[2]["content"].split()) for ex in train)
    toks = [ex.meta["prompt_tokens"] for ex in train]
    reader = info["reader"]
    styles = sorted({s for s, _ in reader})
    with np.errstate(over="ignore"):
        cont_test = contamination(train, splits["test"])
        cont_val = contamination(train, splits["val"])
    natural = info["natural"]
    return {
        "seed": info["seed"],
        "sizes": {s: len(v) for s, v in splits.items()},
        "matches": info["matches"],
        "outcome_mix": {s: _share(Counter(ex.meta["outcome"] for ex in v), len(v)) for s, v in splits.items()},
        "natural_mix": _share(natural, sum(natural.values())),
        "pool_mix": _share(Counter(ex.meta["pool"] for ex in train), len(train)),
        "style_mix": _share(Counter(ex.meta["style"] for ex in train), len(train)),
        "raw_share": {
            s: round(sum(not ex.meta["outcome_line"] for ex in v) / max(1, len(v)), 4) for s, v in splits.items()
        },
        "silence_share": {s: round(sum(ex.meta["silent"] for ex in v) / max(1, len(v)), 4) for s, v in splits.items()},
        "silence_by_outcome": {
            o: round(
                sum(ex.meta["silent"] for ex in train if ex.meta["outcome"] == o)
                / max(1, sum(ex.meta["outcome"] == o for ex in train)),
                3,
            )
            for o in sorted({ex.meta["outcome"] for ex in train})
        },
        "reply_words": {str(k): words[k] for k in sorted(words)},
        "distinct_replies": len(replies),
        "top_replies": [[r or "(silence)", c] for r, c in replies.most_common(15)],
        "catchphrases": {c: round(replies[c] / max(1, len(train)), 4) for c in CATCH},
        "reply_source": _share(Counter(ex.meta["reply_source"] for ex in train), len(train)),
        "dismissal_kinds": dict(sorted(info["kinds"].items())),
        "match_types": _share(Counter(ex.meta["match_type"] for ex in train), len(train)),
        "gender": _share(Counter(ex.meta["gender"] for ex in train), len(train)),
        "prompt_tokens": {
            "tokenizer": "SmolLM2 (GGUF vocab)" if info["tokens_exact"] else "estimate, 2.6 chars/token",
            "max": max(toks, default=0),
            "mean": round(sum(toks) / max(1, len(toks)), 1),
            "limit": D.MAX_PROMPT_TOKENS,
        },
        "reader_agreement": {s: {v: reader[(s, v)] for v in ("agreed", "unclear", "wrong")} for s in styles},
        "render_counts": dict(sorted(info["render_counts"].items())),
        "dedupe": info["dedupe"],
        "contamination": {**cont_test, "val": cont_val},
    }


def _table(rows: list, head: tuple) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def card(stats: dict, data: dict) -> str:
    s = stats
    sizes = s["sizes"]
    mix = s["outcome_mix"]
    outcomes = list(mix["train"])
    examples = []
    seen = set()
    for ex in data["train"]:
        key = (ex.meta["outcome"], ex.meta["style"])
        if key in seen or len(examples) >= 14:
            continue
        seen.add(key)
        user = ex.messages[1]["content"].replace("\n", " / ")
        examples.append(
            (
                ex.meta["outcome"],
                ex.meta["style"] + ("" if ex.meta["outcome_line"] else ", raw"),
                f"`{user}`",
                f"`{ex.messages[2]['content']}`" if ex.messages[2]["content"] else "(silence)",
            )
        )
    c = s["contamination"]
    rd = s["reader_agreement"]
    return f"""# Suksham-Benaud commentary dataset

Made by `suksham dataset --out DIR --seed {s["seed"]}` from simulated matches (builder/data/simulator.py);
every reply is written by this project (builder/data/replies.py). Same seed, same files.

## Sizes

{_table([(k, v, s["matches"][k]) for k, v in sizes.items()], ("split", "examples", "matches"))}

Splits are disjoint by match (80/10/10 of the matches of each format and gender) and by normalised
prompt (val/test drop any prompt train has; {s["dedupe"]["val_dropped"]} val and {s["dedupe"]["test_dropped"]}
test examples were dropped; train keeps a prompt at most twice).

## Class mix, and why it is re-balanced

Real cricket is mostly dots and singles; a model trained on that learns to say nothing. The mix is
chosen on purpose: wickets, boundaries, drops, milestones, starts of day, hat-trick balls, reviews and
last overs of a chase are oversampled (`MIX` in dataset.py). The rare dismissal kinds (handled the
ball, timed out, obstructing the field, retirements) are also simulated far more often than they
happen, so that every kind is seen. "natural" is the simulated frequency over all balls.
Target shares per pool (an event can be in an outcome pool and a context pool):
{", ".join(f"{k} {v:.1%}" for k, v in D.MIX.items())}; plus {D.UNCLEAR_SHARE:.0%} text that states no
outcome ("Starc to Kohli", "Drinks"), answered with silence or a line that claims nothing.

{
        _table(
            [
                (
                    o,
                    f"{mix['train'].get(o, 0):.1%}",
                    f"{mix['val'].get(o, 0):.1%}",
                    f"{mix['test'].get(o, 0):.1%}",
                    f"{s['natural_mix'].get(o, 0):.1%}",
                )
                for o in outcomes
            ],
            ("outcome", "train", "val", "test", "natural"),
        )
    }

Dismissal kinds in train: {", ".join(f"{k} {v}" for k, v in s["dismissal_kinds"].items())}.

## Inputs

Style mix (train): {", ".join(f"{k} {v:.0%}" for k, v in s["style_mix"].items())}. "structured" is the
Cricsheet delivery plus context, formatted by `device.commentary.render_user` exactly as the server does.
Text styles carry typos, abbreviations, lower case and invented names outside the squads.
Raw-text prompts (no outcome line, as `ollama run` sends them): {s["raw_share"]["train"]:.1%} of train.
Prompt length (user message, {s["prompt_tokens"]["tokenizer"]}): at most {s["prompt_tokens"]["max"]} tokens,
mean {s["prompt_tokens"]["mean"]}; longer prompts are dropped ({s["render_counts"].get("too_long", 0)} were).

The text reader (`device.commentary.read_text`) against the simulator's truth, per rendered text
(these are the generator's own phrasings, so this shows the outcome lines are right, not that the
reader copes with new phrasings; the evaluation's hand-written lines measure that):

{_table([(st, v["agreed"], v["unclear"], v["wrong"]) for st, v in rd.items()], ("style", "agreed", "unclear", "wrong"))}

A phrasing the reader gets wrong is re-drawn; if every phrasing is misread the example is kept as raw
text (no outcome line), so the model never learns a wrong outcome label. The misread phrasings are
listed in `reader_misses.json`.

## Replies

- {s["distinct_replies"]} distinct replies in train; silence is {s["silence_share"]["train"]:.1%} of train
  (by outcome: {", ".join(f"{k} {v:.0%}" for k, v in s["silence_by_outcome"].items())}).
- Every reply passed `device.commentary.manner.check_reply` against the event (and against what the prompt
  states) and `device.commentary.manner.fits` (an apt reaction to the class; the brief's own "That's adjacent."
  is let through although fits() does not count it); a failing draw is re-drawn.
- Silence is drawn for routine balls only (dots, singles, twos, wides, byes), never on a wicket, a
  drop, a boundary, a milestone or the start of a day.
- Where replies come from (train): {", ".join(f"{k} {v:.1%}" for k, v in s["reply_source"].items())}.
- Catchphrases: {", ".join(f'"{k}" {v:.1%}' for k, v in s["catchphrases"].items())}.

Reply length in words (train):
{_table([(k if k != "0" else "0 (silence)", v) for k, v in s["reply_words"].items()], ("words", "examples"))}

Most common replies: {", ".join(f"{r} ({n})" for r, n in s["top_replies"][:10])}.

## Contamination (train vs test)

- exact normalised-prompt overlap: {c["exact"]} (val: {c["val"]["exact"]})
- near-duplicates (MinHash over word 3-grams, Jaccard >= {c["threshold"]}): {c["near"]} of {sizes["test"]}
  test prompts ({c["near_share"]:.1%}); val {c["val"]["near_share"]:.1%}.
- same template as some train prompt once names, typos and numbers are masked: {c["template_share"]:.1%}
  of test (val {c["val"]["template_share"]:.1%}).

Few prompts are near-duplicates word for word, because names, scores and overs differ; but most
share a template with train. Test therefore measures new matches, players and events in known
formats, not unseen phrasings: the evaluation's hand-written held-out lines cover that.

## Examples

{_table(examples, ("outcome", "style", "user", "assistant"))}
"""


def write_reports(out: Path, data: dict) -> dict:
    from device.util import atomic_write_json, atomic_write_text

    stats = compute_stats(data)
    atomic_write_json(out / "contamination.json", stats["contamination"])
    atomic_write_json(out / "reader_misses.json", data["info"]["reader_misses"])
    atomic_write_text(out / "dataset_card.md", card(stats, data))
    atomic_write_json(out / "stats.json", json.loads(json.dumps(stats)))
    return stats
