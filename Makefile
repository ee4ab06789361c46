# The book's two commands (see README.md): `make book` builds the book, `make test` runs every test.
# Both create the virtual environment .venv from requirements.txt on first use.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
# The notebooks' kernel ("python3") runs whatever `python` is first on PATH: make it the venv's.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# One results cache for the whole run, so the book build reuses what the notebook tests computed.
export EBCORE_CACHE ?= $(CURDIR)/_build/ebcore-cache
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0

.PHONY: book test unit notebooks build-check env clean

env: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

book: env
	jupyter-book build . -W -n --keep-going

# Unit tests, every chapter through nbval, then the book build with warnings as errors.
test: env
	python tests/prepare_notebooks.py _build/nbval
	pytest tests _build/nbval --nbval-lax --nbval-current-env --nbval-cell-timeout=900 -p no:cacheprovider
	jupyter-book build . -W -n --keep-going

clean:
	rm -rf _build
