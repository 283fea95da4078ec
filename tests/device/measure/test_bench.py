"""`suksham bench --quick` on the real SmolLM2 bundle: the three report files exist and hold real numbers."""

from __future__ import annotations

import base64
import copy
import json
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner

from device.cli import main
from device.measure.bench import LOAD_CONCURRENCY, measure_bandwidth
from device.measure.machine import usable_cores
from device.measure.projection import project_pi5

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def bench_out(tiny_bundle, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    # one thread: on a CPU shared with other jobs, two spinning OpenMP threads can be 20x slower
    result = CliRunner().invoke(
        main, ["bench", "--bundle", str(tiny_bundle), "--out", str(out), "--quick", "--threads", "1"]
    )
    assert result.exit_code == 0, result.output
    return out, result.output


@pytest.fixture(scope="module")
def report(bench_out):
    return json.loads((bench_out[0] / "report.json").read_text())


def test_report_files_exist(bench_out):
    out, stdout = bench_out
    for name in (
        "report.json",
        "report.md",
        "report.html",
        "thread_sweep.png",
        "latency.png",
        "load.png",
        "memory.png",
    ):
        assert (out / name).stat().st_size > 100, name
    assert "PROJECTION Pi 5" in stdout  # the summary table


def test_thread_sweep_and_pp_tg_are_measured(report):
    sweep = report["thread_sweep"]
    assert [s["threads"] for s in sweep] == [1]  # --threads 1 caps the sweep
    assert report["threads_used"] == 1 and usable_cores() >= 1
    assert all(s["prompt_tps"] > 0 and s["generation_tps"] > 0 for s in sweep)
    assert [(r["n_prompt"], r["n_gen"]) for r in report["pp_tg"]] == [(64, 16), (512, 128)]
    assert all(r["prompt_tps"] > 0 and r["generation_tps"] > 0 for r in report["pp_tg"])
    assert all(v > 0.1 for v in report["bandwidth_gbs"].values())


def test_prefix_cache_evaluates_fewer_prompt_tokens(report):
    cached, cold = report["commentary"]["with_prefix_cache"], report["commentary"]["without_prefix_cache"]
    assert cached["latency_ms"]["n"] == cold["latency_ms"]["n"] == 6
    assert cached["prompt_eval_tokens_mean"] < cold["prompt_eval_tokens_mean"]
    # without the cache, every prompt token is evaluated
    assert all(r["prompt_eval_tokens"] == r["prompt_tokens"] for r in cold["rows"])
    assert cached["latency_ms"]["p50"] <= cached["latency_ms"]["p95"]


def test_server_load_test_ran_at_every_concurrency(report):
    load = report["load_test"]
    assert "error" not in load, load.get("error")
    assert [lv["concurrency"] for lv in load["levels"]] == list(LOAD_CONCURRENCY)
    for lv in load["levels"]:
        assert lv["ok"] + lv["busy_503"] + lv["errors"] == lv["requests"]
        assert lv["errors"] == 0, lv["error_samples"]
        assert lv["ok"] > 0 and lv["throughput_rps"] > 0 and lv["latency_ms"]["p95"] > 0
    assert report["memory"]["server_process"]["peak_rss_mb"] > 50


def test_memory_series_and_machine(report):
    bench = report["memory"]["bench_process"]
    assert len(bench["series"]) > 5 and bench["peak_rss_mb"] > 50
    times = [t for t, _ in bench["series"]]
    assert times == sorted(times)
    m = report["machine"]
    assert m["cores_usable"] >= 1 and m["kernel"] and "llama_cpp" in m
    assert "unavailable" in json.dumps(m["thermal"]) or isinstance(m["thermal"]["temperature_c"], float)


def test_projection_is_labelled_and_consistent(report):
    proj = report["projection"]
    assert "PROJECTION" in proj["label"] and "not a measurement" in proj["label"]
    assert 0 < proj["generation_tps"]["low"] <= proj["generation_tps"]["high"]
    for q in ("p50", "p95"):
        assert 0 < proj["commentary_latency_ms"][q]["low"] <= proj["commentary_latency_ms"][q]["high"]


def test_projection_follows_the_roofline(report):
    bigger = copy.deepcopy(report)
    bigger["model_mb"] = report["model_mb"] * 2
    a, b = project_pi5(report)["generation_tps_roofline"], project_pi5(bigger)["generation_tps_roofline"]
    assert b["high"] == pytest.approx(a["high"] / 2, rel=0.02)  # twice the bytes per token, half the speed
    sanity = project_pi5(report)["sanity_check"]["roofline_predicts_tps"]
    assert sanity["low"] <= 25.8 <= sanity["high"]  # the published Qwen2.5-0.5B figure is inside the roofline


def test_markdown_and_html_are_well_formed(bench_out):
    out, _ = bench_out
    md = (out / "report.md").read_text()
    assert md.startswith("# Benchmark report")
    assert "## Raspberry Pi 5: PROJECTION (not a measurement)" in md
    for png in ("thread_sweep.png", "latency.png", "load.png", "memory.png"):
        assert f"]({png})" in md
    header_cells = None
    for line in md.splitlines():  # every table row has as many cells as its header
        if not line.startswith("|"):
            header_cells = None
            continue
        assert line.endswith("|"), line
        header_cells = header_cells or line.count("|")
        assert line.count("|") == header_cells, line

    class Parser(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.images, self.tables = [], [], 0

        def handle_starttag(self, tag, attrs):
            if tag == "img":
                self.images.append(dict(attrs)["src"])
            elif tag not in ("meta",):
                self.stack.append(tag)
            self.tables += tag == "table"

        def handle_endtag(self, tag):
            assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
            self.stack.pop()

    parser = Parser()
    parser.feed((out / "report.html").read_text())
    assert parser.stack == [] and parser.tables >= 7
    assert len(parser.images) == 4
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)


def test_bandwidth_measure_is_a_plausible_rate():
    one = measure_bandwidth(16, 1, 2)
    assert 0.1 < one < 1000  # GB/s: a real streaming read, not a cache-resident toy


def test_bench_refuses_a_folder_that_is_not_a_sealed_bundle(tmp_path):
    (tmp_path / "bundle").mkdir()
    result = CliRunner().invoke(main, ["bench", "--bundle", str(tmp_path / "bundle"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "manifest.json is missing" in result.output and not (tmp_path / "out").exists()
