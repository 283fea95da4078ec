"""Modelfile.benaud: derive Ollama's TEMPLATE and stops from the tokenizer, write the file, validate it.

Three jobs, all pure Python (no Ollama needed):

- `derive_chat_format(render, special_tokens)` probes a chat template (the HF tokenizer's, or the
  one embedded in a GGUF) with sentinel messages and recovers its per-message shape
  `HEAD + role + SEP + content + END`. ChatML is `<|im_start|>` + role + `\\n` + content +
  `<|im_end|>\\n`. A template that does not fit that shape is refused: we never guess from a name.
- `emit_modelfile(...)` writes the Modelfile with a TEMPLATE in Ollama's `.Messages` form, and
  `render_go_template(...)` renders such a template with Ollama's semantics (Go text/template, the
  Modelfile SYSTEM prepended as a system message) for exactly the constructs we emit.
- `validate_modelfile(text)` checks a Modelfile against Ollama's documented grammar
  (docs/modelfile.mdx): instructions, quoting, parameter names and value types.

    python -m builder.export.modelfile Modelfile.benaud     # validate a Modelfile, print what it holds
    python -m builder.export.modelfile --write-checked-in   # rewrite the top-level Modelfile.benaud
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

INSTRUCTIONS = ("FROM", "PARAMETER", "TEMPLATE", "SYSTEM", "ADAPTER", "LICENSE", "MESSAGE", "REQUIRES")
# Ollama's documented parameters and their value types; `stop` may repeat.
PARAMETER_TYPES = {
    "num_ctx": int,
    "repeat_last_n": int,
    "repeat_penalty": float,
    "temperature": float,
    "seed": int,
    "stop": str,
    "num_predict": int,
    "top_k": int,
    "top_p": float,
    "min_p": float,
}
# Ollama parses but deprecated/removed: tell the user instead of "unknown".
DEPRECATED_PARAMETERS = ("mirostat", "mirostat_eta", "mirostat_tau", "tfs_z", "penalize_newline", "num_gqa")
MESSAGE_ROLES = ("system", "user", "assistant")
# Order the emitted parameters always appear in, so the checked-in file diff stays stable.
PARAMETER_ORDER = (
    "num_ctx",
    "num_predict",
    "temperature",
    "top_k",
    "top_p",
    "min_p",
    "repeat_penalty",
    "repeat_last_n",
    "seed",
)

_SENTINELS = {"system": "QXSYSQX", "user": "QXUSRQX", "assistant": "QXASTQX", "user2": "QXUSR2QX"}


class ModelfileError(ValueError):
    """A Modelfile or chat template we cannot emit, render or accept; the message says what to fix."""


# ---------------------------------------------------------------------------------------------
# Deriving the chat format from a template
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChatFormat:
    """One message renders as head + role + sep + content + end; a reply starts with head + 'assistant' + sep."""

    head: str
    sep: str
    end: str
    stops: tuple[str, ...]
    end_of_turn: str  # the special token that closes a turn (generation must stop on it)

    def go_template(self) -> str:
        """The Ollama TEMPLATE, in the `.Messages` form of Ollama's ChatML example."""
        return (
            "{{- range .Messages }}"
            + self.head
            + "{{ .Role }}"
            + self.sep
            + "{{ .Content }}"
            + self.end
            + "{{ end }}"
            + self.head
            + "assistant"
            + self.sep
        )


