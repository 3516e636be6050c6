# One place for the commands the README and CI use.
PYTHON ?= python3

.PHONY: install check test bench

install:
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[test]'

check: install
	$(PYTHON) -m ruff check src tests bench
	$(PYTHON) -m mypy

test: check
	$(PYTHON) -m pytest

bench: install
	$(PYTHON) bench/http_throughput.py
	$(PYTHON) bench/startup.py
