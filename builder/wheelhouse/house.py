"""Assemble the wheelhouse: build, fetch, import-test under emulation, write the manifest, swap in atomically.

The new wheelhouse is built next to the old one and renamed into place only when every step passed,
so a failed run leaves the previous good wheelhouse as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from builder.wheelhouse import PLATFORMS, PYTHONS, QEMU_CPU, WheelhouseError, cache_root, crossbuild, emulate, fetch
from builder.wheelhouse.progress import run_logged, say
from builder.wheelhouse.requirements import device_requirements, pin_of

MANIFEST = "MANIFEST.json"
SUMS = "SHA256SUMS"
# What a Pi imports to serve; run on the root's own python against the wheelhouse install.
IMPORT_TEST = r"""
import json, platform, sys
import llama_cpp, numpy, fastapi, uvicorn, prometheus_client, psutil, yaml, click, matplotlib
import device.cli
info = llama_cpp.llama_print_system_info().decode()
print(json.dumps({"python": platform.python_version(), "machine": platform.machine(),
                  "llama_cpp": llama_cpp.__version__, "numpy": numpy.__version__, "system_info": info}))
"""
# Pi 5 features that must be on, and Armv8.6+/SVE ones it lacks (so must be off).
WANT_ON = ("NEON = 1", "DOTPROD = 1", "REPACK = 1", "OPENMP = 1")
WANT_OFF = ("SVE = 1", "MATMUL_INT8 = 1", "SME = 1")


def build(
    out: Path,
    repo: Path,
    *,
    pythons: list[str],
    jobs: int = 2,
    rebuild: bool = False,
    refresh: bool = False,
    test_imports: bool = True,
) -> dict:
    """Make `out` (e.g. build/wheelhouse-pi); returns the manifest."""
    start = time.monotonic()
    name, reqs = device_requirements(repo / "pyproject.toml")
    llama = crossbuild.build_llama_wheel(pin_of(reqs, "llama-cpp-python"), jobs=jobs, rebuild=rebuild)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".tmp-", dir=out.parent))
    try:
        per_python: dict[str, list[str]] = {}
        for py in pythons:
            per_python[py] = []
            for wheel in fetch.fetch_wheels(reqs, py, llama, refresh=refresh):
                dest = tmp / wheel.name
                if not dest.exists():
                    shutil.copy2(wheel, dest)
                per_python[py].append(wheel.name)
        own = _project_wheel(repo, tmp)
        wheels = _write_sums(tmp, per_python)  # first: the emulated install is keyed by it
        tests = {py: import_test(tmp, py, own) for py in pythons} if test_imports else {}
        manifest = _manifest(tmp, name, reqs, llama, per_python, own, tests, wheels)
        old = out.with_name(out.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(
        f"{out}: {len(manifest['wheels'])} wheels, {manifest['total_bytes'] / 1e6:.1f} MB, "
        f"in {time.monotonic() - start:.0f} s"
    )
    return manifest


def _project_wheel(repo: Path, dest: Path) -> str:
    """suksham-benaud's own pure wheel, built offline from a copy of the sources (setuptools from `dest`)."""
    with tempfile.TemporaryDirectory(prefix="suksham-src-") as src:
        src = Path(src)
        for item in ("pyproject.toml", "README.md"):
            shutil.copy2(repo / item, src / item)
        for pkg in ("device", "builder"):
            shutil.copytree(repo / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        # Same sources, same bytes: zip timestamps come from SOURCE_DATE_EPOCH.
        env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
        run_logged(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-index",
                "--find-links",
                str(dest),
                "--disable-pip-version-check",
                "-w",
                str(dest),
                str(src),
            ],
            log=cache_root() / "logs" / "project-wheel.log",
            label="suksham-benaud wheel",
            env=env,
        )
    found = sorted(dest.glob("suksham_benaud-*.whl"))
    if not found:
        raise WheelhouseError("pip wheel made no suksham_benaud wheel")
    return found[0].name


