"""What `pip install '.[device]'` asks for, read from pyproject.toml (self-references resolved)."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

_SELF = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*\[([^\]]+)\]\s*$")


def device_requirements(pyproject: Path, extra: str = "device") -> tuple[str, list[str]]:
    """(project name, requirement strings) for the base dependencies plus `extra`, recursively."""
    project = tomllib.loads(pyproject.read_text())["project"]
    name = project["name"]
    extras = project.get("optional-dependencies", {})
    out: list[str] = list(project.get("dependencies", []))
    seen: set[str] = set()

    def add(group: str) -> None:
        if group in seen:
            return
        seen.add(group)
        for req in extras.get(group, []):
            m = _SELF.match(req)
            if m and _norm(m.group(1)) == _norm(name):
                for sub in m.group(2).split(","):
                    add(sub.strip())
            elif req not in out:
                out.append(req)

    if extra not in extras:
        raise KeyError(f"pyproject.toml has no extra {extra!r}")
    add(extra)
    return name, out


def pin_of(requirements: list[str], package: str) -> str:
    """The requirement string for `package` (must be pinned with ==, since the build is cached by it)."""
    for req in requirements:
        if _norm(re.split(r"[\s\[=<>!~;]", req, maxsplit=1)[0]) == _norm(package):
            if "==" not in req:
                raise ValueError(f"{req!r}: pin it with == so the cross-built wheel can be cached")
            return req
    raise KeyError(f"{package} is not a device requirement")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
