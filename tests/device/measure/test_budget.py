"""Budget files, the RAM preflight and `suksham check` exit codes, on the real SmolLM2 GGUF."""

from __future__ import annotations

import json
import re
import shutil

import psutil
import pytest
from click.testing import CliRunner

from device.cli import main
from device.measure import machine
from device.measure.budget import BUDGETS_DIR, Budget, BudgetError, estimate_ram, load_budget, preflight
from device.runtime.bundle import GGUF_NAME
from device.runtime.gguf_header import GGUFError, model_shape, read_metadata

GENEROUS = dict(
    threads=1,
    min_generation_tps=0.01,
    min_prompt_tps=0.01,
    max_ttft_ms=600000,
    max_latency_p95_ms=600000,
    max_rss_mb=16000,
    min_free_ram_mb=1,
    latency_events=3,
)


def write_budget(tmp_path, name="b.toml", **overrides) -> str:
    keys = {**GENEROUS, **overrides}
    body = "[budget]\n" + "".join(
        f"{k} = {v!r}\n" if not isinstance(v, str) else f'{k} = "{v}"\n' for k, v in keys.items() if v is not None
    )
    path = tmp_path / name
    path.write_text(body)
    return str(path)


# -- budget files ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["pi5-4gb.toml", "pi5-8gb.toml"])
def test_shipped_budgets_load_and_every_number_has_a_comment(name):
    path = BUDGETS_DIR / name
    budget = load_budget(path)
    assert budget.name == name.removesuffix(".toml")
    assert budget.threads == 4 and budget.max_rss_mb < psutil.virtual_memory().total  # sane, not placeholders
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# ") and "suksham check" in lines[0]  # the command that uses it
    for i, line in enumerate(lines):
        if re.match(r"^\w+\s*=\s*[\d.]+\s*$", line):  # every numeric key is justified right above it
            assert lines[i - 1].startswith("#"), f"{name}: {line!r} has no comment justifying it"


def test_eight_gb_budget_allows_more_memory_than_four():
    small, big = load_budget(BUDGETS_DIR / "pi5-4gb.toml"), load_budget(BUDGETS_DIR / "pi5-8gb.toml")
    assert big.max_rss_mb > small.max_rss_mb and big.min_free_ram_mb >= small.min_free_ram_mb


@pytest.mark.parametrize(
    "body, expected",
    [
        ("threads = [", "not valid TOML"),
        ("[budget]\nthreads = 2\n", "missing key 'min_generation_tps'"),
        ("[budget]\nmax_rss = 10\n", "did you mean 'max_rss_mb'"),
        ("[budget]\nthreads = 2.5\n", "threads must be a whole number"),
        ("[budget]\nmax_rss_mb = -5\n", "max_rss_mb must be greater than 0"),
        ('[budget]\nmax_ttft_ms = "fast"\n', "max_ttft_ms must be a number"),
        ("[budget]\nmin_prompt_tps = true\n", "min_prompt_tps must be a number"),
        ("budget = 3\n", "must be a table"),
    ],
)
def test_bad_budget_files_give_a_clear_error(tmp_path, body, expected):
    path = tmp_path / "bad.toml"
    path.write_text(body)
    with pytest.raises(BudgetError, match=re.escape(expected)):
        load_budget(path)


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[budget]\nthreads = 0\nmax_rss = 1\n")
    with pytest.raises(BudgetError) as err:
        load_budget(path)
    message = str(err.value)
    for piece in (
        "threads must be greater than 0",
        "unknown key 'max_rss'",
        "missing key 'max_ttft_ms'",
        "pi5-4gb.toml",
    ):
        assert piece in message


def test_missing_budget_file_names_the_shipped_ones(tmp_path):
    with pytest.raises(BudgetError, match="pi5-8gb.toml"):
        load_budget(tmp_path / "nope.toml")


# -- GGUF header and the RAM estimate ----------------------------------------------------------------
def test_gguf_header_agrees_with_llama_cpp(smollm2_gguf):
    from device.runtime.engine import Engine, EngineSettings

    shape = model_shape(read_metadata(smollm2_gguf))
    meta = Engine(EngineSettings(model_path=smollm2_gguf, n_ctx=128, n_threads=1)).load().metadata
    arch = meta["general.architecture"]
    assert shape.architecture == arch
    assert shape.n_layer == int(meta[f"{arch}.block_count"])
    assert shape.n_head_kv == int(meta[f"{arch}.attention.head_count_kv"])
    assert shape.n_embd == int(meta[f"{arch}.embedding_length"])
    # f16 K and V for every layer and position
    assert (
        shape.kv_cache_bytes(512) == 512 * shape.n_layer * shape.n_head_kv * (shape.head_dim_k + shape.head_dim_v) * 2
    )


