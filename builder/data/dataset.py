"""`suksham dataset`: simulated matches -> Benaud chat examples in train/val/test JSONL, a card and stats.

    suksham dataset --out data/ [--seed 1234]      # seconds on one core, same seed -> same bytes
    suksham dataset --check my_pairs.jsonl         # validate a user's JSONL instead (see check.py)

Pipeline: simulate matches (simulator.py) -> split by match (80/10/10, per format) -> pick events
per class, oversampling the rare ones on purpose (wickets, boundaries, drops, milestones) -> render
each as the structured delivery (via device.commentary, exactly as served), a Cricinfo line, a plain
sentence or scorer shorthand (styles.py), about 20% as raw text with no outcome line -> reply from
the bank (replies.py), which must pass device.commentary.manner.check_reply -> drop val/test prompts seen in
train -> write files and report (report.py: card, stats, contamination).
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from builder.data import colour, names
from builder.data.replies import ALLOW_UNFIT, GENERIC, UNCLEAR_REPLIES, UNCLEAR_TEXTS, Shown, _pron, choose_reply
from builder.data.simulator import Event, simulate_match
from builder.data.spec import (
    DEFAULT_SEED,
    MAX_COPIES,
    MAX_PROMPT_TOKENS,
    MIX,
    RAW_SHARE_OF_TEXT,
    STYLE_MIX,
    UNCLEAR_SHARE,
    normalise,
)
from builder.data.styles import RADIO_STYLE, TEXT_STYLES, render
from device.commentary.delivery import read_delivery, read_text
from device.commentary.render import ALL_KEYS, build_messages

# (format, gender, matches); Tests are long, so few of them already give thousands of balls.
SCHEDULE = [
    ("T20", "male", 70),
    ("T20", "female", 60),
    ("ODI", "male", 30),
    ("ODI", "female", 25),
    ("Test", "male", 9),
    ("Test", "female", 5),
]
SPLIT_SHARE = {"train": 0.8, "val": 0.1, "test": 0.1}
EXAMPLES = {"train": 4800, "val": 520, "test": 520}  # before dropping val/test prompts seen in train


@dataclass
class Example:
    messages: list
    meta: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"messages": self.messages, **self.meta}, ensure_ascii=False, sort_keys=False)


def approx_tokens(text: str) -> int:
    """A pessimistic stand-in for the SmolLM2 tokenizer (about 2.6 characters a token) when it is missing."""
    return math.ceil(len(text) / 2.6)


class TokenCounter:
    """Counts prompt tokens with the embedded SmolLM2 tokenizer (vocab only: fast, no weights)."""

    def __init__(self):
        self.exact = False
        self._llm = None
        try:
            import contextlib
            import os

            from llama_cpp import Llama

            from device.runtime.models import smollm2_gguf_path

            with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
                self._llm = Llama(model_path=str(smollm2_gguf_path()), vocab_only=True, verbose=False)
            self.exact = True
        except Exception:  # no llama.cpp or no base model: fall back to the pessimistic estimate
            self._llm = None

    def __call__(self, text: str) -> int:
        if self._llm is None:
            return approx_tokens(text)
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def _schedule(rng: random.Random, scale: float = 1.0) -> dict[str, list[tuple[str, str, str]]]:
    """Match ids per split, split per format and gender so every split has every kind of match."""
    out: dict[str, list] = {s: [] for s in SPLIT_SHARE}
    for fmt, gender, n in SCHEDULE:
        n = max(3, round(n * min(1.0, scale)))
        ids = [(f"{fmt.lower()}-{gender[0]}-{i:03d}", fmt, gender) for i in range(n)]
        rng.shuffle(ids)
        n_val = max(1, round(n * SPLIT_SHARE["val"]))
        n_test = max(1, round(n * SPLIT_SHARE["test"]))
        out["val"] += ids[:n_val]
        out["test"] += ids[n_val : n_val + n_test]
        out["train"] += ids[n_val + n_test :]
    return out


def prompt_context(ev: Event, variety: bool = False) -> dict:
    """The context a scorer would send with this delivery (device.commentary reads these keys).

    With `variety` the context is already the match feed's (builder.data.colour.feed_contexts)."""
    ctx = dict(ev.context)
    if variety:
        return ctx
    if ev.flags.get("hat_trick_ball"):
        ctx["hat_trick_ball"] = True
    if ev.flags.get("new_batter"):
        ctx["new_batter"] = True
    if ev.flags.get("maiden") and "note" not in ctx:
        ctx["note"] = "end of a maiden over"
    return ctx