def import_test(wheelhouse: Path, python: str, own: str, use_cache: bool = True) -> dict:
    """Install the device extra with the root's aarch64 pip, no index; import what serving needs.

    A pass is remembered per set of third-party wheels (our own pure wheel changes with every commit).
    """
    third_party = sorted(p.name for p in wheelhouse.glob("*.whl") if p.name != own)
    digest = hashlib.sha256()
    for name in third_party:
        digest.update(name.encode() + crossbuild.sha256_file(wheelhouse / name).encode())
    digest.update(IMPORT_TEST.encode() + python.encode() + QEMU_CPU.encode())
    stamp = cache_root() / "import-tests" / f"{digest.hexdigest()[:20]}.json"
    if use_cache and stamp.is_file():
        result = json.loads(stamp.read_text())
        say(f"import test CPython {python}: passed before on these wheels ({result['system_info'].strip()})")
        return {**result, "cached": True}

    if problem := emulate.qemu_problem():
        raise WheelhouseError(problem + " (or run with --no-import-test)")
    suite = PYTHONS[python]
    root = emulate.ensure_root(suite)
    result = check_imports(root, emulate.installed_site(root, wheelhouse), python)
    say(f"import test CPython {python}: ok, {result['python']} {result['machine']}: {result['system_info'].strip()}")
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(result, indent=2) + "\n")
    return {**result, "cached": False}


def check_imports(root: Path, site: Path, python: str) -> dict:
    """Import what serving needs from `site` with the root's python under qemu; check the CPU features."""
    say(f"import test CPython {python}: importing under qemu ({QEMU_CPU})")
    t0 = time.monotonic()
    proc = subprocess.run(
        [*emulate.python_argv(root), "-c", IMPORT_TEST],
        capture_output=True,
        text=True,
        env=emulate.emulated_env(site),
        cwd="/",
        timeout=1800,
    )
    if proc.returncode != 0:
        raise WheelhouseError(
            f"import test on CPython {python} ({root.name}, {QEMU_CPU}) failed:\n{proc.stderr[-3000:]}"
        )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["import_seconds"] = round(time.monotonic() - t0, 1)
    info = result["system_info"]
    missing = [f for f in WANT_ON if f not in info]
    extra = [f for f in WANT_OFF if f in info]
    if result["python"].rsplit(".", 1)[0] != python or result["machine"] != "aarch64" or missing or extra:
        raise WheelhouseError(
            f"import test on CPython {python}: unexpected {result} (missing {missing}, unexpected {extra})"
        )
    return result


def _write_sums(folder: Path, per_python: dict) -> list[dict]:
    """SHA256SUMS (for `sha256sum -c`) and the manifest's rows, one per wheel."""
    wheels = []
    for path in sorted(folder.glob("*.whl")):
        wheels.append(
            {
                "file": path.name,
                "sha256": crossbuild.sha256_file(path),
                "bytes": path.stat().st_size,
                "for": [py for py, names in per_python.items() if path.name in names] or sorted(per_python),
            }
        )
    (folder / SUMS).write_text("".join(f"{w['sha256']}  {w['file']}\n" for w in wheels))
    return wheels


def _manifest(
    folder: Path, name: str, reqs: list[str], llama: Path, per_python: dict, own: str, tests: dict, wheels: list
) -> dict:
    inputs = crossbuild.build_inputs(llama)
    manifest = {
        "project": name,
        "extra": "device",
        "requirements": reqs,
        "pythons": {py: PYTHONS[py] for py in per_python},
        "platforms": list(PLATFORMS),
        "install": "pip install --no-index --find-links DIR 'suksham-benaud[device]'",
        "llama_cpp_python": {"wheel": llama.name, "build_inputs": inputs},
        "project_wheel": own,
        "import_tests": tests,
        "wheels": wheels,
        "total_bytes": sum(w["bytes"] for w in wheels),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
