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

DEMO_DATASETS := lastfm emotify mediaeval2013 gtzan ballroom

# The main job: generated data in the five real layouts, then the demo profile of the paper's
# cross-validation protocol on each (all five approaches).
demo: install
	$(BIN)/simsvm data synth --out $(DATA) --clips-per-class 30 --duration 8
	for key in $(DEMO_DATASETS); do $(BIN)/simsvm run parameters/demo-$$key.yaml || exit 1; done

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check lib tests
	$(BIN)/ruff format --check lib tests

clean:
	rm -rf $(VENV) .cache results data/synth
