# Two set-up commands for a fresh machine (see README):  make demo   |   make test
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
DEMO_DIR ?= demo

.PHONY: install install-radgraph install-ray install-context system-deps demo test bench clean

$(VENV)/.installed: pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# 1. the CPU torch wheel first, so nothing later resolves a CUDA build
	$(PIP) install -q torch==2.13.0
	# 2. the project and its pinned dependencies (torch==2.13.0 is already satisfied)
	$(PIP) install -q -e ".[test]"
	# 3. sam2 is an sdist whose declared deps would replace torch: build it against ours, no CUDA ext
	SAM2_BUILD_CUDA=0 $(PIP) install -q --no-build-isolation --no-deps sam2==1.1.0
	$(PY) -c "import torch, sam2, pydicom, highdicom, pyarrow, duckdb, datasets, spacy; print('opseg env ok: torch', torch.__version__)"
	touch $@

install: $(VENV)/.installed

# The RadGraph finding backend: radgraph 0.1.18 declares pins that would pull other torch/transformers builds,
# so it goes in with --no-deps after its real runtime needs (the 'radgraph' extra: transformers<5, ...).
$(VENV)/.radgraph: $(VENV)/.installed
	$(PIP) install -q -e ".[test,radgraph]"
	$(PIP) install -q --no-deps radgraph==0.1.18
	$(PY) -c "import radgraph, transformers; print('radgraph ok, transformers', transformers.__version__)"
	touch $@

install-radgraph: $(VENV)/.radgraph

# medspaCy ConText, compared with the clause rules by benchmarks/bench_report_corpus.py (the rules stay the
# default: docs/benchmarks.md). medspacy 1.3.1 and PyRuSH pin spacy<3.8 (which would replace spacy 3.8 and
# numpy 2), yet run on them: they go in with --no-deps after their real needs (the 'context' extra). pysbd 0.3.4
# also drops a top-level 'benchmarks' package into site-packages (and medspacy_quickumls a 'tests' one); opseg
# never imports its benchmarks/ or tests/ folders by those names, so nothing here is shadowed.
$(VENV)/.context: $(VENV)/.installed
	$(PIP) install -q -e ".[test,context]"
	$(PIP) install -q --no-deps medspacy==1.3.1 PyRuSH==1.0.13
	$(PY) -c "import medspacy, spacy; print('medspacy ok', medspacy.__version__, 'spacy', spacy.__version__)"
	touch $@

install-context: $(VENV)/.context

# The Ray executor's extra (ray[data]); CPU wheels, nothing here pulls CUDA.
$(VENV)/.ray: $(VENV)/.installed
	$(PIP) install -q -e ".[test,ray]"
	$(PY) -c "import ray; print('ray ok', ray.__version__)"
	touch $@

install-ray: $(VENV)/.ray

# Test-only system packages from Debian, installed when missing (needs root): headless Chromium renders the
# HTML QC report; Orthanc + its DICOMweb plugin is the real PACS the DICOMweb/DIMSE sources are tested against.
SYSTEM_PACKAGES := chromium orthanc orthanc-dicomweb
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
		else echo "not installed:$$missing (the tests that need them are skipped outside CI)"; fi; fi

demo: install
	$(VENV)/bin/opseg demo $(DEMO_DIR)

test: install install-radgraph install-ray system-deps
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q

bench: install
	$(PY) benchmarks/bench_extract.py
	$(PY) benchmarks/bench_segment.py
	$(PY) benchmarks/bench_link.py

clean:
	rm -rf $(VENV) $(DEMO_DIR)
