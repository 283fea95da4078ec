"""Parity gate: the GGUF and Modelfile.benaud must see exactly the tokens the model was trained on.

Checks, each reported by name in parity.json (the build fails on any failure and says what differs):

- tokenize:  a set of strings gives identical ids with the HF tokenizer and the GGUF's llama.cpp
             tokenizer (special tokens parsed; also with each side's own BOS rule).
- templates: each conversation rendered three ways gives identical token ids:
             the HF chat template (training), the GGUF's embedded template rendered by
             llama-cpp-python's jinja formatter (the server), and the Modelfile TEMPLATE rendered
             with Ollama's semantics (`ollama run`: SYSTEM prepended, BOS by the vocab's rule).
- system:    Modelfile SYSTEM is the training system prompt, num_ctx is the pinned n_ctx.
- stops:     the Modelfile stops are the tokenizer's turn tokens, the end-of-turn token is one
             token in the GGUF and llama.cpp treats it as end of generation.
- stop_in_budget: greedy generation through llama.cpp ends on the end-of-turn token within the
             Modelfile's num_predict (skipped only when the config says so, for untrained test models).

    python -m builder.export.parity MERGED_HF_DIR MODEL.gguf Modelfile.benaud [N_CTX]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TOKENIZE_STRINGS = (
    "Starc to Kohli, FOUR, driven through cover",
    "Bumrah to Smith, OUT! Caught at second slip by Rahul. 212/3",
    "Anderson to Warner: no run, left alone outside off.",
    "  leading spaces and trailing  ",
    "tabs\tand\nnewlines\n\nand a blank line",
    "Müller, Đoković and Ngũgĩ walk out; café au lait at tea — 3.2 overs",
    "emoji 🏏 and quotes \"'`",
    "<|im_start|>user\nhello<|im_end|>\n",
    "numbers 0 1 12 123 1234 12345 1.5 -7 100*",
    "Marvellous.",
)

DEFAULT_EVENTS = (
    "Starc to Kohli, FOUR, driven through cover",
    "Cummins to Root, OUT, caught behind by Carey",
    "Lyon to Stokes, no run",
    "Broad to Labuschagne, dropped at gully",
    "Rabada to Williamson, SIX over long-on",
)


class ParityError(ValueError):
    """The GGUF or the Modelfile would not see what the model was trained on."""


def default_conversations(system: str) -> list[list[dict]]:
    """Served prompts (device.commentary, as /v1/commentary builds them), raw-text ones (as `ollama run`
    sends them) and one multi-turn conversation (earlier turns framed and closed the same way)."""
    from device.commentary.render import build_messages

    convs = []
    for i, event in enumerate(DEFAULT_EVENTS):
        try:
            convs.append(build_messages(text=event, outcome_line=i % 2 == 0))
        except (NotImplementedError, ValueError):  # prompt module unavailable: plain system + event
            convs.append([{"role": "system", "content": system}, {"role": "user", "content": event}])
    convs.append(
        [
            {"role": "system", "content": system},
            {"role": "user", "content": DEFAULT_EVENTS[0]},
            {"role": "assistant", "content": "Lovely shot."},
            {"role": "user", "content": DEFAULT_EVENTS[1]},
        ]
    )
    return convs


def _first_diff(a: list[int], b: list[int]) -> int:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def _describe(name_a: str, a: list[int], name_b: str, b: list[int], decode) -> str:
    i = _first_diff(a, b)
    window = slice(max(0, i - 2), i + 3)
    return (
        f"{name_a} and {name_b} differ at token {i} (lengths {len(a)} vs {len(b)}): "
        f"{name_a} {a[window]} {decode(a[window])!r} vs {name_b} {b[window]} {decode(b[window])!r}"
    )


def check_parity(
    hf_dir,
    gguf_path,
    modelfile_text: str,
    *,
    n_ctx: int,
    natural_stop: bool = True,
    strings=TOKENIZE_STRINGS,
    conversations: list[list[dict]] | None = None,
) -> dict:
    """Run every check; return {"passed", "checks": {name: ok|failed|skipped}, "failures": [...], "details"}."""
    import llama_cpp
    from transformers import AutoTokenizer

    from builder.export.modelfile import derive_chat_format, hf_renderer, render_go_template, validate_modelfile
    from device.commentary.render import SYSTEM_PROMPT
    from device.runtime.engine import Engine, EngineSettings

    tokenizer = AutoTokenizer.from_pretrained(str(hf_dir))
    modelfile = validate_modelfile(modelfile_text)
    engine = Engine(EngineSettings(model_path=Path(gguf_path), n_ctx=n_ctx, n_threads=2)).load()
    llama = engine.llama
    decode = lambda ids: tokenizer.decode(ids)  # noqa: E731
    failures: dict[str, list[str]] = {k: [] for k in ("tokenize", "templates", "system", "stops", "stop_in_budget")}
    details: dict = {}

    # -- tokenize ------------------------------------------------------------------------------
    for s in strings:
        hf_ids = tokenizer(s, add_special_tokens=False)["input_ids"]
        ll_ids = engine.tokenize(s, special=True, add_bos=False)
        if hf_ids != ll_ids:
            failures["tokenize"].append(f"string {s!r}: " + _describe("hf", hf_ids, "gguf", ll_ids, decode))
        hf_bos = tokenizer(s, add_special_tokens=True)["input_ids"]
        ll_bos = llama.tokenize(s.encode("utf-8"), add_bos=True, special=True)
        if hf_bos != ll_bos:
            failures["tokenize"].append(
                f"string {s!r} with special tokens added: " + _describe("hf", hf_bos, "gguf", ll_bos, decode)
            )
    details["tokenize_strings"] = len(strings)

    # -- templates -----------------------------------------------------------------------------
    conversations = conversations or default_conversations(SYSTEM_PROMPT)
    longest = 0
    for conv in conversations:
        label = conv[-1]["content"][:40]
        hf_text = tokenizer.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)
        hf_ids = tokenizer(hf_text, add_special_tokens=False)["input_ids"]
        gguf_ids = engine.prompt_ids(conv)
        # Ollama gets the user turns; the system prompt comes from the Modelfile's SYSTEM.
        rest = conv[1:] if conv and conv[0]["role"] == "system" and conv[0]["content"] == modelfile.system else conv
        try:
            go_text = render_go_template(modelfile.template or "{{ .Prompt }}", rest, system=modelfile.system)
            ollama_ids = llama.tokenize(go_text.encode("utf-8"), add_bos=True, special=True)
        except ValueError as exc:
            failures["templates"].append(f"conversation {label!r}: Modelfile TEMPLATE cannot be rendered: {exc}")
            continue
        if gguf_ids != hf_ids:
            failures["templates"].append(
                f"conversation {label!r}: " + _describe("hf_template", hf_ids, "gguf_template", gguf_ids, decode)
            )
        if ollama_ids != hf_ids:
            failures["templates"].append(
                f"conversation {label!r}: " + _describe("hf_template", hf_ids, "modelfile_template", ollama_ids, decode)
            )
        longest = max(longest, len(hf_ids))
    details["conversations"] = len(conversations)
    details["longest_prompt_tokens"] = longest

    # -- system prompt and n_ctx ---------------------------------------------------------------
    if modelfile.system != SYSTEM_PROMPT:
        failures["system"].append(f"Modelfile SYSTEM {modelfile.system!r} is not the training prompt {SYSTEM_PROMPT!r}")
    if modelfile.parameters.get("num_ctx") != n_ctx:
        failures["system"].append(
            f"Modelfile num_ctx {modelfile.parameters.get('num_ctx')} is not the pinned n_ctx {n_ctx}"
        )
    num_predict = int(modelfile.parameters.get("num_predict", 12))
    if longest + num_predict > n_ctx:
        failures["system"].append(f"prompt ({longest} tokens) + num_predict ({num_predict}) exceed n_ctx {n_ctx}")

    # -- stops ---------------------------------------------------------------------------------
    expected = derive_chat_format(hf_renderer(tokenizer), tokenizer.all_special_tokens)
    missing = [s for s in expected.stops if s not in modelfile.stops]
    extra = [s for s in modelfile.stops if s not in expected.stops]
    if missing:
        failures["stops"].append(
            f"Modelfile stops {modelfile.stops} lack {missing}, which the chat template uses "
            f"to frame turns; Ollama would run past the end of the reply"
        )
    if extra:
        failures["stops"].append(
            f"Modelfile stops {extra} are not turn tokens of this tokenizer (expected {list(expected.stops)})"
        )
    eot_hf = tokenizer.convert_tokens_to_ids(expected.end_of_turn)
    eot_ll = engine.tokenize(expected.end_of_turn, special=True)
    if eot_ll != [eot_hf]:
        failures["stops"].append(f"end-of-turn {expected.end_of_turn!r} is {eot_ll} in the GGUF but [{eot_hf}] in HF")
    elif not llama_cpp.llama_vocab_is_eog(llama._model.vocab, eot_hf):
        failures["stops"].append(
            f"llama.cpp does not treat {expected.end_of_turn!r} (id {eot_hf}) as end of generation; "
            "the GGUF's eos/eot token ids are wrong"
        )
    details["end_of_turn"] = {"token": expected.end_of_turn, "id": eot_hf}

    # -- generation ends within num_predict ----------------------------------------------------
    replies = []
    if natural_stop:
        for conv in [c for c in conversations if sum(m["role"] == "user" for m in c) == 1]:  # what serving sends
            done = engine.chat(conv, max_tokens=num_predict, temperature=0.0)
            replies.append(
                {
                    "event": conv[-1]["content"],
                    "reply": done.text,
                    "tokens": done.completion_tokens,
                    "finish": done.finish_reason,
                }
            )
            if done.finish_reason != "stop":
                failures["stop_in_budget"].append(
                    f"greedy reply to {conv[-1]['content']!r} did not reach {expected.end_of_turn!r} within "
                    f"num_predict={num_predict} tokens: {done.text!r}"
                )
    details["replies"] = replies

    checks = {name: ("failed" if errs else "ok") for name, errs in failures.items()}
    if not natural_stop:
        checks["stop_in_budget"] = "skipped"
    flat = [f"{name}: {msg}" for name, errs in failures.items() for msg in errs]
    return {"passed": not flat, "checks": checks, "failures": flat, "details": details}


def raise_on_failure(report: dict, where: Path | None = None) -> None:
    if report["passed"]:
        return
    shown = report["failures"][:12]
    more = len(report["failures"]) - len(shown)
    raise ParityError(
        "parity gate failed"
        + (f" (report in {where})" if where else "")
        + ":\n  "
        + "\n  ".join(shown)
        + (f"\n  ... and {more} more" if more > 0 else "")
    )


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit("usage: python -m builder.export.parity MERGED_HF_DIR MODEL.gguf Modelfile.benaud [N_CTX]")
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 512
    result = check_parity(sys.argv[1], sys.argv[2], Path(sys.argv[3]).read_text(encoding="utf-8"), n_ctx=n)
    print(json.dumps({k: result[k] for k in ("passed", "checks", "failures")}, indent=2))
    sys.exit(0 if result["passed"] else 1)
