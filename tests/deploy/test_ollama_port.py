"""The playbook never runs a real Ollama and the service's own Ollama API on one Pi (issue 18).

.venv/bin/pytest -q tests/deploy/test_ollama_port.py
"""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.deploy.conftest import ANSIBLE_DIR, tool

ENV = dict(os.environ, ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"), ANSIBLE_NOCOLOR="1")


def play(tmp_path, role: str, **extra) -> subprocess.CompletedProcess:
    """Run `role` on localhost; its first task is the check, so with both set nothing else runs."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        f"- hosts: localhost\n  connection: local\n  gather_facts: false\n  roles:\n    - role: {role}\n"
    )
    args = [a for k, v in extra.items() for a in ("-e", f"{k}={v}")]
    return subprocess.run(
        [tool("ansible-playbook"), "-i", "localhost,", str(playbook), *args],
        cwd=ANSIBLE_DIR,
        env={**ENV, "ANSIBLE_ROLES_PATH": str(ANSIBLE_DIR / "roles")},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("role", ["service", "ollama"])
def test_both_ollamas_on_one_pi_are_refused_before_anything_changes(tmp_path, role):
    proc = play(tmp_path, role, service_ollama_port=11434, ollama_enabled=True)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "service_ollama_port" in out and "ollama_enabled" in out, out[-2000:]
    assert "changed=0" in out  # the check is the first task: nothing ran before it


def test_a_real_ollama_alone_passes_the_check(tmp_path):
    proc = play(tmp_path, "ollama", ollama_enabled=True)  # then stops at the next check: no pinned sha256 here
    out = proc.stdout + proc.stderr
    assert "Set ollama_sha256" in out and "service_ollama_port is set" not in out, out[-2000:]
