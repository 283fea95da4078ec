"""The device's bundle checks (device/runtime/bundle.py): what a manifest must say, and nothing unlisted."""

from __future__ import annotations

import json

import pytest

from device.runtime.bundle import GGUF_NAME, MANIFEST, BundleError, verify_bundle, write_manifest


@pytest.fixture
def bundle(tmp_path):
    """A sealed bundle of small files: the checks read hashes and the manifest, never the GGUF itself."""
    (tmp_path / GGUF_NAME).write_bytes(b"GGUF" + bytes(64))
    (tmp_path / "Modelfile.benaud").write_text(f"FROM ./{GGUF_NAME}\n")
    write_manifest(tmp_path, {"n_ctx": 512})
    return tmp_path


def _set(bundle, **fields):
    manifest = json.loads((bundle / MANIFEST).read_text())
    manifest.update(fields)
    (bundle / MANIFEST).write_text(json.dumps(manifest))


def test_a_sealed_bundle_verifies(bundle):
    assert verify_bundle(bundle).n_ctx == 512


@pytest.mark.parametrize("n_ctx", [True, False, 0, -1, 512.0, "512", None])
def test_n_ctx_must_be_a_positive_integer(bundle, n_ctx):
    _set(bundle, n_ctx=n_ctx)
    with pytest.raises(BundleError, match="n_ctx must be a positive integer"):
        verify_bundle(bundle)


def test_files_the_manifest_does_not_list_are_refused_by_name(bundle):
    (bundle / "other.gguf").write_bytes(b"GGUF")
    (bundle / "notes").mkdir()
    (bundle / "notes" / "todo.txt").write_text("x")
    with pytest.raises(BundleError) as err:
        verify_bundle(bundle)
    message = str(err.value)
    assert "other.gguf: not listed in the manifest" in message
    assert "notes/todo.txt: not listed in the manifest" in message
    assert "remove the files it does not list" in message


def test_every_problem_is_reported_at_once(bundle):
    (bundle / "stray.bin").write_bytes(b"x")
    (bundle / "Modelfile.benaud").write_text("FROM ./elsewhere.gguf\n")
    with pytest.raises(BundleError) as err:
        verify_bundle(bundle)
    assert "stray.bin: not listed" in str(err.value) and "Modelfile.benaud: sha256 does not match" in str(err.value)
