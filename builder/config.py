"""The build config: one YAML file with sections base, data, train, merge, export and eval.

`suksham build --config builder/configs/benaud-smollm2-135m.yaml --out DIR` reads it through
`load_config(path)`, which validates everything up front and raises one `ConfigError` that lists
every problem at once, each with its fix. Keys left out take the defaults below; unknown keys are
errors (a typo must not silently fall back to a default).

Each section is a dataclass; a key's rules live in its field's metadata (`doc`, `choices`, `min`,
`max`), cross-key rules in the section's `problems()` method. Section owners add keys here with
small edits: base/train/merge (builder-train), data (dataset), export (export), eval (evaluation).

    python -m builder.config builder/configs/benaud-smollm2-135m.yaml   # validate and print
"""

from __future__ import annotations

import dataclasses
import difflib
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Settings that change how fast a stage runs, never what it makes: left out of the fingerprints that
# decide whether a stage or a training run is reused, so a run may resume with another thread count.
SPEED_ONLY = frozenset({"threads"})


def deciding(section) -> dict:
    """A config section as a dict, without its SPEED_ONLY settings."""
    return {k: v for k, v in dataclasses.asdict(section).items() if k not in SPEED_ONLY}


DTYPES_16 = ("float16", "bfloat16")
BASE_SOURCES = ("package", "gguf", "local", "hub")
PACKAGED_GGUFS = ("smollm2-135m-instruct",)  # names device.runtime.models can locate without a network
LLAMA_QUANTS = (
    "Q4_0",
    "Q4_1",
    "Q5_0",
    "Q5_1",
    "Q8_0",
    "Q2_K",
    "Q3_K_S",
    "Q3_K_M",
    "Q3_K_L",
    "Q4_K_S",
    "Q4_K_M",
    "Q5_K_S",
    "Q5_K_M",
    "Q6_K",
    "IQ4_NL",
    "IQ4_XS",
    "F16",
    "BF16",
)


class ConfigError(ValueError):
    """A build config with problems; `problems` lists each one as 'section.key: what is wrong. Fix: ...'."""

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = list(problems)
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s){where}:\n{lines}")


