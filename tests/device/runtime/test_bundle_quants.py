"""Optional quants in a bundle (issue 19): the manifest's `quants`, checked and chosen; a bundle without it
stays valid. The serving tests load the real SmolLM2 GGUF with llama.cpp."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from device.cli import main as cli
from device.measure.budget import BUDGETS_DIR, BudgetError, load_budget
from device.runtime.bundle import GGUF_NAME, MANIFEST, BundleError, choose_quant, verify_bundle, write_manifest
from device.runtime.service import resolve_model

Q4_0 = "benaud-q4_0.gguf"
Q8_0 = "benaud-q8_0.gguf"


def _seal(folder, quants=True, **fields):
    entries = {"Q4_K_M": {"file": GGUF_NAME}, "Q4_0": {"file": Q4_0, "gate": {"passed": True}}, "Q8_0": {"file": Q8_0}}
    return write_manifest(folder, {"n_ctx": 512, "quant_type": "Q4_K_M", **({"quants": entries} if quants else {})})


@pytest.fixture
def bundle(tmp_path):
    """Three small stand-in GGUFs: these checks read hashes and the manifest, never a model."""
    for i, name in enumerate((GGUF_NAME, Q4_0, Q8_0)):
        (tmp_path / name).write_bytes(b"GGUF" + bytes([i]) * 64)
    _seal(tmp_path)
    return tmp_path


def _edit(folder, fn):
    manifest = json.loads((folder / MANIFEST).read_text())
    fn(manifest)
    (folder / MANIFEST).write_text(json.dumps(manifest))


def test_sealing_writes_each_quants_sha256_from_the_files_table(bundle):
    manifest = json.loads((bundle / MANIFEST).read_text())
    for entry in manifest["quants"].values():
        assert entry["sha256"] == manifest["files"][entry["file"]] and len(entry["sha256"]) == 64
    assert manifest["quants"]["Q4_0"]["gate"] == {"passed": True}


def test_the_default_quant_is_served_unless_another_is_asked_for(bundle):
    b = verify_bundle(bundle)
    assert (b.quant, b.gguf_path.name, b.quants) == ("Q4_K_M", GGUF_NAME, ("Q4_K_M", "Q4_0", "Q8_0"))
    b = verify_bundle(bundle, quant="q4_0")  # case does not matter
    assert (b.quant, b.gguf_path.name) == ("Q4_0", Q4_0)
    assert resolve_model(bundle, None, quant="Q8_0")[0] == bundle.resolve() / Q8_0


def test_a_bundle_without_quants_stays_valid_and_has_only_its_default(tmp_path):
    (tmp_path / GGUF_NAME).write_bytes(b"GGUF" + bytes(64))
    _seal(tmp_path, quants=False)
    b = verify_bundle(tmp_path)
    assert (b.quant, b.quants, b.gguf_path.name) == ("Q4_K_M", ("Q4_K_M",), GGUF_NAME)
    assert verify_bundle(tmp_path, quant="Q4_K_M").gguf_path.name == GGUF_NAME
    with pytest.raises(BundleError, match=r"has no Q4_0 quant; it ships Q4_K_M \(default\)"):
        verify_bundle(tmp_path, quant="Q4_0")


def test_an_absent_quant_is_refused_naming_the_ones_the_bundle_ships(bundle):
    with pytest.raises(BundleError) as err:
        verify_bundle(bundle, quant="Q5_0")
    assert "has no Q5_0 quant; it ships Q4_K_M (default), Q4_0, Q8_0" in str(err.value)
    assert "export.quant_types" in str(err.value)


def test_a_tampered_optional_quant_is_refused_by_name(bundle):
    with open(bundle / Q4_0, "r+b") as fh:
        fh.seek(10)
        fh.write(b"x")
    with pytest.raises(BundleError, match=f"{Q4_0}: sha256 does not match"):
        verify_bundle(bundle)  # the whole bundle: the default is refused too, a sealed bundle is one unit


@pytest.mark.parametrize(
    "edit,problem",
    [
        (lambda m: m["quants"]["Q4_0"].update(sha256="0" * 64), "quants.Q4_0: sha256 differs"),
        (lambda m: m["quants"]["Q8_0"].update(file="elsewhere.gguf"), "quants.Q8_0: its file elsewhere.gguf is not"),
        (lambda m: m["quants"]["Q4_K_M"].update(file=Q4_0), "the default quant's file is not the manifest's gguf"),
        (lambda m: m["quants"].update(Q4_0="benaud-q4_0.gguf"), "quants.Q4_0: must be a table with a 'file'"),
        (lambda m: m.update(quants=[]), "quants: must be a table"),
    ],
)
def test_a_bad_quants_table_is_refused(bundle, edit, problem):
    _edit(bundle, edit)
    with pytest.raises(BundleError, match=problem):
        verify_bundle(bundle)


def test_sealing_refuses_a_quant_whose_file_is_missing(tmp_path):
    (tmp_path / GGUF_NAME).write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(BundleError, match=f"the Q4_0 quant's file {Q4_0} is missing"):
        _seal(tmp_path)


def test_a_budgets_quant_is_taken_only_when_the_bundle_ships_it(bundle, tmp_path):
    assert choose_quant(bundle, None, "q4_0")[0] == "Q4_0"
    assert choose_quant(bundle, "Q8_0", "Q4_0") == ("Q8_0", None)  # --quant wins
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / GGUF_NAME).write_bytes(b"GGUF" + bytes(64))
    _seal(plain, quants=False)
    chosen, note = choose_quant(plain, None, "Q4_0")
    assert chosen is None and "does not ship (Q4_K_M); serving its default Q4_K_M" in note


KEYS = """threads = 4
min_generation_tps = 20
min_prompt_tps = 60
max_ttft_ms = 1000
max_latency_p95_ms = 2000
max_rss_mb = 1024
min_free_ram_mb = 1024
"""


def test_budget_quant_key(tmp_path):
    path = tmp_path / "b.toml"
    path.write_text(KEYS)
    assert load_budget(path).quant == ""  # left out: the bundle's default
    path.write_text(KEYS + 'quant = "q4_0"\n')
    assert load_budget(path).quant == "Q4_0"
    for bad in ('"Q4 0"', "4"):
        path.write_text(KEYS + f"quant = {bad}\n")
        with pytest.raises(BudgetError, match="quant must be a quantization name"):
            load_budget(path)


@pytest.mark.parametrize("name", ["pi5-4gb.toml", "pi5-8gb.toml"])
def test_shipped_budgets_name_a_quant(name):
    assert load_budget(BUDGETS_DIR / name).quant


@pytest.fixture
def real_bundle(tmp_path, smollm2_gguf):
    """The default file is not a model at all, the Q4_0 one is the real SmolLM2 GGUF: only serving
    the asked-for quant can answer."""
    (tmp_path / GGUF_NAME).write_bytes(b"GGUF" + bytes(64))
    try:
        os.link(smollm2_gguf, tmp_path / Q4_0)
    except OSError:
        (tmp_path / Q4_0).write_bytes(smollm2_gguf.read_bytes())
    quants = {"Q4_K_M": {"file": GGUF_NAME}, "Q4_0": {"file": Q4_0}}
    write_manifest(tmp_path, {"n_ctx": 512, "quant_type": "Q4_K_M", "quants": quants})
    return tmp_path


def test_suksham_comment_serves_the_asked_for_quant(real_bundle):
    result = CliRunner().invoke(
        cli, ["comment", "--bundle", str(real_bundle), "--quant", "Q4_0", "--threads", "1", "Starc to Kohli, FOUR"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip()  # a four is never silence


def test_suksham_serve_names_the_available_quants_when_the_asked_one_is_absent(real_bundle):
    result = CliRunner().invoke(cli, ["serve", "--bundle", str(real_bundle), "--quant", "Q8_0", "--port", "0"])
    assert result.exit_code == 1
    assert "has no Q8_0 quant; it ships Q4_K_M (default), Q4_0" in result.output


def test_quant_without_a_bundle_is_a_usage_error(smollm2_gguf):
    result = CliRunner().invoke(cli, ["comment", "--model", str(smollm2_gguf), "--quant", "Q4_0", "Four"])
    assert result.exit_code == 1 and "give --bundle too" in result.output


def test_suksham_check_checks_the_budgets_quant(real_bundle, tmp_path_factory):
    """A budget too small for any model: the preflight decides without loading, on the quant it picked."""
    from device.measure.budget import run_check

    budget = tmp_path_factory.mktemp("budget") / "tiny.toml"
    budget.write_text(KEYS.replace("max_rss_mb = 1024", "max_rss_mb = 1") + 'quant = "Q4_0"\n')
    report = run_check(bundle=real_bundle, budget=budget)
    assert report.get("quant") == "Q4_0" and report["exit_code"] == 1, report.get("error")
    assert report["preflight"]["model_path"].endswith("benaud-q4_0.gguf")
    report = run_check(bundle=real_bundle, budget=budget, quant="Q5_1")
    assert report["exit_code"] == 2 and "has no Q5_1 quant" in report["error"]


def test_ollamas_card_of_an_optional_quant_keeps_the_bundles_modelfile_and_names_its_quant(real_bundle):
    """Serving `--quant Q4_0`: /api/show and /api/tags describe Q4_0, and the Modelfile's sampling still
    applies (the card read the bundle as a bare GGUF, with Ollama's defaults, before)."""
    import shutil
    from pathlib import Path

    from device.runtime.bundle import MODELFILE_NAME
    from device.runtime.http.ollama import ModelCard

    repo = Path(__file__).resolve().parents[3]
    shutil.copyfile(repo / MODELFILE_NAME, real_bundle / MODELFILE_NAME)
    card = ModelCard.load("suksham-benaud", real_bundle / Q4_0)
    assert card.manifest is not None and card.details()["quantization_level"] == "Q4_0"  # the file is Q4_1 inside
    assert card.parameters.get("temperature") and card.sampling_defaults()["stop"]  # the Modelfile's own
