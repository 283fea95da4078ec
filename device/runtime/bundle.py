"""The bundle the builder hands to the device, and the checks the device makes before trusting it.

A bundle is a folder with a GGUF, `Modelfile.benaud`, `eval.json`, `MODEL_CARD.md` and a
`manifest.json` that holds the sha256 of every other file. The manifest is written last: a folder
without one is not a sealed bundle.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from device.settings import DEFAULT_N_CTX
from device.util import atomic_write_json

MANIFEST = "manifest.json"
GGUF_NAME = "benaud-q4_k_m.gguf"
MODELFILE_NAME = "Modelfile.benaud"
MANIFEST_FORMAT = 1


class BundleError(Exception):
    """A bundle that must not be served; the message names the file and what to do."""


@dataclass(frozen=True)
class Bundle:
    path: Path
    manifest: dict
    gguf_path: Path
    n_ctx: int


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _bundle_files(folder: Path) -> list[str]:
    """Every regular file under `folder` except the manifest, as sorted POSIX relative paths."""
    files = []
    for root, _dirs, names in os.walk(folder):
        for name in names:
            rel = (Path(root) / name).relative_to(folder).as_posix()
            if rel != MANIFEST:
                files.append(rel)
    return sorted(files)


def write_manifest(folder: str | os.PathLike, fields: dict) -> dict:
    """Seal `folder`: hash every file, merge `fields`, and write manifest.json last, atomically."""
    folder = Path(folder)
    manifest = {"format": MANIFEST_FORMAT, "gguf": GGUF_NAME, "n_ctx": DEFAULT_N_CTX}
    manifest.update(fields)
    manifest["files"] = {rel: sha256_file(folder / rel) for rel in _bundle_files(folder)}
    if manifest["gguf"] not in manifest["files"]:
        raise BundleError(f"cannot seal {folder}: its GGUF {manifest['gguf']} is missing")
    atomic_write_json(folder / MANIFEST, manifest)
    return manifest


def read_manifest(folder: str | os.PathLike) -> dict:
    folder = Path(folder)
    path = folder / MANIFEST
    if not folder.is_dir():
        raise BundleError(f"{folder} is not a folder. Pass the bundle folder that `suksham build` made.")
    if not path.is_file():
        raise BundleError(
            f"{path} is missing, so {folder} is not a sealed bundle (a build that failed its gate "
            "is never sealed). Rebuild with `suksham build`, or serve a bare GGUF with --model."
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path} is not valid JSON ({exc}). Copy the bundle again.") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise BundleError(f"{path} has no 'files' table of checksums. Copy the bundle again.")
    return manifest


def verify_bundle(folder: str | os.PathLike) -> Bundle:
    """Check every sha256 in the manifest, and that the folder holds nothing else; refuse the bundle
    with every problem found. A file the manifest does not list is refused too: a sealed bundle is
    exactly what its evaluation gate saw, and a stray file (a second GGUF, an edited Modelfile under
    another name) would be served or copied on unchecked."""
    folder = Path(folder).resolve()
    manifest = read_manifest(folder)
    problems = []
    listed = set(manifest["files"])
    if folder.is_dir():
        problems += [f"{rel}: not listed in the manifest" for rel in _bundle_files(folder) if rel not in listed]
    for rel, expected in sorted(manifest["files"].items()):
        path = (folder / rel).resolve()
        if folder not in path.parents:
            problems.append(f"{rel}: points outside the bundle")
        elif not path.is_file():
            problems.append(f"{rel}: missing")
        elif sha256_file(path) != expected:
            problems.append(f"{rel}: sha256 does not match the manifest (corrupted or modified)")
    if problems:
        raise BundleError(
            f"bundle {folder} failed verification:\n  "
            + "\n  ".join(problems)
            + "\nCopy the bundle again from the build machine (or rebuild it); do not edit a sealed bundle"
            + (" (remove the files it does not list)." if any("not listed" in p for p in problems) else ".")
        )
    gguf = manifest.get("gguf", GGUF_NAME)
    if gguf not in manifest["files"]:
        raise BundleError(f"{folder / MANIFEST} does not list its GGUF ({gguf}). Rebuild the bundle.")
    n_ctx = manifest.get("n_ctx", DEFAULT_N_CTX)
    if type(n_ctx) is not int or n_ctx <= 0:  # bool is an int to isinstance: `"n_ctx": true` is refused
        raise BundleError(f"{folder / MANIFEST}: n_ctx must be a positive integer, got {n_ctx!r}.")
    return Bundle(path=folder, manifest=manifest, gguf_path=folder / gguf, n_ctx=n_ctx)
