"""The emulated Cortex-A76 gives the x86-64 replies: a real server on each side, the same GGUF, greedy.

A handful of events here (SUKSHAM_ARM64_PARITY_EVENTS, default 4); `python3 tests/arm64/parity.py`
runs the full set for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import pytest

from . import parity
from .conftest import PARITY_EVENTS, arm64_root

pytestmark = pytest.mark.arm64
# Below this gap between the top two logits, rounding differences between the x86 (AVX2) and ARM
# (NEON dotprod) kernels may legitimately flip the greedy choice; above it the replies must agree.
MARGIN = 0.5


@pytest.fixture(scope="module")
def emulated(wheelhouse):
    root = arm64_root("bookworm")
    return root, parity.emulated_site(root, wheelhouse)


@pytest.fixture(scope="module")
def probes(emulated, smollm2_gguf, tmp_path_factory):
    root, site = emulated
    out = tmp_path_factory.mktemp("probe")
    env_n = parity.native_env()
    native = parity.run_probe(
        parity.native_argv(), env_n, smollm2_gguf, PARITY_EVENTS, out / "x86.json", cwd=str(parity.REPO)
    )
    emu = parity.run_probe(
        parity.emulated_argv(root),
        parity.emulate.emulated_env(site, OMP_WAIT_POLICY="PASSIVE"),
        smollm2_gguf,
        PARITY_EVENTS,
        out / "a76.json",
        verbose_log=out / "a76.log",
        cwd="/",
    )
    return native, emu, (out / "a76.log").read_text(errors="replace")


def test_emulated_cpu_reports_the_pi5_features(probes):
    _, emu, _ = probes
    info = emu["system_info"]
    assert emu["machine"] == "aarch64"
    assert "NEON = 1" in info and "DOTPROD = 1" in info
    assert "SVE = 1" not in info and "MATMUL_INT8 = 1" not in info


def test_greedy_tokens_agree_where_the_margin_is_clear(probes):
    native, emu, _ = probes
    cmp = parity.compare_probes(native, emu)
    real = [d for d in cmp["diffs"] if min(m for m in (d["margin_a"], d["margin_b"]) if m is not None) > MARGIN]
    assert not real, cmp
    print(
        f"probe: {cmp['same']}/{cmp['events']} identical; diffs {cmp['diffs']}; "
        f"max top-logit delta {cmp['max_top_logit_delta']:.3f}"
    )


def test_server_replies_agree(emulated, smollm2_gguf, probes, tmp_path):
    root, site = emulated
    native_probe, emu_probe, _ = probes
    evs = parity.events(PARITY_EVENTS)
    env_n = parity.native_env()
    native = parity.serve_and_ask(
        parity.native_argv(), env_n, smollm2_gguf, evs, cwd=str(parity.REPO), log=tmp_path / "x86.log"
    )
    emu = parity.serve_and_ask(
        parity.emulated_argv(root),
        parity.emulate.emulated_env(site, OMP_WAIT_POLICY="PASSIVE"),
        smollm2_gguf,
        evs,
        cwd="/",
        log=tmp_path / "a76.log",
    )
    near_ties = {d["event"] for d in parity.compare_probes(native_probe, emu_probe)["diffs"]}
    differ = [(e, a["text"], b["text"]) for e, a, b in zip(evs, native, emu) if a["text"] != b["text"]]
    assert all(e in near_ties for e, _, _ in differ), differ
