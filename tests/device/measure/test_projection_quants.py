"""The Pi 5 PROJECTION per quant (issue 19): the bandwidth roofline from each file's size, and its layout
read from the GGUF's tensor infos, on the real SmolLM2 GGUF."""

from __future__ import annotations

import os

from device.measure.projection import format_quant_projections, project_quant, project_quants
from device.runtime.bundle import GGUF_NAME, write_manifest
from device.runtime.gguf_header import read_tensors


def test_tensor_infos_are_read_from_the_header(smollm2_gguf):
    tensors = read_tensors(smollm2_gguf)
    assert len(tensors) == 272
    kinds = {kind for _name, kind, _n in tensors}
    assert kinds == {"F32", "Q4_1", "Q8_0"}
    embd = next(t for t in tensors if t[0] == "token_embd.weight")
    assert embd[1:] == ("Q8_0", 576 * 49152)


def test_projection_of_one_quant_is_labelled_and_follows_the_file_size(smollm2_gguf):
    p = project_quant(smollm2_gguf)
    assert p["label"].startswith("PROJECTION") and "not a measurement" in p["label"]
    assert p["tensors_by_type"] == {"Q4_1": 210, "Q8_0": 1}
    # Q4_1 has no repacked kernel; only the tied Q8_0 embedding (its LM-head use) does
    assert p["repacked_tensors_on_a76"] == 1 and 0.15 < p["repacked_share_on_a76"] < 0.3
    size = smollm2_gguf.stat().st_size
    assert p["generation_tps_roofline"]["high"] == round(0.91 * 13.2e9 / size, 1)


def test_projection_per_quant_of_a_bundle(tmp_path, smollm2_gguf):
    (tmp_path / GGUF_NAME).write_bytes(smollm2_gguf.read_bytes()[: 16 << 20])  # header and some data: smaller
    try:
        os.link(smollm2_gguf, tmp_path / "benaud-q4_0.gguf")
    except OSError:
        (tmp_path / "benaud-q4_0.gguf").write_bytes(smollm2_gguf.read_bytes())
    quants = {"Q4_K_M": {"file": GGUF_NAME}, "Q4_0": {"file": "benaud-q4_0.gguf"}}
    write_manifest(tmp_path, {"quant_type": "Q4_K_M", "quants": quants})
    rows = project_quants([tmp_path])
    assert list(rows) == ["Q4_K_M", "Q4_0"]
    text = format_quant_projections(rows)
    assert text.startswith("PROJECTION") and "Q4_0" in text and "210 Q4_1" in text
    # a smaller file projects faster under the roofline
    assert rows["Q4_K_M"]["generation_tps_roofline"]["low"] > rows["Q4_0"]["generation_tps_roofline"]["low"]
