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
# slower training on an AVX-512/AMX Xeon, no cost on an AVX2 CPU; see README "Reproducibility").
# The demo runs this way, so that it rewrites the committed figures byte for byte anywhere.
PORTABLE_CPU := MKL_CBWR=AVX2 ATEN_CPU_CAPABILITY=avx2 \
	NPY_DISABLE_CPU_FEATURES=X86_V4,AVX512_ICL,AVX512_SPR OPENBLAS_CORETYPE=Haswell

.PHONY: demo test test-browser widget-screenshot lint lab install install-browser clean

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

# The main job: generated data in the five real layouts, then the batch of demo profiles of the
# paper's cross-validation protocol (notebooks/experiment.ipynb per dataset, the five approaches and Stats)
# and notebooks/summary.ipynb, which writes figures/.
demo: install
	env $(PORTABLE_CPU) $(BIN)/simsvm data synth --out $(DATA) --clips-per-class 16 --duration 6
	env $(PORTABLE_CPU) $(BIN)/simsvm batch parameters/demo-*.yaml --name demo --figures-dir figures

test: install
	$(BIN)/python -m pytest

# The notebooks in JupyterLab in headless Chromium; screenshots of the kernel widget go to
# build/screenshots/ (figures/kernel-widget.png is copied from there).
test-browser: install-browser
	$(BIN)/python -m pytest tests/browser

# The README's screenshot of the kernel widget, taken by the browser test on the demo's GTZAN
# run (after make demo).
widget-screenshot: install-browser
	SIMSVM_WIDGET_RUN=results/demo/demo-gtzan $(BIN)/python -m pytest tests/browser -k kernel_widget
	cp build/screenshots/kernel-widget.png figures/kernel-widget.png

# ruff, and the import contracts of pyproject.toml: no stage imports a stage above it, no cycles.
lint: install
	$(BIN)/ruff check lib tests
	$(BIN)/ruff format --check lib tests
	$(BIN)/lint-imports

# JupyterLab with the project's kernel and widgets.
lab: install-browser
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) .cache results data/synth
