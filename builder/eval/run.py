"""The evaluation stage and release gate: does the model sound like Benaud and tell the truth?

Every model compared (the base prompted as Benaud zero-shot and few-shot, the merged 16-bit
model, the Q4_K_M GGUF on the served and the raw-text path, other quantizations where built)
answers the same held-out events: the hand-written set in builder/heldout/ and a sample of the
generated test split. The replies are checked by `device.commentary.manner` against each event's true
outcome; the gate compares the served Q4_K_M model with the thresholds in the config's `eval`
section, and a build that falls short is never sealed.

    suksham eval --bundle DIR --out DIR2 [--rate]       # any bundle; never modifies it
    python -m builder.eval.run --replies FILE           # re-score and gate a replies JSONL

In the build, `builder.pipeline` calls `evaluate_bundle_dir(work_dir, cfg, ...)` on the bundle
being assembled; it writes eval.json there, and the model card takes `model_card_section`.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from builder.eval import cache
from builder.eval.events import EvalEvent, heldout_sha256, load_heldout, load_test_split, reader_accuracy
from builder.eval.gate import SAMPLED
from builder.eval.metrics import aggregate, agreement, score_reply
from builder.eval.report import (
    FEW_SHOT_BASE,
    FEW_SHOT_READER,
    GUARDED,
    SERVED,
    SIXTEEN_BIT,
    gate,
    model_card_section,
    pick_samples,
    print_table,
    rate_replies,
    report_markdown,
)
from device.errors import UserError
from device.util import atomic_write_json, atomic_write_text

__all__ = [
    "EvalResult",
    "evaluate_bundle_dir",
    "run_eval",
    "evaluate_replies",
    "evaluate_checkpoints",
    "model_card_section",
    "heldout_sha256",
    "manifest_summary",
    "load_replies",
]
REPORT_FORMAT = 1
EVAL_JSON = "eval.json"


@dataclass
class EvalResult:
    report: dict
    passed: bool
    failures: list[str] = field(default_factory=list)


def _thresholds(cfg=None):
    from builder.config import EvalConfig

    return (cfg.eval if cfg is not None else EvalConfig()).thresholds


def _eval_cfg(cfg=None):
    from builder.config import EvalConfig

    return cfg.eval if cfg is not None else EvalConfig()


# -- running models -----------------------------------------------------------------------------
def run_models(events: list[EvalEvent], repliers: dict, label: str = "eval") -> tuple[dict, dict, dict]:
    """Ask every replier about every event: ({name: replies}, {name: truncated flags}, {name: seconds})."""
    from tqdm import tqdm

    replies, truncated, seconds = {}, {}, {}
    for name, replier in repliers.items():
        start = time.perf_counter()
        out, cut = [], []
        for ev in tqdm(events, desc=f"{label}: {name}", unit="event", file=sys.stderr, disable=None, leave=False):
            text, was_cut = replier.reply(ev)
            out.append(text)
            cut.append(was_cut)
        replies[name], truncated[name], seconds[name] = out, cut, time.perf_counter() - start
        cached = ""
        if isinstance(replier, cache.CachedReplier):
            replier.save()
            cached = f" ({replier.hits} from the cache, {replier.misses} asked)"
        print(f"  {label}: {name} answered {len(events)} events in {seconds[name]:.1f} s{cached}", file=sys.stderr)
    return replies, truncated, seconds


def score_rows(events: list[EvalEvent], replies: list[str], truncated: list[bool] | None = None) -> list[dict]:
    if len(replies) != len(events):
        raise ValueError(f"{len(replies)} replies for {len(events)} events; every event needs one reply")
    truncated = truncated or [False] * len(events)
    rows = []
    for ev, reply, cut in zip(events, replies, truncated):
        row = score_reply(reply, ev.truth, ev.event_text(), truncated=cut)
        row.update(
            {
                "id": ev.id,
                "set": ev.set,
                "style": ev.style,
                "event": ev.describe(),
                "dismissal": ev.truth.dismissal,
                "truncated": cut,
            }
        )
        rows.append(row)
    return rows


def _subsets(rows: list[dict]) -> dict:
    hand = [r for r in rows if r["set"] == "handwritten"]
    styles = sorted({r["style"] for r in hand})
    return {
        "all": aggregate(rows),
        "handwritten": aggregate(hand),
        "test": aggregate([r for r in rows if r["set"] == "test"]),
        # generalisation: how each hand-written style fares (the generator never wrote these)
        "by_style": {st: aggregate([r for r in hand if r["style"] == st]) for st in styles},
    }


def evaluate_replies(
    events: list[EvalEvent],
    replies: dict[str, list[str]],
    cfg=None,
    *,
    truncated: dict | None = None,
    extra: dict | None = None,
    notes: list[str] | None = None,
    seed: int = 0,
    variety: dict | None = None,
    optional_quants: list[str] | None = None,
    quantization: dict | None = None,
) -> tuple[dict, dict[str, list[dict]]]:
    """Score replies that are already made ({model: replies aligned with events}) and gate them.

    Returns (report, {model: scored rows}). `extra` adds fields per model (seconds, loss, path).
    `optional_quants`: models ("q4_0", ...) the bundle ships beside the served one, gated as it is.
    `quantization`: {"q4_k_m vs F16": {"kl_mean": ...}, ...}, which the gate's KL threshold reads.
    """
    truncated = truncated or {}
    rows_by_model = {name: score_rows(events, r, truncated.get(name)) for name, r in replies.items()}
    models = {}
    for name, rows in rows_by_model.items():
        models[name] = {"metrics": _subsets(rows), **(extra or {}).get(name, {})}
        if name != SIXTEEN_BIT and SIXTEEN_BIT in replies:
            models[name]["agreement_with_16bit"] = agreement(replies[name], replies[SIXTEEN_BIT])
    report = {
        "format": REPORT_FORMAT,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "heldout_sha256": heldout_sha256(),
        "n_events": {
            "handwritten": sum(e.set == "handwritten" for e in events),
            "test": sum(e.set == "test" for e in events),
        },
        "models": models,
        "notes": list(notes or []),
    }
    served_rows = rows_by_model.get(SERVED) or next(iter(rows_by_model.values()), [])
    hand = [r for r in served_rows if r["set"] == "handwritten"] or served_rows
    report["samples"] = [
        {k: r[k] for k in ("id", "event", "outcome", "dismissal", "reply", "composite", "problems")}
        for r in pick_samples(hand, n=10, min_failures=2, seed=seed)
    ]
    if variety is not None:
        report["variety"] = variety
    if optional_quants:
        report["optional_quants"] = [q.lower() for q in optional_quants]
    if quantization is not None:
        report["quantization"] = quantization
    thresholds = _thresholds(cfg)
    report["thresholds"] = dict(vars(thresholds))
    report["gate"] = gate(report, thresholds)
    return report, rows_by_model


def load_replies(path: str | Path, events: list[EvalEvent], truncated: dict | None = None) -> dict[str, list[str]]:
    """A replies JSONL ({"model", "id", "reply"[, "truncated"]} per line, as replies.jsonl is written)
    aligned with `events`; ValueError on gaps. Pass a dict as `truncated` to get the cut-off flags."""
    by_model: dict[str, dict[str, tuple[str, bool]]] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            by_model.setdefault(str(row["model"]), {})[str(row["id"])] = (
                str(row.get("reply") or ""),
                bool(row.get("truncated", False)),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f'{path}:{n}: expected {{"model", "id", "reply"}} ({exc})') from exc
    out = {}
    for model, got in by_model.items():
        missing = [e.id for e in events if e.id not in got]
        if missing:
            raise ValueError(f"{path}: model {model!r} has no reply for {len(missing)} event(s), e.g. {missing[:5]}")
        out[model] = [got[e.id][0] for e in events]
        if truncated is not None:
            truncated[model] = [got[e.id][1] for e in events]
    return out


def _write_outputs(out: Path, report: dict, rows_by_model: dict) -> None:
    """report.md, eval.json and replies.jsonl into `out`, each atomically (eval.json last)."""
    out.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"model": name, **r}, ensure_ascii=False) for name, rows in rows_by_model.items() for r in rows]
    atomic_write_text(out / "replies.jsonl", "\n".join(lines) + "\n")
    atomic_write_text(out / "report.md", report_markdown(report))
    atomic_write_json(out / EVAL_JSON, report)


def manifest_summary(report: dict) -> dict:
    """The short eval summary for manifest.json."""
    models = report.get("models", {})
    model = models.get(SERVED, {})
    served = models.get(GUARDED) or model  # what /v1/commentary returns

    def overall(name: str, key: str):
        return models.get(name, {}).get("metrics", {}).get("all", {}).get(key)

    m = served.get("metrics", {}).get("all", {})
    keys = ("within_words", "exclamation_rate", "contradiction_rate", "fit_rate", "composite")
    return {
        "passed": report.get("gate", {}).get("passed"),
        "heldout_sha256": report.get("heldout_sha256"),
        "n_events": report.get("n_events"),
        **{k: m.get(k) for k in keys},
        "handwritten_fit": served.get("metrics", {}).get("handwritten", {}).get("fit_rate"),
        "model_composite": overall(SERVED, "composite"),
        "model_contradiction_rate": overall(SERVED, "contradiction_rate"),
        "guarded_share": model.get("guarded_share"),
        "agreement_with_16bit": model.get("agreement_with_16bit"),
        "agreement_tie_aware": model.get("agreement_tie_aware"),
        "few_shot_base_composite": overall(FEW_SHOT_BASE, "composite"),
        "few_shot_reader_base_composite": overall(FEW_SHOT_READER, "composite"),
    }


def quant_gate_summary(report: dict, name: str) -> dict:
    """One shipped quant's evaluation for the manifest's `quants` (issue 19): its gate checks and rates.

    `name` as the evaluation names it ("q4_k_m" for the served quant, "q4_0", ...)."""
    name = name.lower()
    models = report.get("models", {})
    model = models.get(name, {})
    guarded = models.get(f"{name}+guard") or models.get(GUARDED if name == SERVED else "", {}) or model
    prefixes = (f"{name} ", f"{name}+guard ", f"{name}-raw ", f"{name}+sampled ", f"{name} vs ")
    checks = [c for c in report.get("gate", {}).get("checks", []) if str(c.get("metric", "")).startswith(prefixes)]
    failed = [c["metric"] for c in checks if c.get("passed") is False]
    m = guarded.get("metrics", {})
    kl = (report.get("quantization") or {}).get(f"{name} vs F16") or {}
    return {
        "passed": bool(checks) and not failed,
        "checks": len(checks),
        "failed": failed,
        "within_words": m.get("all", {}).get("within_words"),
        "contradiction_rate": m.get("all", {}).get("contradiction_rate"),
        "fit_rate": m.get("all", {}).get("fit_rate"),
        "handwritten_fit": m.get("handwritten", {}).get("fit_rate"),
        "model_composite": model.get("metrics", {}).get("all", {}).get("composite"),
        "guarded_share": model.get("guarded_share"),
        "agreement_with_16bit": model.get("agreement_with_16bit"),
        "kl_vs_f16": kl.get("kl_mean"),
    }


# -- the build's gate -------------------------------------------------------------------------------
def collect_events(ecfg, dataset_dir: str | Path | None, limit: int | None = None) -> tuple[list[EvalEvent], list[str]]:
    """The hand-written set (its first `limit` or eval.max_heldout events) plus the test-split sample."""
    events, notes = load_heldout(), []
    limit = limit or ecfg.max_heldout
    if limit:
        notes.append(f"only the first {limit} of {len(events)} hand-written events were scored")
        events = events[:limit]
    if dataset_dir is not None:
        events += load_test_split(dataset_dir, min(ecfg.n_events, limit or ecfg.n_events), ecfg.seed)
    else:
        notes.append("no dataset folder given: only the hand-written set was evaluated")
    return events, notes


def _base_path(cfg, base):
    """The base model to compare with: an explicit path, else the config's GGUF, else None."""
    if base is not None:
        return Path(base)
    bcfg = getattr(cfg, "base", None)
    if bcfg is not None and bcfg.source == "package":
        from device.runtime.models import smollm2_gguf_path

        return smollm2_gguf_path()
    if bcfg is not None and bcfg.source == "gguf" and bcfg.path:
        return Path(bcfg.path)
    return None


