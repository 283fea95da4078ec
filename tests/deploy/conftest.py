"""Fixtures for the deploy tests: the e2e test host, its wheelhouse, test bundles, and a playbook runner.

The e2e fixtures need root and are used only by tests marked `@pytest.mark.e2e`:

    sudo .venv/bin/pytest -m e2e tests/deploy -x -q

The arm64_* fixtures boot an arm64 host under qemu instead, for tests/deploy/test_e2e_arm64.py (`make e2e-arm64`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.testhost import CACHE, REPO, TestHost, missing_requirements

VENV_BIN = Path(sys.executable).parent
ANSIBLE_DIR = REPO / "ansible"
RECAP = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def tool(name: str) -> str:
    """An executable from this venv (ansible-playbook, ansible-lint), else from PATH."""
    path = VENV_BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


@dataclass
class PlayResult:
    returncode: int
    output: str

    def recap(self) -> dict:
        found = {
            m.group(1): {
                "ok": int(m.group(2)),
                "changed": int(m.group(3)),
                "unreachable": int(m.group(4)),
                "failed": int(m.group(5)),
            }
            for m in RECAP.finditer(self.output)
        }
        if not found:
            raise AssertionError(f"no PLAY RECAP in the output:\n{self.output[-3000:]}")
        return found

    def changed_tasks(self) -> list[str]:
        """Names of the tasks that reported `changed`, to explain a non-idempotent run."""
        names, current = [], None
        for line in self.output.splitlines():
            if line.startswith(("TASK [", "RUNNING HANDLER [")):
                current = line.split("[", 1)[1].rsplit("]", 1)[0]
            elif line.startswith("changed:") and current:
                names.append(current)
        return names


def _scratch(prefix: str):
    """A folder under the e2e cache for this pytest process, removed after the session."""
    folder = CACHE / f"{prefix}-{os.getpid()}"
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def e2e_ready():
    why = missing_requirements()
    if why:
        # Loud on purpose: CI runs as root and must not silently skip the real deployment test.
        print(f"\n*** SKIPPING e2e deploy tests: {why} ***", file=sys.stderr)
        pytest.skip(why)


@pytest.fixture(scope="session")
def e2e_dir(e2e_ready) -> Path:
    """This run's scratch folder under the e2e cache (not /tmp: pytest there prunes folders other runs use)."""
    yield from _scratch("run")


@pytest.fixture(scope="session")
def wheelhouse(e2e_ready) -> Path:
    """Every wheel `pip install .[device]` needs, built here from the pip cache, so the host installs offline."""
    if sys.version_info[:2] != (3, 11):
        # Compiled wheels are built for this interpreter; the bookworm test host (like Pi OS) has 3.11.
        pytest.skip(f"the e2e wheelhouse needs the venv on Python 3.11 (bookworm's), not {sys.version.split()[0]}")
    folder = CACHE / "wheelhouse"
    folder.mkdir(parents=True, exist_ok=True)
    # Never ship a llama-cpp-python left by an earlier run: it may be a native build that dies with
    # "Illegal instruction" on this CPU (AMX); `make test` points PIP_FIND_LINKS at the portable one.
    for old in folder.glob("llama_cpp_python-*.whl"):
        old.unlink()
    # Dependencies come from the shared pip cache (llama-cpp-python is compiled once, by the venv's install).
    subprocess.run([tool("pip"), "wheel", "-q", f"{REPO}[device]", "-w", str(folder)], check=True)
    # The project's own wheel is rebuilt every run so the host gets the code under test.
    for old in folder.glob("suksham_benaud-*.whl"):
        old.unlink()
    subprocess.run(
        [tool("pip"), "wheel", "-q", "--no-deps", "--no-build-isolation", str(REPO), "-w", str(folder)], check=True
    )
    return folder


def _seal(
    folder: Path, gguf_source: Path | None, fields: dict, gguf_bytes: bytes | None = None, modelfile_extra: str = ""
) -> Path:
    from device.runtime.bundle import GGUF_NAME, write_manifest

    folder.mkdir(parents=True)
    if gguf_bytes is not None:
        (folder / GGUF_NAME).write_bytes(gguf_bytes)
    else:
        shutil.copyfile(gguf_source, folder / GGUF_NAME)
    (folder / "Modelfile.benaud").write_text((REPO / "Modelfile.benaud").read_text() + modelfile_extra)
    write_manifest(folder, {"n_ctx": 512, "quant_type": "Q4_1", **fields})
    return folder


