"""`suksham build`: data -> base -> train -> merge -> export -> eval -> bundle, each stage resumable.

Work happens in OUT.build/ (data/, base/, train/, merged/, export/, eval/). A stage that finishes
writes OUT.build/<stage>/_stage.json with a fingerprint of its inputs (its config section and the
fingerprints of the stages it reads); with --resume (the default) a stage whose fingerprint is
unchanged is skipped. The eval stage assembles the bundle in a hidden candidate folder beside
OUT and runs the evaluation gate there; the bundle stage seals the gated candidate (checksums
written last) and renames it into OUT. A failed or interrupted build never replaces a good OUT.

    suksham build --config builder/configs/benaud-smollm2-135m.yaml --out bundles/benaud
    suksham build --config CFG --out DIR --stage export      # one stage; earlier ones must be done
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

from builder.bundle import (
    LOSS_CURVE_NAME,
    TRAIN_LOG_NAME,
    BuildError,
    assemble_candidate,
    candidate_dir,
    check_out_replaceable,
    dataset_hashes,
    file_hashes,
    recover,
    seal_and_publish,
    versions,
    write_model_card,
)
from builder.config import deciding
from device.errors import UserError
from device.runtime.bundle import GGUF_NAME, MODELFILE_NAME
from device.util import atomic_write_json

STAGES = ("data", "base", "train", "merge", "export", "eval", "bundle")
STAGE_DIRS = {
    "data": "data",
    "base": "base",
    "train": "train",
    "merge": "merged",
    "export": "export",
    "eval": "eval",
    "bundle": "bundle",
}
# Which config sections and which earlier stages decide each stage's result.
SECTIONS = {
    "data": ("data",),
    "base": ("base",),
    "train": ("train",),
    "merge": ("merge",),
    "export": ("export",),
    "eval": ("eval",),
    "bundle": (),
}
UPSTREAM = {
    "data": (),
    "base": (),
    "train": ("data", "base"),
    "merge": ("train", "base", "data"),
    "export": ("merge",),
    "eval": ("export", "merge", "data", "train", "base"),
    "bundle": ("eval", "export", "train", "base", "data"),
}
MARKER = "_stage.json"


class Build:
    """One build's paths, config and stage bookkeeping."""

    def __init__(self, cfg, config_path: Path, out: Path, resume: bool):
        self.cfg = cfg
        self.config_path = Path(config_path)
        self.out = Path(out).resolve()
        self.root = self.out.with_name(self.out.name + ".build")
        self.resume = resume
        self.rows: list[tuple[str, str, float, str]] = []

    def dir(self, stage: str) -> Path:
        return self.root / STAGE_DIRS[stage]

    def marker(self, stage: str) -> dict | None:
        path = self.dir(stage) / MARKER
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def fingerprint(self, stage: str) -> str:
        config = {s: deciding(getattr(self.cfg, s)) for s in SECTIONS[stage]}  # thread counts left out
        inputs = {"stage": stage, "config": config, "upstream": {}}
        for up in UPSTREAM[stage]:
            mark = self.marker(up)
            if mark is None:
                raise BuildError(
                    f"stage {stage} needs stage {up}, which has not completed in {self.root}. "
                    f"Run `suksham build` without --stage, or --stage {up} first."
                )
            inputs["upstream"][up] = mark["fingerprint"]
        if stage == "base":
            from builder.train.base import describe

            inputs["base"] = describe(self.cfg.base)  # includes the base file's sha256
        return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def mark_done(self, stage: str, fingerprint: str, seconds: float, outputs: dict) -> None:
        atomic_write_json(
            self.dir(stage) / MARKER,
            {"stage": stage, "fingerprint": fingerprint, "seconds": round(seconds, 1), **outputs},
        )


# ---------------------------------------------------------------------------------------------
# Stages: each returns (outputs for its marker, a short note for the summary table)
# ---------------------------------------------------------------------------------------------
def stage_data(b: Build):
    d = b.dir("data")
    if b.cfg.data.path:
        src = Path(b.cfg.data.path)
        missing = [n for n in ("train.jsonl", "val.jsonl", "test.jsonl") if not (src / n).is_file()]
        if missing:
            raise BuildError(f"data.path {src} lacks {missing}. Fix: point it at a `suksham dataset --out` folder.")
        d.mkdir(parents=True, exist_ok=True)
        for name in ("train.jsonl", "val.jsonl", "test.jsonl"):
            shutil.copy2(src / name, d / name)
        note = f"copied from {src}"
    else:
        from builder.data.dataset import write_dataset

        write_dataset(d, b.cfg.data.seed, variety=b.cfg.data.variety)
        note = f"generated, seed {b.cfg.data.seed}" + (", variety (issue 15)" if b.cfg.data.variety else "")
    hashes = dataset_hashes(d)
    sizes = ", ".join(f"{k.split('.')[0]} {v['examples']}" for k, v in hashes["files"].items())
    return {"dataset": hashes}, f"{note}: {sizes}"