def _base_repliers(base_path: Path | None, pool, max_new: int, threads) -> dict:
    from builder.eval.models import GGUFReplier, HFReplier, messages_for

    if base_path is None:
        return {}
    if base_path.suffix == ".gguf":
        modes = {"base-zero-shot": "zero", FEW_SHOT_BASE: "few", FEW_SHOT_READER: "few-reader"}
        repliers = {name: GGUFReplier(pool, base_path, mode, max_new) for name, mode in modes.items()}
        if cache.enabled():  # the same base, prompts and decoding every build: asked once per machine
            repliers = {
                name: cache.CachedReplier(r, functools.partial(messages_for, mode=r.mode), pool.threads)
                for name, r in repliers.items()
            }
        return repliers
    hf = HFReplier(base_path, mode="zero", max_new_tokens=max_new, threads=threads)
    return {"base-zero-shot": hf, FEW_SHOT_BASE: hf.with_mode("few"), FEW_SHOT_READER: hf.with_mode("few-reader")}


def evaluate_models(
    events: list[EvalEvent],
    *,
    gguf: Path,
    cfg=None,
    merged_dir=None,
    base=None,
    extra_ggufs: dict | None = None,
    f16_gguf=None,
    notes=None,
    label="eval",
    base_dir=None,
    optional_quants=None,
    dataset_dir=None,
) -> tuple[dict, dict]:
    """Run every model on `events`, score and gate them: (report, rows_by_model).

    `base_dir`: the base's 16-bit Hugging Face copy, for its reference loss beside the merged model's.
    `optional_quants`: names among `extra_ggufs` that the bundle ships (issue 19): each also gets the
    server's guard over its replies and is gated at the served quant's thresholds.
    `dataset_dir`: the data the model was trained on, for the guard's reply vocabulary when the config asks
    for one (export.guard_vocabulary), as the bundle's server will have it.
    """
    from builder.eval.models import EnginePool, GGUFReplier, HFReplier, quant_divergence

    ecfg = _eval_cfg(cfg)
    notes = list(notes or [])
    vocabulary = _served_vocabulary(cfg, dataset_dir)
    pool = EnginePool(n_ctx=ecfg.n_ctx, threads=ecfg.threads)
    torch_threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None
    try:
        repliers = _base_repliers(_base_path(cfg, base), pool, ecfg.max_new_tokens, ecfg.threads)
        if not repliers:
            notes.append("no base model available: the few-shot comparison was skipped")
        if f16_gguf is not None and (ecfg.sixteen_bit == "f16-gguf" or merged_dir is None):
            # The F16 export is the merged model converted exactly (the export's parity gate checks the
            # tokens): same runtime as the Q4, so agreement measures quantization alone, ~5x faster.
            repliers[SIXTEEN_BIT] = GGUFReplier(pool, f16_gguf, "served", ecfg.max_new_tokens)
        elif merged_dir is not None:
            repliers[SIXTEEN_BIT] = HFReplier(
                merged_dir, mode="served", max_new_tokens=ecfg.max_new_tokens, threads=ecfg.threads
            )
        repliers[SERVED] = GGUFReplier(pool, gguf, "served", ecfg.max_new_tokens)
        repliers[f"{SERVED}-raw"] = GGUFReplier(pool, gguf, "raw", ecfg.max_new_tokens)
        for name, path in sorted((extra_ggufs or {}).items()):
            repliers[name.lower()] = GGUFReplier(pool, path, "served", ecfg.max_new_tokens)
        replies, truncated, seconds = run_models(events, repliers, label)
        extra = {name: {"seconds": round(seconds[name], 2)} for name in repliers}
        extra[SERVED]["path"] = str(gguf)
        replies[GUARDED], replaced = guarded_replies(events, replies[SERVED], vocabulary)
        truncated[GUARDED] = [False] * len(events)  # the guard's line stands whole
        extra[SERVED]["guarded_share"] = sum(replaced) / len(replaced) if replaced else None
        extra[GUARDED] = {"seconds": 0.0, "runtime": "the server's manner guard over the q4_k_m replies"}
        optional = [q.lower() for q in optional_quants or [] if q.lower() in replies]
        for name in optional:  # what /v1/commentary returns when this quant is served
            replies[f"{name}+guard"], replaced = guarded_replies(events, replies[name], vocabulary)
            truncated[f"{name}+guard"] = [False] * len(events)
            extra[name]["guarded_share"] = sum(replaced) / len(replaced) if replaced else None
            extra[f"{name}+guard"] = {"seconds": 0.0, "runtime": f"the server's manner guard over the {name} replies"}
        if SIXTEEN_BIT in replies and f16_gguf is not None:
            from builder.eval.models import tie_aware_agreement

            f16 = pool.get(f16_gguf)
            tie = tie_aware_agreement(f16, events, replies[SIXTEEN_BIT], replies[SERVED])
            extra[SERVED].update(agreement_tie_aware=tie["agreement"], agreement_near_ties=tie["near_ties"])
            if getattr(ecfg.thresholds, "q4_agreement_kind", "exact") == "tie-aware":
                for name in optional:
                    tie = tie_aware_agreement(f16, events, replies[SIXTEEN_BIT], replies[name])
                    extra[name].update(agreement_tie_aware=tie["agreement"], agreement_near_ties=tie["near_ties"])
        refs = [e for e in events if e.reference is not None]
        if SIXTEEN_BIT in repliers:
            hf16 = isinstance(repliers[SIXTEEN_BIT], HFReplier)
            extra[SIXTEEN_BIT]["runtime"] = "transformers" if hf16 else f"llama.cpp ({Path(f16_gguf).name})"
            if merged_dir is not None and refs:
                merged = repliers[SIXTEEN_BIT] if hf16 else HFReplier(merged_dir, threads=ecfg.threads)
                extra[SIXTEEN_BIT]["loss"] = merged.reference_loss(refs)
        base_hf = repliers.get("base-zero-shot") if isinstance(repliers.get("base-zero-shot"), HFReplier) else None
        if base_hf is None and base_dir is not None and refs and "base-zero-shot" in repliers:
            base_hf = HFReplier(base_dir, threads=ecfg.threads)
        if base_hf is not None and refs:
            extra["base-zero-shot"]["loss"] = base_hf.reference_loss(refs)
        variety = None
        if getattr(ecfg, "variety", False):  # issue 15: the served sampling, whole matches, sampled Q4 vs F16
            variety = _variety(events, replies, truncated, extra, pool, gguf, f16_gguf, cfg, ecfg, label, vocabulary)
        quantization = None
        if f16_gguf is not None and ecfg.kl_events > 0:  # before the gate, whose KL threshold reads it
            forced = [e for e in events if e.reference] or events
            f16 = pool.get(f16_gguf)
            quantization = {
                f"{q} vs F16": quant_divergence(f16, pool.get(p), forced, ecfg.kl_events)
                for q, p in [(SERVED, gguf), *sorted((extra_ggufs or {}).items())]
            }
        report, rows = evaluate_replies(
            events,
            replies,
            cfg,
            truncated=truncated,
            extra=extra,
            notes=notes,
            seed=ecfg.seed,
            variety=variety,
            optional_quants=optional,
            quantization=quantization,
        )
        report["reader_accuracy"] = reader_accuracy([e for e in events if e.set == "handwritten"])
        return report, rows
    finally:
        pool.close()
        if torch_threads is not None:  # HFReplier set eval's thread count; give the caller its own back
            sys.modules["torch"].set_num_threads(torch_threads)


