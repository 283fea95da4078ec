"""End to end: ansible/site.yml provisions a real Debian bookworm host booted with systemd.

The host runs under systemd-nspawn and is reached only at 10.231.0.2 over its veth link
(tests/deploy/testhost.py). Needs root; skipped loudly elsewhere. Tests run in file order and
share one host: provisioned by the playbook as it was before releases, upgraded by today's,
idempotence, serving, crash and hang recovery, updates and rollbacks, a power cut in the middle of
a switch, and idle connections.

    sudo .venv/bin/pytest -m e2e tests/deploy/test_e2e.py -x -q
"""

from __future__ import annotations

import base64
import hashlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import threading
import time
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.deploy.testhost import GUEST_ADDR, REPO

pytestmark = pytest.mark.e2e
URL = f"http://{GUEST_ADDR}:8222"
EVENT = {"event": "Starc to Kohli, FOUR, driven through cover"}
# The last commit whose playbook installed the venv in place, with no releases: the upgrade's start.
BEFORE_RELEASES = "ea1162c7ae529603802550e4d9afa742fd157e06"
# That playbook's verifier imported device.bundle; the package has moved since (same function).
VERIFY_EITHER = """import sys
try:
    from device.runtime.bundle import BundleError, verify_bundle
except ImportError:
    from device.bundle import BundleError, verify_bundle
try:
    verify_bundle(sys.argv[1])
except BundleError as exc:
    sys.exit(f"refused: {exc}")
print("verified", sys.argv[1])
"""


def wait_healthy(timeout: float = 90) -> float:
    """Seconds until GET /health answers 200 over the veth link."""
    start = time.monotonic()
    last = None
    while time.monotonic() - start < timeout:
        try:
            last = httpx.get(f"{URL}/health", timeout=3)
            if last.status_code == 200:
                return time.monotonic() - start
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"{URL}/health not 200 within {timeout}s: {last!r}")


def wait_new_pid(host, old: int, timeout: float) -> tuple[int, float]:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        pid = host.main_pid()
        if (
            pid
            and pid != old
            and host.ssh("systemctl is-active suksham-benaud", check=False).stdout.strip() == "active"
        ):
            return pid, time.monotonic() - start
        time.sleep(0.25)
    status = host.ssh("systemctl status suksham-benaud --no-pager -n 20", check=False).stdout
    raise AssertionError(f"no restart within {timeout}s (MainPID still {old}):\n{status}")


def current_target(host) -> str:
    return host.ssh("readlink /opt/suksham/current").stdout.strip()


def api_key(host) -> str:
    return host.ssh("cat /etc/suksham/api-key").stdout.strip()


def commentary(host, timeout: float = 60) -> httpx.Response:
    return httpx.post(
        f"{URL}/v1/commentary", json=EVENT, timeout=timeout, headers={"Authorization": f"Bearer {api_key(host)}"}
    )


def restarts(host) -> int:
    return int(host.ssh("systemctl show -p NRestarts --value suksham-benaud").stdout.strip() or 0)


class HealthWatch:
    """GET /health every 0.5 s in a thread; `longest_gap` is the longest stretch without a 200."""

    def __init__(self):
        self.samples: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                ok = httpx.get(f"{URL}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                ok = False
            self.samples.append((time.monotonic(), ok))
            self._stop.wait(0.5)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)

    def longest_gap(self) -> float:
        gap, since = 0.0, None
        for when, ok in self.samples:
            if not ok and since is None:
                since = when
            elif ok and since is not None:
                gap, since = max(gap, when - since), None
        return max(gap, self.samples[-1][0] - since) if since is not None else gap


