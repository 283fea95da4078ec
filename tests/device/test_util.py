"""Atomic writes: all or nothing, and readable like a normal file."""

from __future__ import annotations

import os
import stat

import pytest

from device.util import atomic_write_json, atomic_write_text


def test_atomic_write_replaces_and_keeps_normal_permissions(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 & ~mask
    assert [p.name for p in path.parent.iterdir()] == ["a.txt"]  # no temp files left


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "a.json"
    atomic_write_json(path, {"ok": 1})
    with pytest.raises(TypeError):
        atomic_write_json(path, {"bad": object()})
    assert path.read_text().strip().startswith("{") and '"ok": 1' in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
