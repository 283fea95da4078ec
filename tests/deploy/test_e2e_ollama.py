"""End to end: the ollama role on the test host, with a STAND-IN for the ollama executable.

A REAL OLLAMA IS NOT EXERCISED HERE: no Ollama binary can be installed on this machine. The
stand-in is a shell script packed into a tarball laid out like Ollama's release (bin/ollama),
installed by the role's own tasks (sha256 pin, unpack, link, hardened unit). It says it is a
stand-in in its output and records every call, so the tests can count `ollama create`.

    sudo .venv/bin/pytest -m e2e tests/deploy/test_e2e_ollama.py -x -q
"""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
CALLS = "/var/lib/ollama/standin-calls.log"
NOTICE = "NOTE: a stand-in for the ollama executable is used; a real Ollama is not exercised by these tests."

STANDIN = r"""#!/bin/sh
# STAND-IN for the ollama executable, used by tests/deploy/test_e2e_ollama.py. Not Ollama.
state=/var/lib/ollama
echo "$(date +%s) $*" >> "$state/standin-calls.log"
echo "ollama STAND-IN (not the real Ollama): $*"
case "$1" in
  serve) exec sleep infinity ;;
  list) ls "$state/standin-models" 2>/dev/null; exit 0 ;;
  create)
    [ "$3" = "-f" ] && [ -f "$4" ] || { echo "stand-in: no Modelfile $4" >&2; exit 1; }
    from=$(sed -n 's|^FROM \./||p' "$4" | head -1)
    [ -n "$from" ] && [ -f "$from" ] || { echo "stand-in: FROM file missing" >&2; exit 1; }
    mkdir -p "$state/standin-models" && sha256sum "$from" > "$state/standin-models/$2" ;;
  show) [ -f "$state/standin-models/$2" ] || { echo "stand-in: model $2 not found" >&2; exit 1; } ;;
  *) exit 0 ;;
esac
"""


@pytest.fixture(scope="module")
def standin_tarball(e2e_dir) -> tuple[Path, str]:
    folder = e2e_dir / "ollama-standin"
    (folder / "bin").mkdir(parents=True, exist_ok=True)
    exe = folder / "bin/ollama"
    exe.write_text(STANDIN)
    exe.chmod(0o755)
    tarball = e2e_dir / "ollama-linux-arm64-standin.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(folder / "bin", arcname="bin")
    return tarball, hashlib.sha256(tarball.read_bytes()).hexdigest()


def creates(host) -> int:
    calls = host.ssh(f"cat {CALLS} 2>/dev/null || true").stdout
    return sum(1 for line in calls.splitlines() if " create suksham-benaud -f Modelfile.benaud" in line)


def test_ollama_role_creates_the_model_once_per_bundle(testhost, playbook, bundles, standin_tarball):
    print(f"\n{NOTICE}")
    tarball, sha = standin_tarball
    ollama = {"ollama_enabled": True, "ollama_tarball": str(tarball), "ollama_sha256": sha}

    first = playbook(bundle_src=bundles["v1"], **ollama)
    assert first.returncode == 0, first.output[-6000:]
    assert "ollama STAND-IN (not the real Ollama)" in testhost.ssh("ollama show suksham-benaud").stdout
    assert testhost.ssh("systemctl is-active ollama").stdout.strip() == "active"
    unit = testhost.ssh("systemctl show ollama -p User -p NoNewPrivileges -p ProtectSystem").stdout
    assert "User=ollama" in unit and "ProtectSystem=strict" in unit
    assert creates(testhost) == 1

    again = playbook(bundle_src=bundles["v1"], **ollama)
    assert again.returncode == 0, again.output[-6000:]
    assert again.recap()[next(iter(again.recap()))]["changed"] == 0, again.changed_tasks()
    assert creates(testhost) == 1, "a rerun with the same bundle must not create the model again"

    update = playbook(bundle_src=bundles["v2"], **ollama)
    assert update.returncode == 0, update.output[-6000:]
    assert creates(testhost) == 2, "a changed bundle must create the model once more"

    pin_check = ("--start-at-task", "Check that the Ollama release is pinned by its sha256")
    wrong = playbook(bundle_src=bundles["v2"], args=pin_check, **{**ollama, "ollama_sha256": "0" * 64})
    assert wrong.returncode != 0 and "REFUSED: the Ollama tarball has sha256" in wrong.output, wrong.output[-3000:]
    print(NOTICE)
