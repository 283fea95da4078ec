"""The bundle the builder hands to the device, and the checks the device makes before trusting it.

A bundle is a folder with a GGUF, `Modelfile.benaud`, `eval.json`, `MODEL_CARD.md` and a
`manifest.json` that holds the sha256 of every other file. The manifest is written last: a folder
without one is not a sealed bundle.

Optional quants (issue 19): a bundle may ship more GGUFs than the one it serves by default, each listed
in the manifest's `quants` table, `{"Q4_0": {"file": "benaud-q4_0.gguf", "sha256": ..., "gate": {...}}}`
(the default quant, `quant_type`, is listed there too; its file is `gguf`). `verify_bundle(folder,
quant="Q4_0")` serves one of them; a bundle without `quants` has only its `gguf`.
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


DEFAULT_QUANT = "Q4_K_M"


@dataclass(frozen=True)
class Bundle:
    path: Path
    manifest: dict
    gguf_path: Path
    n_ctx: int
    quant: str = DEFAULT_QUANT  # the quant gguf_path holds
    quants: tuple[str, ...] = (DEFAULT_QUANT,)  # every quant the bundle ships, the default first


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
    if "quants" in manifest:  # each listed quant gets its file's sha256, taken from the table just made
        quants = {}
        for name, entry in manifest["quants"].items():
            if entry.get("file") not in manifest["files"]:
                raise BundleError(f"cannot seal {folder}: the {name} quant's file {entry.get('file')} is missing")
            quants[name] = {**entry, "sha256": manifest["files"][entry["file"]]}
        manifest["quants"] = quants
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


def _quant_problems(manifest: dict) -> list[str]:
    """What is wrong with the manifest's optional `quants` table (none when it is absent)."""
    if "quants" not in manifest:
        return []
    quants = manifest["quants"]
    if not isinstance(quants, dict) or not quants:
        return ["quants: must be a table of {QUANT: {file, sha256}} (or left out)"]
    problems = []
    for name, entry in quants.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            problems.append(f"quants.{name}: must be a table with a 'file'")
        elif entry["file"] not in manifest["files"]:
            problems.append(f"quants.{name}: its file {entry['file']} is not listed in the manifest's files")
        elif entry.get("sha256") != manifest["files"][entry["file"]]:
            problems.append(f"quants.{name}: sha256 differs from the files table's for {entry['file']}")
    default = manifest.get("quant_type")
    if default in quants and isinstance(quants[default], dict):
        if quants[default].get("file") != manifest.get("gguf", GGUF_NAME):
            problems.append(f"quants.{default}: the default quant's file is not the manifest's gguf")
    return problems


def bundle_quants(manifest: dict) -> dict[str, str]:
    """{quant: file} of every GGUF the bundle ships, the default (`quant_type`, `gguf`) first."""
    default = str(manifest.get("quant_type") or DEFAULT_QUANT).upper()
    out = {default: manifest.get("gguf", GGUF_NAME)}
    for name, entry in (manifest.get("quants") or {}).items():
        out.setdefault(str(name).upper(), entry["file"])
    return out


def choose_quant(folder: str | os.PathLike, explicit: str | None, preferred: str | None, source: str = "the budget"):
    """(quant to serve or None for the default, a note or None): `explicit` (--quant) always wins and is
    checked by verify_bundle; `preferred` (a budget's `quant`) is taken only when the bundle ships it."""
    if explicit:
        return explicit.upper(), None
    if not preferred:
        return None, None
    quants = bundle_quants(read_manifest(folder))
    if preferred.upper() in quants:
        return preferred.upper(), f"serving {preferred.upper()}, the quant {source} asks for"
    default = next(iter(quants))
    return None, (
        f"{source} asks for {preferred.upper()}, which this bundle does not ship ({', '.join(quants)}); "
        f"serving its default {default}"
    )


def verify_bundle(folder: str | os.PathLike, quant: str | None = None) -> Bundle:
    """Check every sha256 in the manifest, and that the folder holds nothing else; refuse the bundle
    with every problem found. A file the manifest does not list is refused too: a sealed bundle is
    exactly what its evaluation gate saw, and a stray file (a second GGUF, an edited Modelfile under
    another name) would be served or copied on unchecked.

    `quant`: serve this one of the bundle's quants (its manifest's `quants`) instead of the default;
    a quant the bundle does not ship is refused with the list of those it does."""
    folder = Path(folder).resolve()
    manifest = read_manifest(folder)
    problems = _quant_problems(manifest)
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
    quants = bundle_quants(manifest)
    served = next(iter(quants))
    if quant is not None:
        served = str(quant).upper()
        if served not in quants:
            listed = ", ".join(f"{q} (default)" if i == 0 else q for i, q in enumerate(quants))
            raise BundleError(
                f"bundle {folder} has no {served} quant; it ships {listed}. Pass one of those to --quant, "
                f"or rebuild with export.quant_types: [{next(iter(quants))}, {served}] in the build config."
            )
    return Bundle(
        path=folder,
        manifest=manifest,
        gguf_path=folder / quants[served],
        n_ctx=n_ctx,
        quant=served,
        quants=tuple(quants),
    )
