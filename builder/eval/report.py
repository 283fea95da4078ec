"""The evaluation's words: the Markdown report, the model-card section and human ratings.

Everything here works on the plain `report` dict that `builder.eval.run` writes as eval.json, so a
report can be re-rendered or re-gated without running any model.
"""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path

from builder.eval.gate import (  # noqa: F401  (the model names are re-exported)
    FEW_SHOT_BASE,
    FEW_SHOT_READER,
    GUARDED,
    MIN_SPOKEN_FOR_DISTINCT,
    SERVED,
    SIXTEEN_BIT,
    gate,
)
from device.errors import UserError
from device.util import atomic_write_json

COLUMNS = (  # (metric key, header, format)
    ("within_words", "<=5 words", "pct"),
    ("exclamation_rate", "'!'", "pct"),
    ("banned_rate", "banned", "pct"),
    ("silence_routine", "silent routine", "pct"),
    ("silence_wicket", "silent wicket", "pct"),
    ("contradiction_rate", "contradict", "pct"),
    ("fit_rate", "fit", "pct"),
    ("echo_rate", "echo", "pct"),
    ("distinct_share", "distinct", "pct"),
    ("composite", "composite", "pct"),
    ("mean_words", "words", "num"),
)


def _fmt(value, kind: str = "pct") -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.1f}%" if kind == "pct" else f"{value:.2f}"