@pytest.fixture(scope="session")
def bundles(e2e_dir) -> dict[str, Path]:
    """v1 and v2 (good), corrupt (GGUF changed after sealing), broken (sealed, but not a model)."""
    from device.runtime.models import smollm2_gguf_path

    gguf = smollm2_gguf_path()
    root = e2e_dir / "bundles"
    made = {
        "v1": _seal(root / "v1", gguf, {"release": "e2e-v1"}),
        # A later build: same weights, one sampling parameter changed, so Ollama's model must be recreated.
        "v2": _seal(root / "v2", gguf, {"release": "e2e-v2"}, modelfile_extra="PARAMETER seed 2\n"),
        "corrupt": _seal(root / "corrupt", gguf, {"release": "e2e-corrupt"}),
        "broken": _seal(root / "broken", None, {"release": "e2e-broken"}, gguf_bytes=b"GGUF" + os.urandom(4096)),
    }
    with open(made["corrupt"] / "benaud-q4_k_m.gguf", "r+b") as fh:  # flip bytes after sealing
        fh.seek(1 << 20)
        fh.write(hashlib.sha256(b"corrupt").digest())
    return made


@pytest.fixture(scope="session")
def testhost(e2e_dir):
    host = TestHost(e2e_dir / "host")
    try:
        yield host.start()
    finally:
        host.close()


@pytest.fixture(scope="session")
def e2e_budget(e2e_dir) -> Path:
    """The Pi 5 4 GB budget with 3 latency events instead of 20: same limits, a shorter check."""
    text = (REPO / "device/budgets/pi5-4gb.toml").read_text()
    text, count = re.subn(r"(?m)^latency_events\s*=\s*\d+", "latency_events = 3", text)
    path = e2e_dir / "pi5-4gb-e2e.toml"
    path.write_text(text + ("" if count else "\nlatency_events = 3\n"))
    return path


@pytest.fixture(scope="session")
def playbook(testhost, wheelhouse, e2e_dir, e2e_budget):
    """Run an ansible playbook against the test host: playbook("site.yml", bundle_src=...).

    `ansible_dir=` runs another checkout's playbook (the upgrade test); `playbook.start(...)` runs one
    in the background and returns (Popen, log path)."""
    return playbook_runner(testhost, wheelhouse, e2e_dir / "ansible", e2e_budget)


def playbook_runner(testhost, wheelhouse: Path, work: Path, budget: Path, timeout: float = 900, **more_vars):
    """The `playbook` fixture's runner for any TestHost (the arm64 one passes its own timeouts and vars)."""
    work.mkdir(parents=True, exist_ok=True)
    inventory = testhost.inventory(work / "inventory.ini")
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
        # This run's own SSH control sockets, so that a test that cuts the host's power can drop them.
        ANSIBLE_SSH_CONTROL_PATH_DIR=str(work / "cp"),
        # SSH's connection timeout (10 s by default): an emulated sshd takes longer to answer.
        ANSIBLE_TIMEOUT=str(10 * testhost.slowdown),
        PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}",
    )
    base_vars = {
        "runtime_wheelhouse_src": str(wheelhouse),
        "runtime_offline": True,
        "base_apt_update_cache": False,  # the test host has no route to a mirror
        "service_watchdog_sec": 15,  # shorter than the default 30 s, to keep the kill -STOP test quick
        "service_threads": min(os.cpu_count() or 1, 4),  # the budget's 4 threads would oversubscribe 2 cores
        "suksham_serial": 1,
        "service_budget_src": str(budget),
        # `suksham check` benchmarks for minutes on a loaded 2-core x86 machine: it runs once, in the
        # first converge (run_check=True), and an x86 host is not held to the Pi's budget.
        "verify_budget_check": False,
        "verify_budget_check_fatal": False,
        **more_vars,
    }

    def command(name: str, args: tuple, extra: dict) -> list[str]:
        import json

        varfile = work / f"vars-{len(list(work.glob('vars-*')))}.json"
        varfile.write_text(
            json.dumps({**base_vars, **{k: str(v) if isinstance(v, Path) else v for k, v in extra.items()}})
        )
        return [tool("ansible-playbook"), "-i", str(inventory), str(ANSIBLE_DIR / name), "-e", f"@{varfile}", *args]

    def run(name: str = "site.yml", args: tuple = (), ansible_dir: Path = ANSIBLE_DIR, **extra) -> PlayResult:
        import time

        cmd = command(name, args, extra)
        cmd[3] = str(ansible_dir / name)
        start = time.monotonic()
        run_env = dict(env, ANSIBLE_CONFIG=str(ansible_dir / "ansible.cfg"))  # another checkout's own roles
        proc = subprocess.run(cmd, cwd=ansible_dir, env=run_env, capture_output=True, text=True, timeout=timeout)
        result = PlayResult(proc.returncode, proc.stdout + proc.stderr)
        if proc.returncode != 0:  # the device's side of the story, for the assertion message
            journal = testhost.ssh("journalctl -u suksham-benaud --no-pager -n 40", check=False).stdout
            result.output += f"\n--- journalctl -u suksham-benaud (test host) ---\n{journal}"
        (work / f"{Path(cmd[5][1:]).stem}.log").write_text(result.output)
        print(
            f"ansible-playbook {name} {extra.get('bundle_src', '')}: rc {proc.returncode}, "
            f"{time.monotonic() - start:.0f} s"
        )
        return result

    def start(name: str = "site.yml", **extra) -> tuple[subprocess.Popen, Path]:
        """The same playbook run in the background (for a test that cuts the power in its middle)."""
        cmd = command(name, (), extra)
        log = work / f"{Path(cmd[5][1:]).stem}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                cmd,
                cwd=ANSIBLE_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return proc, log

    run.start = start
    run.control_dir = work / "cp"
    return run


