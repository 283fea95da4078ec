"""Retagging a wheel rewrites its file name, WHEEL tags and RECORD row, and nothing else."""

from __future__ import annotations

import base64
import hashlib
import zipfile

import pytest

from builder.wheelhouse import WheelhouseError
from builder.wheelhouse.crossbuild import check_aarch64, retag, slimmed

WHEEL = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: false\nTag: cp311-cp311-linux_x86_64\n"


def make_wheel(path, elf_machine: int):
    so = b"\x7fELF\x02\x01\x01" + b"\0" * 11 + elf_machine.to_bytes(2, "little") + b"\0" * 40
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("pkg/__init__.py", "")
        z.writestr("pkg/lib/libx.so", so)
        z.writestr("pkg-1.0.dist-info/WHEEL", WHEEL)
        z.writestr(
            "pkg-1.0.dist-info/RECORD",
            "pkg/__init__.py,,0\npkg-1.0.dist-info/WHEEL,sha256=old,1\npkg-1.0.dist-info/RECORD,,\n",
        )
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


def test_slimmed_drops_what_llama_cpp_never_loads(tmp_path):
    src = tmp_path / "llama_cpp_python-1.0-py3-none-linux_aarch64.whl"
    keep = ["llama_cpp/__init__.py", "llama_cpp/lib/libllama.so", "llama_cpp/lib/libllama.so.0"]
    gone = [
        "lib/libllama.so",
        "lib/cmake/llama/llama-config.cmake",
        "include/llama.h",
        "llama_cpp/lib/libllama.so.0.5.0",
    ]
    info = "llama_cpp_python-1.0.dist-info"
    with zipfile.ZipFile(src, "w") as z:
        for name in keep + gone:
            z.writestr(name, b"x")
        z.writestr(f"{info}/WHEEL", WHEEL)
        z.writestr(f"{info}/RECORD", "".join(f"{n},sha256=x,1\n" for n in keep + gone) + f"{info}/RECORD,,\n")
    out = slimmed(src)
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        record = {row.rsplit(",", 2)[0] for row in z.read(f"{info}/RECORD").decode().splitlines()}
    assert set(keep) <= names and not names & set(gone)
    assert set(keep) <= record and not record & set(gone)