def _f(default, doc: str, **rules):
    """A config key: its default, a one-line doc and its rules (choices, min, max)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"doc": doc, **rules})
    return field(default=default, metadata={"doc": doc, **rules})


@dataclass
class BaseConfig:
    source: str = _f("package", "where the base comes from", choices=BASE_SOURCES)
    name: str = _f("smollm2-135m-instruct", "package: which packaged GGUF; otherwise a label for the manifest")
    path: str | None = _f(None, "gguf: the .gguf file; local: the Hugging Face folder")
    hub_id: str | None = _f(None, "hub: repo id, read from the local hub cache (nothing is downloaded here)")
    revision: str | None = _f(None, "hub: branch, tag or commit")
    dtype: str = _f("float16", "16-bit dtype of the plain copy every later stage starts from", choices=DTYPES_16)
    trust_remote_code: bool = _f(False, "allow model code from the folder or hub (off: only built-in architectures)")

    def problems(self) -> list[str]:
        out = []
        if self.source == "package" and self.name not in PACKAGED_GGUFS:
            out.append(
                f"base.name: no packaged GGUF called {self.name!r}. Fix: use one of {list(PACKAGED_GGUFS)}, "
                "or source: gguf with path: FILE.gguf"
            )
        if self.source in ("gguf", "local") and not self.path:
            out.append(
                f"base.path: required when source is {self.source!r}. Fix: set path to the "
                + ("GGUF file." if self.source == "gguf" else "Hugging Face model folder.")
            )
        if self.source == "gguf" and self.path and not str(self.path).endswith(".gguf"):
            out.append(
                f"base.path: {self.path!r} is not a .gguf file. Fix: point it at FILE.gguf or use source: local."
            )
        if self.source == "hub" and not self.hub_id:
            out.append("base.hub_id: required when source is 'hub'. Fix: set hub_id, e.g. Qwen/Qwen2.5-0.5B-Instruct.")
        return out


@dataclass
class DataConfig:
    path: str | None = _f(None, "existing dataset folder (train.jsonl, val.jsonl); null: generate one")
    seed: int = _f(1234, "dataset seed: same seed, same dataset", min=0)
    variety: bool = _f(
        False,
        "issue 15: the match feed's context keys on every ball, the varied reply bank (no house line, no bare "
        "labels); off: the default data, byte for byte",
    )

    def problems(self) -> list[str]:
        return []


@dataclass
class TrainConfig:
    method: str = _f("qlora", "qlora: 4-bit NF4 base + LoRA; lora: 16/32-bit base + LoRA", choices=("qlora", "lora"))
    device: str = _f("auto", "auto: cuda if available, else cpu", choices=("auto", "cpu", "cuda"))
    compute_dtype: str = _f(
        "auto",
        "auto: bfloat16 on cuda; on a cpu whichever of bfloat16 and float32 multiplies faster (timed once)",
        choices=("auto", "float32", "bfloat16", "float16"),
    )
    bnb_quant_type: str = _f("nf4", "4-bit type for qlora", choices=("nf4", "fp4"))
    bnb_double_quant: bool = _f(True, "quantize the quantization constants too (less memory, same quality)")
    lora_r: int = _f(16, "adapter rank", min=1, max=1024)
    lora_alpha: float = _f(32.0, "adapter scale numerator (scale = alpha / r)", min=0.0)
    lora_dropout: float = _f(0.05, "dropout on the adapter input", min=0.0, max=0.9)
    target_modules: list = _f(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], "linear layers that get adapters"
    )
    learning_rate: float = _f(5e-4, "peak learning rate", min=1e-7, max=1.0)
    min_lr_ratio: float = _f(0.1, "cosine floor as a share of the peak", min=0.0, max=1.0)
    warmup_steps: int = _f(5, "linear warmup steps", min=0)
    weight_decay: float = _f(0.0, "AdamW weight decay on adapter weights", min=0.0)
    max_grad_norm: float = _f(1.0, "gradient clipping norm (0 = off)", min=0.0)
    max_steps: int = _f(40, "optimizer steps", min=1)
    batch_size: int = _f(2, "packed sequences per micro-batch", min=1)
    grad_accum: int = _f(2, "micro-batches per optimizer step", min=1)
    seq_len: int = _f(256, "packed sequence length in tokens", min=32)
    pack: bool = _f(True, "pack short examples into one sequence (block-diagonal attention)")
    gradient_checkpointing: bool = _f(False, "recompute activations: less memory, ~30% slower")
    eval_every: int = _f(10, "validation loss every N steps", min=1)
    max_val_examples: int = _f(64, "validation examples scored each time", min=1)
    early_stopping_patience: int = _f(3, "stop after N evaluations without improvement (0 = never)", min=0)
    early_stopping_min_delta: float = _f(0.0, "improvement smaller than this does not count", min=0.0)
    save_every: int = _f(10, "checkpoint every N steps (for --resume)", min=1)
    keep_checkpoints: int = _f(2, "checkpoints kept on disk besides the best", min=1)
    seed: int = _f(0, "seed for adapter init, dropout and data order", min=0)
    threads: int | None = _f(None, "torch CPU threads (null: all cores)", min=1)

    def problems(self) -> list[str]:
        out = []
        if not self.target_modules or not all(isinstance(m, str) and m for m in self.target_modules):
            out.append("train.target_modules: must be a non-empty list of layer names. Fix: e.g. [q_proj, v_proj].")
        if self.warmup_steps >= self.max_steps:
            out.append(
                f"train.warmup_steps: {self.warmup_steps} >= max_steps {self.max_steps}. "
                "Fix: make warmup a small share of max_steps (e.g. 10%)."
            )
        if self.method == "lora" and self.compute_dtype == "float16":
            out.append(
                "train.compute_dtype: float16 LoRA training without a grad scaler diverges. "
                "Fix: use bfloat16 or float32."
            )
        return out


@dataclass
class MergeConfig:
    check_prompts: int = _f(8, "validation prompts whose greedy replies must match before/after merging", min=1)
    check_max_new_tokens: int = _f(12, "tokens generated per check prompt", min=1)
    min_agreement: float = _f(1.0, "share of check prompts that must match exactly", min=0.0, max=1.0)

    def problems(self) -> list[str]:
        return []


@dataclass
class ExportConfig:
    quant_types: list = _f(
        ["Q4_K_M"],
        "quantizations shipped in the bundle; the first is served by default, any after it are optional quants "
        "(e.g. Q4_0, Q8_0 for the Pi's repacked ARM kernels): listed in the manifest's quants, gated at the same "
        "thresholds, served with suksham serve --quant",
    )
    extra_quants: list = _f([], "made for comparison in eval only, not shipped (e.g. Q8_0)")
    n_ctx: int = _f(512, "context size written to the manifest and Modelfile", min=64, max=131072)
    imatrix: bool = _f(False, "importance matrix from the training data: better low-bit quants, +1-2 min")
    # Modelfile.benaud sampling for `ollama run`: a Benaud line is 1-5 words, so few tokens and a short leash.
    num_predict: int = _f(
        12, "Modelfile num_predict: max reply tokens (5 words + end of turn fit in 12)", min=1, max=256
    )
    temperature: float = _f(
        0.2, "Modelfile temperature: low keeps the manner steady, 0 repeats one line per event", min=0.0, max=2.0
    )
    top_k: int = _f(20, "Modelfile top_k: candidates kept per token", min=0)
    top_p: float = _f(0.9, "Modelfile top_p: nucleus share kept per token", min=0.0, max=1.0)
    min_p: float = _f(0.05, "Modelfile min_p: drop tokens below this share of the best one", min=0.0, max=1.0)
    repeat_penalty: float = _f(
        1.0, "Modelfile repeat_penalty: 1.0 = off (short replies need no penalty)", min=0.0, max=2.0
    )
    parity_natural_stop: bool = _f(
        True,
        "parity gate: greedy replies must end on the end-of-turn token within "
        "num_predict (off only for untrained test models)",
    )
    # issue 15: /v1/commentary samples with the Modelfile's temperature, top_k, top_p and min_p above
    serve_sampling: bool = _f(
        False, "write the sampling above, draws and memory to the manifest: the server samples; off: greedy"
    )
    draws: int = _f(4, "serve_sampling: samples the guard may check per reply before the plain line", min=1, max=8)
    memory: int = _f(
        12, "serve_sampling: spoken lines of a match (by context.match_id) not to be said again", min=0, max=64
    )
    guard_vocabulary: bool = _f(
        False,
        "write the training replies' words to the manifest (reply_vocabulary): the guard also judges a reply's "
        "opening word, drawing again on one neither the prompt nor the training replies hold (issue 15)",
    )

    def problems(self) -> list[str]:
        out = []
        if self.imatrix:
            out.append(
                "export.imatrix: llama-cpp-python's quantize cannot take an importance matrix here. "
                "Fix: set imatrix: false (or quantize with llama.cpp's llama-imatrix/llama-quantize tools)."
            )
        for key in ("quant_types", "extra_quants"):
            bad = [q for q in getattr(self, key) if q not in LLAMA_QUANTS]
            if bad:
                out.append(f"export.{key}: unknown quantization(s) {bad}. Fix: use names from {list(LLAMA_QUANTS)}.")
        if not self.quant_types:
            out.append("export.quant_types: empty. Fix: list at least one, e.g. [Q4_K_M].")
        elif self.quant_types[0] in LLAMA_QUANTS and self.quant_types[0] != "Q4_K_M":
            out.append(
                f"export.quant_types: the served (first) quantization is {self.quant_types[0]}, but a bundle "
                "serves benaud-q4_k_m.gguf. Fix: put Q4_K_M first; list others after it or in extra_quants."
            )
        return out


@dataclass
class EvalThresholds:
    max_words_share: float = _f(0.98, "at least this share of replies have <= 5 words", min=0.0, max=1.0)
    exclamation_rate: float = _f(0.0, "at most this share of replies have '!'", min=0.0, max=1.0)
    contradiction_rate: float = _f(0.02, "at most this share contradict the event", min=0.0, max=1.0)
    handwritten_fit: float = _f(0.90, "at least this share of handwritten events get a fitting reply", min=0.0, max=1.0)
    composite_margin_over_fewshot: float = _f(
        0.5, "composite (a share) must beat the few-shot base by this, in absolute points", min=-1.0, max=1.0
    )
    composite_margin_kind: str = _f(
        "absolute",
        "absolute: composite - base's >= margin; gap: share of the base's shortfall "
        "closed, (composite - base's) / (1 - base's) >= margin",
        choices=("absolute", "gap"),
    )
    composite_gap_over_reader_base: float = _f(
        0.5,
        "share of the composite shortfall closed against the few-shot base that "
        "also gets this project's outcome line (the strongest prompted base)",
        min=-1.0,
        max=1.0,
    )
    q4_agreement: float = _f(0.90, "at least this share of Q4 replies equal the 16-bit model's", min=0.0, max=1.0)
    q4_agreement_kind: str = _f(
        "exact",
        "exact: the Q4 reply equals the 16-bit greedy reply; tie-aware: or the 16-bit "
        "model finds it at least half as likely as its own",
        choices=("exact", "tie-aware", "sampled"),
    )
    max_guarded_share: float = _f(
        0.30, "at most this share of the model's replies may need the server's guard", min=0.0, max=1.0
    )
    min_distinct_share: float = _f(
        0.10, "at least this share of spoken replies are distinct (catches collapse onto one line)", min=0.0, max=1.0
    )
    # issue 15, null = not gated (the default config): whole matches replayed with one match_id each
    match_distinct_share: float | None = _f(
        None, "replayed matches: at least this share of spoken replies distinct", min=0.0, max=1.0
    )
    max_bare_label_share: float | None = _f(
        None, "replayed matches: at most this share of spoken replies a bare label ('Four.')", min=0.0, max=1.0
    )
    max_repeats_in_20: int | None = _f(
        None, "replayed matches: no line more often than this in any 20 consecutive spoken replies", min=1
    )
    q4_sampled_rate_gap: float | None = _f(
        None, "q4_agreement_kind sampled: every rubric rate of Q4 within this of the 16-bit model's", min=0.0, max=1.0
    )
    q4_max_kl: float | None = _f(None, "Q4 vs F16 KL, nats per reply token, at most this", min=0.0)
    model_contradiction_rate: float | None = _f(
        None, "the model alone, before the guard: at most this share contradict the event", min=0.0, max=1.0
    )
    model_fit: float | None = _f(None, "the model alone: at least this share fit (all events)", min=0.0, max=1.0)
    raw_contradiction_rate: float | None = _f(
        None, "the raw-text (Ollama) path: at most this share contradict the event", min=0.0, max=1.0
    )
    raw_fit: float | None = _f(None, "the raw-text (Ollama) path: at least this share fit", min=0.0, max=1.0)


@dataclass
class EvalConfig:
    n_events: int = _f(
        64, "test-split events scored beside the hand-written set (more: steadier numbers, slower)", min=1
    )
    seed: int = _f(0, "seed for sampling events and replies", min=0)
    max_new_tokens: int = _f(12, "greedy tokens per reply; a reply cut off here counts as too long", min=4, max=64)
    kl_events: int = _f(24, "events teacher-forced for the Q4 vs F16 KL / perplexity delta (0 = skip)", min=0)
    max_heldout: int | None = _f(
        None, "score only the first N hand-written events (null: all 96; quick test builds only)", min=1
    )
    score_checkpoints: bool = _f(True, "score the training checkpoints left on disk too (metrics vs steps; ~15 s each)")
    step_events: int = _f(16, "hand-written events scored per training checkpoint (metrics vs steps)", min=1)
    sixteen_bit: str = _f(
        "f16-gguf",
        "16-bit replies from the F16 GGUF (same runtime as Q4, ~5x faster) or the merged folder via transformers",
        choices=("f16-gguf", "transformers"),
    )
    n_ctx: int = _f(1024, "context of the eval engines (few-shot prompts are longer than served ones)", min=256)
    threads: int | None = _f(
        1, "CPU threads for eval; 1 is fastest on a busy machine (llama.cpp threads spin-wait), null: all cores", min=1
    )
    gate: bool = _f(True, "seal the bundle only if every threshold passes")
    variety: bool = _f(
        False,
        "issue 15: replay a simulated match and the two real ones ball by ball (one match_id each) through the "
        "served sampling, and compare Q4 with F16 under sampled decoding; off: neither runs",
    )
    sampled_seeds: int = _f(3, "variety: paired seeds per held-out event for the sampled Q4 vs F16 rates", min=1)
    replay_balls: int = _f(
        330, "variety: balls of the simulated match replayed (the real ones are replayed whole)", min=20
    )
    thresholds: EvalThresholds = field(default_factory=EvalThresholds, metadata={"doc": "the evaluation gate"})

    def problems(self) -> list[str]:
        return []


@dataclass
class BuildConfig:
    base: BaseConfig = field(default_factory=BaseConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    merge: MergeConfig = field(default_factory=MergeConfig)
    export: ExportConfig = field(default_factory=ExportConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    source: str | None = field(default=None, metadata={"internal": True})  # file it was read from

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("source", None)
        return d


def _type_problem(value: Any, hint: Any) -> str | None:
    """None if `value` fits the annotation `hint`, else what was expected."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        origin = typing.get_origin(hint)
    if hint is bool:
        return None if isinstance(value, bool) else "true or false"
    if hint is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "an integer"
    if hint is float:
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "a number"
    if hint is str:
        return None if isinstance(value, str) else "a string"
    if hint is list or origin is list:
        return None if isinstance(value, list) else "a list"
    return None


