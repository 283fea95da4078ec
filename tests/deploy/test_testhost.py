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
