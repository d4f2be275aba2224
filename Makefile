# symopt: everything a fresh clone needs is installed by the targets themselves.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SYMOPT := $(VENV)/bin/symopt
STAMP  := $(VENV)/.installed
# torch is pinned here (a CPU build on disk); pyproject.toml keeps a range (torch>=2.4).
TORCH_PIN := torch==2.13.0

.PHONY: all setup verify test test-slow generate check-generated derive report notebooks bench clean

all: verify

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_PIN)"
	$(PY) -m pip install --quiet -e ".[dev]" "$(TORCH_PIN)"
	touch $(STAMP)

setup: $(STAMP)

## The main job: committed kernels are fresh, derivations check out, kernels agree with torch.optim.
verify: $(STAMP)
	$(SYMOPT) generate --check
	$(SYMOPT) derive all --check
	$(SYMOPT) verify

test: $(STAMP)
	$(PY) -m pytest -m "not slow" -q

test-slow: $(STAMP)
	$(PY) -m pytest -m slow -q

generate: $(STAMP)
	$(SYMOPT) generate

check-generated: $(STAMP)
	$(SYMOPT) generate --check

report: $(STAMP)
	$(SYMOPT) report

clean:
	rm -rf reports/*.tex reports/*.pdf reports/*.json build