def _served_vocabulary(cfg, dataset_dir) -> frozenset:
    """The reply vocabulary the bundle's guard will have (empty unless export.guard_vocabulary)."""
    if cfg is None or dataset_dir is None or not getattr(getattr(cfg, "export", None), "guard_vocabulary", False):
        return frozenset()
    from builder.eval.variety import served_sampling

    return served_sampling(cfg, dataset_dir).vocabulary


def _variety(events, replies, truncated, extra, pool, gguf, f16_gguf, cfg, ecfg, label, vocabulary=frozenset()) -> dict:
    """Adds SAMPLED (what /v1/commentary returns under the bundle's sampling) to `replies`; returns the
    replayed matches' variety and the sampled Q4 vs F16 rates (builder.eval.variety). `vocabulary`: the
    bundle's reply vocabulary, read once by the caller (_served_vocabulary)."""
    from dataclasses import replace

    from builder.eval.variety import evaluate_variety, raw_sampled, sampled_rates, served_replies, served_sampling
    from device.runtime.service import Commentator

    sampling = replace(served_sampling(cfg), vocabulary=vocabulary)
    start = time.perf_counter()
    commentator = Commentator(pool.get(gguf), sampling=sampling)
    replies[SAMPLED], stats = served_replies(commentator, events)
    truncated[SAMPLED] = [False] * len(events)
    extra[SAMPLED] = {"seconds": round(time.perf_counter() - start, 2), "sampling": sampling.to_dict(), **stats}
    print(f"[{label}] {SAMPLED}: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    start = time.perf_counter()
    out = {"matches": evaluate_variety(Commentator(pool.get(gguf), sampling=sampling), ecfg)}
    print(f"[{label}] replayed matches: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    if f16_gguf is not None:
        start = time.perf_counter()
        out["sampled_rates"] = sampled_rates(pool.get(gguf), pool.get(f16_gguf), events, sampling, ecfg.sampled_seeds)
        print(f"[{label}] sampled Q4 vs F16: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    if sampling.temperature > 0:  # the Modelfile samples too: gate the raw path as `ollama run` decodes it
        start = time.perf_counter()
        out["raw_sampled"] = raw_sampled(pool.get(gguf), events, sampling, ecfg.sampled_seeds)
        print(f"[{label}] {SERVED}-raw sampled: {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return out


def guarded_replies(
    events: list[EvalEvent], replies: list[str], vocabulary: frozenset = frozenset()
) -> tuple[list[str], list[bool]]:
    """What /v1/commentary would return for each reply, and whether its guard replaced it.

    The guard reads the event with the prompt module, as the server does, not the hand label, and has the
    bundle's reply `vocabulary` as the server does (empty: none).
    """
    from device.commentary.delivery import read_event
    from device.commentary.events import EventError
    from device.commentary.guard import guard

    out, replaced = [], []
    for ev, reply in zip(events, replies):
        try:
            seen = read_event(
                text=ev.text if ev.text is not None else ev.user or "", delivery=ev.delivery, context=ev.context
            )
        except EventError:  # the server answers 422; keep the reply so the row is still scored
            out.append(reply)
            replaced.append(False)
            continue
        prompt = "\n".join(m["content"] for m in ev.messages() if m["role"] == "user")  # as the server sees it
        text, problems = guard(reply, seen, event_text=ev.text, prompt=prompt, vocabulary=vocabulary or None)
        out.append(text)
        replaced.append(bool(problems))
    return out, replaced


def evaluate_bundle_dir(
    work_dir,
    cfg,
    merged_dir=None,
    base=None,
    out=None,
    *,
    dataset_dir=None,
    extra_ggufs: dict | None = None,
    f16_gguf=None,
    checkpoints=None,
    train_dir=None,
    base_dir=None,
    optional_quants=None,
) -> EvalResult:
    """The build's gate, on the bundle being assembled in `work_dir` (before it is sealed).

    Writes `work_dir`/eval.json, and report.md, eval.json, replies.jsonl into `out` when given.
    `base`: the base GGUF or Hugging Face folder (default: the config's packaged GGUF);
    `dataset_dir`: the dataset with test.jsonl (default: cfg.data.path); `extra_ggufs`:
    {"q8_0": path, ...} for the quantization comparison; `f16_gguf`: the F16 export, for KL;
    `checkpoints`: [(step, model_dir)] scored for the metrics-vs-steps table; by default the ones
    left in `train_dir`/checkpoints, loaded on the 16-bit `base_dir` (both default to the build
    layout's train/ and base/ beside `merged_dir`), when cfg.eval.score_checkpoints is on.
    `optional_quants`: names among `extra_ggufs` ("q4_0") the bundle ships, gated as the served one.
    `passed` is False only when a threshold is missed and cfg.eval.gate is on.
    """
    from device.runtime.bundle import GGUF_NAME

    work_dir = Path(work_dir)
    gguf = work_dir / GGUF_NAME
    if not gguf.is_file():
        raise ValueError(f"{gguf} is missing: the export stage must put the Q4_K_M GGUF in the bundle before eval")
    ecfg = _eval_cfg(cfg)
    for what, folder in (("merged_dir", merged_dir), ("base_dir", base_dir)):
        if folder is not None and not (Path(folder) / "config.json").is_file():
            raise ValueError(f"{what} {folder} is not a Hugging Face model folder (no config.json)")
    if dataset_dir is None and cfg is not None and cfg.data.path:
        dataset_dir = cfg.data.path
    events, notes = collect_events(ecfg, dataset_dir)
    build_root = Path(merged_dir).parent if merged_dir is not None else None
    if base_dir is None and build_root is not None and (build_root / "base" / "config.json").is_file():
        base_dir = build_root / "base"
    if train_dir is None and build_root is not None and (build_root / "train").is_dir():
        train_dir = build_root / "train"
    if base is None and _base_path(cfg, None) is None and base_dir is not None:
        base = base_dir  # a local or hub base: compare with its 16-bit copy through transformers
    report, rows = evaluate_models(
        events,
        gguf=gguf,
        cfg=cfg,
        merged_dir=merged_dir,
        base=base,
        extra_ggufs=extra_ggufs,
        f16_gguf=f16_gguf,
        notes=notes,
        label="build eval",
        base_dir=base_dir,
        optional_quants=optional_quants,
        dataset_dir=dataset_dir,
    )
    if checkpoints is None and train_dir is not None and ecfg.score_checkpoints:
        checkpoints = find_checkpoints(train_dir)
    if checkpoints:
        hand = [e for e in events if e.set == "handwritten"][: ecfg.step_events]
        try:
            report["steps"] = evaluate_checkpoints(checkpoints, hand, base_dir=base_dir, cfg=cfg)
        except (ValueError, OSError) as exc:  # a missing checkpoint must not hide the gate's verdict
            report["notes"].append(f"metrics against training steps skipped: {exc}")
        if train_dir is not None:
            val = training_val_losses(train_dir)
            for row in report.get("steps", []):
                row["val_loss"] = val.get(row["step"])
    report["gate"]["enforced"] = ecfg.gate
    atomic_write_json(work_dir / EVAL_JSON, report)
    if out is not None:
        _write_outputs(Path(out), report, rows)
    failures = report["gate"]["failures"]
    return EvalResult(report=report, passed=not failures or not ecfg.gate, failures=failures)


def find_checkpoints(train_dir) -> list[tuple[int, Path]]:
    """(step, adapter folder) for each checkpoint the train stage left (TRAIN/checkpoints/step-N/adapter)."""
    found = []
    for ck in sorted((Path(train_dir) / "checkpoints").glob("step-*")):
        step = ck.name.split("-", 1)[1]
        adapter = ck / "adapter"
        if step.isdigit() and (adapter / "adapter_config.json").is_file():
            found.append((int(step), adapter))
    return found


def training_val_losses(train_dir) -> dict[int, float]:
    """{step: validation loss} from the train stage's JSONL log (builder.train.loop.LOG)."""
    path = Path(train_dir) / "train_log.jsonl"
    out = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line) if line.strip() else {}
            if row.get("val_loss") is not None:
                out[int(row["step"])] = float(row["val_loss"])
    return out


def evaluate_checkpoints(pairs, events: list[EvalEvent], *, base_dir=None, cfg=None) -> list[dict]:
    """Metrics against training steps: [(step, model_dir)] -> [{"step", "metrics"}], greedy via transformers.

    A model_dir is a merged/full Hugging Face folder, or a LoRA adapter (then `base_dir` is needed).
    """
    from builder.eval.models import HFReplier

    ecfg = _eval_cfg(cfg)
    out = []
    for step, model_dir in sorted(pairs, key=lambda p: p[0]):
        replier = HFReplier(
            model_dir, base_dir=base_dir, mode="served", max_new_tokens=ecfg.max_new_tokens, threads=ecfg.threads
        )
        replies, truncated, _ = run_models(events, {"checkpoint": replier}, f"step {step}")
        rows = score_rows(events, replies["checkpoint"], truncated["checkpoint"])
        out.append({"step": int(step), "path": str(model_dir), "metrics": aggregate(rows)})
    return out


# -- suksham eval ---------------------------------------------------------------------------------
@dataclass
class _Cfg:
    """The slice of a build config that a standalone `suksham eval` has: its eval section."""

    eval: object
    base: object = None


def _bundle_extras(folder: Path, main_gguf: Path) -> tuple[dict, Path | None]:
    extras, f16 = {}, None
    for path in sorted(folder.glob("*.gguf")):
        if path == main_gguf:
            continue
        tag = path.stem.split("-")[-1].lower()
        if tag in ("f16", "bf16"):
            f16 = path
        else:
            extras[tag] = path
    return extras, f16


def run_eval(bundle, out, rate: bool = False, dataset=None, limit: int | None = None) -> dict:
    """`suksham eval --bundle DIR --out DIR2 [--rate]`: report on a bundle, written to DIR2 only."""
    from device.runtime.bundle import BundleError, verify_bundle

    bundle, out = Path(bundle).resolve(), Path(out).resolve()
    if out == bundle or bundle in out.parents:
        raise UserError(
            f"--out {out} is inside the bundle; a bundle is never modified. "
            "Pick a folder outside it, e.g. --out eval-report"
        )
    try:
        b = verify_bundle(bundle)
    except BundleError as exc:
        raise UserError(str(exc)) from exc
    ecfg = _eval_cfg()
    bundle_eval = bundle / EVAL_JSON
    if bundle_eval.is_file():  # judge by the thresholds the bundle was gated with, where it says
        from builder.config import EvalThresholds

        known = set(vars(EvalThresholds()))
        saved = json.loads(bundle_eval.read_text(encoding="utf-8")).get("thresholds") or {}
        ecfg.thresholds = EvalThresholds(**{k: v for k, v in saved.items() if k in known})
    base_info = b.manifest.get("base") or {}
    base = None
    # The embedded base is the one comparison available without the build folder.
    if base_info.get("source") == "package" or "smollm2-135m" in str(base_info.get("name", "")).lower():
        from device.runtime.models import ModelNotFound, smollm2_gguf_path

        try:
            base = smollm2_gguf_path()
        except ModelNotFound:
            base = None
    extras, f16 = _bundle_extras(bundle, b.gguf_path)
    shipped = [q.lower() for q in b.quants[1:] if q.lower() in extras]  # the manifest's optional quants
    try:
        events, notes = collect_events(ecfg, dataset, limit)
        report, rows = evaluate_models(
            events,
            gguf=b.gguf_path,
            cfg=_Cfg(ecfg),
            base=base,
            extra_ggufs=extras,
            f16_gguf=f16,
            notes=notes,
            label="eval",
            optional_quants=shipped,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    report["bundle"] = str(bundle)
    if rate:
        report["ratings"] = rate_replies({k: v for k, v in rows.items()}, out, seed=ecfg.seed)
    _write_outputs(out, report, rows)
    print_table(report)
    print(f"report: {out / 'report.md'}")
    return report


def main(argv=None) -> int:
    """Re-score and gate a replies JSONL against the held-out set (for a quick look or a CI check)."""
    import argparse

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--replies", required=True, help="JSONL of {model, id, reply} for the hand-written set")
    ap.add_argument("--out", default=None, help="folder for eval.json and report.md")
    args = ap.parse_args(argv)
    events = load_heldout()
    truncated: dict = {}
    try:
        replies = load_replies(args.replies, events, truncated)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report, rows = evaluate_replies(events, replies, truncated=truncated)
    if args.out:
        _write_outputs(Path(args.out), report, rows)
    print_table(report)
    return 0 if report["gate"]["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
