"""The e2e harness says loudly why it cannot run, instead of passing silently.

.venv/bin/pytest -q tests/deploy/test_testhost.py
"""

from __future__ import annotations

import os
import shutil

from tests.deploy import testhost


def test_not_root_is_a_reason_to_skip(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "need root" in testhost.missing_requirements()


def test_a_missing_tool_names_the_setup_script(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "debootstrap" else f"/usr/bin/{name}")
    why = testhost.missing_requirements()
    assert "debootstrap is missing" in why and "setup_host_deps.sh" in why


def test_arm64_without_binfmt_is_a_reason_to_skip(monkeypatch):
    from builder.wheelhouse import emulate

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(emulate, "binfmt_ready", lambda register=True: False)
    assert testhost.missing_requirements() is None  # the x86 host does not need it
    why = testhost.missing_requirements("arm64")
    assert "binfmt_misc" in why and "qemu-aarch64" in why and "cannot boot" in why


def test_the_arm64_host_has_its_own_cached_root():
    assert testhost.rootfs_path("arm64") != testhost.rootfs_path() == testhost.CACHE / "rootfs"
    host = testhost.TestHost.__new__(testhost.TestHost)
    try:
        testhost.TestHost.__init__(host, testhost.CACHE / "nothing", arch="riscv64")
    except ValueError as exc:
        assert "riscv64" in str(exc)
    else:
        raise AssertionError("an unknown arch was accepted")
