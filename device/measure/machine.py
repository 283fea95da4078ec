"""What machine a measurement ran on, and how much memory it may really use.

Used by `suksham check` and `suksham bench` so that every number travels with its machine:
CPU model, cores, governor and frequency, RAM, kernel, llama.cpp version, and on a Raspberry Pi
the SoC temperature and throttle state. Anything that cannot be read is reported as
"unavailable (<why>)", never guessed.

    python -m device.measure.machine          # prints the machine description as JSON
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import psutil

from device.runtime.engine import usable_cores  # noqa: F401  (one home; callers use machine.usable_cores)

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")
# cgroup v1 reports "no limit" as a huge page-aligned number; anything this large means unlimited
_UNLIMITED = 1 << 60
# vcgencmd get_throttled bits (Raspberry Pi firmware documentation)
THROTTLE_BITS = {
    0: "under-voltage now",
    1: "ARM frequency capped now",
    2: "throttled now",
    3: "soft temperature limit now",
    16: "under-voltage has occurred",
    17: "frequency capping has occurred",
    18: "throttling has occurred",
    19: "soft temperature limit has occurred",
}


def unavailable(why: str) -> str:
    return f"unavailable ({why})"


def _read(path: Path | str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None


def cpu_model() -> str:
    text = _read("/proc/cpuinfo") or ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "Hardware") and value.strip():
            return value.strip()
    return platform.processor() or platform.machine() or unavailable("no /proc/cpuinfo")


def cpu_frequency() -> dict:
    base = Path("/sys/devices/system/cpu/cpu0/cpufreq")
    governor = _read(base / "scaling_governor")
    cur, top = _read(base / "scaling_cur_freq"), _read(base / "cpuinfo_max_freq")
    return {
        "governor": governor or unavailable("no cpufreq in /sys (virtual machine or container)"),
        "cur_mhz": int(cur) / 1000 if cur and cur.isdigit() else unavailable("no cpufreq"),
        "max_mhz": int(top) / 1000 if top and top.isdigit() else unavailable("no cpufreq"),
    }


def cgroup_memory(proc_cgroup: str | None = None, root: Path | None = None) -> dict:
    """Memory limit and usage of this process's cgroup (v2 `memory.max` or v1 `memory.limit_in_bytes`).

    psutil reports the host's free memory, but systemd's MemoryMax (or a container limit) kills the
    process long before the host runs out, so the preflight must use the smaller of the two. The
    tightest limit on the path from the root down to our cgroup applies.
    """
    root = CGROUP_ROOT if root is None else Path(root)
    text = proc_cgroup if proc_cgroup is not None else (_read(PROC_SELF_CGROUP) or "")
    candidates = []  # (limit file, usage file) from the leaf upwards
    for line in text.splitlines():
        _hid, controllers, path = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        rel = path.lstrip("/")
        if controllers == "":  # cgroup v2 unified hierarchy
            base, limit_name, usage_name = root, "memory.max", "memory.current"
        elif "memory" in controllers.split(","):
            base, limit_name, usage_name = root / "memory", "memory.limit_in_bytes", "memory.usage_in_bytes"
        else:
            continue
        parts = [p for p in rel.split("/") if p]
        for depth in range(len(parts), -1, -1):
            folder = base.joinpath(*parts[:depth])
            candidates.append((folder / limit_name, folder / usage_name))
    best = None
    for limit_file, usage_file in candidates:
        raw = _read(limit_file)
        if raw is None or raw == "max" or not raw.isdigit() or int(raw) >= _UNLIMITED:
            continue
        usage = _read(usage_file)
        found = {
            "limit_bytes": int(raw),
            "usage_bytes": int(usage) if usage and usage.isdigit() else 0,
            "source": str(limit_file),
        }
        if best is None or found["limit_bytes"] < best["limit_bytes"]:
            best = found
    return best or {"limit_bytes": None, "usage_bytes": None, "source": "no cgroup memory limit found"}


def memory() -> dict:
    vm = psutil.virtual_memory()
    cg = cgroup_memory()
    available = vm.available
    if cg["limit_bytes"] is not None:
        available = min(available, max(cg["limit_bytes"] - (cg["usage_bytes"] or 0), 0))
    mb = 1 << 20
    return {
        "total_mb": round(vm.total / mb),
        "available_mb": round(vm.available / mb),
        "cgroup_limit_mb": round(cg["limit_bytes"] / mb) if cg["limit_bytes"] is not None else None,
        "cgroup_usage_mb": round(cg["usage_bytes"] / mb) if cg["usage_bytes"] is not None else None,
        "cgroup_source": cg["source"],
        "effective_available_mb": round(available / mb),
    }


def pi_thermal() -> dict:
    """SoC temperature and firmware throttle flags; plainly 'unavailable' off a Pi."""
    out: dict = {}
    zone = _read("/sys/class/thermal/thermal_zone0/temp")
    out["temperature_c"] = (
        int(zone) / 1000
        if zone and zone.lstrip("-").isdigit()
        else unavailable("no /sys/class/thermal/thermal_zone0 on this machine")
    )
    vcgencmd = shutil.which("vcgencmd")
    if vcgencmd is None:
        out["throttled"] = unavailable("vcgencmd not found: not a Raspberry Pi, or firmware tools not installed")
        return out
    try:
        raw = subprocess.run([vcgencmd, "get_throttled"], capture_output=True, text=True, timeout=5).stdout
        value = int(raw.strip().split("=")[-1], 16)
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        out["throttled"] = unavailable(f"vcgencmd get_throttled failed: {exc}")
        return out
    out["throttled"] = {"raw": hex(value), "flags": [name for bit, name in THROTTLE_BITS.items() if value >> bit & 1]}
    if isinstance(out["temperature_c"], str):
        try:
            temp = subprocess.run([vcgencmd, "measure_temp"], capture_output=True, text=True, timeout=5).stdout
            out["temperature_c"] = float(temp.strip().split("=")[-1].rstrip("'C"))
        except (OSError, ValueError, subprocess.SubprocessError):
            pass
    return out


def pi_model() -> str | None:
    model = _read("/proc/device-tree/model")
    return model.rstrip("\x00") if model else None


def llama_cpp_info() -> dict:
    try:
        version = metadata.version("llama-cpp-python")
    except metadata.PackageNotFoundError:
        return {"version": unavailable("llama-cpp-python is not installed"), "system_info": unavailable("no llama.cpp")}
    try:  # only device.runtime.engine imports llama_cpp; ask it for the build's CPU features
        from device.runtime import engine

        info = engine.system_info() if hasattr(engine, "system_info") else unavailable("engine has no system_info()")
    except ImportError as exc:
        info = unavailable(f"device.runtime.engine could not be imported: {exc}")
    return {"version": version, "system_info": info}


def describe(with_llama: bool = True) -> dict:
    """Everything above in one JSON-able dict."""
    uname = platform.uname()
    info = {
        "hostname": uname.node,
        "pi_model": pi_model() or unavailable("no /proc/device-tree/model: not a Raspberry Pi"),
        "cpu_model": cpu_model(),
        "arch": uname.machine,
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "frequency": cpu_frequency(),
        "memory": memory(),
        "kernel": uname.release,
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "thermal": pi_thermal(),
        # llama.cpp's OpenMP threads spin-wait by default; on a shared CPU that costs a lot (see RESULTS.md)
        "env": {k: os.environ.get(k, "unset") for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")},
    }
    if with_llama:
        info["llama_cpp"] = llama_cpp_info()
    return info


if __name__ == "__main__":
    print(json.dumps(describe(), indent=2))
