# The two commands a newcomer runs (README.md):
#   make demo   set up .venv, build the default Benaud bundle on the CPU, serve it, print commentary
#   make test   set up .venv with the test tools (and, as root, the e2e host tools), run every test
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CONFIG ?= builder/configs/benaud-smollm2-135m.yaml
BUNDLE ?= bundles/benaud
PYTEST_ARGS ?=

.PHONY: demo test setup setup-test clean-venv

# pip's wheel cache keeps the compiled llama-cpp-python, so only the first install compiles it.
$(VENV)/.installed-%: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[$*]'
	@touch $@

setup: $(VENV)/.installed-builder
setup-test: $(VENV)/.installed-test

demo: setup
	$(PY) -m builder.demo --config $(CONFIG) --out $(BUNDLE)

test: setup-test
	bash tests/deploy/setup_host_deps.sh
	$(VENV)/bin/pytest $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)

# Every wheel a Pi 5 needs for the device extra (linux_aarch64, CPython 3.11 and 3.13), offline-ready:
# llama-cpp-python cross-compiled for the Cortex-A76 and cached in ~/.cache/suksham (first run ~10 min).
.PHONY: wheelhouse-pi
wheelhouse-pi:
	$(PYTHON) -m builder.wheelhouse --out build/wheelhouse-pi