def _pools(events: list[Event], mix: dict = MIX) -> dict[str, list[Event]]:
    pools: dict[str, list[Event]] = {k: [] for k in mix}
    for ev in events:
        for name, test in colour.EXTRA_POOLS.items():
            if name in pools and test(ev):
                pools[name].append(ev)
        pools[ev.klass].append(ev)
        if ev.flags.get("milestone_kind"):
            pools["milestone"].append(ev)
        if ev.context.get("day_start"):
            pools["day_start"].append(ev)
        if ev.flags.get("hat_trick_ball"):
            pools["hat_trick"].append(ev)
        if "review" in ev.delivery:
            pools["review"].append(ev)
        if ev.flags.get("last_over_chase"):
            pools["chase"].append(ev)
        if ev.flags.get("maiden"):
            pools["maiden"].append(ev)
    return pools


def _select(rng: random.Random, events: list[Event], total: int, mix: dict = MIX) -> list[tuple[Event, str]]:
    """(event, pool) pairs: each pool gets its `mix` share; a small pool repeats events up to MAX_COPIES."""
    pools = _pools(events, mix)
    picked: list[tuple[Event, str]] = []
    for name, share in mix.items():
        pool = pools[name]
        if not pool:
            continue
        want = round(total * share)
        if name == "wicket":  # every rare dismissal kind first, so that each is seen
            kinds = Counter(ev.delivery["wickets"][0]["kind"] for ev in pool)
            rare = [ev for ev in pool if kinds[ev.delivery["wickets"][0]["kind"]] <= 25]
            common = [ev for ev in pool if kinds[ev.delivery["wickets"][0]["kind"]] > 25]
            chosen = rare + rng.sample(common, max(0, min(len(common), want - len(rare))))
        elif want <= len(pool):
            chosen = rng.sample(pool, want)
        else:
            reps = min(MAX_COPIES, want // len(pool))
            chosen = pool * reps
            if reps < MAX_COPIES:
                chosen += rng.sample(pool, want - len(chosen))
        picked += [(ev, name) for ev in chosen]
    rng.shuffle(picked)
    return picked


class Renderer:
    """Turns (event, pool) into one checked Example, or None with the reason counted."""

    def __init__(self, seed: int, variety: bool = False):
        from device.commentary import manner

        self.manner = manner
        self.variety = variety  # issue 15: the varied bank, every context key, notes on how the ball went
        self.rng = random.Random(f"render:{seed}")
        self.counts: Counter = Counter()
        self.reader: Counter = Counter()  # (style, agreed/unclear/wrong)
        self.reader_misses: list = []
        self.tokens = TokenCounter()
        self.unfit: Counter = Counter()

    def _shown_structured(self, ev: Event, ctx: dict) -> Shown:
        d = ev.delivery
        w = (d.get("wickets") or [{}])[0]
        fielder = (w.get("fielders") or [{}])[0].get("name")
        if ev.klass == "dropped" and " by " in ctx.get("note", ""):
            fielder = ctx["note"].split(" by ")[-1].replace("the keeper, ", "")
        seen = {"review", "hat_trick", "new_batter"}
        seen |= {k for k in ("score", "target", "milestone", "day_start", "match_type") if k in ctx}
        note = ctx.get("note", "")
        seen |= {"chase"} if "needed" in note else set()
        seen |= {"maiden"} if "maiden" in note else set()
        return Shown(
            batter=names.surname(d["batter"]),
            bowler=names.surname(d["bowler"]),
            fielder=names.surname(fielder) if fielder else None,
            detail=False,
            ctx=frozenset(seen),
        )

    def example(self, ev: Event, pool: str, style: str, raw: bool) -> Example | None:
        rng = self.rng
        ctx = prompt_context(ev, self.variety)
        truth_event = {"delivery": ev.delivery, "context": dict(ctx)}
        truth = read_delivery(ev.delivery, ctx)
        if truth.outcome != ev.klass:  # the simulator's class must be the one the prompt states
            raise RuntimeError(
                f"simulator class {ev.klass!r} but device.commentary reads {truth.outcome!r}: {ev.delivery}"
            )
        if style == "structured":
            for key in ("score", "match_type"):  # scorers do not always send everything
                if key in ctx and rng.random() < 0.08:
                    ctx.pop(key)
                    ctx.pop("target", None)
            shown = self._shown_structured(ev, ctx)
            if self.variety:
                note = colour.scorer_note(rng, ev) if rng.random() < colour.NOTE_SHARE else None
                if note and "note" not in ctx:
                    ctx["note"] = note
                    caught = note.startswith("caught")  # "caught at gully" says where, not the shot
                    shown = replace(shown, detail=True, how=not caught, where=caught or " to " in note)
                shown = replace(shown, ctx=shown.ctx | colour.shown_keys(ctx))
            keys = ALL_KEYS if self.variety else None
            messages = build_messages(delivery=ev.delivery, context=ctx, keys=keys, outcome_line=not raw)
            seen_event = truth
            event = {"delivery": ev.delivery, "context": ctx}
        else:
            if ev.delivery.get("extras", {}).get("noballs") and truth.outcome in ("four", "six"):
                return self.example(ev, pool, "structured", False)  # text templates do not say both
            for _attempt in range(4):
                text, shown = render(rng, ev, style, names_follow=self.variety)
                read = read_text(text)
                ok = read.outcome == truth.outcome and (read.outcome != "wicket" or read.dismissal == truth.dismissal)
                verdict = "agreed" if ok else ("unclear" if read.outcome == "unclear" else "wrong")
                self.reader[(style, verdict)] += 1
                if verdict == "wrong" and len(self.reader_misses) < 400:
                    self.reader_misses.append(
                        {
                            "text": text,
                            "truth": truth.outcome,
                            "truth_kind": truth.dismissal,
                            "read": read.outcome,
                            "read_kind": read.dismissal,
                        }
                    )
                if raw or verdict != "wrong":
                    break
            else:
                raw = True  # the reader misreads every phrasing: teach the raw text, with no outcome line
            messages = build_messages(text=text, outcome_line=not raw)
            event = {"text": text}
            seen_event = truth if raw else read_text(text)
        user = messages[1]["content"]
        n_tokens = self.tokens(user)
        if n_tokens > (colour.MAX_PROMPT_TOKENS if self.variety else MAX_PROMPT_TOKENS):
            self.counts["too_long"] += 1
            return None
        reply, how = self._reply(ev, shown, truth, seen_event, user)
        if reply is None:
            self.counts["no_passing_reply"] += 1
            return None
        messages = messages + [{"role": "assistant", "content": reply}]
        w = (ev.delivery.get("wickets") or [{}])[0]
        meta = {
            "outcome": truth.outcome,
            "dismissal": truth.dismissal,
            "pool": pool,
            "style": style,
            "outcome_line": not raw,
            "silent": reply == "",
            "reply_source": how,
            "prompt_tokens": n_tokens,
            "match_id": ev.match_id,
            "match_type": ev.match_type,
            "gender": ev.gender,
            "player_out_is_batter": w.get("player_out", ev.delivery["batter"]) == ev.delivery["batter"],
            "event": event,
            "canonical": truth.to_dict(),
            "truth": truth_event,
        }
        return Example(messages=messages, meta=meta)

    def unclear(self, ev: Event) -> Example | None:
        """An event text with no outcome in it; the reply is silence or claims nothing."""
        rng = self.rng
        d = ev.delivery
        shown = {"batter": names.surname(d["batter"]), "bowler": names.surname(d["bowler"])}
        text = rng.choice(UNCLEAR_TEXTS).format(**shown)
        read = read_text(text)
        if read.outcome != "unclear":
            self.reader[("unclear", "wrong")] += 1
            return None
        self.reader[("unclear", "agreed")] += 1
        messages = build_messages(text=text)
        # "Drinks" or "New ball taken" get silence or a neutral line, never one naming somebody
        pool = [r for r in UNCLEAR_REPLIES if "{bowler}" not in r or shown["bowler"] in text]
        if not any(n in text for n in shown.values()):
            pool = ["", "", "", "Patience.", "Nicely poised."]
        for _ in range(12):
            reply = rng.choice(pool).format(**shown)
            if not self.manner.check_reply(reply, read, messages[1]["content"]) and self.manner.fits(reply, read):
                break
        else:
            return None
        meta = {
            "outcome": "unclear",
            "dismissal": None,
            "pool": "unclear",
            "style": "unclear",
            "outcome_line": True,
            "silent": reply == "",
            "reply_source": "unclear",
            "prompt_tokens": self.tokens(messages[1]["content"]),
            "match_id": ev.match_id,
            "match_type": ev.match_type,
            "gender": ev.gender,
            "player_out_is_batter": True,
            "event": {"text": text},
            "canonical": read.to_dict(),
            "truth": None,
        }
        return Example(messages=messages + [{"role": "assistant", "content": reply}], meta=meta)

    def _problems(self, reply: str, truth, seen_event, user: str) -> list[str]:
        m = self.manner
        problems = m.check_reply(reply, truth, user)
        if seen_event is not truth:
            problems = problems + m.check_reply(reply, seen_event, user)
        if not problems and reply not in ALLOW_UNFIT and not m.fits(reply, truth):
            problems.append("unfit")
        return problems

    def _reply(self, ev: Event, shown: Shown, truth, seen_event, user: str) -> tuple[str | None, str]:
        """A bank reply that passes the checker (and fits) against the truth and what the prompt states."""
        choose = colour.choose_reply if self.variety else choose_reply
        for _ in range(12):
            reply, how = choose(self.rng, ev, shown)
            problems = self._problems(reply, truth, seen_event, user)
            if not problems:
                return reply, how
            self.counts["redrawn:" + problems[0]] += 1
            if problems[0] == "unfit" or problems[0].startswith("contradiction"):
                self.unfit[(truth.outcome, reply)] += 1
        plain = GENERIC.get(ev.klass, []) + GENERIC["wicket_any"]
        if self.variety:  # the varied bank's own lines before the default bank's labels
            plain = colour.COLOUR.get(ev.klass, []) + colour.WICKET_PRAISE + plain
        for line in plain:  # the plainest line of the class
            line = _pron(line, ev.gender)
            if not self._problems(line, truth, seen_event, user):
                return line, "fallback"
        return None, ""


def build(seed: int = DEFAULT_SEED, scale: float = 1.0, variety: bool = False) -> dict:
    """All splits in memory: {"train": [Example], "val": ..., "test": ..., "info": {...}}.

    `scale` < 1 makes fewer matches and examples (for tests); > 1 makes more examples from the same matches.
    `variety` (config `data.variety`, issue 15): the match feed's context and the varied bank (builder.data.colour).
    """
    rng = random.Random(seed)
    schedule = _schedule(rng, scale)
    renderer = Renderer(seed, variety)
    feed_counts: Counter = Counter()
    natural: Counter = Counter()
    splits: dict[str, list[Example]] = {}
    kinds_seen: Counter = Counter()
    for split, matches in schedule.items():
        events: list[Event] = []
        for match_id, fmt, gender in matches:
            m_rng = random.Random(f"{seed}:{match_id}")
            events += simulate_match(m_rng, match_id, fmt, gender)
        if variety:
            feed_counts.update(colour.feed_contexts(events, random.Random(f"feed:{seed}:{split}")))
        natural.update(ev.klass for ev in events)
        s_rng = random.Random(f"select:{seed}:{split}")
        out: list[Example] = []
        copies: Counter = Counter()
        mix = colour.MIX if variety else MIX
        for ev, pool in _select(s_rng, events, round(EXAMPLES[split] * scale), mix):
            copies[id(ev)] += 1
            style = _style(s_rng, copies[id(ev)])
            if variety and style != "structured" and s_rng.random() < colour.RADIO_SHARE_OF_TEXT:
                style = RADIO_STYLE
            if variety and pool in colour.STRUCTURED_POOLS:
                style = "structured"
            if variety:  # a scorer's delivery without the outcome line too: the raw path sees both
                share = colour.RAW_SHARE_OF_STRUCTURED if style == "structured" else colour.RAW_SHARE_OF_TEXT
                raw = s_rng.random() < share
            else:
                raw = style != "structured" and s_rng.random() < RAW_SHARE_OF_TEXT
            ex = renderer.example(ev, pool, style, raw)
            if ex is not None:
                ex.meta["id"] = f"{split}-{len(out):05d}"
                out.append(ex)
                if ex.meta["dismissal"]:
                    kinds_seen[ex.meta["dismissal"]] += 1
        for ev in s_rng.sample(events, round(EXAMPLES[split] * scale * UNCLEAR_SHARE)):
            ex = renderer.unclear(ev)
            if ex is not None:
                out.insert(s_rng.randrange(len(out) + 1), ex)
        splits[split] = out
    dropped = _dedupe(splits)
    return {
        **splits,
        "info": {
            "seed": seed,
            "natural": natural,
            "render_counts": renderer.counts,
            "reader": renderer.reader,
            "tokens_exact": renderer.tokens.exact,
            "reader_misses": renderer.reader_misses[:40],
            "dedupe": dropped,
            "kinds": kinds_seen,
            "matches": {s: len(m) for s, m in schedule.items()},
            "variety": variety,
            "feed": dict(feed_counts),
        },
    }


def _style(rng: random.Random, copy: int) -> str:
    styles = list(STYLE_MIX)
    if copy == 1:
        return rng.choices(styles, weights=list(STYLE_MIX.values()))[0]
    return rng.choice(TEXT_STYLES)  # a repeat of a rare event is shown as text, never the same line twice


def _dedupe(splits: dict[str, list[Example]]) -> dict:
    """Disjoint by normalised prompt: val/test drop what train has; test drops what val has; train keeps <= 2."""
    seen: dict[str, int] = {}
    stats = {"train_repeats_dropped": 0, "val_dropped": 0, "test_dropped": 0}
    kept = []
    for ex in splits["train"]:
        key = normalise(ex.messages[1]["content"])
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= 2:
            kept.append(ex)
        else:
            stats["train_repeats_dropped"] += 1
    splits["train"] = kept
    taken = set(seen)
    for split in ("val", "test"):
        kept = []
        for ex in splits[split]:
            key = normalise(ex.messages[1]["content"])
            if key in taken:
                stats[f"{split}_dropped"] += 1
            else:
                kept.append(ex)
        splits[split] = kept
        taken |= {normalise(ex.messages[1]["content"]) for ex in kept}
    for split, exs in splits.items():
        for i, ex in enumerate(exs):
            ex.meta["id"] = f"{split}-{i:05d}"
    return stats


def write_dataset(out: Path, seed: int | None = None, scale: float = 1.0, variety: bool = False) -> dict:
    """Build and write train/val/test.jsonl, dataset_card.md, stats.json, contamination.json; returns stats."""
    from builder.data.report import write_reports
    from device.util import atomic_write_text

    seed = DEFAULT_SEED if seed is None else seed
    out = Path(out)
    data = build(seed, scale, variety)
    for split in ("train", "val", "test"):
        atomic_write_text(out / f"{split}.jsonl", "".join(ex.to_json() + "\n" for ex in data[split]))
    return write_reports(out, data)


def main(out=None, seed=None, check=None, **_ignored) -> None:
    """Entry point of `suksham dataset`: --check FILE validates; otherwise --out DIR is written."""
    if check is not None:
        from builder.data.check import check_file

        check_file(Path(check))
        return
    stats = write_dataset(Path(out), seed)
    sizes = stats["sizes"]
    print(f"wrote {out}: train {sizes['train']}, val {sizes['val']}, test {sizes['test']} examples")
    print(
        f"  silence {stats['silence_share']['train']:.1%} of train, {stats['distinct_replies']} distinct replies,"
        f" raw-text prompts {stats['raw_share']['train']:.1%}, max prompt ~{stats['prompt_tokens']['max']} tokens"
    )
    print(
        f"  contamination: {stats['contamination']['exact']} exact, "
        f"{stats['contamination']['near_share']:.1%} of test near-duplicate, "
        f"{stats['contamination']['template_share']:.0%} share a template with train (see dataset_card.md)"
    )
