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
export PYTHONHASHSEED := 0
# No progress bars in built pages or test logs (readers running a chapter themselves get them).
export EBCORE_PROGRESS ?= 0

.PHONY: book test env clean

env: $(VENV)/.installed

# MathJax is served from the book itself (no CDN), so formulas render offline. It lives in its own
# static folder: Jupyter Book would load every .js file found under _static/ on every page.
MATHJAX := _mathjax/mathjax/tex-chtml.js
$(MATHJAX):
	npm install --prefix _build/npm --no-audit --no-fund --silent mathjax@3.2.2
	rm -rf _mathjax && mkdir -p _mathjax && cp -r _build/npm/node_modules/mathjax/es5 _mathjax/mathjax

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

book: env $(MATHJAX)
	jupyter-book build . -W -n --keep-going

# The book build with warnings as errors (executing every chapter), a check that every declared
# figure is in the built pages, MathJax is served locally and every chapter has its notebook
# download, then the unit tests, the browser test of the built pages (chromium, headless) and
# every chapter again through nbval (its second execution reuses the results cache).
test: env $(MATHJAX)
	jupyter-book build . -W -n --keep-going
	python tests/check_built_book.py _build/html
	python tests/prepare_notebooks.py _build/nbval
	EBCORE_BOOK_HTML=$(CURDIR)/_build/html pytest tests _build/nbval --nbval-lax --nbval-current-env --nbval-cell-timeout=900 -p no:cacheprovider

clean:
	rm -rf _build _mathjax
