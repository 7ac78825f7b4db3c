# advtransfer: `make run` runs the default workflow, `make test` runs the whole test suite.
# Both create .venv and install the project into it first (once per change of pyproject.toml).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CORES  ?= all
# pytest-xdist workers; they share one run of the tiny default workflow (tests/conftest.py)
WORKERS ?= 2
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

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
	$(BIN)/snakemake --cores $(CORES)
	@echo; cat results/findings.md

report: $(STAMP)
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/snakemake --report results/report.html

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