def derive_chat_format(render: Callable[[list[dict], bool], str], special_tokens) -> ChatFormat:
    """Recover the per-message shape of a chat template by rendering sentinel conversations.

    `render(messages, add_generation_prompt)` renders the template (HF `apply_chat_template` or
    jinja over the GGUF's template); `special_tokens` are the tokenizer's special token strings.
    """
    s = _SENTINELS
    msgs = [
        {"role": "system", "content": s["system"]},
        {"role": "user", "content": s["user"]},
        {"role": "assistant", "content": s["assistant"]},
        {"role": "user", "content": s["user2"]},
    ]
    try:
        full = render(msgs, True)
        no_gen = render(msgs, False)
    except Exception as exc:  # jinja raises many kinds; all mean the same thing here
        raise ModelfileError(f"the chat template failed to render a system/user/assistant conversation: {exc}") from exc
    pieces = _split_on(full, [m["content"] for m in msgs])
    if pieces is None:
        raise ModelfileError(
            "the chat template does not render message contents verbatim and in order; "
            "cannot map it to an Ollama TEMPLATE. Use a ChatML-style base model."
        )
    p0, p1, p2, p3, tail = pieces
    i = p0.find("system")
    if i < 0:
        raise ModelfileError(
            f"the chat template does not write the role name before a message ({p0!r}); "
            "cannot map it to Ollama's {{ .Role }} form."
        )
    head, sep = p0[:i], p0[i + len("system") :]
    header = {r: head + r + sep for r in ("user", "assistant")}
    if not p1.endswith(header["user"]):
        raise ModelfileError(
            f"messages are not framed uniformly (between system and user: {p1!r}); "
            "this template family cannot be mapped to Ollama's .Messages form."
        )
    end = p1[: len(p1) - len(header["user"])]
    expected = {"p2": end + header["assistant"], "p3": end + header["user"], "tail": end + header["assistant"]}
    got = {"p2": p2, "p3": p3, "tail": tail}
    for key, want in expected.items():
        if got[key] != want:
            raise ModelfileError(
                f"the chat template frames messages differently by position ({key}: {got[key]!r}, "
                f"expected {want!r}); cannot map this template family to Ollama's .Messages form."
            )
    if no_gen != full[: len(full) - len(header["assistant"])]:
        raise ModelfileError(
            "the chat template's generation prompt is not just the assistant header; "
            "cannot map it to Ollama's .Messages form."
        )
    specials = set(special_tokens)
    head_tok, end_tok = head.strip(), end.strip()
    problems = []
    if head_tok not in specials:
        problems.append(f"the message head {head!r} is not one special token of the tokenizer")
    if end_tok not in specials:
        problems.append(f"the end of a turn {end!r} is not one special token of the tokenizer")
    for part in (head, sep, end):
        if "{{" in part or '"""' in part:
            problems.append(f"{part!r} cannot be written inside an Ollama TEMPLATE")
    if problems:
        raise ModelfileError(
            "cannot derive Ollama stops from this chat template: "
            + "; ".join(problems)
            + ". Use a base whose template frames turns with special tokens (ChatML)."
        )
    stops = tuple(dict.fromkeys((head_tok, end_tok)))
    return ChatFormat(head=head, sep=sep, end=end, stops=stops, end_of_turn=end_tok)


def _split_on(text: str, parts: list[str]) -> list[str] | None:
    out, pos = [], 0
    for part in parts:
        i = text.find(part, pos)
        if i < 0 or text.count(part) != 1:
            return None
        out.append(text[pos:i])
        pos = i + len(part)
    out.append(text[pos:])
    return out


def hf_renderer(tokenizer) -> Callable[[list[dict], bool], str]:
    """`render` for derive_chat_format from a Hugging Face tokenizer."""
    if not getattr(tokenizer, "chat_template", None):
        raise ModelfileError(
            "the tokenizer has no chat_template; the merged model folder must carry one "
            "(tokenizer_config.json or chat_template.jinja)."
        )

    def render(messages, add_generation_prompt):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)

    return render


