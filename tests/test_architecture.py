"""The layers a newcomer sees in the tree, held by a test: import cycles and layer rules, read with ast.

    device/commentary   standard library only (cricket, the manner, the prompt); shared with the builder
    device/runtime      what a Pi runs; never device.measure, device.cli or builder
    device/measure      budget, bench, reports; may use runtime and commentary
    builder             may use device.commentary, device.runtime, device.measure; never device.cli
    click               only device/cli.py and builder/commands.py

Every import counts, including those inside functions: a lazy import hides a cycle, it does not break it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("device", "builder")
STDLIB = set(sys.stdlib_module_names) | {"__future__"}
CLICK_HOMES = {"device.cli", "builder.commands"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}


def imports_of(name: str, path: Path) -> set[str]:
    """Every module this one imports (absolute names; relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{alias.name}" for alias in node.names)  # `from device import prompt`
    return found


def graph() -> dict[str, set[str]]:
    """Edges between our own modules (a `from pkg import name` edge goes to the module when name is one)."""
    mods = modules()
    edges = {}
    for name, path in mods.items():
        targets = set()
        for imp in imports_of(name, path):
            if imp in mods and imp != name:
                targets.add(imp)
        edges[name] = targets
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None. Packages' __init__ edges to their children are ignored."""
    WHITE, GREY, BLACK = 0, 1, 2
    color = dict.fromkeys(edges, WHITE)
    stack: list[str] = []

    def visit(node):
        color[node] = GREY
        stack.append(node)
        for nxt in sorted(edges[node]):
            if nxt.startswith(node + "."):  # a package importing its own module is no cycle
                continue
            if color[nxt] == GREY:
                return stack[stack.index(nxt) :] + [nxt]
            if color[nxt] == WHITE:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        color[node] = BLACK
        return None

    for node in sorted(edges):
        if color[node] == WHITE:
            found = visit(node)
            if found:
                return found
    return None


def test_find_cycle_finds_one():
    """The checker itself: a planted circle is found, a chain is not."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _violations(rule) -> list[str]:
    out = []
    for name, path in modules().items():
        for imp in sorted(imports_of(name, path)):
            problem = rule(name, imp)
            if problem:
                out.append(f"{name} imports {imp}: {problem}")
    return out


def _is(imp: str, prefix: str) -> bool:
    return imp == prefix or imp.startswith(prefix + ".")


def test_commentary_imports_only_the_standard_library():
    def rule(name, imp):
        if not _is(name, "device.commentary"):
            return None
        top = imp.split(".")[0]
        if _is(imp, "device.commentary") or top in STDLIB:
            return None
        return "device.commentary is standard library only (the builder and the Pi share it)"

    assert _violations(rule) == []


def test_runtime_never_imports_measure_cli_or_builder():
    def rule(name, imp):
        if _is(name, "device.runtime") and any(_is(imp, p) for p in ("device.measure", "device.cli", "builder")):
            return "the Pi's request path stays apart from the measuring tools, the CLI and the builder"
        return None

    assert _violations(rule) == []


def test_builder_never_imports_the_cli():
    def rule(name, imp):
        if _is(name, "builder") and _is(imp, "device.cli"):
            return "the builder uses device's library layers, never its command line"
        return None

    assert _violations(rule) == []


def test_click_only_in_the_two_command_modules():
    def rule(name, imp):
        if _is(imp, "click") and name not in CLICK_HOMES:
            return f"click belongs in {', '.join(sorted(CLICK_HOMES))}; raise device.errors.UserError instead"
        return None

    assert _violations(rule) == []


def test_rules_catch_a_planted_violation(tmp_path):
    """The rules read real files: a commentary module importing numpy is reported."""
    bad = REPO / "device" / "commentary" / "_planted_for_test.py"
    bad.write_text("import numpy\n", encoding="utf-8")
    try:
        names = modules()
        assert "device.commentary._planted_for_test" in names
        assert "numpy" in imports_of("device.commentary._planted_for_test", bad)
        assert any(
            "_planted_for_test" in v
            for v in _violations(
                lambda n, i: "x" if _is(n, "device.commentary") and i.split(".")[0] not in STDLIB else None
            )
        )
    finally:
        bad.unlink()


HEAVY = ("torch", "transformers", "peft", "bitsandbytes")
BLOCKER = textwrap.dedent(
    f"""
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {HEAVY!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None
    sys.meta_path.insert(0, Block())
    """
)


def test_the_device_imports_without_torch():
    """Every module under device/ imports in a process where torch and friends cannot be imported."""
    names = sorted(n for n in modules() if _is(n, "device") and not n.endswith("__main__"))
    code = BLOCKER + "import importlib\n" + "".join(f"importlib.import_module({n!r})\n" for n in names) + "print('ok')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-2000:]


@pytest.mark.parametrize("command", ["serve", "check"])
def test_serve_and_check_help_without_torch(command):
    code = BLOCKER + f"import sys\nsys.argv = ['suksham', {command!r}, '--help']\nfrom device.cli import main\nmain()"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Usage: suksham " + command in proc.stdout
    assert "Traceback" not in proc.stderr


def test_build_without_the_builder_extra_says_what_to_install(tmp_path):
    """With the builder's dependencies missing, `suksham build` names the extra and exits 2, no traceback."""
    cfg = REPO / "builder" / "configs" / "benaud-smollm2-135m.yaml"
    code = BLOCKER + (
        "import sys\nsys.argv = ['suksham', 'build', '--config', sys.argv[1], '--out', sys.argv[2]]\n"
        "from device.cli import main\nmain()"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(cfg), str(tmp_path / "b")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 2, (proc.stdout[-1000:], proc.stderr[-2000:])
    assert "pip install 'suksham-benaud[builder]'" in proc.stderr
    assert "Traceback" not in proc.stderr
