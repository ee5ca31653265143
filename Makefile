# Intentflow: `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
BASE_PYTHON ?= python3
STAMP := $(VENV)/.setup-done
PROTOS := $(wildcard protos/intentflow/v1/*.proto)
PROTO_STAMP := intentflow/v1/.generated
MODEL := models/classifier.npz
QUICK ?=
# This machine's pip config names local mirror folders that may be absent; their warnings are noise.
PIP_NOISE := { grep -v "^WARNING: Location 'file:" || true; }

.PHONY: help setup proto model match-scorer run demo test bench bench-scale-out lint clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[36m%-8s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	$(BASE_PYTHON) -m venv $(VENV)
	# torch first and pinned: any other spec pulls GBs of CUDA wheels.
	$(PY) -m pip install --quiet torch==2.13.0 2>&1 | $(PIP_NOISE)
	$(PY) -m pip install --quiet -e '.[tools,test]' 2>&1 | $(PIP_NOISE)
	touch $@

$(PROTO_STAMP): $(STAMP) $(PROTOS)
	$(PY) -m grpc_tools.protoc -I protos --python_out=. --grpc_python_out=. --pyi_out=. $(PROTOS)
	touch $@

$(MODEL): $(PROTO_STAMP) $(wildcard data/classify/train_*.jsonl data/real/*/*.jsonl) $(wildcard services/classify/classifier/*.py services/classify/training/*.py) services/classify/classifier/rules.yaml services/classify/prefilter.py
	$(PY) -m services.classify.training

setup: $(MODEL) ## Create .venv, install pinned dependencies, generate protobuf code, train the classifier
proto: $(PROTO_STAMP) ## Generate protobuf/gRPC code from protos/
model: $(MODEL) ## Train the classifier if it is missing or the corpus changed

match-scorer: setup ## Refit the match scorer (services/match/matching/scorer.json) on catalogue variants (data/match/)
	$(PY) -m services.match.training.train

run: setup ## Run the whole stack on embedded defaults (broker, SQLite, three services); Ctrl-C stops it
	$(VENV)/bin/intentflow run

demo: setup ## Push the shipped sample through the embedded stack and print leads, candidates, complaints
	$(VENV)/bin/intentflow demo

test: setup ## Run the test suite (unit + integration on the real broker, PostgreSQL and gRPC)
	$(PY) -m pytest -q --durations=25

bench: setup ## Benchmarks (QUICK=1 for a short run); writes bench/results/latest.json
	$(VENV)/bin/intentflow bench $(if $(QUICK),--quick,)

bench-scale-out: setup ## 1+1 vs 2+2 classify/match processes (needs PostgreSQL); writes bench/results/scale_out.json
	$(VENV)/bin/intentflow bench --scale-out $(if $(QUICK),--quick,)

lint: setup ## Static checks
	$(PY) -m ruff check intentflow services tools tests

clean: ## Remove the venv, generated code, models and local state
	rm -rf $(VENV) intentflow/v1/*_pb2*.py intentflow/v1/*_pb2*.pyi $(PROTO_STAMP) models/*.npz models/*.json var .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
