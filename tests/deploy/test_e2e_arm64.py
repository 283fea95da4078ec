"""End to end on arm64: ansible/site.yml converges an arm64 Debian bookworm host booted with systemd.

The host is the x86 e2e host's machinery (tests/deploy/testhost.py) with arch="arm64": an arm64 root
made by `debootstrap --arch=arm64`, booted by systemd-nspawn, every program in it run by the kernel
through binfmt_misc with qemu-aarch64 on the Pi 5's core (QEMU_CPU=cortex-a76), reached over its veth
link at 10.231.0.2. The real site.yml installs the Pi wheelhouse (`make wheelhouse-pi`'s code, CPython
3.11, linux_aarch64, llama-cpp-python cross-built) offline into a venv release, serves the x86 e2e's
bundle, and must pass its own gates; then health and commentary over the veth link, and a restart
after kill -9. Emulated: nothing here measures a Pi's speed.

Not in `make test` (tens of minutes under qemu on 2 cores); by hand, as root:

    sudo make e2e-arm64
    # = SUKSHAM_ARM64_CONVERGE=1 nice -n 19 .venv/bin/pytest -m arm64 tests/deploy/test_e2e_arm64.py -x -q -s
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.deploy.conftest import ARM64_BUDGET_MIN
from tests.deploy.test_e2e import EVENT, URL, api_key, wait_healthy, wait_new_pid
from tests.deploy.testhost import GUEST_ADDR, QEMU_CPU

# One budget for the module; pytest-timeout holds each test (fixtures included) to it.
pytestmark = [pytest.mark.arm64, pytest.mark.timeout(ARM64_BUDGET_MIN * 60)]
STARTED = time.monotonic()
# Seconds the service may take to answer /health after a (re)start under emulation.
HEALTHY_WITHIN = 900
SYSINFO = (
    "import json, platform, llama_cpp; "
    "print(json.dumps({'machine': platform.machine(), 'python': platform.python_version(), "
    "'system_info': llama_cpp.llama_print_system_info().decode()}))"
)


def elapsed() -> str:
    return f"{(time.monotonic() - STARTED) / 60:.1f} min"


@pytest.fixture(scope="module")
def converged(arm64_playbook, arm64_bundle, arm64_host):
    start = time.monotonic()
    run = arm64_playbook(bundle_src=arm64_bundle)
    print(f"arm64 converge: rc {run.returncode} in {(time.monotonic() - start) / 60:.1f} min ({elapsed()} so far)")
    assert run.returncode == 0, run.output[-8000:]
    print(f"arm64 converge recap: {run.recap()[GUEST_ADDR]}")
    slowest = run.output.split("TASKS RECAP", 1)[-1].splitlines()[3:11]
    print("arm64 converge, slowest tasks:\n" + "\n".join(slowest))
    return run


def test_the_playbook_converges_an_arm64_host(converged, arm64_host, arm64_wheelhouse):
    recap = converged.recap()[GUEST_ADDR]
    assert recap["failed"] == 0 and recap["unreachable"] == 0 and recap["changed"] > 0, recap
    # Both gates of the play passed: the bundle role's commentary gate and the verify role's reply.
    assert "Commentary:" in converged.output, converged.output[-4000:]
    host = arm64_host
    assert host.ssh("uname -m").stdout.strip() == "aarch64"
    # The runtime role built a venv release from the Pi wheelhouse, offline, and linked it.
    venv = host.ssh("readlink /opt/suksham/venv").stdout.strip()
    assert venv.startswith("/opt/suksham/releases/venv-"), venv
    assert host.ssh(f"test -f {venv}/.suksham-complete -a -f {venv}.sha256sums", check=False).returncode == 0
    made = {p.name for p in arm64_wheelhouse.iterdir()}
    shipped = set(host.ssh("ls /opt/suksham/wheelhouse").stdout.split())
    assert shipped == made, shipped ^ made
    (wheel,) = arm64_wheelhouse.glob("llama_cpp_python-*.whl")
    llama = host.ssh(f"{venv}/bin/python -m pip show llama-cpp-python").stdout
    assert f"Version: {wheel.name.split('-')[1]}" in llama, llama
    info = json.loads(host.ssh(f'{venv}/bin/python -c "{SYSINFO}"').stdout)
    print(f"arm64 host venv: {info}")
    assert info["machine"] == "aarch64" and info["python"].startswith("3.11."), info
    # The Pi 5's features, as qemu's Cortex-A76 gives them to every process of the host.
    for on in ("NEON = 1", "DOTPROD = 1", "REPACK = 1"):
        assert on in info["system_info"], info
    for off in ("SVE = 1", "MATMUL_INT8 = 1"):
        assert off not in info["system_info"], info
    # The service itself runs emulated on that CPU model too, from the release.
    pid = host.main_pid()
    environ = host.ssh(f"tr '\\0' '\\n' < /proc/{pid}/environ").stdout.split()
    assert f"QEMU_CPU={QEMU_CPU}" in environ, environ


def test_health_and_commentary_over_the_veth_link(converged, arm64_host):
    assert httpx.get(f"{URL}/health", timeout=30).status_code == 200
    assert httpx.post(f"{URL}/v1/commentary", json=EVENT, timeout=60).status_code == 401
    start = time.monotonic()
    reply = httpx.post(
        f"{URL}/v1/commentary",
        json=EVENT,
        timeout=600,
        headers={"Authorization": f"Bearer {api_key(arm64_host)}"},
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert isinstance(body["text"], str) and isinstance(body["silent"], bool), body
    print(f"arm64 commentary over veth in {time.monotonic() - start:.1f} s (emulated): {body}")


def test_kill_9_is_followed_by_a_restart(converged, arm64_host):
    wait_healthy(HEALTHY_WITHIN)
    old = arm64_host.main_pid()
    arm64_host.ssh(f"kill -9 {old}")
    # RestartSec=2, then suksham-release pre-start and the server's start, all emulated.
    new, seconds = wait_new_pid(arm64_host, old, timeout=120)
    healthy = wait_healthy(HEALTHY_WITHIN)
    print(f"arm64 kill -9: new MainPID {new} after {seconds:.1f} s, healthy {healthy:.1f} s later ({elapsed()})")
    reply = httpx.post(
        f"{URL}/v1/commentary", json=EVENT, timeout=600, headers={"Authorization": f"Bearer {api_key(arm64_host)}"}
    )
    assert reply.status_code == 200, reply.text
    restarts = arm64_host.ssh("systemctl show -p NRestarts --value suksham-benaud").stdout.strip()
    assert int(restarts or 0) >= 1
