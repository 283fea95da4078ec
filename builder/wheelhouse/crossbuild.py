"""llama-cpp-python for the Pi 5, cross-compiled on x86-64 and cached by a hash of its inputs.

Its Python part is pure (ctypes), so the wheel pip builds (tagged for the host) is retagged
`py3-none-linux_aarch64` once its shared objects are checked to be aarch64 ELF files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from builder.wheelhouse import WheelhouseError, cache_root
from builder.wheelhouse.progress import run_logged, say

# Bump when the recipe changes in a way the inputs below do not show.
RECIPE = 1
# Bump when `slimmed` drops something else (it runs on the cached wheel: no rebuild).
SLIM = 1
CROSS_CC, CROSS_CXX = "aarch64-linux-gnu-gcc", "aarch64-linux-gnu-g++"
TOOLCHAIN = f"""\
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER {CROSS_CC})
set(CMAKE_CXX_COMPILER {CROSS_CXX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
"""
# Pi 5 = Cortex-A76: armv8.2-a + dotprod + fp16 (no i8mm, no SVE); NATIVE off or the host's x86 flags
# leak in. OpenMP for the thread pool, REPACK for the interleaved Q4_0/IQ4_NL/Q4_K ARM kernels.
CMAKE_FLAGS = (
    "-DGGML_NATIVE=OFF",
    "-DGGML_CPU_ARM_ARCH=armv8.2-a+dotprod+fp16",
    "-DGGML_OPENMP=ON",
    "-DGGML_CPU_REPACK=ON",
    "-DGGML_LLAMAFILE=ON",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_TOOLS=OFF",
)
TAG = "py3-none-linux_aarch64"
_EM_AARCH64 = 183


def build_llama_wheel(pin: str, *, jobs: int = 2, rebuild: bool = False) -> Path:
    """The cached aarch64 wheel for `pin` (e.g. 'llama-cpp-python==0.3.36'), building it if needed."""
    for tool in (CROSS_CC, CROSS_CXX):
        if shutil.which(tool) is None:
            raise WheelhouseError(f"{tool} not found: apt-get install -y gcc-aarch64-linux-gnu g++-aarch64-linux-gnu")
    sdist = _sdist(pin)
    inputs = {
        "recipe": RECIPE,
        "pin": pin,
        "sdist_sha256": sha256_file(sdist),
        "toolchain": TOOLCHAIN,
        "cmake_flags": CMAKE_FLAGS,
        "cc": _first_line([CROSS_CC, "--version"]),
        "cxx": _first_line([CROSS_CXX, "--version"]),
    }
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:20]
    slot = cache_root() / "wheels" / "llama-cpp-python" / key
    done = sorted(slot.glob("*.whl")) if (slot / "inputs.json").is_file() else []
    if done and not rebuild:
        say(f"llama-cpp-python: cached aarch64 wheel {done[0].name} (inputs {key})")
        return slimmed(done[0])

    say(f"llama-cpp-python: cross-compiling {pin} for the Cortex-A76 ({jobs} jobs; about 6 min on 2 cores)")
    with tempfile.TemporaryDirectory(prefix="suksham-llama-") as tmp:
        tmp = Path(tmp)
        (tmp / "toolchain.cmake").write_text(TOOLCHAIN)
        env = dict(os.environ)
        env["CMAKE_ARGS"] = " ".join((f"-DCMAKE_TOOLCHAIN_FILE={tmp / 'toolchain.cmake'}", *CMAKE_FLAGS))
        env["CMAKE_BUILD_PARALLEL_LEVEL"] = str(jobs)
        env.pop("PIP_REQUIRE_VIRTUALENV", None)
        out = tmp / "out"
        run_logged(
            [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-cache-dir", "-w", str(out), str(sdist)],
            log=cache_root() / "logs" / f"llama-cpp-python-{key}.log",
            label="llama-cpp-python cross-build",
            env=env,
            every=30,
        )
        built = sorted(out.glob("llama_cpp_python-*.whl"))
        if len(built) != 1:
            raise WheelhouseError(f"expected one llama_cpp_python wheel, got {[p.name for p in built]}")
        objects = check_aarch64(built[0])
        wheel = retag(built[0], TAG, out / "retagged")
        staging = slot.with_name(key + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        shutil.copy2(wheel, staging / wheel.name)
        (staging / "inputs.json").write_text(json.dumps({**inputs, "shared_objects": objects}, indent=2) + "\n")
        shutil.rmtree(slot, ignore_errors=True)
        staging.rename(slot)
    say(f"llama-cpp-python: cached {slot / wheel.name}")
    return slimmed(slot / wheel.name)


def slimmed(wheel: Path) -> Path:
    """`wheel` without what llama_cpp never loads (cached beside it; ~41 of its 56 MB unpacked).

    llama.cpp's install rules also put lib/, include/ and lib/cmake at the top of site-packages, and
    a zip has no symlinks, so every library is there three times (.so, .so.0, .so.0.x.y). llama_cpp
    loads llama_cpp/lib/libllama.so, whose NEEDED entries name the .so.0 sonames: keep those two.
    """
    out = wheel.parent / f"slim-{SLIM}" / wheel.name
    if not out.is_file():
        out.parent.mkdir(exist_ok=True)
        _rewrite(wheel, out.with_suffix(".tmp"), drop=_unused)
        out.with_suffix(".tmp").rename(out)
    return out


def build_inputs(wheel: Path) -> dict:
    """What the cached wheel was built from (inputs.json in its cache slot)."""
    for folder in (wheel.parent, wheel.parent.parent):
        if (folder / "inputs.json").is_file():
            return json.loads((folder / "inputs.json").read_text())
    return {}


def _unused(name: str) -> bool:
    if name.startswith(("lib/", "include/")):
        return True
    return name.startswith("llama_cpp/lib/") and re.search(r"\.so\.\d+\.\d+", name) is not None


def check_aarch64(wheel: Path) -> list[str]:
    """Names of the wheel's shared objects, after checking every one is an aarch64 ELF file."""
    names, wrong = [], []
    with zipfile.ZipFile(wheel) as z:
        for info in z.infolist():
            if ".so" not in Path(info.filename).name:
                continue
            head = z.open(info).read(20)
            if head[:4] != b"\x7fELF":
                continue
            names.append(info.filename)
            if int.from_bytes(head[18:20], "little") != _EM_AARCH64:
                wrong.append(info.filename)
    if wrong or not names:
        raise WheelhouseError(
            f"not aarch64 shared objects in {wheel.name}: {wrong or 'none found'}; "
            "did the cross toolchain get used? (check CMAKE_ARGS in the build log)"
        )
    return names


def retag(wheel: Path, tag: str, dest: Path) -> Path:
    """A copy of `wheel` tagged `tag` (WHEEL's Tag lines, its RECORD row and the file name)."""
    name, version = wheel.name.split("-")[:2]
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / f"{name}-{version}-{tag}.whl"

    def tags(text: str) -> str:
        lines = [line for line in text.splitlines() if not line.startswith("Tag:")]
        return "\n".join(lines).rstrip("\n") + f"\nTag: {tag}\n"

    _rewrite(wheel, target, edit_wheel=tags)
    return target


def _rewrite(src_path: Path, dest: Path, *, drop=lambda name: False, edit_wheel=lambda text: text) -> None:
    """Copy a wheel, leaving out the files `drop` names and editing WHEEL; RECORD is kept consistent."""
    with zipfile.ZipFile(src_path) as src, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as out:
        infos = [i for i in src.infolist() if not drop(i.filename)]
        wheel_file = next(i.filename for i in infos if i.filename.endswith(".dist-info/WHEEL"))
        record_file = next(i.filename for i in infos if i.filename.endswith(".dist-info/RECORD"))
        new_wheel = edit_wheel(src.read(wheel_file).decode()).encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(new_wheel).digest()).rstrip(b"=").decode()
        record = []
        for row in src.read(record_file).decode().splitlines():
            path = row.rsplit(",", 2)[0]
            if drop(path):
                continue
            record.append(f"{wheel_file},sha256={digest},{len(new_wheel)}" if path == wheel_file else row)
        for info in infos:
            if info.filename == wheel_file:
                out.writestr(info, new_wheel)
            elif info.filename == record_file:
                out.writestr(info, "\n".join(record) + "\n")
            else:
                out.writestr(info, src.read(info), compress_type=zipfile.ZIP_DEFLATED)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _sdist(pin: str) -> Path:
    """The source distribution, downloaded once into the cache."""
    name, version = pin.split("==")
    folder = cache_root() / "sdist"
    found = sorted(folder.glob(f"{name.replace('-', '_')}-{version}.tar.gz"))
    if found:
        return found[0]
    say(f"{name}: downloading the {version} source distribution")
    with tempfile.TemporaryDirectory(prefix="suksham-sdist-") as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "-d", tmp, pin],
            check=True,
        )
        got = sorted(Path(tmp).glob("*.tar.gz"))
        if not got:
            raise WheelhouseError(f"pip download {pin} gave no .tar.gz")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.move(str(got[0]), folder / got[0].name)
    return folder / got[0].name


def _first_line(cmd: list[str]) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()[0]