def table(report: dict, subset: str = "all") -> str:
    """A Markdown table: one row per model, the metrics on `subset` (all, handwritten, test)."""
    head = ["model", "n"] + [h for _k, h, _f in COLUMNS] + ["agree 16-bit", "val loss", "s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, m in report.get("models", {}).items():
        metrics = m.get("metrics", {}).get(subset)
        if not metrics or not metrics.get("n"):
            continue
        cells = [name, str(metrics["n"])] + [_fmt(metrics.get(k), f) for k, _h, f in COLUMNS]
        cells.append(_fmt(m.get("agreement_with_16bit")))
        cells.append(_fmt((m.get("loss") or {}).get("val_loss"), "num"))
        cells.append(_fmt(m.get("seconds"), "num"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pick_samples(rows: list[dict], n: int = 10, min_failures: int = 2, seed: int = 0) -> list[dict]:
    """`n` replies of one model drawn at random (so they show its usual behaviour), then topped up
    to at least `min_failures` failing ones when the model has that many."""
    rng = random.Random(seed)
    picked = rng.sample(rows, min(n, len(rows)))
    spare_bad = [r for r in rows if not r["composite"] and r not in picked]
    rng.shuffle(spare_bad)
    while sum(not r["composite"] for r in picked) < min_failures and spare_bad:
        good = [i for i, r in enumerate(picked) if r["composite"]]
        if good:
            picked[good[-1]] = spare_bad.pop()
        elif len(picked) < n:
            picked.append(spare_bad.pop())
        else:
            break
    return sorted(picked, key=lambda r: r["id"])


def _sample_lines(samples: list[dict]) -> list[str]:
    lines = ["| event | truth | reply | verdict |", "|---|---|---|---|"]
    for s in samples:
        reply = s["reply"] if s["reply"] else "*(silence)*"
        truth = s["outcome"] + (f" ({s['dismissal']})" if s.get("dismissal") else "")
        verdict = "pass" if s["composite"] else "FAIL: " + ", ".join(s["problems"])
        event = " / ".join(s["event"].replace("|", "/").splitlines())  # one table row per sample
        lines.append(f"| {event} | {truth} | {reply.replace('|', '/')} | {verdict} |")
    return lines


def _style_lines(report: dict) -> list[str]:
    """Composite (and fit) per hand-written style: where generalisation beyond the templates breaks."""
    models = {
        n: m["metrics"].get("by_style") for n, m in report.get("models", {}).items() if m["metrics"].get("by_style")
    }
    if not models:
        return []
    styles = sorted({st for by in models.values() for st in by})
    lines = [
        "",
        "### Hand-written set by style (composite / fit)",
        "",
        "| model | "
        + " | ".join(f"{st} ({next(iter(models.values())).get(st, {}).get('n', 0)})" for st in styles)
        + " |",
        "|---|" + "---|" * len(styles),
    ]
    for name, by in models.items():
        cells = [f"{_fmt(by.get(st, {}).get('composite'))} / {_fmt(by.get(st, {}).get('fit_rate'))}" for st in styles]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _quant_lines(report: dict) -> list[str]:
    out = []
    for name, q in (report.get("quantization") or {}).items():
        if q.get("tokens"):
            out.append(
                f"- {name}: KL {q['kl_mean']:.4f} nats/token (max {q['kl_max']:.3f}), perplexity "
                f"{q['ppl_reference']:.3f} -> {q['ppl_quantized']:.3f} (delta {q['ppl_delta']:+.3f}), "
                f"{q['tokens']} tokens"
            )
    return out


def model_card_section(report: dict) -> str:
    """The evaluation section of MODEL_CARD.md: tables per model, gate, 10 sample replies."""
    lines = ["## Evaluation", ""]
    counts = report.get("n_events", {})
    lines.append(
        f"Held-out events: {counts.get('handwritten', 0)} hand-written (sha256 "
        f"`{report.get('heldout_sha256', '')[:16]}...`), {counts.get('test', 0)} from the generated "
        "test split. Replies are greedy; checks are the rule-based `device.commentary.manner` checker against the "
        "event's labelled outcome. Composite = share of replies passing every check at once."
    )
    lines += [
        "",
        f"Prompts: the base models get a Benaud brief and the event's words ({FEW_SHOT_BASE}: also six "
        f"hand-written examples; {FEW_SHOT_READER}: the examples and the reader's `Outcome:` line too, "
        f"as the server gives the tuned model). {SERVED} and {SIXTEEN_BIT} are prompted as "
        f"/v1/commentary prompts them; {SERVED}-raw gets the event's words alone, as `ollama run` sends "
        f"them; {GUARDED} is {SERVED} after the server's manner guard.",
    ]
    both = counts.get("handwritten") and counts.get("test")
    for subset, title in (
        ("all", "All held-out events"),
        ("handwritten", "Hand-written set"),
        ("test", "Generated test split"),
    ):
        if subset == "all" and not both:
            continue  # one set only: its own table says it all
        if any(m.get("metrics", {}).get(subset, {}).get("n") for m in report.get("models", {}).values()):
            lines += ["", f"### {title}", "", table(report, subset)]
    lines += _style_lines(report)
    g = report.get("gate", {})
    lines += ["", "### Gate", "", f"Result: **{'passed' if g.get('passed') else 'FAILED'}**", ""]
    for c in g.get("checks", []):
        value = (
            "skipped: " + c["skipped"] if c.get("skipped") else f"{c['value']:.3f}" if c["value"] is not None else "n/a"
        )
        mark = "ok" if c["passed"] else "skipped" if c["passed"] is None else "FAIL"
        lines.append(f"- {c['metric']}: {value} (threshold {c['op']} {c['threshold']}) {mark}")
    guarded = report.get("models", {}).get(SERVED, {}).get("guarded_share")
    if guarded is not None:
        lines += [
            "",
            f"The server's manner guard would replace {_fmt(guarded)} of {SERVED}'s replies "
            "(the tables score the model's own replies, before any guard).",
        ]
    quant = _quant_lines(report)
    if quant:
        lines += ["", "### Quantization", ""] + quant
    reader = report.get("reader_accuracy") or {}
    if reader.get("n"):
        lines += [
            "",
            f"Prompt-module reader on the hand-written set: outcome accuracy "
            f"{_fmt(reader.get('outcome_accuracy'))}, dismissal kind {_fmt(reader.get('dismissal_accuracy'))}.",
        ]
    if report.get("steps"):
        lines += [
            "",
            "### Against training steps",
            "",
            f"{report['steps'][0]['metrics']['n']} hand-written events per checkpoint, through transformers.",
            "",
            "| step | val loss | <=5 words | contradict | fit | composite |",
            "|---|---|---|---|---|---|",
        ]
        for s in report["steps"]:
            m = s["metrics"]
            lines.append(
                f"| {s['step']} | {_fmt(s.get('val_loss'), 'num')} | {_fmt(m.get('within_words'))} | "
                f"{_fmt(m.get('contradiction_rate'))} | {_fmt(m.get('fit_rate'))} | {_fmt(m.get('composite'))} |"
            )
    ratings = report.get("ratings")
    if ratings:
        lines += ["", "### Human ratings (1-5, blind)", ""]
        for name, r in ratings.get("per_model", {}).items():
            lines.append(f"- {name}: mean {r['mean']:.2f}, sd {r['sd']:.2f}, n {r['n']}")
    samples = report.get("samples") or []
    if samples:
        lines += ["", f"### Sample replies ({SERVED}, {sum(not s['composite'] for s in samples)} failing)", ""]
        lines += _sample_lines(samples)
    return "\n".join(lines) + "\n"


def report_markdown(report: dict) -> str:
    head = ["# Suksham-Benaud evaluation report", ""]
    for key in ("bundle", "created"):
        if report.get(key):
            head.append(f"- {key}: {report[key]}")
    for note in report.get("notes", []):
        head.append(f"- note: {note}")
    return "\n".join(head) + "\n\n" + model_card_section(report)


def print_table(report: dict, echo=print) -> None:
    echo(table(report, "all"))
    g = report.get("gate", {})
    echo(f"gate: {'passed' if g.get('passed') else 'FAILED'}")
    for f in g.get("failures", []):
        echo(f"  - {f}")


# -- human rating -------------------------------------------------------------------------------
def rate_replies(
    rows_by_model: dict[str, list[dict]], out: Path, n: int = 12, seed: int = 0, ask=None, echo=print
) -> dict:
    """Ask a person to rate a blind, shuffled sample of replies 1-5; save them in `out`/ratings.json.

    Each model contributes equally; the person never sees which model wrote a reply.
    """
    ask = ask or _ask_rating
    rng = random.Random(seed)
    names = sorted(rows_by_model)
    if not names:
        raise UserError("nothing to rate: no model produced replies")
    pool = []
    for i in range(n):
        name = names[i % len(names)]
        rows = rows_by_model[name]
        if rows:
            pool.append((name, rows[rng.randrange(len(rows))]))
    rng.shuffle(pool)
    echo(f"Rate {len(pool)} replies from 1 (wrong or not Benaud) to 5 (just right). Silence can be right.")
    ratings = []
    for k, (name, row) in enumerate(pool, 1):
        echo(f"\n[{k}/{len(pool)}] event: {row['event']}")
        echo(f"        reply: {row['reply'] or '(silence)'}")
        ratings.append(
            {"model": name, "id": row["id"], "event": row["event"], "reply": row["reply"], "rating": int(ask())}
        )
    per_model = {}
    for name in names:
        scores = [r["rating"] for r in ratings if r["model"] == name]
        if scores:
            per_model[name] = {
                "n": len(scores),
                "mean": statistics.fmean(scores),
                "sd": statistics.pstdev(scores) if len(scores) > 1 else 0.0,
            }
    summary = {"n": len(ratings), "per_model": per_model, "ratings": ratings}
    atomic_write_json(Path(out) / "ratings.json", summary)
    return summary


def load_ratings(out: Path) -> dict | None:
    path = Path(out) / "ratings.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _ask_rating() -> int:
    """A rating 1-5 typed at the terminal; asks again until it is one."""
    while True:
        answer = input("rating 1-5: ").strip()
        if answer in ("1", "2", "3", "4", "5"):
            return int(answer)
        print(f"{answer} is not in the range 1-5; type a whole number from 1 to 5")