# -- the arm64 host (tests/deploy/test_e2e_arm64.py) ------------------------------------------------
# Under emulation the converge takes tens of minutes: it runs only when asked (`make e2e-arm64`).
ARM64_CONVERGE = os.environ.get("SUKSHAM_ARM64_CONVERGE") == "1"
# The whole arm64 module's time budget, in minutes (each test's pytest timeout is taken from it).
ARM64_BUDGET_MIN = float(os.environ.get("SUKSHAM_ARM64_BUDGET_MIN", "75"))


@pytest.fixture(scope="session")
def arm64_ready():
    if not ARM64_CONVERGE:
        pytest.skip(
            "the arm64 converge runs for tens of minutes under qemu, outside `make test`: "
            "run it by hand with `sudo make e2e-arm64` (SUKSHAM_ARM64_CONVERGE=1)"
        )
    why = missing_requirements("arm64")
    if why:
        print(f"\n*** SKIPPING the arm64 e2e host: {why} ***", file=sys.stderr)
        pytest.skip(why)


@pytest.fixture(scope="session")
def arm64_dir(arm64_ready) -> Path:
    yield from _scratch("run-arm64")


@pytest.fixture(scope="session")
def arm64_wheelhouse(arm64_dir) -> Path:
    """The Pi 5 wheelhouse for CPython 3.11 (bookworm's), made by `make wheelhouse-pi`'s own code.

    The cross-built llama-cpp-python and the downloaded wheels come from ~/.cache/suksham; the project's
    wheel is built from this checkout. SUKSHAM_ARM64_WHEELHOUSE=build/wheelhouse-pi uses one made before."""
    given = os.environ.get("SUKSHAM_ARM64_WHEELHOUSE")
    if given:
        folder = Path(given).resolve()
    else:
        from builder.wheelhouse import WheelhouseError
        from builder.wheelhouse.house import build

        folder = arm64_dir / "wheelhouse-pi"
        try:
            build(folder, REPO, pythons=["3.11"], test_imports=False)
        except WheelhouseError as exc:
            pytest.fail(f"the Pi wheelhouse could not be built: {exc}")
    names = [p.name for p in folder.glob("*.whl")]
    assert any(n.startswith("llama_cpp_python-") and n.endswith("linux_aarch64.whl") for n in names), names
    assert any("cp311" in n and "aarch64" in n for n in names), f"no CPython 3.11 aarch64 wheels in {folder}"
    assert any(n.startswith("suksham_benaud-") for n in names), names
    return folder


@pytest.fixture(scope="session")
def arm64_bundle(arm64_dir) -> Path:
    """The x86 e2e's v1 bundle: the embedded SmolLM2-135M GGUF, sealed (built on x86, served on arm64)."""
    from device.runtime.models import smollm2_gguf_path

    return _seal(arm64_dir / "bundles" / "v1", smollm2_gguf_path(), {"release": "e2e-arm64-v1"})


@pytest.fixture(scope="session")
def arm64_host(arm64_dir):
    host = TestHost(arm64_dir / "host", arch="arm64")
    try:
        yield host.start()
    finally:
        host.close()


@pytest.fixture(scope="session")
def arm64_playbook(arm64_host, arm64_wheelhouse, arm64_dir):
    """The same runner as `playbook`, with the waits a Cortex-A76 emulated on 2 shared x86 cores needs."""
    text = (REPO / "device/budgets/pi5-4gb.toml").read_text()
    budget = arm64_dir / "pi5-4gb.toml"
    budget.write_text(text)
    return playbook_runner(
        arm64_host,
        arm64_wheelhouse,
        arm64_dir / "ansible",
        budget,
        timeout=ARM64_BUDGET_MIN * 60,
        service_threads=min(os.cpu_count() or 1, 4),
        # Everything is 10-50x slower under qemu: the sha256 checks before a start, loading the model,
        # a prompt chunk (the watchdog's unit of progress), a reply.
        service_watchdog_sec=300,
        service_request_timeout=600,
        service_timeout_start_sec=900,
        # MemoryMax counts qemu's own memory too (its translated code and its maps), not only the guest's.
        service_memory_headroom_mb=1024,
        bundle_health_retries=300,
        bundle_health_delay=3,
        bundle_commentary_timeout=600,
        verify_health_retries=300,
        verify_health_delay=3,
        verify_commentary_timeout=600,
    )
