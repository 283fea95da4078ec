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

.PHONY: demo test lint setup setup-test clean-venv

# llama-cpp-python is compiled once per machine kind and kept outside the clone, keyed by its version and
# CMake flags. On x86-64 it is built without -march=native: a native build on a CPU that reports AMX or
# AVX512-FP16 the kernel or hypervisor does not let a process use dies with "Illegal instruction" at the
# first decode (seen on this project's CI machines), and the deploy tests ship the same wheel to a test host.
LLAMA_VERSION := $(shell grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml | head -1 | cut -d= -f3)
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
else
LLAMA_CMAKE_ARGS ?=
endif
WHEEL_CACHE ?= $(HOME)/.cache/suksham/wheels
LLAMA_KEY := $(shell printf '%s %s %s' '$(LLAMA_VERSION)' '$(LLAMA_CMAKE_ARGS)' "$$($(PYTHON) -c 'import sys; print(sys.version_info[:2])')" | sha256sum | cut -c1-12)
LLAMA_WHEELS := $(WHEEL_CACHE)/llama-cpp-python-$(LLAMA_VERSION)-$(LLAMA_KEY)
# Every pip below (the venv, and the deploy tests' wheelhouse) finds that wheel before any sdist. The variable
# replaces pip's own find-links setting, so the machine's (where a CPU torch may live) are kept beside it.
PIP_CONFIG_FIND_LINKS := $(shell $(PYTHON) -m pip config get global.find-links 2>/dev/null)
export PIP_FIND_LINKS := $(strip $(LLAMA_WHEELS) $(PIP_FIND_LINKS) $(PIP_CONFIG_FIND_LINKS))

$(LLAMA_WHEELS)/.built:
	@echo "compiling llama-cpp-python $(LLAMA_VERSION) once for this machine ($(LLAMA_CMAKE_ARGS)); ~6 min"
	rm -rf $(LLAMA_WHEELS).tmp && mkdir -p $(LLAMA_WHEELS).tmp
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PYTHON) -m pip wheel -q --no-deps \
	    --no-cache-dir -w $(LLAMA_WHEELS).tmp llama-cpp-python==$(LLAMA_VERSION)
	rm -rf $(LLAMA_WHEELS) && mv $(LLAMA_WHEELS).tmp $(LLAMA_WHEELS) && touch $@
	ln -sfn $(LLAMA_WHEELS) $(WHEEL_CACHE)/llama-cpp-python-current  # tests/conftest.py points pip here

$(VENV)/.installed-%: pyproject.toml $(LLAMA_WHEELS)/.built
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --force-reinstall --no-deps $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	$(PY) -m pip install -q -e '.[$*]'
	@touch $@

setup: $(VENV)/.installed-builder
setup-test: $(VENV)/.installed-test

demo: setup
	$(PY) -m builder.demo --config $(CONFIG) --out $(BUNDLE)

test: setup-test lint
	bash tests/deploy/setup_host_deps.sh
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# ruff's settings are in pyproject.toml; `ruff format .` and `ruff check --fix .` repair most findings.
lint: setup-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean-venv:
	rm -rf $(VENV)

# Every wheel a Pi 5 needs for the device extra (linux_aarch64, CPython 3.11 and 3.13), offline-ready:
# llama-cpp-python cross-compiled for the Cortex-A76 and cached in ~/.cache/suksham (first run ~10 min).
.PHONY: wheelhouse-pi
wheelhouse-pi:
	$(PYTHON) -m builder.wheelhouse --out build/wheelhouse-pi

# The playbook on an arm64 host: an arm64 bookworm root booted with systemd under systemd-nspawn through
# binfmt (qemu-aarch64, QEMU_CPU=cortex-a76), converged by the real site.yml with the Pi wheelhouse.
# Needs root; tens of minutes under emulation, so not part of `make test` (tests/deploy/test_e2e_arm64.py).
.PHONY: e2e-arm64
e2e-arm64: setup-test
	SUKSHAM_ARM64_CONVERGE=1 nice -n 19 $(VENV)/bin/pytest -m arm64 tests/deploy/test_e2e_arm64.py -x -q -s $(PYTEST_ARGS)
