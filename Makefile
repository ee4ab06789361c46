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

# Optional: a pip index for torch, e.g. the CPU-only wheels (see README.md, "What pip downloads").
TORCH_INDEX_URL ?=
# `make chapter N=09 [SEED=k]` and `make sweep SEEDS=1-5 CHAPTERS=01-13`.
N ?= 01
SEED ?= 0
SEEDS ?= 1-5
CHAPTERS ?= 01-13
PYTEST_WORKERS ?= 2

.PHONY: book test unit lint chapter sweep env system clean

# System packages (make, python3-venv, npm, chromium): only those missing are installed.
system:
	bash tools/system-packages.sh

env: system $(VENV)/.installed

# MathJax is served from the book itself (no CDN), so formulas render offline. It lives in its own
# static folder: Jupyter Book would load every .js file found under _static/ on every page.
MATHJAX := _mathjax/mathjax/tex-chtml.js
$(MATHJAX):
	npm install --prefix _build/npm --no-audit --no-fund --silent mathjax@3.2.2
	rm -rf _mathjax && mkdir -p _mathjax && cp -r _build/npm/node_modules/mathjax/es5 _mathjax/mathjax

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(if $(TORCH_INDEX_URL),$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --index-url $(TORCH_INDEX_URL) torch==2.13.0)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# The HTML book, then the same book as one page (its notebooks come from the execution cache the first
# build filled), printed to _build/html/book.pdf by Debian's chromium.
book: env $(MATHJAX)
	jupyter-book build . -W -n --keep-going
	jupyter-book build . --builder singlehtml -W -n --keep-going
	python tools/print_book_pdf.py _build/singlehtml _build/html/book.pdf

# Ruff (pinned in requirements.txt, rules in pyproject.toml) on the Python sources, then on the
# chapters (converted to scripts in a temporary folder; findings name chapter lines). Both run
# even when the first finds something, so one run shows every finding.
LINT_PATHS := ebcore tests benchmarks tools _ext
lint: env
	status=0; ruff check $(LINT_PATHS) || status=1; python tools/lint_chapters.py || status=1; exit $$status

# The lint first, then the book build with warnings as errors (executing every chapter under seed
# 0, then the single-page build and its PDF), a check that every declared figure is in the built
# pages, MathJax is served locally, every chapter has its notebook download and the PDF holds every
# page, then, on both cores (pytest-xdist): the unit tests, the browser
# test of the built pages (chromium, headless), every chapter again through nbval (its second
# execution reuses the results cache) and chapters 1 to 7 under seed 1 (tests/test_seed_one.py). One
# thread per worker: two workers of two threads each on two cores only fight over them.
test: lint book
	python tests/check_built_book.py _build/html
	python tests/prepare_notebooks.py _build/nbval
	OMP_NUM_THREADS=1 EBCORE_BOOK_HTML=$(CURDIR)/_build/html pytest tests _build/nbval -n $(PYTEST_WORKERS) --dist loadscope --nbval-lax --nbval-current-env --nbval-cell-timeout=900 -p no:cacheprovider

# The lint, then the unit tests alone (no book build, no notebooks).
unit: lint
	pytest tests -n $(PYTEST_WORKERS) --dist loadscope -p no:cacheprovider --deselect tests/test_seed_one.py

# One chapter executed under one seed, with its checks' margins (e.g. make chapter N=09 SEED=1).
chapter: env
	python -m tests.seed_sweep --seeds $(SEED) --chapters $(N) --jobs 1 --out _build/chapter-runs

# Every check over several seeds (table printed and written to _build/seed-sweep/seed_sweep.csv).
sweep: env
	python -m tests.seed_sweep --seeds $(SEEDS) --chapters $(CHAPTERS)

clean:
	rm -rf _build _mathjax
