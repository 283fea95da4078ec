"""Modelfile.benaud: derived from the tokenizer, valid under Ollama's grammar, and equal to the checked-in file."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.config import ExportConfig, load_config
from builder.export.modelfile import (
    ModelfileError,
    default_modelfile_text,
    derive_chat_format,
    emit_modelfile,
    jinja_renderer,
    ollama_messages,
    render_go_template,
    validate_modelfile,
)
from device.commentary.render import SYSTEM_PROMPT
from device.runtime.bundle import GGUF_NAME

REPO = Path(__file__).resolve().parents[3]
DEFAULT_CONFIG = REPO / "builder" / "configs" / "benaud-smollm2-135m.yaml"


@pytest.fixture(scope="module")
def smollm2_template(smollm2_gguf):
    """The chat template and special tokens embedded in the packaged SmolLM2 GGUF (no HF tokenizer needed)."""
    import gguf

    reader = gguf.GGUFReader(str(smollm2_gguf))
    template = reader.fields["tokenizer.chat_template"].contents()
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    specials = [t for t, kind in zip(tokens, types) if kind in (3, 4)]  # CONTROL, USER_DEFINED
    return template, specials


def default_export_settings():
    return load_config(DEFAULT_CONFIG).export if DEFAULT_CONFIG.is_file() else ExportConfig()


def test_chatml_is_derived_from_the_template(smollm2_template):
    template, specials = smollm2_template
    fmt = derive_chat_format(jinja_renderer(template), specials)
    assert (fmt.head, fmt.sep, fmt.end) == ("<|im_start|>", "\n", "<|im_end|>\n")
    assert fmt.stops == ("<|im_start|>", "<|im_end|>")
    assert fmt.go_template() == (
        "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"
    )


def test_checked_in_modelfile_equals_what_the_builder_emits(smollm2_template):
    checked_in = (REPO / "Modelfile.benaud").read_text(encoding="utf-8")
    emitted = default_modelfile_text()
    strip_from = lambda text: [line for line in text.splitlines() if not line.upper().startswith("FROM ")]  # noqa: E731
    assert strip_from(checked_in) == strip_from(emitted), "run: python -m builder.export.modelfile --write-checked-in"
    parsed = validate_modelfile(checked_in)
    assert parsed.from_ == f"./{GGUF_NAME}"
    assert parsed.system == SYSTEM_PROMPT
    assert parsed.stops == ["<|im_start|>", "<|im_end|>"]
    settings = default_export_settings()
    assert parsed.parameters["num_ctx"] == settings.n_ctx
    assert parsed.parameters["num_predict"] <= 16  # 1-5 word replies


def test_go_template_render_equals_hf_chat_template(smollm2_template):
    template, specials = smollm2_template
    fmt = derive_chat_format(jinja_renderer(template), specials)
    convo = [
        {"role": "user", "content": "Starc to Kohli, FOUR"},
        {"role": "assistant", "content": "Lovely."},
        {"role": "user", "content": "  spaced \n text "},
    ]
    ollama = render_go_template(fmt.go_template(), convo, system=SYSTEM_PROMPT)
    hf = jinja_renderer(template)([{"role": "system", "content": SYSTEM_PROMPT}, *convo], True)
    assert ollama == hf


def test_ollama_messages_semantics():
    msgs = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    assert ollama_messages(msgs, "S") == [{"role": "system", "content": "S"}, {"role": "user", "content": "a\n\nb"}]
    own = [{"role": "system", "content": "mine"}, {"role": "user", "content": "a"}]
    assert ollama_messages(own, "S")[0] == {"role": "system", "content": "mine"}


def test_go_trim_markers():
    tpl = "A  \n{{- range .Messages }} [{{ .Role }}] {{- .Content -}}  \n {{ end -}}\n Z"
    assert render_go_template(tpl, [{"role": "user", "content": "x"}]) == "A [user]xZ"


@pytest.mark.parametrize(
    "template",
    [
        "{{ if .System }}{{ .System }}{{ end }}",
        "{{ .Prompt }}",
        "{{- range .Messages }}{{ .Role }}",
        "{{ json .Tools }}",
    ],
)
def test_go_renderer_refuses_other_constructs(template):
    with pytest.raises(ModelfileError):
        render_go_template(template, [{"role": "user", "content": "x"}])


LLAMA2 = (
    "{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
    "{% elif m['role'] == 'system' %}<<SYS>>{{ m['content'] }}<</SYS>>{% else %}{{ m['content'] }}</s>{% endif %}"
    "{% endfor %}"
)
GEMMA = (
    "{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n"
    "{{ m['content'] }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
CHATML_PLAIN = (
    "{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
)


@pytest.mark.parametrize(
    "template,specials",
    [
        (LLAMA2, ["</s>"]),
        (GEMMA, ["<start_of_turn>", "<end_of_turn>"]),
        (CHATML_PLAIN, []),  # right shape, but the frame is not made of special tokens: no safe stops
        ("{{ raise_exception('nope') }}", []),
    ],
)
def test_unmappable_template_families_are_refused(template, specials):
    with pytest.raises(ModelfileError):
        derive_chat_format(jinja_renderer(template), specials)


GOOD = [
    "FROM llama3.2\nPARAMETER temperature 1\nPARAMETER num_ctx 4096\nSYSTEM You are Mario from super mario bros.\n",
    'from ./m.gguf\nparameter stop "AI assistant:"\nparameter stop <|im_end|>\nmessage user Is Toronto in Canada?\n'
    'MESSAGE assistant yes\nLICENSE """\nApache-2.0\n"""\nREQUIRES 0.14.0\nADAPTER ./lora.gguf\n',
    '# comment\nFROM x\nTEMPLATE """{{- range .Messages }}{{ .Role }}: {{ .Content }}\n{{ end }}"""\n'
    "PARAMETER min_p 0.05\n"
    "PARAMETER seed 42\nPARAMETER top_k 40\nPARAMETER top_p 0.9\n"
    "PARAMETER repeat_penalty 1.1\nPARAMETER repeat_last_n -1\n"
    "PARAMETER num_predict -1\n",
]


@pytest.mark.parametrize("text", GOOD)
def test_valid_modelfiles(text):
    validate_modelfile(text)


BAD = [
    ("PARAMETER temperature 0.2\n", "no FROM"),
    ("FROM x\nFROM y\n", "second FROM"),
    ("FROM x\nQUANTIZE q4\n", "unknown instruction"),
    ("FROM x\nPARAMETER temprature 0.2\n", "unknown parameter"),
    ("FROM x\nPARAMETER num_ctx 51.2\n", "integer"),
    ("FROM x\nPARAMETER temperature hot\n", "number"),
    ("FROM x\nPARAMETER top_p 1.5\n", "outside"),
    ("FROM x\nPARAMETER num_ctx 0\n", "outside"),
    ("FROM x\nPARAMETER num_ctx 512\nPARAMETER num_ctx 1024\n", "set twice"),
    ("FROM x\nPARAMETER mirostat 1\n", "deprecated"),
    ("FROM x\nMESSAGE tool hello\n", "role"),
    ("FROM x\nREQUIRES latest\n", "REQUIRES"),
    ('FROM x\nSYSTEM """never closed\n', "never closed"),
    ('FROM x\nSYSTEM "half quoted\n', "unterminated"),
    ('FROM x\nTEMPLATE """{{ if .System }}{{ .System }}{{ end }}"""\n', "unsupported Go template"),
    ("FROM x\nSYSTEM a\nSYSTEM b\n", "twice"),
    ("FROM x\nPARAMETER\n", "INSTRUCTION arguments"),
]


@pytest.mark.parametrize("text,fragment", BAD)
def test_invalid_modelfiles_are_rejected(text, fragment):
    with pytest.raises(ModelfileError, match=fragment):
        validate_modelfile(text)


def test_from_path_is_checked_relative_to_the_modelfile(tmp_path):
    text = f"FROM ./{GGUF_NAME}\n"
    with pytest.raises(ModelfileError, match="no such file"):
        validate_modelfile(text, base_dir=tmp_path)
    (tmp_path / GGUF_NAME).write_bytes(b"GGUF")
    assert validate_modelfile(text, base_dir=tmp_path).from_ == f"./{GGUF_NAME}"


def test_emit_refuses_unquotable_system(smollm2_template):
    template, specials = smollm2_template
    fmt = derive_chat_format(jinja_renderer(template), specials)
    with pytest.raises(ModelfileError, match='"""'):
        emit_modelfile(gguf_name=GGUF_NAME, chat_format=fmt, system='say """hi"""', parameters={})
