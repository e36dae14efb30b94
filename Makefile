# Two commands do everything on a fresh machine with Python 3.11: `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(BIN):$(PATH)
export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: book test quick-test install clean clean-cache benchmarks help

help:
	@echo "make book    - install into .venv, execute every chapter, render _build/html/index.html"
	@echo "make test    - install into .venv, run unit tests, every chapter in quick mode, the book build (-W)"
	@echo "make benchmarks - print speed ratios of the batched code against simple loops"

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
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
	@echo "The book is at _build/html/index.html"

test: $(STAMP)
	$(BIN)/python -m pytest

benchmarks: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b; done

clean:
	rm -rf _build
