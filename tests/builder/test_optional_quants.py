"""Optional quants (issue 19): built only when export.quant_types asks, shipped and gated like the served
quant, listed in the manifest's `quants`; the device serves one with --quant. The build runs at tiny scale
with real llama.cpp quantization."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from builder.eval import run as evaluate
from builder.eval.events import load_heldout
from device.cli import main as cli
from device.commentary.guard import safe_line
from device.runtime.bundle import GGUF_NAME, MANIFEST, verify_bundle
from tests.builder.test_pipeline import tiny_config


@pytest.fixture(scope="module")
def heldout():
    return load_heldout()


def _good(events):
    return [safe_line(e.truth) for e in events]


def test_default_config_builds_no_optional_quant():
    from builder.config import load_config
    from builder.pipeline import optional_quants

    assert optional_quants(load_config("builder/configs/benaud-smollm2-135m.yaml")) == []
    pi = load_config("builder/configs/benaud-smollm2-135m-pi-quants.yaml")
    assert optional_quants(pi) == ["q8_0"] and pi.export.extra_quants == ["Q4_0"]  # Q4_0 missed the gate


def test_an_optional_quant_is_gated_at_the_served_quants_thresholds(heldout):
    good = _good(heldout)
    replies = {
        "q4_k_m": good,
        "merged-16bit": good,
        "q4_0": good,
        "q8_0": ["What a tremendous piece of cricket that was!" for _ in heldout],
        "base-few-shot": ["Well, that is certainly something to see here today." for _ in heldout],
    }
    # gated only when the bundle ships it: the same replies as a comparison-only quant pass
    report, _ = evaluate.evaluate_replies(heldout, replies)
    assert report["gate"]["passed"], report["gate"]["failures"]
    report, _ = evaluate.evaluate_replies(heldout, replies, optional_quants=["Q4_0", "Q8_0"])
    failures = "\n".join(report["gate"]["failures"])
    assert not report["gate"]["passed"]
    assert "q8_0 share of replies <= 5 words = 0.000, threshold >= 0.98" in failures
    assert "q8_0 exclamation rate = 1.000" in failures
    assert "q8_0 greedy agreement with the 16-bit model = 0.000, threshold >= 0.9" in failures
    assert "q4_0" not in failures
    q4_0 = evaluate.quant_gate_summary(report, "q4_0")
    assert q4_0["passed"] and q4_0["checks"] >= 8 and q4_0["agreement_with_16bit"] == 1.0
    assert not evaluate.quant_gate_summary(report, "q8_0")["passed"]


def test_an_optional_quant_without_replies_fails_the_gate(heldout):
    good = _good(heldout)
    report, _ = evaluate.evaluate_replies(heldout, {"q4_k_m": good, "merged-16bit": good}, optional_quants=["q4_0"])
    assert "q4_0 replies: missing (the model produced no replies)" in report["gate"]["failures"]


@pytest.fixture(scope="module")
def built(tmp_path_factory, tiny_llama):
    from builder.data.dataset import write_dataset

    tmp = tmp_path_factory.mktemp("quants")
    write_dataset(tmp / "dataset", 1234, scale=0.02)
    cfg = tiny_config(tmp, tiny_llama, tmp / "dataset", **{"export.quant_types": ["Q4_K_M", "Q4_0", "Q8_0"]})
    out = tmp / "bundle"
    result = CliRunner().invoke(cli, ["build", "--config", str(cfg), "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out


@pytest.mark.slow
def test_a_build_ships_each_optional_quant_with_its_sha256_and_gate(built):
    manifest = json.loads((built / MANIFEST).read_text())
    quants = manifest["quants"]
    assert set(quants) == {"Q4_K_M", "Q4_0", "Q8_0"}
    assert quants["Q4_K_M"]["file"] == GGUF_NAME == manifest["gguf"]
    for name, entry in quants.items():
        assert entry["sha256"] == manifest["files"][entry["file"]]
        assert entry["gate"]["passed"] is True and entry["gate"]["checks"] > 0, (name, entry["gate"])
        assert entry["bytes"] == (built / entry["file"]).stat().st_size
    assert set(quants["Q4_0"]["tensor_types"]) <= {"Q4_0", "Q8_0", "F32", "Q4_1", "Q5_0", "Q6_K"}
    assert "Q4_0" in quants["Q4_0"]["tensor_types"] and "Q8_0" in quants["Q8_0"]["tensor_types"]
    report = json.loads((built / "eval.json").read_text())
    assert report["optional_quants"] == ["q4_0", "q8_0"]
    assert {"q4_0", "q4_0+guard", "q8_0", "q8_0+guard"} <= set(report["models"])
    assert "Also shipped, as optional quants" in (built / "MODEL_CARD.md").read_text()
    b = verify_bundle(built, quant="Q4_0")
    assert b.gguf_path.name == "benaud-q4_0.gguf" and b.quants == ("Q4_K_M", "Q4_0", "Q8_0")


@pytest.mark.slow
def test_the_device_serves_an_optional_quant_of_a_built_bundle(built):
    result = CliRunner().invoke(
        cli, ["comment", "--bundle", str(built), "--quant", "q8_0", "--threads", "1", "Starc to Kohli, FOUR"]
    )
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["comment", "--bundle", str(built), "--quant", "Q5_1", "Four"])
    assert result.exit_code == 1 and "it ships Q4_K_M (default), Q4_0, Q8_0" in result.output