def stage_base(b: Build):
    from builder.train.base import prepare_base, read_base_info

    prepare_base(b.cfg.base, b.dir("base"))
    info = read_base_info(b.dir("base"))
    return {"base": info}, f"{info.get('name')} ({info.get('architecture')}, {info.get('parameters', 0):,} params)"


def stage_train(b: Build):
    from builder.train.loop import train

    result = train(b.cfg, b.dir("data"), b.dir("base"), b.dir("train"), resume=b.resume)
    r = result.to_dict()
    return {"train": r}, (
        f"{r['method']} {r['last_step']} steps, {r['tokens_per_s']} tok/s, used {r['used']} "
        f"(val loss {r['best_val_loss']})"
    )


def stage_merge(b: Build):
    from builder.train.merge import merge_from_config

    train = b.marker("train")["train"]
    out = merge_from_config(
        b.cfg, b.dir("base"), train["adapter_dir"], b.dir("merge"), prompts_file=b.dir("data") / "val.jsonl"
    )
    return {"merged": str(out)}, "greedy replies equal before and after merging"


def stage_export(b: Build):
    from builder.export.gguf import export_model

    summary = export_model(b.dir("merge"), b.dir("export"), b.cfg.export, log=print)
    q = summary["quants"][summary["served_quant"]]
    return {"export": summary}, (
        f"{summary['served_quant']} {q['bytes'] / 2**20:.1f} MB, fallback "
        f"{q['fallback_reported']}, parity {'ok' if summary['parity']['passed'] else 'FAILED'}"
    )


def run_eval_gate(candidate: Path, b: Build, export: dict):
    """The evaluation engineer's gate (builder.eval.run), run on the candidate bundle folder."""
    from builder.eval.run import evaluate_bundle_dir

    exp = b.dir("export")
    others = [*b.cfg.export.quant_types[1:], *b.cfg.export.extra_quants]
    extra = {q.lower(): exp / export["quants"][q]["file"] for q in dict.fromkeys(others) if q != "F16"}
    return evaluate_bundle_dir(
        candidate,
        b.cfg,
        merged_dir=b.dir("merge"),
        out=b.dir("eval"),
        dataset_dir=b.dir("data"),
        extra_ggufs=extra,
        f16_gguf=exp / export["f16"],
        train_dir=b.dir("train"),
        base_dir=b.dir("base"),
        optional_quants=optional_quants(b.cfg),
    )


def optional_quants(cfg) -> list[str]:
    """The quants a bundle ships beside the served one (export.quant_types after the first), as the
    evaluation names them ("q4_0"): each is gated at the served quant's thresholds and listed in the
    manifest's `quants`. F16 is never gated: it is the 16-bit reference itself."""
    return [q.lower() for q in dict.fromkeys(cfg.export.quant_types[1:]) if q != "F16"]


def stage_eval(b: Build):
    from builder.eval.run import manifest_summary, model_card_section
    from device.runtime.gguf_header import read_metadata

    export = b.marker("export")["export"]
    train = b.marker("train")["train"]
    exp = b.dir("export")
    files = {MODELFILE_NAME: exp / MODELFILE_NAME}
    for name in export["shipped"]:
        files[GGUF_NAME if name == export["gguf"] else name] = exp / name
    if train.get("log_path") and Path(train["log_path"]).is_file():
        files[TRAIN_LOG_NAME] = Path(train["log_path"])
    if train.get("plot_path") and Path(train["plot_path"]).is_file():
        files[LOSS_CURVE_NAME] = Path(train["plot_path"])
    cand = assemble_candidate(b.out, files)
    print(f"  candidate bundle assembled in {cand}; running the evaluation gate there")
    result = run_eval_gate(cand, b, export)
    summary = manifest_summary(result.report)
    fields = manifest_fields(b, export, summary, has_curve=LOSS_CURVE_NAME in files)
    if len(export["shipped"]) > 1:  # issue 19: the optional quants, each with its file and gate (sha256 at sealing)
        fields["quants"] = shipped_quants(b, export, result.report)
    meta = read_metadata(cand / GGUF_NAME)
    width = meta.get(f"{meta.get('general.architecture')}.embedding_length")
    write_model_card(
        cand, export=export, manifest_fields=fields, eval_section=model_card_section(result.report), width=width
    )
    if not result.passed:
        raise BuildError(
            "the evaluation gate failed; the bundle was not sealed and "
            f"{b.out} was left as it was:\n  "
            + "\n  ".join(result.failures)
            + f"\nThe candidate and its eval.json are in {cand} for inspection."
        )
    return (
        {"candidate": str(cand), "candidate_files": file_hashes(cand), "manifest_fields": fields},
        f"gate passed (composite {summary.get('composite')})",
    )