def _build_section(cls, raw: Any, prefix: str, problems: list[str]):
    """Make a section dataclass from a YAML mapping, appending every problem found to `problems`."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.append(
            f"{prefix}: must be a mapping of keys, got {type(raw).__name__}. Fix: indent its keys under '{prefix}:'."
        )
        return cls()
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    values = {}
    for key, value in raw.items():
        where = f"{prefix}.{key}"
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            fix = f"rename it to {close[0]!r}" if close else f"remove it or use one of {sorted(fields)}"
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{where}: unknown key{hint}. Fix: {fix}.")
            continue
        f = fields[key]
        if dataclasses.is_dataclass(hints[key]):
            values[key] = _build_section(hints[key], value, where, problems)
            continue
        expected = _type_problem(value, hints[key])
        if expected:
            problems.append(f"{where}: must be {expected}, got {value!r}. Fix: {f.metadata.get('doc', '')}.")
            continue
        rules = f.metadata
        if "choices" in rules and value not in rules["choices"]:
            problems.append(f"{where}: {value!r} is not allowed. Fix: use one of {list(rules['choices'])}.")
            continue
        if value is not None and "min" in rules and value < rules["min"]:
            problems.append(f"{where}: {value!r} is below {rules['min']}. Fix: use a value >= {rules['min']}.")
            continue
        if value is not None and "max" in rules and value > rules["max"]:
            problems.append(f"{where}: {value!r} is above {rules['max']}. Fix: use a value <= {rules['max']}.")
            continue
        if isinstance(value, list):
            value = list(value)
        elif hints[key] is float or typing.get_args(hints[key]) == (float, type(None)):
            value = float(value) if value is not None else None
        values[key] = value
    section = cls(**values)
    if hasattr(section, "problems"):
        problems.extend(section.problems())
    return section


def config_from_dict(raw: Any, source: str | None = None) -> BuildConfig:
    """Validate a parsed config mapping; raise one ConfigError listing every problem."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise ConfigError(
            [
                f"the file must hold a mapping with sections {SECTIONS}, got {type(raw).__name__}. "
                "Fix: start from builder/configs/benaud-smollm2-135m.yaml."
            ],
            source,
        )
    sections = {}
    hints = typing.get_type_hints(BuildConfig)
    for key in raw:
        if key not in SECTIONS:
            close = difflib.get_close_matches(str(key), SECTIONS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{key}: unknown section{hint}. Fix: sections are {list(SECTIONS)}.")
    for name in SECTIONS:
        sections[name] = _build_section(hints[name], raw.get(name), name, problems)
    cfg = BuildConfig(**sections, source=source)
    problems.extend(_cross_section_problems(cfg))
    if problems:
        raise ConfigError(problems, source)
    return cfg


def _cross_section_problems(cfg: BuildConfig) -> list[str]:
    out = []
    if cfg.train.seq_len > cfg.export.n_ctx * 8:
        out.append(
            f"train.seq_len: {cfg.train.seq_len} is far beyond export.n_ctx {cfg.export.n_ctx}; "
            "the model trains on contexts it never serves. Fix: lower seq_len or raise n_ctx."
        )
    return out


SECTIONS = ("base", "data", "train", "merge", "export", "eval")


def load_config(path: str | Path) -> BuildConfig:
    """Read and validate a build config YAML; raise ConfigError listing every problem with its fix."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problem = f"cannot read the config: {exc.strerror}. Fix: pass an existing YAML file."
        raise ConfigError([problem], str(path)) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = f"not valid YAML: {exc}. Fix: check indentation and quoting at that line."
        raise ConfigError([problem], str(path)) from None
    return config_from_dict(raw if raw is not None else {}, source=str(path))


def field_docs(cls=BuildConfig, prefix: str = "") -> dict[str, str]:
    """{'train.lora_r': 'adapter rank', ...} for every key: used by tests and the model card."""
    out = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hints[f.name]):
            if f.metadata.get("doc"):
                out[key] = f.metadata["doc"]
            out.update(field_docs(hints[f.name], key + "."))
        else:
            out[key] = f.metadata.get("doc", "")
    return out


if __name__ == "__main__":
    try:
        print(yaml.safe_dump(load_config(sys.argv[1]).to_dict(), sort_keys=False))
    except ConfigError as exc:
        sys.exit(str(exc))
