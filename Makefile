PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo
# tcmalloc where installed (Debian: libtcmalloc-minimal4), as the containers run: glibc's malloc
# hands large blocks back to the kernel on free, so every inference window page-faults again.
TCMALLOC := $(firstword $(wildcard /usr/lib/*/libtcmalloc_minimal.so.4 /usr/local/lib/libtcmalloc_minimal.so.4))
RUN_FAST := $(if $(TCMALLOC),env LD_PRELOAD=$(TCMALLOC) TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD=107374182400)

.PHONY: demo test lint bench clean

# torch==2.13.0 first: that pin installs a CPU build from local disk; anything else pulls a CUDA build.
$(VENV): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)

test: $(VENV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q --doctest-modules bids_app benchmarks
	$(BIN)/python -m pytest -q

demo: $(VENV)
	rm -rf $(DEMO_DIR)
	$(BIN)/sclesion-phantoms $(DEMO_DIR)/bids --n-subjects 3 --seed 1 --small
	$(RUN_FAST) $(BIN)/sclesion $(DEMO_DIR)/bids $(DEMO_DIR)/bids/derivatives/sclesion participant \
		--work-dir $(DEMO_DIR)/work --nprocs 2
	@echo "Demo outputs: $(DEMO_DIR)/bids/derivatives/sclesion (open sub-*.html in a browser)"

bench: $(VENV)
	@for b in benchmarks/*.py; do echo "== $$b"; $(RUN_FAST) $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_DIR) work bench-results
