# advtransfer: `make run` runs the default workflow, `make test` runs the whole test suite.
# Both create .venv and install the project into it first (once per change of pyproject.toml).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= all
# pytest-xdist workers; they share one run of the tiny default workflow (tests/conftest.py)
WORKERS ?= 2
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
# `make run CONFIG=configs/celeba.yaml`: config files merged into config.yaml (in order),
# checked first so that a YAML error names the file and the line
CONFIG ?=
CONFIGFILES := $(if $(strip $(CONFIG)),--configfile $(CONFIG),)
CHECK  := PYTHONPATH=src $(BIN)/python -m advtransfer.config

.PHONY: run test install report lint format clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(CHECK) check config.yaml $(CONFIG)
	$(BIN)/snakemake --cores $(CORES) $(CONFIGFILES)
	@echo; cat results/$$($(CHECK) run-name config.yaml $(CONFIG))/findings.md

report: $(STAMP)
	$(CHECK) check config.yaml $(CONFIG)
	$(BIN)/snakemake --cores $(CORES) $(CONFIGFILES)
	$(BIN)/snakemake $(CONFIGFILES) --report results/$$($(CHECK) run-name config.yaml $(CONFIG))/report.html

test: $(STAMP)
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/snakemake --lint
	$(BIN)/python -m pytest -q -n $(WORKERS)

lint: $(STAMP)
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/snakemake --lint

format: $(STAMP)
	$(BIN)/snakefmt Snakefile rules/

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_tau.py

clean:
	rm -rf results logs benchmarks/runs .snakemake
