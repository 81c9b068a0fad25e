# Quickstart: `make demo` and `make test`. Each creates .venv if missing and installs the
# project into it first, so both work on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: setup demo test lint bench

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

setup: $(INSTALLED)

# Synthetic test-split faces (never trained on) for the predict step; they are aligned crops.
DEMO_FACES := $(addprefix data/synthetic/n5000-seed0/img_align_celeba/,004998.jpg 004999.jpg 005000.jpg)

demo: setup
	# bounded by compute, not by how many trials Hyperband happens to stop early
	$(PY) -m search.run --preset demo --budget-epochs 80
	$(PY) -m search.refit --study demo --max-epochs 15
	$(PY) -m serve.predict --model studies/demo/best --no-detect $(DEMO_FACES)
	$(PY) -m search.report --study demo
	@echo "dashboard: $(PY) -m search.dashboard, then open http://127.0.0.1:8080"
	@echo "report:    open studies/demo/report/index.html in a browser"

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