def shipped_quants(b: Build, export: dict, report: dict) -> dict:
    """The manifest's `quants`: {QUANT: {file, bytes, tensor_types, fallback, gate}} for every quant the
    bundle ships, the served one too; write_manifest adds each file's sha256 when it seals the bundle."""
    from builder.eval.run import quant_gate_summary

    out = {}
    for quant in dict.fromkeys(b.cfg.export.quant_types):
        q = export["quants"][quant]
        name = GGUF_NAME if q["file"] == export["gguf"] else q["file"]
        entry = {
            "file": name,
            "bytes": q["bytes"],
            "tensor_types": q["tensor_types"],
            "fallback": q["fallback_reported"],
            "quantize_seconds": q.get("seconds"),
        }
        if quant != "F16":  # the 16-bit reference is not gated against itself
            entry["gate"] = quant_gate_summary(report, "q4_k_m" if quant == export["served_quant"] else quant)
            if quant == export["served_quant"]:
                entry["gate"]["passed"] = bool(report.get("gate", {}).get("passed"))  # the whole gate
        out[quant] = entry
    return out


def manifest_fields(b: Build, export: dict, eval_summary: dict, has_curve: bool) -> dict:
    train = b.marker("train")["train"]
    data = b.marker("data")["dataset"]
    base = b.marker("base")["base"]
    from builder.eval.run import heldout_sha256

    return {
        "gguf": GGUF_NAME,
        "quant_type": export["served_quant"],
        "n_ctx": export["n_ctx"],
        "expected_ram_mb": export["ram"]["expected_ram_mb"],
        "ram_estimate": export["ram"],
        "system_prompt": _system_prompt(),
        "base": base,
        "dataset": {**data, "heldout_sha256": heldout_sha256()},
        "hyperparameters": {**asdict(b.cfg.train), **(train.get("hyperparameters") or {})},
        "training": {
            k: train.get(k)
            for k in (
                "method",
                "used",
                "best_step",
                "best_val_loss",
                "last_step",
                "stopped_early",
                "train_tokens",
                "tokens_per_s",
                "wall_seconds",
                "peak_mem_mb",
                "linear4bit_layers",
            )
        },
        "export": {k: export[k] for k in ("served_quant", "stops", "end_of_turn")}
        | {
            "tensor_types": export["quants"][export["served_quant"]]["tensor_types"],
            "fallback": export["quants"][export["served_quant"]]["fallback_reported"],
            "parity": export.get("parity", {}).get("checks"),
        },
        "versions": versions(),
        "eval": eval_summary,
        "config": {"file": b.config_path.name, **b.cfg.to_dict()},
        "has_curve": has_curve,
        **_serving_fields(b.cfg, b.dir("data")),
    }


def _serving_fields(cfg, dataset_dir) -> dict:
    from builder.eval.variety import serving_fields

    return serving_fields(cfg, dataset_dir)


def _system_prompt() -> str:
    from device.commentary.render import SYSTEM_PROMPT

    return SYSTEM_PROMPT


def _published(b: Build, expected: dict) -> bool:
    """OUT already holds exactly the gated candidate's files, sealed."""
    from device.runtime.bundle import BundleError, verify_bundle

    try:
        verify_bundle(b.out)
    except BundleError:
        return False
    return file_hashes(b.out) == expected