def jinja_renderer(template: str, bos_token: str = "", eos_token: str = "") -> Callable[[list[dict], bool], str]:
    """`render` for a raw jinja chat template (as embedded in a GGUF), rendered the way llama-cpp-python does."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(loader=jinja2.BaseLoader(), trim_blocks=True, lstrip_blocks=True)
    compiled = env.from_string(template)

    def render(messages, add_generation_prompt):
        return compiled.render(
            messages=messages, add_generation_prompt=add_generation_prompt, bos_token=bos_token, eos_token=eos_token
        )

    return render


# ---------------------------------------------------------------------------------------------
# Ollama's Go-template semantics, for the constructs we emit
# ---------------------------------------------------------------------------------------------
_ACTION = re.compile(r"\{\{(-\s)?\s*(.*?)\s*(\s-)?\}\}", re.S)
_SUPPORTED = ("range .Messages", ".Role", ".Content", "end")


def _parse_go_template(template: str) -> list[tuple[str, str]]:
    """[(kind, value)] with kind 'text' or 'action'; trim markers applied to the text around them."""
    nodes: list[tuple[str, str]] = []
    pos, trim_next = 0, False
    for m in _ACTION.finditer(template):
        text = template[pos : m.start()]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if m.group(1):
            text = text.rstrip(" \t\r\n")
        if text:
            nodes.append(("text", text))
        action = m.group(2)
        if action not in _SUPPORTED:
            raise ModelfileError(
                f"unsupported Go template construct {{{{ {action} }}}}: this renderer knows only "
                f"{list(_SUPPORTED)} (the ChatML .Messages form)."
            )
        nodes.append(("action", action))
        trim_next = bool(m.group(3))
        pos = m.end()
    text = template[pos:]
    if trim_next:
        text = text.lstrip(" \t\r\n")
    if "{{" in text or "}}" in text:
        raise ModelfileError("unbalanced {{ }} in the template")
    if text:
        nodes.append(("text", text))
    return nodes


def ollama_messages(messages: list[dict], system: str | None) -> list[dict]:
    """What Ollama hands the template: the Modelfile SYSTEM first unless the request has one, then
    consecutive messages of the same role merged with a blank line (Ollama's `collate`)."""
    msgs = [dict(m) for m in messages]
    if system and (not msgs or msgs[0]["role"] != "system"):
        msgs.insert(0, {"role": "system", "content": system})
    merged: list[dict] = []
    for m in msgs:
        if merged and merged[-1]["role"] == m["role"] and m["role"] != "tool":
            merged[-1]["content"] += "\n\n" + m["content"]
        else:
            merged.append({"role": m["role"], "content": m["content"]})
    return merged


def render_go_template(template: str, messages: list[dict], system: str | None = None) -> str:
    """Render an Ollama `.Messages` template the way `ollama run`/`/api/chat` would."""
    nodes = _parse_go_template(template)
    msgs = ollama_messages(messages, system)
    out: list[str] = []
    i = 0
    while i < len(nodes):
        kind, value = nodes[i]
        if kind == "text":
            out.append(value)
        elif value == "range .Messages":
            depth, j = 1, i + 1
            while j < len(nodes) and depth:
                if nodes[j] == ("action", "range .Messages"):
                    depth += 1
                elif nodes[j] == ("action", "end"):
                    depth -= 1
                j += 1
            if depth:
                raise ModelfileError("{{ range .Messages }} without {{ end }}")
            body = nodes[i + 1 : j - 1]
            for m in msgs:
                for bkind, bvalue in body:
                    if bkind == "text":
                        out.append(bvalue)
                    elif bvalue == ".Role":
                        out.append(m["role"])
                    elif bvalue == ".Content":
                        out.append(m["content"])
                    else:
                        raise ModelfileError(f"{{{{ {bvalue} }}}} is not supported inside range")
            i = j
            continue
        else:
            raise ModelfileError(f"{{{{ {value} }}}} is only supported inside {{{{ range .Messages }}}}")
        i += 1
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
def _fmt_value(value) -> str:
    if isinstance(value, bool):
        raise ModelfileError("boolean parameters are not part of the Modelfile grammar we emit")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def emit_modelfile(*, gguf_name: str, chat_format: ChatFormat, system: str, parameters: dict) -> str:
    """The Modelfile text; `parameters` holds Ollama parameter names (stop comes from `chat_format`)."""
    for text, what in ((system, "SYSTEM"), (chat_format.go_template(), "TEMPLATE")):
        if '"""' in text:
            raise ModelfileError(f'the {what} text contains """, which Ollama cannot quote')
    unknown = sorted(set(parameters) - set(PARAMETER_ORDER))
    if unknown:
        raise ModelfileError(f"parameters {unknown} are not emitted; use names from {list(PARAMETER_ORDER)}")
    lines = [
        "# Suksham-Benaud for Ollama, written by `suksham build` (builder/modelfile.py); do not edit by hand.",
        '#   ollama create suksham-benaud -f Modelfile.benaud && ollama run suksham-benaud "Starc to Kohli, FOUR"',
        "# TEMPLATE and stops are derived from the tokenizer's chat template; SYSTEM is the training prompt.",
        f"FROM ./{gguf_name}",
        "",
        f'TEMPLATE """{chat_format.go_template()}"""',
        "",
    ]
    lines += [f"PARAMETER stop {stop}" for stop in chat_format.stops]
    lines += [f"PARAMETER {name} {_fmt_value(parameters[name])}" for name in PARAMETER_ORDER if name in parameters]
    lines += ["", f'SYSTEM """{system}"""', ""]
    text = "\n".join(lines)
    validate_modelfile(text)  # never write a file Ollama would reject
    return text


# ---------------------------------------------------------------------------------------------
# Reading and validating
# ---------------------------------------------------------------------------------------------
@dataclass
class Modelfile:
    from_: str = ""
    template: str | None = None
    system: str | None = None
    adapter: str | None = None
    license: list[str] = field(default_factory=list)
    messages: list[tuple[str, str]] = field(default_factory=list)
    requires: str | None = None
    parameters: dict = field(default_factory=dict)  # name -> value; stop -> list[str]

    @property
    def stops(self) -> list[str]:
        return list(self.parameters.get("stop", []))


def modelfile_parameters(settings) -> dict:
    """Ollama parameters from the export config; num_ctx is the one pinned n_ctx."""
    return {
        "num_ctx": settings.n_ctx,
        "num_predict": settings.num_predict,
        "temperature": float(settings.temperature),
        "top_k": settings.top_k,
        "top_p": float(settings.top_p),
        "min_p": float(settings.min_p),
        "repeat_penalty": float(settings.repeat_penalty),
    }


def parse_modelfile(text: str) -> list[tuple[int, str, str]]:
    """[(line, INSTRUCTION, argument)] following Ollama's parser: `#` comments, case-insensitive
    instruction names, values bare to end of line, "quoted", or \"\"\"triple quoted\"\"\" across lines."""
    if text.startswith("\ufeff"):
        text = text[1:]
    out: list[tuple[int, str, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        raw, lineno = lines[i], i + 1
        i += 1
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        m = re.match(r"([A-Za-z]+)[ \t]+(.*)$", stripped, re.S)
        if not m:
            raise ModelfileError(f"line {lineno}: expected 'INSTRUCTION arguments', got {stripped!r}")
        name, rest = m.group(1).upper(), m.group(2)
        if name not in INSTRUCTIONS:
            raise ModelfileError(f"line {lineno}: unknown instruction {m.group(1)!r}; use one of {list(INSTRUCTIONS)}")
        if name in ("PARAMETER", "MESSAGE"):
            km = re.match(r"(\S+)[ \t]+(.*)$", rest, re.S)
            if not km:
                raise ModelfileError(f"line {lineno}: {name} needs a name and a value")
            key, rest = km.group(1), km.group(2)
        else:
            key = ""
        if rest.startswith('"""'):
            body = rest[3:]
            while '"""' not in body:
                if i >= len(lines):
                    raise ModelfileError(f'line {lineno}: """ is never closed')
                body += "\n" + lines[i]
                i += 1
            value, _, after = body.partition('"""')
            if after.strip():
                raise ModelfileError(f'line {lineno}: text after the closing """: {after.strip()!r}')
        elif rest.startswith('"'):
            if len(rest) < 2 or not rest.endswith('"'):
                raise ModelfileError(f"line {lineno}: unterminated quoted value {rest!r}")
            value = rest[1:-1]
        else:
            value = rest.strip()
        out.append((lineno, name if not key else f"{name} {key}", value))
    return out


def _convert(name: str, raw: str):
    kind = PARAMETER_TYPES[name]
    if kind is int:
        if not re.fullmatch(r"-?\d+", raw):
            raise ValueError(f"{name} must be an integer, got {raw!r}")
        return int(raw)
    if kind is float:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {raw!r}") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{name} must be a finite number, got {raw!r}")
        return value
    if not raw:
        raise ValueError(f"{name} must not be empty")
    return raw


_RANGES = {
    "num_ctx": (1, None),
    "temperature": (0.0, None),
    "top_k": (0, None),
    "top_p": (0.0, 1.0),
    "min_p": (0.0, 1.0),
    "repeat_penalty": (0.0, None),
    "num_predict": (-2, None),
    "repeat_last_n": (-1, None),
}


def validate_modelfile(text: str, base_dir: str | Path | None = None) -> Modelfile:
    """Parse and check a Modelfile; raise one ModelfileError listing every problem.

    With `base_dir`, a relative FROM/ADAPTER path must exist relative to it (as Ollama resolves it).
    """
    problems: list[str] = []
    mf = Modelfile()
    for lineno, name, value in parse_modelfile(text):
        head, _, key = name.partition(" ")
        where = f"line {lineno}"
        if head == "FROM":
            if mf.from_:
                problems.append(f"{where}: a second FROM; a Modelfile for one GGUF has exactly one")
            mf.from_ = value
        elif head == "PARAMETER":
            if key in DEPRECATED_PARAMETERS:
                problems.append(f"{where}: parameter {key!r} is deprecated or removed in Ollama; drop it")
                continue
            if key not in PARAMETER_TYPES:
                problems.append(f"{where}: unknown parameter {key!r}; valid: {sorted(PARAMETER_TYPES)}")
                continue
            try:
                converted = _convert(key, value)
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                continue
            lo, hi = _RANGES.get(key, (None, None))
            if (lo is not None and converted < lo) or (hi is not None and converted > hi):
                problems.append(f"{where}: {key} {converted} is outside [{lo}, {hi if hi is not None else 'inf'}]")
            if key == "stop":
                mf.parameters.setdefault("stop", []).append(converted)
            elif key in mf.parameters:
                problems.append(f"{where}: parameter {key} is set twice (only stop may repeat)")
            else:
                mf.parameters[key] = converted
        elif head == "MESSAGE":
            if key not in MESSAGE_ROLES:
                problems.append(f"{where}: MESSAGE role {key!r} must be one of {list(MESSAGE_ROLES)}")
            mf.messages.append((key, value))
        elif head == "REQUIRES":
            if not re.fullmatch(r"v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", value):
                problems.append(f"{where}: REQUIRES must be a version like 0.14.0, got {value!r}")
            mf.requires = value
        elif head == "LICENSE":
            mf.license.append(value)
        else:
            attr = head.lower()
            if getattr(mf, attr) is not None:
                problems.append(f"{where}: {head} is given twice; the second silently wins in Ollama")
            setattr(mf, attr, value)
    if not mf.from_:
        problems.append("no FROM line; Ollama requires one (e.g. FROM ./benaud-q4_k_m.gguf)")
    if mf.template is not None:
        try:
            _parse_go_template(mf.template)
        except ModelfileError as exc:
            problems.append(f"TEMPLATE: {exc}")
    if base_dir is not None:
        for what, path in (("FROM", mf.from_), ("ADAPTER", mf.adapter)):
            if path and (path.startswith(("./", "../", "/")) or path.endswith(".gguf")):
                full = Path(path) if Path(path).is_absolute() else Path(base_dir) / path
                if not full.exists():
                    problems.append(f"{what} {path}: no such file next to the Modelfile ({full})")
    if problems:
        raise ModelfileError("Modelfile is not valid:\n  " + "\n  ".join(problems))
    return mf


def default_modelfile_text(config_path: str | Path | None = None) -> str:
    """What the default build emits for SmolLM2, derived from the template embedded in the packaged GGUF.

    The checked-in top-level Modelfile.benaud must equal this apart from the FROM line.
    """
    import gguf

    from builder.config import ExportConfig, load_config
    from device.commentary.render import SYSTEM_PROMPT
    from device.runtime.bundle import GGUF_NAME
    from device.runtime.models import smollm2_gguf_path

    reader = gguf.GGUFReader(str(smollm2_gguf_path()))
    template = reader.fields["tokenizer.chat_template"].contents()
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    kinds = reader.fields["tokenizer.ggml.token_type"].contents()
    specials = [t for t, kind in zip(tokens, kinds) if kind in (3, 4)]  # CONTROL, USER_DEFINED
    config_path = (
        Path(config_path)
        if config_path
        else Path(__file__).resolve().parents[1] / "configs" / "benaud-smollm2-135m.yaml"
    )
    settings = load_config(config_path).export if config_path.is_file() else ExportConfig()
    return emit_modelfile(
        gguf_name=GGUF_NAME,
        chat_format=derive_chat_format(jinja_renderer(template), specials),
        system=SYSTEM_PROMPT,
        parameters=modelfile_parameters(settings),
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--write-checked-in"]:
        out = Path(__file__).resolve().parents[2] / "Modelfile.benaud"
        out.write_text(default_modelfile_text(), encoding="utf-8")
        print(f"wrote {out}")
        sys.exit(0)
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "Modelfile.benaud")
    try:
        parsed = validate_modelfile(target.read_text(encoding="utf-8"), base_dir=None)
    except ModelfileError as exc:
        sys.exit(str(exc))
    print(
        f"{target}: valid. FROM {parsed.from_}; stops {parsed.stops}; parameters "
        f"{ {k: v for k, v in parsed.parameters.items() if k != 'stop'} }"
    )
