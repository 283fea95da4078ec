"""The parity gate passes a faithful export and catches broken templates, wrong stops and a wrong tokenizer."""

from __future__ import annotations

import subprocess
import sys

import pytest

from builder.export.gguf import convert_to_gguf, quantize
from builder.export.modelfile import derive_chat_format, emit_modelfile, hf_renderer
from builder.export.parity import ParityError, check_parity, raise_on_failure
from device.commentary.render import SYSTEM_PROMPT
from device.runtime.bundle import GGUF_NAME
from tests.builder.tiny_model import load_smollm2_tokenizer, make_terse_llama, make_tiny_llama

N_CTX = 512


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("parity")
    tok = load_smollm2_tokenizer(root / "tok")
    hf = make_tiny_llama(root / "hf", tok)
    f16 = convert_to_gguf(hf, root / "f16.gguf")
    q = root / GGUF_NAME
    quantize(f16, q, "Q4_K_M")
    fmt = derive_chat_format(hf_renderer(tok), tok.all_special_tokens)
    return {"root": root, "hf": hf, "f16": f16, "gguf": q, "fmt": fmt, "tok": tok}


def modelfile(fmt, *, template=None, stops=None, system=SYSTEM_PROMPT, num_ctx=N_CTX):
    text = emit_modelfile(
        gguf_name=GGUF_NAME,
        chat_format=fmt,
        system=system,
        parameters={"num_ctx": num_ctx, "num_predict": 12, "temperature": 0.2},
    )
    if template is not None:
        text = text.replace(fmt.go_template(), template)
    if stops is not None:
        lines = [line for line in text.splitlines() if not line.startswith("PARAMETER stop")]
        i = next(n for n, line in enumerate(lines) if line.startswith("PARAMETER"))
        text = "\n".join(lines[:i] + [f"PARAMETER stop {s}" for s in stops] + lines[i:]) + "\n"
    return text


def run(exported, text, gguf=None, natural_stop=False):
    return check_parity(exported["hf"], gguf or exported["gguf"], text, n_ctx=N_CTX, natural_stop=natural_stop)


def test_faithful_export_passes(exported):
    report = run(exported, modelfile(exported["fmt"]))
    assert report["passed"], report["failures"]
    assert report["checks"] == {
        "tokenize": "ok",
        "templates": "ok",
        "system": "ok",
        "stops": "ok",
        "stop_in_budget": "skipped",
    }
    raise_on_failure(report)  # no exception


def test_broken_modelfile_template_is_caught(exported):
    fmt = exported["fmt"]
    broken = fmt.go_template().replace("{{ .Role }}\n", "{{ .Role }} ")  # role and content on one line
    report = run(exported, modelfile(fmt, template=broken))
    assert not report["passed"]
    assert report["checks"]["templates"] == "failed"
    assert any("modelfile_template" in f for f in report["failures"])
    with pytest.raises(ParityError, match="differ at token"):
        raise_on_failure(report)


def test_wrong_stop_token_is_caught(exported):
    report = run(exported, modelfile(exported["fmt"], stops=["<|im_start|>", "</s>"]))
    assert report["checks"]["stops"] == "failed"
    text = " ".join(report["failures"])
    assert "lack ['<|im_end|>']" in text and "'</s>'" in text


def test_wrong_system_prompt_and_n_ctx_are_caught(exported):
    report = run(exported, modelfile(exported["fmt"], system="You are a helpful assistant.", num_ctx=256))
    assert report["checks"]["system"] == "failed"
    assert len([f for f in report["failures"] if f.startswith("system:")]) == 2


def _gguf_with(exported, name, *args):
    out = exported["root"] / name
    subprocess.run(
        [sys.executable, "-m", "gguf.scripts.gguf_new_metadata", str(exported["gguf"]), str(out), "--force", *args],
        check=True,
        capture_output=True,
    )
    return out


def test_broken_embedded_gguf_template_is_caught(exported):
    broken = exported["tok"].chat_template.replace("'<|im_end|>' + '\n'", "'<|im_end|>'")
    assert broken != exported["tok"].chat_template
    gguf = _gguf_with(exported, "broken-template.gguf", "--chat-template", broken)
    report = run(exported, modelfile(exported["fmt"]), gguf=gguf)
    assert report["checks"]["templates"] == "failed"
    assert any("gguf_template" in f for f in report["failures"])


def test_wrong_pre_tokenizer_is_caught(exported):
    gguf = _gguf_with(exported, "wrong-pretok.gguf", "--pre-tokenizer", "default")
    report = run(exported, modelfile(exported["fmt"]), gguf=gguf)
    assert report["checks"]["tokenize"] == "failed"


def test_untrained_model_does_not_stop_within_num_predict(exported):
    """A random model rambles: the generation check must fail it, naming the reply."""
    report = run(exported, modelfile(exported["fmt"]), natural_stop=True)
    assert report["checks"]["stop_in_budget"] == "failed"
    assert "did not reach '<|im_end|>'" in " ".join(report["failures"])


@pytest.mark.slow
def test_model_that_ends_its_turn_passes_the_generation_check(exported):
    root = exported["root"]
    hf = make_terse_llama(root / "terse", exported["tok"])
    f16 = convert_to_gguf(hf, root / "terse-f16.gguf")
    gguf = root / "terse-q4.gguf"
    quantize(f16, gguf, "Q4_K_M")
    report = check_parity(hf, gguf, modelfile(exported["fmt"]), n_ctx=N_CTX, natural_stop=True)
    assert report["passed"], report["failures"]
    assert report["checks"]["stop_in_budget"] == "ok"
    assert report["details"]["replies"] and all(r["finish"] == "stop" for r in report["details"]["replies"])