def test_not_a_gguf_is_refused(tmp_path):
    path = tmp_path / "x.gguf"
    path.write_bytes(b"NOPE" + b"\0" * 64)
    with pytest.raises(GGUFError, match="not a GGUF"):
        read_metadata(path)


def test_ram_estimate_covers_what_loading_really_takes(smollm2_gguf):
    from device.runtime.engine import Engine, EngineSettings

    est = estimate_ram(smollm2_gguf, n_ctx=512)
    before = psutil.Process().memory_info().rss / 2**20
    engine = Engine(EngineSettings(model_path=smollm2_gguf, n_ctx=512, n_threads=1)).load()
    engine.chat([{"role": "user", "content": "Starc to Kohli, FOUR"}], max_tokens=4)
    grown = psutil.Process().memory_info().rss / 2**20 - before
    assert est["estimate_mb"] - est["runtime_mb"] >= grown > 0.5 * est["model_mb"]
    assert estimate_ram(smollm2_gguf, n_ctx=4096)["kv_cache_mb"] == pytest.approx(8 * est["kv_cache_mb"])


# -- preflight -------------------------------------------------------------------------------------
def test_preflight_passes_a_generous_budget(smollm2_gguf, tmp_path):
    result = preflight(smollm2_gguf, 512, write_budget(tmp_path))
    assert result.ok and not result.failures
    assert result.estimate_mb > result.model_mb > 50
    assert "preflight ok" in result.message


def test_preflight_refuses_an_impossible_ram_budget(smollm2_gguf):
    result = preflight(smollm2_gguf, 512, Budget(name="tiny", **{**GENEROUS, "max_rss_mb": 50}))
    assert not result.ok
    assert [f["key"] for f in result.failures] == ["max_rss_mb"]
    assert result.failures[0]["limit"] == 50 and result.failures[0]["value"] > 50
    assert "refusing to load" in result.message and "max_rss_mb 50" in result.message


