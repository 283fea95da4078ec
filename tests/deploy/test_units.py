"""The systemd units: checked-in references equal the template rendering; both verify and are hardened.

`systemd-analyze verify` and `systemd-analyze security --offline=true` run on the unit files
without booting anything (they need systemd >= 252 on this machine).

    .venv/bin/pytest -q tests/deploy/test_units.py
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import tool
from tests.deploy.testhost import REPO

UNITS = ["suksham-benaud.service", "suksham-bench.service", "suksham-bench.timer"]
SERVICES = [u for u in UNITS if u.endswith(".service")] + ["ollama.service"]
MAX_EXPOSURE = 2.0
needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed (apt-get install systemd)"
)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """The unit templates rendered by ansible with the roles' default values."""
    out = tmp_path_factory.mktemp("units")
    proc = subprocess.run(
        [
            tool("ansible-playbook"),
            str(REPO / "tests/deploy/render_units.yml"),
            "-e",
            f"render_out={out}",
            "-e",
            f"service_budget_src={REPO / 'device/budgets/pi5-4gb.toml'}",
            "-e",
            f"render_tool_out={out}",
        ],
        capture_output=True,
        text=True,
        cwd=REPO / "ansible",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory, rendered) -> Path:
    """A root for `systemd-analyze --root`: system units, the rendered units and a stand-in executable."""
    root = tmp_path_factory.mktemp("root")
    (root / "usr/lib/systemd").mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in UNITS + ["ollama.service"]:
        shutil.copy(rendered / unit, root / "etc/systemd/system" / unit)
    for exe in (root / "opt/suksham/venv/bin/suksham", root / "usr/local/bin/ollama"):
        exe.parent.mkdir(parents=True)
        exe.write_text("#!/bin/sh\n")
        exe.chmod(0o755)
    (root / "usr/local/sbin").mkdir(parents=True)
    shutil.copy(rendered / "suksham-release", root / "usr/local/sbin/suksham-release")
    return root


@pytest.mark.parametrize("unit", UNITS)
def test_checked_in_unit_equals_the_template_rendered_with_defaults(rendered, unit):
    reference = (REPO / "systemd" / unit).read_text()
    assert (rendered / unit).read_text() == reference, (
        f"systemd/{unit} differs from the template rendering: regenerate it with\n"
        "  .venv/bin/ansible-playbook tests/deploy/render_units.yml -e render_out=$PWD/systemd "
        "-e service_budget_src=$PWD/device/budgets/pi5-4gb.toml"
    )


def test_memory_max_is_the_budget_plus_headroom():
    budget = (REPO / "device/budgets/pi5-4gb.toml").read_text()
    max_rss = int(re.search(r"(?m)^\s*max_rss_mb\s*=\s*(\d+)", budget).group(1))
    unit = (REPO / "systemd/suksham-benaud.service").read_text()
    assert f"MemoryMax={max_rss + 256}M" in unit


def test_the_service_is_notify_with_a_watchdog_and_restarts_on_failure():
    unit = (REPO / "systemd/suksham-benaud.service").read_text()
    for line in [
        "Type=notify",
        "Restart=on-failure",
        "User=suksham",
        "StateDirectory=suksham",
        "LogsDirectory=suksham",
        "ProtectSystem=strict",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "UMask=0077",
        "NoNewPrivileges=yes",
    ]:
        assert line in unit
    assert re.search(r"(?m)^WatchdogSec=\d+", unit)


def test_the_service_may_hold_8192_open_files():
    """systemd's soft default of 1024 let ~1000 idle connections starve the server (issue 17)."""
    unit = (REPO / "systemd/suksham-benaud.service").read_text()
    assert re.search(r"(?m)^LimitNOFILE=8192$", unit)


def test_the_release_tool_runs_before_and_after_each_start_as_root_and_never_fails_the_start():
    unit = (REPO / "systemd/suksham-benaud.service").read_text()
    assert "ExecStartPre=+-/usr/local/sbin/suksham-release pre-start\n" in unit
    assert "ExecStartPost=+-/usr/local/sbin/suksham-release post-start\n" in unit
    # The serve command itself is another issue's contract: unchanged, from the venv link and `current`.
    assert "ExecStart=/opt/suksham/venv/bin/suksham serve \\\n    --bundle /opt/suksham/current \\\n" in unit


@needs_analyze
@pytest.mark.parametrize("unit", UNITS + ["ollama.service"])
def test_systemd_analyze_verify_is_clean(fake_root, unit):
    proc = subprocess.run(["systemd-analyze", "verify", f"--root={fake_root}", unit], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr.strip() == "", proc.stderr


@needs_analyze
def test_systemd_analyze_verify_catches_a_typo(fake_root):
    """The check above can fail: a misspelt key is reported."""
    unit = fake_root / "etc/systemd/system/suksham-broken.service"
    unit.write_text((fake_root / "etc/systemd/system/suksham-bench.service").read_text().replace("Nice=", "Nicee="))
    proc = subprocess.run(
        ["systemd-analyze", "verify", f"--root={fake_root}", unit.name], capture_output=True, text=True
    )
    unit.unlink()
    assert "Unknown key" in proc.stderr


def exposure(root: Path, unit: str) -> float:
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"--root={root}", "--no-pager", unit],
        capture_output=True,
        text=True,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    return float(match.group(1))


@needs_analyze
@pytest.mark.parametrize("unit", SERVICES)
def test_systemd_analyze_security_exposure(fake_root, unit):
    level = exposure(fake_root, unit)
    print(f"{unit}: exposure {level}")
    assert level <= MAX_EXPOSURE


@needs_analyze
def test_security_scoring_notices_lost_hardening(fake_root):
    """A unit without the sandbox scores far worse, so the threshold above means something."""
    unit = fake_root / "etc/systemd/system/suksham-plain.service"
    unit.write_text("[Service]\nExecStart=/opt/suksham/venv/bin/suksham serve\n")
    level = exposure(fake_root, unit.name)
    unit.unlink()
    assert level > 8.0
