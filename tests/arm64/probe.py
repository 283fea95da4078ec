"""Greedy replies with per-token logit margins, the same way on x86-64 and on the emulated Cortex-A76.

    python tests/arm64/probe.py --model M.gguf --events tests/arm64/events.json --out probe.json [--verbose-log L]

Formats each event with device.prompt (as the server does), decodes greedily with llama.cpp and, at
every step, records the chosen token and the gap between the top two logits: where two machines
disagree, that gap says whether the disagreement is rounding (a near tie) or a real fault.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import sys
import time

MAX_TOKENS = 12  # device.runtime.engine.COMMENTARY_MAX_TOKENS


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--events", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--verbose-log", help="also load once with verbose=True and keep llama.cpp's log here")
    args = ap.parse_args()

    import llama_cpp
    import numpy as np

    try:  # the lead is moving device/prompt.py under device/commentary/
        from device.commentary.render import build_messages
    except ImportError:
        from device.prompt import build_messages

    events = json.load(open(args.events))
    if args.limit:
        events = events[: args.limit]
    if args.verbose_log:
        _verbose_load(args.model, args.verbose_log)
    t0 = time.monotonic()
    llama = llama_cpp.Llama(
        model_path=args.model, n_ctx=512, n_threads=args.threads, n_threads_batch=args.threads, seed=0, verbose=False
    )
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    eos, bos = llama.token_eos(), llama.token_bos()
    fmt = Jinja2ChatFormatter(
        template=llama.metadata["tokenizer.chat_template"],
        eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
        bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
        add_generation_prompt=True,
    )
    n_vocab = llama.n_vocab()
    load_s = time.monotonic() - t0
    results = []
    for i, ev in enumerate(events):
        print(f"probe: event {i + 1}/{len(events)} at {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
        messages = build_messages(text=ev)
        ids = llama.tokenize(fmt(messages=messages).prompt.encode(), add_bos=False, special=True)
        llama.reset()
        llama.eval(ids)
        steps = []
        for _ in range(MAX_TOKENS):
            ptr = llama_cpp.llama_get_logits_ith(llama.ctx, -1)
            logits = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)), shape=(n_vocab,)).copy()
            top = np.argsort(logits)[-2:][::-1]
            tok = int(top[0])
            steps.append(
                {
                    "token": tok,
                    "second": int(top[1]),
                    "margin": float(logits[top[0]] - logits[top[1]]),
                    "logit": float(logits[top[0]]),
                }
            )
            if llama_cpp.llama_vocab_is_eog(llama._model.vocab, tok):
                break
            llama.eval([tok])
        toks = [s["token"] for s in steps if not llama_cpp.llama_vocab_is_eog(llama._model.vocab, s["token"])]
        results.append(
            {
                "event": ev,
                "prompt_tokens": len(ids),
                "tokens": toks,
                "text": llama.detokenize(toks).decode("utf-8", errors="replace"),
                "steps": steps,
            }
        )
    doc = {
        "machine": platform.machine(),
        "python": platform.python_version(),
        "qemu_cpu": os.environ.get("QEMU_CPU"),
        "llama_cpp": llama_cpp.__version__,
        "system_info": llama_cpp.llama_print_system_info().decode(errors="replace").strip(),
        "load_seconds": round(load_s, 2),
        "seconds": round(time.monotonic() - t0, 1),
        "results": results,
    }
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
    return 0


def _verbose_load(model: str, log_path: str) -> None:
    """llama.cpp logs to stderr (fd 2): capture it across one verbose load."""
    import llama_cpp

    sys.stderr.flush()
    saved = os.dup(2)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 2)
    try:
        llm = llama_cpp.Llama(model_path=model, n_ctx=512, n_threads=2, verbose=True)
        llm.eval(llm.tokenize(b"Got him.", add_bos=True))
        del llm
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(fd)
        os.close(saved)


if __name__ == "__main__":
    sys.exit(main())
