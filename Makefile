# Two commands do everything on a fresh machine with Python 3.11: `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(BIN):$(PATH)
export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: book test page install clean clean-cache benchmarks student launch help

help:
	@echo "make book    - install into .venv, execute every chapter, render _build/html/index.html, check it in a browser"
	@echo "make test    - install into .venv, run unit tests, every chapter in quick mode (two instruction sets),"
	@echo "               the book built in quick mode (-W) and checked in a browser"
	@echo "make page CH=02 - build a small book of the intro, one chapter and the back matter (for authors)"
	@echo "make benchmarks - print speed ratios of the batched code against simple loops"
	@echo "make launch  - rewrite launch/NN_slug.ipynb (the notebooks Binder and Colab open) after editing a chapter"
	@echo "make student - write the student version of every chapter (solutions removed) to _build/student/"

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@# The browser tests drive the system's Chromium (Debian package chromium) with Playwright.
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		{ echo "installing Chromium for the browser tests (Debian package chromium)"; \
		  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -q chromium >/dev/null 2>&1 || \
		  { $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -q >/dev/null && \
		    $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -q chromium >/dev/null; } || \
		  { echo "could not install Chromium: install the package chromium, then run make again"; exit 1; }; }
	touch $(STAMP)

# jupyter-cache keys on the notebooks only: clear it when the package source changes.
SRC_HASH = $(shell cat $$(find src -name '*.py' | sort) pyproject.toml | sha256sum | cut -c1-16)

clean-cache:
	rm -rf _build/.jupyter_cache _build/jupyter_execute _build/html _build/.doctrees

book: $(STAMP)
	@mkdir -p _build
	@if [ "$$(cat _build/.src-hash 2>/dev/null)" != "$(SRC_HASH)" ]; then \
		echo "src/ changed since the last build: clearing the execution cache"; \
		rm -rf _build/.jupyter_cache _build/jupyter_execute _build/.doctrees; fi
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "$(SRC_HASH)" > _build/.src-hash
	@# the browser checks of the test suite, on the full book just built
	LINEAR_LENS_BUILT_BOOK=$(CURDIR)/_build/html $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_book.py
	@echo "The book is at _build/html/index.html"

test: $(STAMP)
	$(BIN)/python -m pytest

# A small book with one chapter, for authors checking how a page renders; warnings are listed, not fatal,
# because pages outside the small book cannot be cross-referenced from it.
page: $(STAMP)
	@test -n "$(CH)" || { echo "usage: make page CH=02"; exit 2; }
	@mkdir -p _build/page-$(CH)
	@f=$$(ls notebooks/$(CH)_*.md | head -1); \
	printf 'format: jb-book\nroot: book/intro\nchapters:\n  - file: book/how-to-use\n  - file: book/teaching\n  - file: book/notation\n  - file: %s\n  - file: book/errata\n  - file: book/claims\n  - file: book/reproducibility\n  - file: book/references\n' "$${f%.md}" > _build/page-$(CH)/_toc.yml
	$(BIN)/jupyter-book build . -n --keep-going --toc _build/page-$(CH)/_toc.yml --path-output _build/page-$(CH) 2>&1 | tee _build/page-$(CH)/log.txt | grep -E "WARNING|ERROR|Error|Traceback" | grep -v "Kernel is running over TCP" || true
	@echo "Page: _build/page-$(CH)/_build/html/notebooks/$$(basename $$(ls notebooks/$(CH)_*.md) .md).html"

# The student version of every chapter (solutions removed), for a class: _build/student/NN_slug.ipynb
student: $(STAMP)
	$(BIN)/python -m linear_lens student -o _build/student

# Every chapter as launch/NN_slug.ipynb (committed: Binder and Colab open them from the repository)
launch: $(STAMP)
	$(BIN)/python -m linear_lens launch

benchmarks: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b; done

clean:
	rm -rf _build
