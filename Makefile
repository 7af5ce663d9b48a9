# Two commands a fresh machine needs (see README): `make demo` and `make test`.
# Everything lives in a local virtual environment, .venv/, created on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch; an unpinned torch pulls a multi-GB CUDA build.
TORCH := torch==2.13.0
DATA := data/synth
# The same arithmetic on every x86-64 CPU with AVX2: MKL, PyTorch's own kernels, NumPy and
# OpenBLAS all take their AVX2 code paths, even where AVX-512 or AMX would be faster (about 1.7x
# slower training on an AVX-512/AMX CPU). The demo runs this way so that its numbers depend as
# little as possible on the CPU; what still differs across CPUs is in docs/performance.md.
PORTABLE_CPU := MKL_CBWR=AVX2 ATEN_CPU_CAPABILITY=avx2 \
	NPY_DISABLE_CPU_FEATURES=X86_V4,AVX512_ICL,AVX512_SPR OPENBLAS_CORETYPE=Haswell
# The demo's size; the tests run it smaller (make demo DEMO_DATA="--clips-per-class 4 --duration 3"
# DEMO_SET="--set epochs=2").
DEMO_DATA ?= --clips-per-class 16 --duration 6
DEMO_SET ?=

.PHONY: demo figures test test-browser widget-screenshot lint docs lab install install-browser install-docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev,notebooks,dask]'
	touch $@

install: $(VENV)/.installed

# JupyterLab and Playwright for the browser tests; Chromium itself comes from the system
# (Debian: apt-get install -y chromium; .ci/run installs it when missing).
$(VENV)/.installed-browser: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev,notebooks,dask,lab,browser]'
	touch $@

install-browser: $(VENV)/.installed-browser

# The main job: generated data in the five real layouts and two of "your own data", then the
# demo batch (notebooks/experiment.ipynb per parameters/demo-*.yaml, then the summary): everything
# goes to data/synth/ and results/demo/ (report.html, figures/), none of it tracked by git.
demo: install
	env $(PORTABLE_CPU) $(BIN)/simsvm data synth --out $(DATA) $(DEMO_DATA)
	env $(PORTABLE_CPU) $(BIN)/simsvm batch parameters/demo-*.yaml --name demo $(DEMO_SET)

# The committed example figures/ from the demo's report (tests/test_reproducibility.py checks the
# committed scores against a fresh run, within each cell's fold spread).
figures: demo
	cp results/demo/figures/* figures/

test: install
	$(BIN)/python -m pytest

# The notebooks in JupyterLab in headless Chromium; screenshots of the kernel widget go to
# build/screenshots/ (docs/images/kernel-widget.png is copied from there).
test-browser: install-browser
	$(BIN)/python -m pytest tests/browser

# The README's screenshot of the kernel widget, taken by the browser test on the demo's GTZAN
# run (after make demo).
widget-screenshot: install-browser
	SIMSVM_WIDGET_RUN=results/demo/demo-gtzan $(BIN)/python -m pytest tests/browser -k kernel_widget
	cp build/screenshots/kernel-widget.png docs/images/kernel-widget.png

# The documentation site, into build/site/, every warning an error; the parameter and methods
# pages are written from the code's declarations while it builds (simsvm.cli.docs, a mkdocs hook).
$(VENV)/.installed-docs: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev,notebooks,dask,docs]'
	touch $@

install-docs: $(VENV)/.installed-docs

docs: install-docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# ruff, and the import contracts of pyproject.toml: no stage imports a stage above it, no cycles.
lint: install
	$(BIN)/ruff check lib tests
	$(BIN)/ruff format --check lib tests
	$(BIN)/lint-imports

# JupyterLab with the project's kernel and widgets, on notebooks/ (the notebooks resolve their
# paths against the project folder, so they find the demo's results/demo: run make demo first).
# Kernels talk to the server over CurveZMQ, as the batch's do (no unencrypted-transport warning).
lab: install-browser
	$(BIN)/jupyter lab --KernelManager.transport_encryption=auto notebooks/

clean:
	rm -rf $(VENV) .cache results data/synth
