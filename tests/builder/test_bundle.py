"""Bundle assembly: sealed last, published by rename, never replacing a good bundle with a bad one."""

from __future__ import annotations

import os

import pytest

from builder.bundle import (
    BuildError,
    assemble_candidate,
    candidate_dir,
    dataset_hashes,
    file_hashes,
    model_card,
    recover,
    seal_and_publish,
)
from device.runtime.bundle import GGUF_NAME, MANIFEST, MODELFILE_NAME, BundleError, verify_bundle


@pytest.fixture
def sources(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.gguf").write_bytes(b"GGUF" + os.urandom(64))
    (src / "Modelfile").write_text(f"FROM ./{GGUF_NAME}\n")
    return {GGUF_NAME: src / "model.gguf", MODELFILE_NAME: src / "Modelfile"}


def publish(out, files, **fields):
    cand = assemble_candidate(out, files)
    return seal_and_publish(cand, out, {"quant_type": "Q4_K_M", **fields}, expected=file_hashes(cand))


def test_publish_seals_and_renames(tmp_path, sources):
    out = tmp_path / "bundle"
    manifest = publish(out, sources, n_ctx=256)
    bundle = verify_bundle(out)
    assert bundle.n_ctx == 256 and set(manifest["files"]) == {GGUF_NAME, MODELFILE_NAME}
    assert MANIFEST not in manifest["files"]
    assert not candidate_dir(out).exists()
    assert not list(tmp_path.glob(".bundle.*"))


def test_republish_replaces_the_old_bundle(tmp_path, sources):
    out = tmp_path / "bundle"
    publish(out, sources, note="first")
    sources[GGUF_NAME].write_bytes(b"GGUF new weights")
    publish(out, sources, note="second")
    assert verify_bundle(out).manifest["note"] == "second"
    assert (out / GGUF_NAME).read_bytes() == b"GGUF new weights"


def test_candidate_changed_after_the_gate_is_not_sealed(tmp_path, sources):
    out = tmp_path / "bundle"
    publish(out, sources, note="good")
    cand = assemble_candidate(out, sources)
    expected = file_hashes(cand)
    (cand / MODELFILE_NAME).write_text("FROM ./elsewhere.gguf\n")
    with pytest.raises(BuildError, match="changed after it passed"):
        seal_and_publish(cand, out, {}, expected=expected)
    assert verify_bundle(out).manifest["note"] == "good"
    assert not (cand / MANIFEST).exists()


def test_missing_source_file_is_named(tmp_path, sources):
    sources["eval.json"] = tmp_path / "nope.json"
    with pytest.raises(BuildError, match="nope.json"):
        assemble_candidate(tmp_path / "bundle", sources)


def test_a_folder_that_is_not_a_bundle_is_never_replaced(tmp_path, sources):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "thesis.txt").write_text("do not delete")
    with pytest.raises(BuildError, match="not a bundle"):
        publish(out, sources)
    assert (out / "thesis.txt").read_text() == "do not delete"


def test_recover_after_a_crash_between_the_two_renames(tmp_path, sources):
    out = tmp_path / "bundle"
    publish(out, sources, note="good")
    os.replace(out, tmp_path / ".bundle.previous")  # the state right after the first rename
    with pytest.raises(BundleError):
        verify_bundle(out)
    assert "restored" in recover(out)
    assert verify_bundle(out).manifest["note"] == "good"
    assert recover(out) is None


def test_tampered_published_bundle_is_refused_by_the_device(tmp_path, sources):
    out = tmp_path / "bundle"
    publish(out, sources)
    (out / GGUF_NAME).write_bytes(b"GGUF evil")
    with pytest.raises(BundleError, match=GGUF_NAME):
        verify_bundle(out)


def test_dataset_hashes(tmp_path):
    for split in ("train", "val", "test"):
        (tmp_path / f"{split}.jsonl").write_text(f'{{"split": "{split}"}}\n' * 3)
    first = dataset_hashes(tmp_path)
    assert first["files"]["val.jsonl"]["examples"] == 3
    (tmp_path / "test.jsonl").write_text('{"split": "changed"}\n')
    assert dataset_hashes(tmp_path)["sha256"] != first["sha256"]


def test_model_card_reports_the_tensor_type_fallback():
    q = {
        "quant": "Q4_K_M",
        "file": GGUF_NAME,
        "bytes": 100 * 2**20,
        "fallback_reported": "150 of 272",
        "fallbacks": {"blk.0.attn_q.weight": {"wanted": "q4_K", "got": "q5_0"}},
        "tensor_types": {"Q5_0": 150, "Q4_K": 60, "F32": 61, "Q8_0": 1},
        "parameters_by_type": {"Q5_0": 60_000_000, "Q4_K": 30_000_000, "F32": 50_000, "Q8_0": 28_000_000},
    }
    export = {
        "quants": {"Q4_K_M": q},
        "served_quant": "Q4_K_M",
        "stops": ["<|im_start|>", "<|im_end|>"],
        "ram": {
            "n_ctx": 512,
            "expected_ram_mb": 270,
            "model_file_mb": 100.0,
            "kv_cache_mb": 10.0,
            "runtime_overhead_mb": 160,
            "formula": "file + kv + runtime",
        },
        "parity": {"checks": {"tokenize": "ok"}},
    }
    card = model_card(
        export=export, manifest_fields={"base": {"name": "smollm2"}}, eval_section="## Evaluation\n", width=576
    )
    assert "150 of 272 tensors required fallback quantization" in card
    assert "576 = 2 x 256 + 64" in card
    assert "| Q5_0 | 150 | 60,000,000 |" in card
    assert "q4_K -> q5_0" in card and "n_ctx = 512" in card and "## Evaluation" in card
