# symopt: everything a fresh clone needs is installed by the targets themselves.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
SYMOPT := $(VENV)/bin/symopt
STAMP  := $(VENV)/.installed
# torch is pinned here (a CPU build on disk); pyproject.toml keeps a range (torch>=2.4).
TORCH_PIN := torch==2.13.0

# The PDF report is built with real LaTeX; `make tex` installs it with apt where it can.
TEX_PACKAGES := texlive-latex-base texlive-latex-recommended latexmk

.PHONY: all setup tex verify test test-slow generate check-generated derive report notebooks bench mutate clean

all: verify

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_PIN)"
	$(PY) -m pip install --quiet -e ".[dev]" "$(TORCH_PIN)"
	touch $(STAMP)

setup: $(STAMP)

# Triton is optional (the fused GPU backend): installed for the tests when the package index has
# it, so that the generated Triton kernels run under its interpreter; they skip, with the reason,
# where it is missing.
TRITON_STAMP := $(VENV)/.triton
$(TRITON_STAMP): $(STAMP)
	@$(PY) -m pip install --quiet -e ".[triton]" "$(TORCH_PIN)" \
	  || echo "note: triton could not be installed; its interpreter tests will skip"
	@touch $(TRITON_STAMP)

tex:
	@if command -v latexmk >/dev/null 2>&1 && command -v pdflatex >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing $(TEX_PACKAGES) with apt-get (under a minute)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEX_PACKAGES) >/dev/null; \
	else \
	  echo "note: pdflatex/latexmk are missing and cannot be installed here (needs root and apt-get);"; \
	  echo "      reports are written as .tex only: sudo apt-get install $(TEX_PACKAGES)"; \
	fi

## The main job: committed kernels are fresh, derivations check out, kernels agree with torch.optim.
verify: $(STAMP)
	$(SYMOPT) generate --check
	$(SYMOPT) derive all --check
	$(SYMOPT) verify

test: $(STAMP) $(TRITON_STAMP) tex
	$(PY) -m pytest -m "not slow" -q

test-slow: $(STAMP)
	$(PY) -m pytest -m slow -q

generate: $(STAMP)
	$(SYMOPT) generate

check-generated: $(STAMP)
	$(SYMOPT) generate --check

report: $(STAMP) tex
	$(SYMOPT) report

notebooks: $(STAMP)
	$(PY) -m symopt.report.notebooks

bench: $(STAMP)
	$(SYMOPT) bench

## The mutation harness: mutants of the models, the generated kernels, the derived statements, the
## tolerances (symopt's own) and the Python check machinery (mutmut), each against the checks that
## should catch it; the score per area and every survivor, in reports/mutate.json.
MUTATE_STAMP := $(VENV)/.mutate
$(MUTATE_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[mutate]" "$(TORCH_PIN)"
	@touch $(MUTATE_STAMP)

mutate: $(STAMP) $(TRITON_STAMP) $(MUTATE_STAMP)
	$(SYMOPT) mutate --jobs 2

clean:
	rm -rf reports/*.tex reports/*.pdf reports/*.json build
