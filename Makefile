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

.PHONY: all setup tex frameworks verify test test-slow coverage format generate check-generated derive report notebooks docs bench mutate clean

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

# Sphinx and MyST-NB for the documentation site (optional like Triton: tests/test_docs.py skips,
# with the reason, where the package index lacks them).
DOCS_STAMP := $(VENV)/.docs
$(DOCS_STAMP): $(STAMP)
	@$(PY) -m pip install --quiet -e ".[docs]" "$(TORCH_PIN)" \
	  || echo "note: sphinx/myst-nb could not be installed; the documentation test will skip"
	@touch $(DOCS_STAMP)

# The frameworks tier (tests marked `frameworks`): the real TensorFlow/Keras, JAX/optax, Chainer and
# the torch ports of TF's RMSProp, each in its own environment under .venv-frameworks/ (their pins
# conflict with each other, never with .venv). Installed for the tests when the package index
# has them; the tests skip, naming what is missing, where it does not.
FRAMEWORKS := .venv-frameworks
FRAMEWORKS_STAMP := $(FRAMEWORKS)/.installed
$(FRAMEWORKS_STAMP):
	@mkdir -p $(FRAMEWORKS)
	@($(PYTHON) -m venv $(FRAMEWORKS)/tf && $(FRAMEWORKS)/tf/bin/pip install --quiet "tensorflow-cpu==2.21.0" \
	    "dm-sonnet==2.0.2" dm-tree tabulate && $(FRAMEWORKS)/tf/bin/pip install --quiet --no-deps "tf-keras==2.21.0") \
	  || echo "note: TensorFlow could not be installed; the keras/tf1/tf-raw/tf-keras-legacy/sonnet checks will skip"
	@($(PYTHON) -m venv $(FRAMEWORKS)/jax && $(FRAMEWORKS)/jax/bin/pip install --quiet "jax[cpu]==0.10.2" "optax==0.2.8") \
	  || echo "note: JAX/optax could not be installed; the optax/jax-example checks will skip"
	@($(PYTHON) -m venv $(FRAMEWORKS)/torch && $(FRAMEWORKS)/torch/bin/pip install --quiet "$(TORCH_PIN)" numpy \
	    && $(FRAMEWORKS)/torch/bin/pip install --quiet --no-deps "timm==1.0.31" "stable-baselines3==2.9.2" \
	       "bitsandbytes==0.50.2" packaging) \
	  || echo "note: timm/stable-baselines3/bitsandbytes could not be installed; their checks will skip"
	@($(PYTHON) -m venv $(FRAMEWORKS)/chainer && $(FRAMEWORKS)/chainer/bin/pip install --quiet "setuptools<70" wheel "numpy<2" \
	    && $(FRAMEWORKS)/chainer/bin/pip install --quiet --no-build-isolation "chainer==7.8.1") \
	  || echo "note: chainer could not be installed; its checks will skip"
	@touch $(FRAMEWORKS_STAMP)

frameworks: $(FRAMEWORKS_STAMP)

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
	$(SYMOPT) papers --check --fast
	$(SYMOPT) verify

# The suite in TEST_JOBS worker processes (pytest-xdist), each test module whole in one worker:
# module-scoped fixtures (torch's records, the 2-rank gloo workers) run once, as in a serial run.
TEST_JOBS ?= 2
test: $(STAMP) $(TRITON_STAMP) $(DOCS_STAMP) $(FRAMEWORKS_STAMP) tex
	$(PY) -m ruff check src tests
	$(PY) -m ruff format --check src tests
	$(PY) -m mypy
	$(PY) -m pytest -m "not slow" -q -n $(TEST_JOBS) --dist loadfile

## The suite under coverage (line and branch), the modules below 100 % listed with their missed lines.
## Code that runs in a subprocess (the frameworks' runner, the notebooks, Triton's interpreter
## workers, mutmut) is not measured. About as long as `make test`; not part of it.
coverage: $(STAMP) $(TRITON_STAMP) $(DOCS_STAMP) $(FRAMEWORKS_STAMP) tex
	$(PY) -m pytest -m "not slow" -q -n $(TEST_JOBS) --dist loadfile --cov=symopt --cov-branch \
	  --cov-report=term-missing:skip-covered

test-slow: $(STAMP)
	$(PY) -m pytest -m slow -q

## The formatter's layout (make test checks it): ruff format, the generated kernels left to the printers.
format: $(STAMP)
	$(PY) -m ruff format src tests

generate: $(STAMP)
	$(SYMOPT) generate

check-generated: $(STAMP)
	$(SYMOPT) generate --check

## The map between every pair of frameworks (symopt port-map --all), which the report's frameworks
## section reads; rebuilt when a model, a dialect or the port code changes (minutes on 2 cores).
PORT_MAPS := reports/port-map-adagrad.json reports/port-map-rmsprop.json
reports/port-map-%.json: $(STAMP) $(wildcard src/symopt/rules/*.py src/symopt/rules/dialects/*.py src/symopt/port/*.py src/symopt/derive/*.py)
	$(SYMOPT) port-map $* --all --no-progress --output $@

report: $(STAMP) tex $(PORT_MAPS)
	$(SYMOPT) report

notebooks: $(STAMP)
	$(PY) -m symopt.report.notebooks

## The documentation site in reports/docs/ (index.html): the models, the verification policy, the
## dialects, the command line and the API from the package, the derivation notebooks executed.
docs: $(STAMP) $(DOCS_STAMP)
	SYMOPT_DOCS_EXECUTE=1 $(PY) -m sphinx -E -b html -W --keep-going -q docs reports/docs
	@echo "the site: reports/docs/index.html"

bench: $(STAMP)
	$(SYMOPT) bench

## The mutation harness: mutants of the models, the generated kernels, the derived statements, the
## tolerances (symopt's own) and the Python check machinery (mutmut), each against the checks that
## should catch it; the score per area and every survivor, in reports/mutate.json (written as it
## goes: a stopped run continues with `symopt mutate --jobs 2 --resume reports/mutate.json`).
MUTATE_STAMP := $(VENV)/.mutate
$(MUTATE_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[mutate]" "$(TORCH_PIN)"
	@touch $(MUTATE_STAMP)

mutate: $(STAMP) $(TRITON_STAMP) $(MUTATE_STAMP)
	$(SYMOPT) mutate --jobs 2

clean:
	rm -rf reports/*.tex reports/*.pdf reports/*.json build
