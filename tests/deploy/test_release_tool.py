"""suksham-release, the device-side release tool (POSIX sh), on a folder tree standing in for /opt/suksham.

Rendered from its template with every path pointed into a temporary folder, then driven as the
playbook and the unit drive it: begin/switch/prove, rollback, pre-start after a cut-off switch, a
corrupted file, a release that does not come up, and pruning to the last 3 proven releases. The
real thing, on the systemd test host, is in test_e2e.py.

    .venv/bin/pytest -q tests/deploy/test_release_tool.py
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import tool
from tests.deploy.testhost import REPO

pytestmark = pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs coreutils' sha256sum")


class Device:
    def __init__(self, root: Path, script: Path):
        self.root, self.script = root, script
        self.bundles, self.releases = root / "bundles", root / "releases"
        self.venv_link, self.current = root / "venv", root / "current"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(["sh", str(self.script), *args], capture_output=True, text=True, timeout=60)
        if check:
            assert proc.returncode == 0, proc.stderr
        return proc

    def bundle(self, name: str) -> str:
        folder = self.bundles / name
        folder.mkdir(parents=True)
        (folder / "benaud-q4_k_m.gguf").write_bytes(b"GGUF" + name.encode() * 100)
        (folder / "Modelfile.benaud").write_text("FROM ./benaud-q4_k_m.gguf\n")
        files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}
        # As the builder writes it (device.util.atomic_write_json), with other tables around it.
        manifest = {
            "format": 1,
            "gguf": "benaud-q4_k_m.gguf",
            "files": files,
            "quants": {"Q4_0": {"x": 1}},
            "base_model": {"sha256": "0" * 64},
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        return str(folder)

    def venv(self, name: str) -> str:
        folder = self.releases / f"venv-{name}"
        if folder.exists():
            return str(folder)
        (folder / "bin").mkdir(parents=True)
        for exe in ("suksham", "python"):
            (folder / "bin" / exe).write_text("#!/bin/sh\n")
            (folder / "bin" / exe).chmod(0o755)
        subprocess.run(
            f"find . -type f | LC_ALL=C sort | xargs sha256sum > {folder}.sha256sums",
            shell=True,
            cwd=folder,
            check=True,
        )
        (folder / ".suksham-complete").touch()
        return str(folder)

    def deploy(self, venv: str, bundle: str) -> None:
        self.run("begin", venv, bundle)
        self.run("switch", venv, bundle)
        self.run("prove", venv, bundle)

    def serving(self) -> tuple[str, str]:
        return str(self.venv_link.readlink()), str(self.current.readlink())

    def proven(self) -> list[str]:
        return (self.releases / "proven").read_text().splitlines()


@pytest.fixture(scope="module")
def script(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("opt")
    out = tmp_path_factory.mktemp("tool")
    overrides = {
        "render_out": out,
        "render_tool_out": out,
        "service_venv_dir": root / "venv",
        "service_bundle_link": root / "current",
        "bundle_root": root / "bundles",
        "runtime_release_root": root / "releases",
        "service_release_checked_file": root / "run-checked",
        "service_budget_src": REPO / "device/budgets/pi5-4gb.toml",
    }
    args = [a for k, v in overrides.items() for a in ("-e", f"{k}={v}")]
    proc = subprocess.run(
        [tool("ansible-playbook"), str(REPO / "tests/deploy/render_units.yml"), *args],
        capture_output=True,
        text=True,
        cwd=REPO / "ansible",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root, out / "suksham-release"


@pytest.fixture
def device(script) -> Device:
    root, tool_path = script
    for child in root.iterdir():
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    return Device(root, tool_path)


def test_the_template_is_posix_sh():
    if shutil.which("dash") is None:
        pytest.skip("dash is not installed")
    proc = subprocess.run(
        ["dash", "-n", str(REPO / "ansible/roles/service/templates/suksham-release.j2")], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def test_a_deploy_switches_both_links_and_records_the_pair_as_proven(device):
    pair = device.venv("1"), device.bundle("a")
    device.deploy(*pair)
    assert device.serving() == pair
    assert device.proven() == [" ".join(pair)]
    assert not (device.releases / "pending").exists()
    assert device.run("verify-bundle", pair[1]).returncode == 0


def test_verify_bundle_reads_the_manifest_and_names_the_bad_file(device):
    bundle = device.bundle("a")
    with open(Path(bundle) / "benaud-q4_k_m.gguf", "ab") as fh:
        fh.write(b"flipped")
    proc = device.run("verify-bundle", bundle, check=False)
    assert proc.returncode != 0 and "benaud-q4_k_m.gguf: FAILED" in proc.stderr, proc.stderr
    (Path(bundle) / "manifest.json").write_text('{"files": {"../../etc/passwd": "' + "0" * 64 + '"}}')
    proc = device.run("verify-bundle", bundle, check=False)
    assert proc.returncode != 0 and "bad name" in proc.stderr, proc.stderr


def test_a_switch_cut_off_by_a_reboot_falls_back_before_the_next_start(device):
    old = device.venv("1"), device.bundle("a")
    device.deploy(*old)
    new = device.venv("2"), device.bundle("b")
    device.run("begin", *new)
    device.run("switch", *new)
    pending = device.releases / "pending"
    pending.write_text("an-earlier-boot " + pending.read_text().split(" ", 1)[1])
    proc = device.run("pre-start")
    assert "cut off by a reboot" in proc.stderr
    assert device.serving() == old
    assert not pending.exists()


def test_a_pending_switch_of_this_boot_is_left_to_the_playbook(device):
    device.deploy(device.venv("1"), device.bundle("a"))
    new = device.venv("2"), device.bundle("b")
    device.run("begin", *new)
    device.run("switch", *new)
    device.run("pre-start")
    assert device.serving() == new


def test_a_corrupted_current_bundle_falls_back_to_the_newest_proven_pair_that_verifies(device):
    pairs = []
    for venv, bundle in (("1", "a"), ("1", "b"), ("2", "c")):
        pairs.append((device.venv(venv), device.bundle(bundle)))
        device.deploy(*pairs[-1])
    first, second, third = pairs
    for bundle in (second[1], third[1]):
        with open(Path(bundle) / "Modelfile.benaud", "a") as fh:
            fh.write("PARAMETER temperature 9\n")
    device.run("pre-start")
    assert device.serving() == first


def test_a_release_that_does_not_come_up_is_left_after_max_tries_starts(device):
    old = device.venv("1"), device.bundle("a")
    device.deploy(*old)
    new = device.venv("2"), device.bundle("b")
    device.deploy(*new)
    for _ in range(3):  # three starts that never reached READY (no post-start)
        device.run("pre-start")
        assert device.serving() == new
    proc = device.run("pre-start")
    assert "did not come up in 3 starts" in proc.stderr
    assert device.serving() == old


def test_post_start_clears_the_failed_start_count(device):
    device.deploy(device.venv("1"), device.bundle("a"))
    new = device.venv("2"), device.bundle("b")
    device.deploy(*new)
    for _ in range(5):
        device.run("pre-start")
        device.run("post-start")
    assert device.serving() == new


def test_rollback_from_a_failed_gate_puts_the_previous_pair_back_and_prunes_the_failed_one(device):
    old = device.venv("1"), device.bundle("a")
    device.deploy(*old)
    bad = device.venv("2"), device.bundle("b")
    device.run("begin", *bad)
    device.run("switch", *bad)
    device.run("rollback")
    assert device.serving() == old
    assert not Path(bad[1]).exists() and not Path(bad[0]).exists()


def test_prove_refuses_when_the_device_fell_back_on_its_own(device):
    old = device.venv("1"), device.bundle("a")
    device.deploy(*old)
    new = device.venv("1"), device.bundle("b")
    device.run("begin", *new)
    device.run("switch", *new)
    device.run("rollback")
    proc = device.run("prove", *new, check=False)
    assert proc.returncode != 0 and "fell back on its own" in proc.stderr


def test_only_the_last_three_proven_releases_are_kept(device):
    pairs = []
    for i, name in enumerate("abcde"):  # each release is copied just before its switch, as the playbook does
        pairs.append((device.venv("1" if i < 3 else "2"), device.bundle(name)))
        device.deploy(*pairs[-1])
    assert device.proven() == [" ".join(p) for p in pairs[-3:]]
    assert sorted(p.name for p in device.bundles.iterdir()) == ["c", "d", "e"]
    assert sorted(p.name for p in device.releases.glob("venv-*") if p.is_dir()) == ["venv-1", "venv-2"]


def test_adopt_takes_what_a_pre_release_device_serves_as_proven(device):
    venv, bundle = device.venv("legacy"), device.bundle("a")
    device.venv_link.symlink_to(venv)
    device.current.symlink_to(bundle)
    assert "adopted" in device.run("adopt").stdout
    assert device.proven() == [f"{venv} {bundle}"]
    assert device.run("adopt").stdout == ""  # once only


def test_rollback_after_the_device_fell_back_on_its_own_stays_on_that_release(device):
    """A failed gate after the device already left a bad release (pre-start) must not go back further."""
    first = device.venv("1"), device.bundle("a")
    device.deploy(*first)
    second = device.venv("1"), device.bundle("b")
    device.deploy(*second)
    bad = device.venv("2"), device.bundle("c")
    device.run("begin", *bad)
    device.run("switch", *bad)
    for _ in range(4):  # it crashes before READY; the 4th start falls back to `second`
        device.run("pre-start")
    assert device.serving() == second
    proc = device.run("rollback")
    assert "already serving the proven" in proc.stderr
    assert device.serving() == second


def test_a_changed_venv_file_is_caught_when_it_would_be_fallen_back_to(device):
    """Before a start only the venv's shape is checked (fast); a fallback target's sha256s in full."""
    old = device.venv("1"), device.bundle("a")
    device.deploy(*old)
    new = device.venv("2"), device.bundle("b")
    device.deploy(*new)
    (Path(old[0]) / "bin/suksham").write_text("#!/bin/sh\nexit 1\n")
    assert "files changed since it was installed" in device.run("verify-venv", old[0], check=False).stderr
    for _ in range(4):
        device.run("pre-start")
    assert device.serving() == new  # nothing that verifies to fall back to: it keeps trying


def test_a_restart_in_the_same_boot_skips_the_sha256s_and_a_new_boot_checks_again(device):
    old = device.venv("1"), device.bundle("a")
    device.deploy(*old)
    new = device.venv("2"), device.bundle("b")
    device.deploy(*new)
    device.run("pre-start")
    device.run("post-start")
    checked = device.root / "run-checked"
    assert checked.read_text().split()[1:] == list(new)
    with open(Path(new[1]) / "benaud-q4_k_m.gguf", "ab") as fh:
        fh.write(b"bit rot")
    device.run("pre-start")  # same boot: left to the server's own check and the failed-start count
    device.run("post-start")
    assert device.serving() == new
    checked.write_text("an-earlier-boot " + " ".join(new) + "\n")
    device.run("pre-start")
    assert device.serving() == old
