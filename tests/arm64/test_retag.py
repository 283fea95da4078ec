"""Retagging a wheel rewrites its file name, WHEEL tags and RECORD row, and nothing else."""

from __future__ import annotations

import base64
import hashlib
import zipfile

import pytest

from builder.wheelhouse import WheelhouseError
from builder.wheelhouse.crossbuild import check_aarch64, retag

WHEEL = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: cp311-cp311-linux_x86_64\n"


def make_wheel(path, elf_machine: int):
    so = b"\x7fELF\x02\x01\x01" + b"\0" * 11 + elf_machine.to_bytes(2, "little") + b"\0" * 40
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("pkg/__init__.py", "")
        z.writestr("pkg/lib/libx.so", so)
        z.writestr("pkg-1.0.dist-info/WHEEL", WHEEL)
        z.writestr("pkg-1.0.dist-info/RECORD", "pkg/__init__.py,,0\npkg-1.0.dist-info/WHEEL,sha256=old,1\n"
                                               "pkg-1.0.dist-info/RECORD,,\n")
    return path


def test_retag(tmp_path):
    src = make_wheel(tmp_path / "pkg-1.0-cp311-cp311-linux_x86_64.whl", 183)
    out = retag(src, "py3-none-linux_aarch64", tmp_path / "out")
    assert out.name == "pkg-1.0-py3-none-linux_aarch64.whl"
    with zipfile.ZipFile(out) as z:
        wheel = z.read("pkg-1.0.dist-info/WHEEL")
        assert wheel.decode().count("Tag:") == 1 and "Tag: py3-none-linux_aarch64" in wheel.decode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(wheel).digest()).rstrip(b"=").decode()
        assert f"pkg-1.0.dist-info/WHEEL,sha256={digest},{len(wheel)}" in z.read("pkg-1.0.dist-info/RECORD").decode()
        assert z.read("pkg/lib/libx.so")[:4] == b"\x7fELF"
    assert check_aarch64(out) == ["pkg/lib/libx.so"]


def test_x86_objects_are_refused(tmp_path):
    src = make_wheel(tmp_path / "pkg-1.0-cp311-cp311-linux_x86_64.whl", 62)
    with pytest.raises(WheelhouseError, match="not aarch64"):
        check_aarch64(src)