def stage_bundle(b: Build):
    ev = b.marker("eval")
    if not candidate_dir(b.out).is_dir() and _published(b, ev["candidate_files"]):
        return {"manifest_files": ev["candidate_files"]}, f"already published in {b.out}"
    fields = dict(ev["manifest_fields"])
    fields["built_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    manifest = seal_and_publish(candidate_dir(b.out), b.out, fields, expected=ev["candidate_files"])
    b.dir("bundle").mkdir(parents=True, exist_ok=True)
    return {"manifest_files": manifest["files"]}, f"sealed and published to {b.out}"


RUNNERS = {
    "data": stage_data,
    "base": stage_base,
    "train": stage_train,
    "merge": stage_merge,
    "export": stage_export,
    "eval": stage_eval,
    "bundle": stage_bundle,
}


# ---------------------------------------------------------------------------------------------
def run_build(config_path, out, stage: str | None = None, resume: bool = True) -> dict:
    """Entry point of `suksham build`; returns {stage: (status, seconds, note)}."""
    from builder.config import ConfigError, load_config

    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        raise UserError(str(exc)) from exc
    b = Build(cfg, Path(config_path), Path(out), resume)
    note = recover(b.out)
    if note:
        print(note)
    try:
        check_out_replaceable(b.out)
    except BuildError as exc:
        raise UserError(str(exc)) from exc
    b.root.mkdir(parents=True, exist_ok=True)
    if stage:
        _check_upstream_current(b, stage)
    todo = [stage] if stage else list(STAGES)
    start = time.perf_counter()
    for i, name in enumerate(todo, 1):
        _run_stage(b, name, f"[{i}/{len(todo)}]")
    total = time.perf_counter() - start
    _summary(b, total)
    return {name: (status, secs, note) for name, status, secs, note in b.rows}


def _check_upstream_current(b: Build, stage: str) -> None:
    """--stage S runs S alone: every stage S reads must be done, and done with the current config."""
    needed, frontier = set(), list(UPSTREAM[stage])
    while frontier:
        up = frontier.pop()
        if up not in needed:
            needed.add(up)
            frontier.extend(UPSTREAM[up])
    for up in [s for s in STAGES if s in needed]:
        if b.marker(up) is None:
            raise UserError(
                f"stage {stage} needs stage {up}, which has not completed in {b.root}. "
                f"Run `suksham build` without --stage, or --stage {up} first."
            )
        try:
            current = b.fingerprint(up)
        except BuildError as exc:
            raise UserError(f"stage {stage} cannot run alone: {exc}") from exc
        if b.marker(up).get("fingerprint") != current:
            raise UserError(
                f"stage {stage} cannot run alone: stage {up} is out of date for this config (its inputs changed). "
                f"Run `suksham build` without --stage, or --stage {up} first."
            )


def _run_stage(b: Build, name: str, counter: str) -> None:
    from builder.config import ConfigError

    t0 = time.perf_counter()
    try:
        fp = b.fingerprint(name)
        old = b.marker(name)
        # The bundle stage always runs when asked: publishing is cheap and OUT may have been removed.
        if b.resume and old and old.get("fingerprint") == fp and _still_there(b, name, old):
            print(f"{counter} {name}: up to date, skipped ({b.dir(name)})")
            b.rows.append((name, "skipped", 0.0, "inputs unchanged"))
            return
        print(f"{counter} {name} ...")
        (b.dir(name) / MARKER).unlink(missing_ok=True)  # not done until it finishes again
        outputs, note = RUNNERS[name](b)
        secs = time.perf_counter() - t0
        b.mark_done(name, fp, secs, outputs)
    except KeyboardInterrupt:
        print(f"{counter} {name}: interrupted; {b.out} was not touched. Re-run to resume.", file=sys.stderr)
        raise
    except (BuildError, ConfigError, ValueError, RuntimeError, OSError) as exc:
        secs = time.perf_counter() - t0
        b.rows.append((name, "FAILED", secs, str(exc).splitlines()[0][:60]))
        _summary(b, None)
        raise UserError(f"stage {name} failed: {exc}") from exc
    b.rows.append((name, "done", secs, note))
    print(f"{counter} {name}: done in {secs:.1f} s - {note}")


def _still_there(b: Build, name: str, marker: dict) -> bool:
    """A stage's outputs can vanish outside the marker's knowledge: the candidate is consumed by publishing."""
    if name == "bundle":
        return False  # always runs: cheap, and it notices an OUT that was removed or edited
    if name == "eval":
        cand = candidate_dir(b.out)
        expected = marker.get("candidate_files")
        return (cand.is_dir() and file_hashes(cand) == expected) or _published(b, expected)
    return True


def _summary(b: Build, total: float | None) -> None:
    width = max(len(r[3]) for r in b.rows) if b.rows else 10
    print("")
    print(f"{'stage':<8} {'status':<8} {'seconds':>8}  note")
    print(f"{'-' * 8} {'-' * 8} {'-' * 8}  {'-' * min(width, 70)}")
    for name, status, secs, note in b.rows:
        print(f"{name:<8} {status:<8} {secs:>8.1f}  {note}")
    if total is not None:
        print(f"{'total':<8} {'':<8} {total:>8.1f}  bundle: {b.out}")
