# Two commands a fresh machine needs (see README): `make demo` and `make test`.
# Everything lives in a local virtual environment, .venv/, created on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of torch; an unpinned torch pulls a multi-GB CUDA build.
TORCH := torch==2.13.0
DATA := data/synth

.PHONY: demo test lint install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# The main job: generated data in the real GTZAN and Emotify layouts, then the quick profile of
# the paper's cross-validation protocol on each (all five approaches).
demo: install
	$(BIN)/simsvm data synth --out $(DATA) --clips-per-class 30 --duration 8
	$(BIN)/simsvm run parameters/quick-gtzan.yaml
	$(BIN)/simsvm run parameters/quick-emotify.yaml

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check lib tests
	$(BIN)/ruff format --check lib tests

clean:
	rm -rf $(VENV) .cache results data/synth
