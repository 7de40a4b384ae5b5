# slabqkt developer tasks.
#
#   make venv    .venv with the package (editable) + test extras + xarray
#   make mpi     MPICH (apt) + petsc/petsc4py/mpi4py wheels in .venv  (tools/install_mpi.sh)
#   make test    pytest, with SLABQKT_MPIEXEC set to MPICH's launcher
#   make run     .venv/bin/slabqkt run geometries/rashba_strip.toml
#   make bench   benchmarks/run_all.py
#   make docs    the documentation site: tutorial figures, then mkdocs build --strict into site/
#   make clean   remove .venv, stamps and caches (results/ is kept)
#
# Environment:
#   SLABQKT_WHEELHOUSE   folder with prebuilt petsc-3.26.1 / petsc4py-3.26.1 / mpi4py-4.1.2 wheels
#                        (installed with pip --no-index); .ci/run sets it to ../shared/wheelhouse
#   SLABQKT_WHEEL_CACHE  where wheels built from source are cached (default ~/.cache/slabqkt/wheels)
#   SLABQKT_MPIEXEC      MPICH launcher for the tests; detected by tools/find_mpiexec.sh if unset
#                        (or pass `make test MPIEXEC=/path/to/mpiexec.mpich`)
#   PYTEST_ARGS          extra pytest arguments, e.g. `make test PYTEST_ARGS='-k smoke -x'`

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON     ?= python3
VENV       ?= .venv
VPY        := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.slabqkt-venv.stamp
MPIEXEC    ?=
PYTEST_ARGS ?=

export SLABQKT_VENV := $(VENV)

# Shell snippet: export SLABQKT_MPIEXEC (explicit MPIEXEC= / $SLABQKT_MPIEXEC / detection).
define export_mpiexec
SLABQKT_MPIEXEC="$$(SLABQKT_MPIEXEC="$(or $(MPIEXEC),$${SLABQKT_MPIEXEC:-})" bash tools/find_mpiexec.sh)"
endef

.PHONY: help venv mpi test run bench docs clean

help:
	@sed -n '3,10p' $(firstword $(MAKEFILE_LIST)) | sed 's/^# *//'

venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml
	@if [ ! -x $(VPY) ]; then \
	    echo "[venv] creating $(VENV) with $$(command -v $(PYTHON)) ($$($(PYTHON) -V 2>&1))"; \
	    $(PYTHON) -m venv $(VENV); \
	fi
	@echo "[venv] upgrading pip"
	@$(VPY) -m pip install -q --upgrade pip
	@echo "[venv] pip install -e '.[test]'"
	@$(VPY) -m pip install -q -e '.[test]'
	@touch $@
	@echo "[venv] ready: $(VENV)"

mpi: venv
	@bash tools/install_mpi.sh

test: venv mpi
	@$(export_mpiexec) || exit 1; export SLABQKT_MPIEXEC; \
	echo "[test] SLABQKT_MPIEXEC=$$SLABQKT_MPIEXEC"; \
	SLABQKT_REQUIRE_MPI=1 $(VPY) -m pytest -q $(PYTEST_ARGS) tests

run: venv
	@if $(export_mpiexec) 2>/dev/null; then export SLABQKT_MPIEXEC; else unset SLABQKT_MPIEXEC; fi; \
	$(VENV)/bin/slabqkt run geometries/rashba_strip.toml

bench: venv mpi
	@$(export_mpiexec) || exit 1; export SLABQKT_MPIEXEC; \
	echo "[bench] SLABQKT_MPIEXEC=$$SLABQKT_MPIEXEC"; \
	$(VPY) benchmarks/run_all.py

docs: venv
	@$(VPY) docs/tutorial/make_figures.py --outdir docs/figures
	@NO_MKDOCS_2_WARNING=1 $(VPY) -m mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) .pytest_cache build dist *.egg-info
	find . -path ./.git -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
