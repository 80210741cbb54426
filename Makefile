# The README's two commands:  `make run`  and  `make test`;  `make gpu` on an NVIDIA workstation.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=
PYTEST_ARGS ?=

.PHONY: run test gpu doctor

$(VENV)/.core: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e .
	touch $@

# llama-cpp-python first, built portably (scripts/install_llama.sh), so the install below finds it.
$(VENV)/.all: setup.cfg pyproject.toml scripts/install_llama.sh
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	bash scripts/install_llama.sh $(PY) cpu
	$(PY) -m pip install -e '.[all,test]'
	touch $@ $(VENV)/.core

run: $(VENV)/.core
	$(PY) -m server $(ARGS)

test: $(VENV)/.all
	$(PY) -m pytest $(PYTEST_ARGS)

# NVIDIA Linux workstation: llama.cpp with CUDA, the torch build that fits the card, then the doctor.
gpu: $(VENV)/.all
	bash scripts/install_gpu.sh $(PY)
	$(PY) -m server --doctor $(ARGS)

doctor: $(VENV)/.core
	$(PY) -m server --doctor $(ARGS)
