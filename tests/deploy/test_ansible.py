"""The playbooks: ansible-lint (production profile), --syntax-check, the example inventory, role rules.

.venv/bin/pytest -q tests/deploy/test_ansible.py
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import ANSIBLE_DIR, tool

PLAYBOOKS = ["site.yml", "flash.yml"]
ROLES = sorted(p.name for p in (ANSIBLE_DIR / "roles").iterdir() if p.is_dir())
ENV = dict(os.environ, ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"), ANSIBLE_NOCOLOR="1")


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), cwd=ANSIBLE_DIR, env=ENV, capture_output=True, text=True, timeout=300)


def test_ansible_lint_production_profile_is_clean():
    proc = run(tool("ansible-lint"), "--profile", "production", "--offline")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_syntax_check(playbook):
    proc = run(tool("ansible-playbook"), "--syntax-check", "-i", "inventory/example/hosts.yml", playbook)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_example_inventory_has_both_pi_groups_with_their_budgets():
    proc = run(tool("ansible-inventory"), "-i", "inventory/example/hosts.yml", "--list")
    assert proc.returncode == 0, proc.stderr
    inventory = json.loads(proc.stdout)
    assert set(inventory["suksham"]["children"]) == {"pi5_4gb", "pi5_8gb"}
    for group, budget in [("pi5_4gb", "pi5-4gb.toml"), ("pi5_8gb", "pi5-8gb.toml")]:
        host_vars = yaml.safe_load((ANSIBLE_DIR / "inventory/example/group_vars" / f"{group}.yml").read_text())
        assert host_vars["service_budget_src"].endswith(budget)
        assert (ANSIBLE_DIR.parent / "device/budgets" / budget).is_file()


def test_site_runs_a_fleet_in_batches_that_stop_on_failure():
    play = yaml.safe_load((ANSIBLE_DIR / "site.yml").read_text())[0]
    assert "serial" in play and "max_fail_percentage" in play


@pytest.mark.parametrize("role", ROLES)
def test_role_variables_carry_the_role_prefix(role):
    defaults = ANSIBLE_DIR / "roles" / role / "defaults/main.yml"
    names = list(yaml.safe_load(defaults.read_text()) or {})
    assert names, f"{role} has no defaults"
    assert all(name.startswith(f"{role}_") for name in names), names


@pytest.mark.parametrize("role", ROLES)
def test_role_task_names_are_sentences(role):
    for tasks in (ANSIBLE_DIR / "roles" / role).glob("*/main.yml"):
        if tasks.parent.name not in ("tasks", "handlers"):
            continue
        for task in _tasks(yaml.safe_load(tasks.read_text()) or []):
            name = task.get("name", "")
            assert name[:1].isupper() and len(name.split()) >= 3, f"{tasks}: {name!r}"


def _tasks(items):
    for item in items:
        yield item
        for key in ("block", "rescue", "always"):
            yield from _tasks(item.get(key, []))


def test_read_only_commands_never_report_changed():
    for tasks in (ANSIBLE_DIR / "roles").glob("*/tasks/*.yml"):
        for task in _tasks(yaml.safe_load(tasks.read_text()) or []):
            module = next((k for k in task if k in ("ansible.builtin.command", "ansible.builtin.shell")), None)
            if module is None:
                continue
            args = task[module]
            guarded = "changed_when" in task or (isinstance(args, dict) and "creates" in args)
            assert guarded, f"{tasks}: {task['name']} needs changed_when or creates"


def test_lint_would_catch_a_bad_task(tmp_path: Path):
    """ansible-lint really checks: a task without a name using a short module name fails the profile."""
    bad = tmp_path / "bad.yml"
    bad.write_text("---\n- hosts: all\n  tasks:\n    - shell: echo hi\n")
    proc = subprocess.run(
        [tool("ansible-lint"), "--profile", "production", "--offline", str(bad)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode != 0


def test_the_ollama_role_reads_the_gguf_name_from_the_manifest():
    """A bundle's GGUF is whatever its manifest's `gguf` names; the role must not assume one."""
    role = ANSIBLE_DIR / "roles/ollama"
    for path in [*role.glob("tasks/*.yml"), *role.glob("defaults/*.yml")]:
        named = set(re.findall(r"[\w-]+\.gguf\b", path.read_text())) - {"ollama_manifest_json.gguf"}
        assert not named, f"{path} names a GGUF file: {named}"
    tasks = (role / "tasks/main.yml").read_text()
    assert "ollama_manifest_json.gguf" in tasks and "ollama_files[ollama_gguf_name]" in tasks


def test_secrets_in_requests_are_not_logged():
    """Every uri task that sends the API key has no_log (issue 17: the verify role's did not)."""
    for tasks in (ANSIBLE_DIR / "roles").glob("*/tasks/*.yml"):
        for task in _tasks(yaml.safe_load(tasks.read_text()) or []):
            args = task.get("ansible.builtin.uri")
            if isinstance(args, dict) and "Authorization" in (args.get("headers") or {}):
                assert task.get("no_log") is True, f"{tasks}: {task['name']} sends the key without no_log"
