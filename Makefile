# Set-up commands of the README. They work on a fresh machine: the venv is created and
# filled here, with torch pinned so that the local CPU wheel is taken.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TORCH_VERSION := 2.13.0

.PHONY: venv demo test lint format clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: a looser pin would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(PY) -m pip install --quiet -e ".[dev,faiss]" "torch==$(TORCH_VERSION)"
	# pytorch-adapt declares torchvision (no CPU wheel here): install without deps.
	$(PY) -m pip install --quiet --no-deps "pytorch-adapt==0.0.83"
	$(PY) -m pip install --quiet "torchmetrics>=1.0" "pytorch-metric-learning>=2.0" "torch==$(TORCH_VERSION)"
	touch $(STAMP)

demo: venv
	$(VENV)/bin/dtc run

test: venv
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