@pytest.fixture(scope="module")
def legacy_ansible(e2e_dir) -> Path:
    """ansible/ as it was before releases (from git), to provision the host the way existing Pis were."""
    if (
        shutil.which("git") is None
        or subprocess.run(["git", "-C", str(REPO), "cat-file", "-e", BEFORE_RELEASES], capture_output=True).returncode
        != 0
    ):
        pytest.skip(
            f"the upgrade test needs the repo's history (commit {BEFORE_RELEASES[:12]}); a shallow clone lacks it"
        )
    folder = e2e_dir / "legacy"
    folder.mkdir(exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", BEFORE_RELEASES, "ansible"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "ansible"


@pytest.fixture(scope="module")
def converged(playbook, bundles, legacy_ansible, testhost):
    legacy = playbook(
        ansible_dir=legacy_ansible,
        bundle_src=bundles["v1"],
        bundle_verify_code=VERIFY_EITHER,
        bundle_controller_pythonpath=str(REPO),
        # That role's cache_valid_time turned base_apt_update_cache: false back into an update once the
        # lists were a day old (fixed since); 0 is how a Pi without a mirror ran it.
        base_apt_cache_valid_time=0,
    )
    assert legacy.returncode == 0, legacy.output[-6000:]
    assert testhost.ssh("test -d /opt/suksham/venv -a ! -L /opt/suksham/venv", check=False).returncode == 0
    before = current_target(testhost)
    wait_healthy()
    # A Pi set up by that playbook moves to releases with a normal run of today's.
    with HealthWatch() as watch:
        first = playbook(bundle_src=bundles["v1"], verify_budget_check=True)
    assert first.returncode == 0, first.output[-6000:]
    print(f"upgrade to releases: longest /health gap {watch.longest_gap():.1f} s over {len(watch.samples)} probes")
    assert watch.samples[-1][1], "not serving at the end of the upgrade"
    # A restart (unit change, then the new venv) is a gap of a few seconds, never an outage.
    assert watch.longest_gap() < 30
    assert current_target(testhost) == before
    venv = testhost.ssh("readlink /opt/suksham/venv").stdout.strip()
    assert venv.startswith("/opt/suksham/releases/venv-") and venv != "/opt/suksham/releases/venv-legacy"
    proven = testhost.ssh("cat /opt/suksham/releases/proven").stdout.splitlines()
    assert proven == [f"/opt/suksham/releases/venv-legacy {before}", f"{venv} {before}"], proven
    # `suksham check` ran against the Pi budget; on this x86 host its verdict is reported, not enforced.
    assert "Check the bundle against the Pi's budget" in first.output and "max_rss_mb" in first.output
    return first


def test_playbook_converges_then_a_second_run_changes_nothing(converged, playbook, bundles):
    assert converged.recap()[GUEST_ADDR]["changed"] > 0
    second = playbook(bundle_src=bundles["v1"])
    assert second.returncode == 0, second.output[-6000:]
    recap = second.recap()[GUEST_ADDR]
    assert recap["changed"] == 0, f"second run changed: {second.changed_tasks()}"
    assert recap["failed"] == 0


def test_service_is_active_hardened_and_answers_over_veth(converged, testhost):
    assert testhost.ssh("systemctl is-active suksham-benaud").stdout.strip() == "active"
    assert testhost.ssh("systemctl is-enabled suksham-bench.timer").stdout.strip() == "enabled"
    props = testhost.ssh(
        "systemctl show suksham-benaud -p User -p Type -p WatchdogUSec -p MemoryMax "
        "-p MemoryDenyWriteExecute -p NRestarts -p LimitNOFILE -p LimitNOFILESoft"
    ).stdout
    assert "User=suksham" in props and "Type=notify" in props and "WatchdogUSec=15s" in props, props
    assert "LimitNOFILE=8192" in props and "LimitNOFILESoft=8192" in props, props
    limits = testhost.ssh(f"grep 'Max open files' /proc/{testhost.main_pid()}/limits").stdout.split()
    assert limits[3:5] == ["8192", "8192"], limits
    # The finding recorded in ansible/README.md: llama-cpp-python (ctypes callbacks) loads and answers
    # with MemoryDenyWriteExecute=yes on Debian bookworm.
    assert "MemoryDenyWriteExecute=yes" in props, props
    exposure = testhost.ssh("systemd-analyze security suksham-benaud --no-pager | tail -1").stdout
    assert float(exposure.split("level for suksham-benaud.service:")[1].split()[0]) <= 2.0, exposure

    assert httpx.get(f"{URL}/health", timeout=5).status_code == 200
    event = {"event": "Starc to Kohli, FOUR, driven through cover"}
    assert httpx.post(f"{URL}/v1/commentary", json=event, timeout=30).status_code == 401
    reply = httpx.post(
        f"{URL}/v1/commentary", json=event, timeout=60, headers={"Authorization": f"Bearer {api_key(testhost)}"}
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert isinstance(body["text"], str) and isinstance(body["silent"], bool)
    print(f"commentary over veth: {body}")


def test_memory_deny_write_execute_is_enforced_on_the_test_host(testhost):
    """So that "the service answers with MemoryDenyWriteExecute=yes" means something here."""
    wx = (
        "import mmap; mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC); "
        "print('W+X mapping allowed')"
    )
    blocked = testhost.ssh(
        f'systemd-run --quiet --wait --pipe -p MemoryDenyWriteExecute=yes python3 -c "{wx}"', check=False
    )
    allowed = testhost.ssh(f'systemd-run --quiet --wait --pipe python3 -c "{wx}"', check=False)
    assert allowed.returncode == 0 and "W+X mapping allowed" in allowed.stdout, allowed
    assert blocked.returncode != 0 and "W+X mapping allowed" not in blocked.stdout, blocked


def test_kill_9_is_followed_by_a_restart_within_10_s(converged, testhost):
    wait_healthy()
    old = testhost.main_pid()
    testhost.ssh(f"kill -9 {old}")
    _pid, seconds = wait_new_pid(testhost, old, timeout=10)
    print(f"kill -9: restarted in {seconds:.1f} s")
    wait_healthy()


def test_kill_stop_is_followed_by_a_watchdog_restart(converged, testhost):
    wait_healthy()
    old = testhost.main_pid()
    testhost.ssh(f"kill -STOP {old}")
    # WatchdogSec=15 in this test: the pings stop, systemd aborts the frozen process and restarts it.
    _pid, seconds = wait_new_pid(testhost, old, timeout=45)
    journal = testhost.ssh("journalctl -u suksham-benaud --no-pager -n 50").stdout
    assert "Watchdog timeout" in journal, journal
    print(f"kill -STOP: watchdog restart after {seconds:.1f} s")
    wait_healthy()


def _chat(host, max_tokens: int, timeout: float = 60) -> tuple[httpx.Response, float]:
    body = {
        "messages": [{"role": "user", "content": "Write a very long story about a cricket match, ball by ball."}],
        "max_tokens": max_tokens,
        "temperature": 0.8,
        "seed": 7,
    }
    start = time.monotonic()
    reply = httpx.post(
        f"{URL}/v1/chat/completions",
        json=body,
        timeout=timeout,
        headers={"Authorization": f"Bearer {api_key(host)}"},
    )
    return reply, time.monotonic() - start


def test_one_job_longer_than_watchdog_sec_does_not_get_the_service_killed(converged, testhost):
    """Issue 17, finding 1, under the real unit: the old probe waited WatchdogSec/4 for the engine's lock, so
    one job of 0.75 x WatchdogSec was always fatal. Here a busy neighbour slows one chat reply past
    WatchdogSec=15 (the service's threads pinned to one CPU beside eight spinning units on it: the kernel's
    scheduler, nothing mocked), and the same process must answer it and stay up; kill -STOP above shows the
    watchdog still fires when it should. (CPUQuota would be neater, but the test host's cgroup has no CPU
    controller: a 5% quota left the reply at full speed; nor does nice, each unit being its own autogroup.)"""
    wait_healthy()
    pid, before = testhost.main_pid(), restarts(testhost)
    kills = testhost.ssh("journalctl -u suksham-benaud --no-pager").stdout.count("Watchdog timeout")
    neighbours = " ".join(f"e2e-neighbour-{i}" for i in range(1, 9))
    testhost.ssh(
        f"for u in {neighbours}; do systemd-run --unit=$u -p CPUAffinity=0 "
        "timeout 60 sh -c 'while :; do :; done'; done && "
        f"taskset -a -p -c 0 {pid} >/dev/null"
    )
    try:
        # A 256-token reply takes ~3 s at full speed here; with a ninth of a CPU the request timeout (30 s) may
        # end it first (504). Either way the engine was busy longer than WatchdogSec.
        reply, seconds = _chat(testhost, 256, timeout=120)
        alive = testhost.main_pid() == pid and restarts(testhost) == before
    finally:
        # Every neighbour gone before anything else runs: a service started beside them makes no progress on
        # CPU 0 (one of its two OpenMP threads) and is rightly killed by its watchdog.
        testhost.ssh(f"systemctl stop {neighbours}", check=False)
        left = testhost.ssh(f"systemctl is-active {neighbours}", check=False).stdout.split()
        assert set(left) <= {"inactive", "failed"}, left
    tokens = reply.json()["usage"]["completion_tokens"] if reply.status_code == 200 else None
    print(f"one chat job beside a busy neighbour: {reply.status_code} in {seconds:.1f} s, {tokens} tokens")
    assert reply.status_code in (200, 504), reply.text  # 504: the request timeout, not the watchdog, ended it
    assert seconds > 15, f"the job took {seconds:.1f} s: not past WatchdogSec=15, so it shows nothing"
    assert alive, "the watchdog killed a busy server"
    assert testhost.ssh("journalctl -u suksham-benaud --no-pager").stdout.count("Watchdog timeout") == kills
    testhost.ssh(f"taskset -a -p -c 0-$(($(nproc) - 1)) {pid} >/dev/null")  # back to every CPU
    wait_healthy()


def test_the_hardened_bench_service_writes_a_report(converged, testhost):
    # Oneshot: `systemctl start` returns when the benchmark has finished (or failed).
    run = testhost.ssh("systemctl start suksham-bench.service", check=False, timeout=600)
    journal = testhost.ssh("journalctl -u suksham-bench --no-pager -n 30").stdout
    assert run.returncode == 0, journal
    listing = testhost.ssh("ls /var/lib/suksham-bench/latest").stdout.split()
    assert {"report.json", "report.md", "report.html"} <= set(listing), listing
    assert (
        testhost.ssh("systemctl show suksham-bench -p MemoryDenyWriteExecute").stdout.strip()
        == "MemoryDenyWriteExecute=yes"
    )


def test_an_update_switches_current_and_serves_the_new_bundle(converged, playbook, bundles, testhost):
    before = current_target(testhost)
    update = playbook(bundle_src=bundles["v2"])
    assert update.returncode == 0, update.output[-6000:]
    after = current_target(testhost)
    assert after != before and after.startswith("/opt/suksham/bundles/")
    manifest = testhost.ssh("cat /opt/suksham/current/manifest.json").stdout
    assert '"release": "e2e-v2"' in manifest
    wait_healthy()


def test_reusing_a_bundle_version_for_other_content_is_refused(converged, playbook, bundles, testhost):
    serving = current_target(testhost)
    pid = testhost.main_pid()
    # Straight to the bundle role: the refusal comes before anything else of it is needed.
    at_bundle = ("--start-at-task", "Hash the bundle's manifest on the controller")
    run = playbook(bundle_src=bundles["v1"], bundle_version=Path(serving).name, args=at_bundle)
    assert run.returncode != 0
    assert f"REFUSED: release {Path(serving).name} on this device already holds another bundle" in run.output, (
        run.output[-4000:]
    )
    assert current_target(testhost) == serving and testhost.main_pid() == pid
    assert '"release": "e2e-v2"' in testhost.ssh(f"cat {serving}/manifest.json").stdout
    testhost.ssh(f"/usr/local/sbin/suksham-release verify-bundle {serving}")


def test_a_corrupted_bundle_is_refused_and_the_previous_keeps_serving(converged, playbook, bundles, testhost):
    serving = current_target(testhost)
    pid = testhost.main_pid()
    run = playbook(bundle_src=bundles["corrupt"])
    assert run.returncode != 0
    assert "sha256 does not match the manifest" in run.output, run.output[-4000:]
    assert current_target(testhost) == serving
    assert testhost.main_pid() == pid, "the service must not even restart for a refused bundle"
    assert httpx.get(f"{URL}/health", timeout=5).status_code == 200
    # It never reached the device: the controller refused it before copying.
    assert testhost.ssh("grep -l e2e-corrupt /opt/suksham/bundles/*/manifest.json", check=False).returncode != 0
    # The server itself refuses it too, should anyone copy it there by hand.
    subprocess.run(
        ["scp", "-q", "-r", *testhost.ssh_args(), str(bundles["corrupt"]), f"root@{GUEST_ADDR}:/srv/"],
        check=True,
        timeout=120,
    )
    direct = testhost.ssh(
        "chmod -R a+rX /srv/corrupt && runuser -u suksham -- /opt/suksham/venv/bin/suksham serve "
        "--bundle /srv/corrupt --port 8299",
        check=False,
    )
    assert direct.returncode != 0 and "sha256" in direct.stderr, direct


def test_a_bundle_that_fails_its_health_check_is_rolled_back(converged, playbook, bundles, testhost):
    serving = current_target(testhost)
    run = playbook(bundle_src=bundles["broken"], bundle_health_retries=10, bundle_health_delay=1)
    assert run.returncode != 0
    assert "Rolled back to " + serving in run.output, run.output[-4000:]
    assert current_target(testhost) == serving
    wait_healthy()
    # The failed release is pruned from the card; only proven releases stay.
    assert testhost.ssh("grep -l e2e-broken /opt/suksham/bundles/*/manifest.json", check=False).returncode != 0


def test_a_bad_wheel_is_rolled_back_to_the_previous_venv(converged, playbook, bundles, testhost, wheelhouse, e2e_dir):
    """A wheel that installs and says --version, but whose server never starts: the venv goes back too."""
    bad = e2e_dir / "wheelhouse-bad"
    shutil.rmtree(bad, ignore_errors=True)
    shutil.copytree(wheelhouse, bad)
    (wheel,) = bad.glob("suksham_benaud-*.whl")
    break_wheel(wheel)
    venv, serving = testhost.ssh("readlink /opt/suksham/venv").stdout.strip(), current_target(testhost)
    run = playbook(
        bundle_src=bundles["v2"], runtime_wheelhouse_src=bad, bundle_health_retries=15, bundle_health_delay=1
    )
    assert run.returncode != 0
    assert "Rolled back to " + serving in run.output, run.output[-4000:]
    assert testhost.ssh("readlink /opt/suksham/venv").stdout.strip() == venv
    assert current_target(testhost) == serving
    wait_healthy()
    assert commentary(testhost).status_code == 200
    assert testhost.ssh("ls -d /opt/suksham/releases/venv-*/ | wc -l").stdout.strip() in ("2", "3")


def break_wheel(wheel: Path) -> None:
    """Rewrite `wheel` so that `suksham serve` exits at once (RECORD updated, so pip installs it)."""
    patch = b'\nimport sys\nif "serve" in sys.argv:\n    raise SystemExit("e2e: a deliberately broken wheel")\n'
    tmp = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        record_name = next(n for n in src.namelist() if n.endswith(".dist-info/RECORD"))
        files = {n: src.read(n) for n in src.namelist() if n != record_name}
        files["device/__init__.py"] = files["device/__init__.py"] + patch
        rows = []
        for name, data in files.items():
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            rows.append(f"{name},sha256={digest},{len(data)}")
            dst.writestr(name, data)
        dst.writestr(record_name, "\n".join(rows + [f"{record_name},,"]) + "\n")
    tmp.replace(wheel)


def test_the_watchdog_fired_only_for_the_stopped_process(converged, testhost):
    """A healthy service is never killed by its own watchdog (only the kill -STOP above may be)."""
    journal = testhost.ssh("journalctl -u suksham-benaud --no-pager").stdout
    assert journal.count("Watchdog timeout") == 1, journal[-4000:]


def test_a_power_cut_in_the_middle_of_a_switch_boots_into_a_proven_release(converged, playbook, bundles, testhost):
    wait_healthy()
    serving = current_target(testhost)
    # The play waits, with both links switched and nothing proven yet, until this file appears.
    proc, log = playbook.start(bundle_src=bundles["v1"], bundle_test_pause_file="/run/suksham-e2e-go")
    try:
        deadline = time.monotonic() + 600
        while True:
            pending = testhost.ssh("cat /opt/suksham/releases/pending", check=False).stdout.split()
            if len(pending) == 3 and current_target(testhost) == pending[2]:
                break
            assert proc.poll() is None, log.read_text()[-4000:]
            assert time.monotonic() < deadline, "the play never reached the middle of the switch"
            time.sleep(1)
        assert pending[2] != serving
        testhost.hard_stop()
    finally:
        try:  # the play lost its host with the power
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    # The play's SSH masters still hold connections to the host that lost its power.
    for sock in playbook.control_dir.glob("*"):
        sock.unlink()
    testhost.boot()
    seconds = wait_healthy(120)
    print(f"power cut mid-switch: serving again {seconds:.1f} s after boot")
    assert current_target(testhost) == serving
    assert httpx.get(f"{URL}/health", timeout=5).json()["verified"] is True
    assert commentary(testhost).status_code == 200
    journal = testhost.ssh("journalctl -b -u suksham-benaud --no-pager").stdout
    assert "cut off by a reboot before it was proven" in journal, journal[-3000:]
    assert "pending: none" in testhost.ssh("/usr/local/sbin/suksham-release status").stdout


def test_idle_connections_and_a_slow_header_client_leave_the_service_up(converged, testhost):
    """Issue 17: ~1000 idle TCP connections used to exhaust the descriptors and get the service killed."""
    wait_healthy()
    pid, before = testhost.main_pid(), restarts(testhost)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 4096), hard), hard))
    idle: list[socket.socket] = []
    slow_closed_after: list[float] = []
    stop = threading.Event()

    def slow_headers():
        start = time.monotonic()
        with socket.create_connection((GUEST_ADDR, 8222), timeout=5) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: e2e\r\n")
            while not stop.is_set():
                try:
                    sock.sendall(b"X-Slow: 1\r\n")
                    sock.settimeout(2)
                    if sock.recv(1024) == b"":
                        break  # the server closed it
                except TimeoutError:
                    continue
                except OSError:
                    break
        slow_closed_after.append(time.monotonic() - start)

    slow = threading.Thread(target=slow_headers, daemon=True)
    try:
        failed = 0
        while len(idle) < 2000 and failed < 50:
            try:
                idle.append(socket.create_connection((GUEST_ADDR, 8222), timeout=2))
            except OSError:
                failed += 1
        opened = time.monotonic()
        slow.start()
        print(f"idle connections open: {len(idle)} ({failed} refused or timed out)")
        health = httpx.get(f"{URL}/health", timeout=20)
        assert health.status_code == 200, health.text
        reply = commentary(testhost, timeout=60)
        assert reply.status_code == 200, reply.text
        # Past the watchdog (15 s here) and the server's header timeout, with every idle socket still open.
        time.sleep(max(0.0, 25 - (time.monotonic() - opened)))
        assert httpx.get(f"{URL}/health", timeout=20).status_code == 200
        assert commentary(testhost, timeout=60).status_code == 200
        assert testhost.main_pid() == pid and restarts(testhost) == before
        slow.join(timeout=10)
        assert slow_closed_after and slow_closed_after[0] < 20, "the slow-header client was never cut off"
    finally:
        stop.set()
        for sock in idle:
            sock.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    journal = testhost.ssh("journalctl -b -u suksham-benaud --no-pager").stdout
    assert "Watchdog timeout" not in journal, journal[-3000:]
