# Every target bootstraps .venv from nothing and is fast once it exists.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: venv demo test test-slow lint typecheck bench bench-core bench-consensus bench-qi bench-crypto sim-campaign clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

demo: venv
	$(BIN)/xinlian demo

test: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

test-slow: venv
	$(BIN)/python -m pytest -m slow

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

bench: bench-core

bench-core: venv
	$(BIN)/python -m benchmarks.core

bench-qi: venv
	$(BIN)/python -m benchmarks.qi

bench-crypto: venv
	$(BIN)/python -m benchmarks.crypto

clean:
	rm -rf $(VENV) build src/*.egg-info
