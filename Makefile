# The README's two commands:  `make run`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=
PYTEST_ARGS ?=

.PHONY: run test

$(VENV)/.core: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.all: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install -e '.[all,test]'
	touch $@ $(VENV)/.core

run: $(VENV)/.core
	$(PY) -m server $(ARGS)

test: $(VENV)/.all
	$(PY) -m pytest $(PYTEST_ARGS)