def test_preflight_counts_a_cgroup_limit_psutil_does_not_see(smollm2_gguf, tmp_path, monkeypatch):
    # a systemd-style cgroup v2 tree: the service has MemoryMax=120M, its parent slice is unlimited
    # (below what loading needs however much of the runtime this test process already holds)
    leaf = tmp_path / "system.slice" / "suksham.service"
    leaf.mkdir(parents=True)
    (tmp_path / "system.slice" / "memory.max").write_text("max\n")
    (leaf / "memory.max").write_text(f"{120 * 2**20}\n")
    (leaf / "memory.current").write_text(f"{40 * 2**20}\n")
    proc = tmp_path / "cgroup"
    proc.write_text("0::/system.slice/suksham.service\n")
    monkeypatch.setattr(machine, "CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(machine, "PROC_SELF_CGROUP", proc)
    assert machine.memory()["cgroup_limit_mb"] == 120
    assert psutil.virtual_memory().available > 1000 * 2**20  # the host alone would say "plenty"
    result = preflight(smollm2_gguf, 512, Budget(name="b", **{**GENEROUS, "min_free_ram_mb": 100}))
    assert not result.ok and [f["key"] for f in result.failures] == ["cgroup memory.max"]
    assert "memory.max" in result.message and result.available_mb == 80
    # A MemoryMax that holds the model passes, even when it is below min_free_ram_mb: that key is
    # about the board's free memory, not about the service's own limit.
    (leaf / "memory.max").write_text(f"{1280 * 2**20}\n")
    result = preflight(smollm2_gguf, 512, Budget(name="b", **{**GENEROUS, "min_free_ram_mb": 1024}))
    assert result.ok, result.message


def test_cgroup_v1_and_unlimited(tmp_path):
    mem = tmp_path / "memory" / "box"
    mem.mkdir(parents=True)
    (mem / "memory.limit_in_bytes").write_text(str(300 * 2**20))
    (mem / "memory.usage_in_bytes").write_text(str(10 * 2**20))
    found = machine.cgroup_memory("4:memory:/box\n", root=tmp_path)
    assert found["limit_bytes"] == 300 * 2**20 and found["usage_bytes"] == 10 * 2**20
    (mem / "memory.limit_in_bytes").write_text("9223372036854771712")  # v1's "no limit"
    assert machine.cgroup_memory("4:memory:/box\n", root=tmp_path)["limit_bytes"] is None


# -- suksham check ---------------------------------------------------------------------------------
def run_check_cli(bundle, budget, *extra):
    result = CliRunner().invoke(main, ["check", "--bundle", str(bundle), "--budget", str(budget), *extra])
    return result.exit_code, result.output


def test_check_passes_a_generous_budget(tiny_bundle, tmp_path):
    code, out = run_check_cli(tiny_bundle, write_budget(tmp_path))
    assert code == 0, out
    assert "PASS" in out and "min_generation_tps" in out and "unavailable" in out  # no Pi thermal here


def test_check_fails_an_impossible_budget_naming_each_key(tiny_bundle, tmp_path):
    budget = write_budget(tmp_path, min_generation_tps=1e9, max_latency_p95_ms=0.001)
    code, out = run_check_cli(tiny_bundle, budget, "--json")
    assert code == 1, out
    report = json.loads(out)
    assert report["status"] == "fail" and report["exit_code"] == 1
    failing = {c["key"]: c for c in report["checks"] if not c["ok"]}
    assert set(failing) == {"min_generation_tps", "max_latency_p95_ms"}
    assert 0 < failing["min_generation_tps"]["value"] < 1e9 and failing["min_generation_tps"]["limit"] == 1e9
    assert any(f.startswith("max_latency_p95_ms:") for f in report["failures"])
    assert report["measured"]["latency_ms"]["n"] == 3  # the budget's latency_events
    assert report["measured"]["peak_rss_mb"] > 50


def test_check_refuses_before_loading_when_ram_cannot_fit(tiny_bundle, tmp_path):
    code, out = run_check_cli(tiny_bundle, write_budget(tmp_path, max_rss_mb=10), "--json")
    assert code == 1, out
    report = json.loads(out)
    assert "measured" not in report  # the model was never loaded
    assert report["checks"][0]["key"] == "max_rss_mb" and report["checks"][0]["stage"] == "preflight"
    assert "refusing to load" in report["preflight"]["message"]


def test_check_human_output_names_failing_key_value_and_limit(tiny_bundle, tmp_path):
    code, out = run_check_cli(tiny_bundle, write_budget(tmp_path, min_prompt_tps=1e9))
    assert code == 1
    assert re.search(r"FAIL: over budget .*min_prompt_tps: [\d.]+ tok/s vs limit 1000000000", out), out


@pytest.mark.parametrize("case", ["bad_budget", "tampered_bundle"])
def test_check_exit_2_when_it_cannot_run(tiny_bundle, tmp_path, case):
    budget = write_budget(tmp_path)
    bundle = tiny_bundle
    if case == "bad_budget":
        (tmp_path / "b.toml").write_text("[budget]\nthreads = 'many'\n")
    else:
        bundle = tmp_path / "copy"
        shutil.copytree(tiny_bundle, bundle)
        with open(bundle / GGUF_NAME, "r+b") as fh:
            fh.seek(-1, 2)
            fh.write(b"\x01")
    code, out = run_check_cli(bundle, budget, "--json")
    assert code == 2, out
    report = json.loads(out)
    assert report["status"] == "error"
    assert ("threads must be a number" in report["error"]) if case == "bad_budget" else (GGUF_NAME in report["error"])


def test_budget_dataclass_mirrors_the_file(tmp_path):
    budget = load_budget(write_budget(tmp_path, name="mine", description="a test"))
    assert budget.name == "mine" and budget.description == "a test" and budget.latency_events == 3


def test_serve_with_an_impossible_budget_refuses_before_loading(tiny_bundle, tmp_path):
    result = CliRunner().invoke(
        main, ["serve", "--bundle", str(tiny_bundle), "--port", "0", "--budget", write_budget(tmp_path, max_rss_mb=10)]
    )
    assert result.exit_code == 1, result.output
    assert "refusing" in result.output and "max_rss_mb 10" in result.output


def test_warnings_flag_a_busy_cpu_spinning_threads_and_pi_throttling():
    from device.measure.budget import _warnings

    busy = {
        "machine": {"load_average_1m": 7.5, "cores_usable": 2, "env": {"OMP_WAIT_POLICY": "unset"}},
        "measured": {"threads": 2},
        "thermal_after": {"throttled": {"raw": "0x50005", "flags": ["under-voltage now", "throttled now"]}},
    }
    found = _warnings(busy)
    assert len(found) == 3 and "OMP_WAIT_POLICY=passive" in found[1] and "under-voltage now" in found[2]
    busy["machine"]["env"]["OMP_WAIT_POLICY"] = "PASSIVE"
    busy["thermal_after"] = {"throttled": "unavailable (not a Pi)"}
    assert len(_warnings(busy)) == 1
    quiet = {"machine": {"load_average_1m": 0.2, "cores_usable": 4, "env": {}}, "measured": {"threads": 4}}
    assert _warnings(quiet) == []
