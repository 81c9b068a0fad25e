# Quickstart: `make demo` and `make test`. Each creates .venv if missing and installs the
# project into it first, so both work on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# what the demo runs on, then what the tests add (JAX, pytest, Selenium, ...): the demo does
# not wait for the tests' packages
INSTALLED := $(VENV)/.installed
DEV_INSTALLED := $(VENV)/.installed-dev

.PHONY: setup demo test lint bench

# uv installs the same packages as pip in about 60 % of the time, downloading them where
# pip's cache already holds them (docs/benchmarks-speed.md, the demo's phases); where uv
# cannot (say pip is set up for a private index, which uv does not read), pip does it.
# INSTALLER=pip skips uv.
INSTALLER ?= uv
UV := $(VENV)/bin/uv
install = echo "installing $(1) with $(INSTALLER)"; \
	{ test "$(INSTALLER)" = uv && $(PY) -m pip install --quiet uv \
	&& $(UV) pip install --quiet --python $(PY) --compile-bytecode $(1); } \
	|| { test "$(INSTALLER)" != uv || echo "uv failed; installing with pip instead"; \
	$(PY) -m pip install --quiet --upgrade pip && $(PY) -m pip install --quiet $(1); }

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(call install,-e .)
	touch $(INSTALLED)

$(DEV_INSTALLED): $(INSTALLED)
	@$(call install,-e '.[dev]')
	touch $(DEV_INSTALLED)

setup: $(DEV_INSTALLED)

# Synthetic test-split faces (never trained on) for the predict step; they are aligned crops.
DEMO_FACES := $(addprefix data/synthetic/n5000-seed0/img_align_celeba/,004998.jpg 004999.jpg 005000.jpg)

# Each phase's wall time goes to $(PHASES) and is printed at the end, so that a demo's figures
# can be quoted phase by phase (setup is timed too: on a fresh clone it creates .venv).
PHASES := studies/demo-phases.txt
timed = echo '$(2)'; start=$$(date +%s%N); $(2) && echo "$(1) $$(( ($$(date +%s%N) - start) / 1000000 ))" >> $(PHASES)

demo:
	@mkdir -p studies && : > $(PHASES)
	@$(call timed,setup,$(MAKE) --no-print-directory $(INSTALLED))
	# bounded by compute, not by how many trials Hyperband happens to stop early; and by time,
	# so that a slow CPU still finishes the demo in minutes (each says so where it stopped early)
	@$(call timed,search,$(PY) -m search.run --preset demo --budget-epochs 80 --budget-minutes 2)
	@$(call timed,refit,$(PY) -m search.refit --study demo --max-epochs 15 --budget-minutes 1)
	@$(call timed,predict,$(PY) -m serve.predict --model studies/demo/best --no-detect $(DEMO_FACES))
	@$(call timed,report,$(PY) -m search.report --study demo)
	@echo "dashboard: $(PY) -m search.dashboard, then open http://127.0.0.1:8080"
	@echo "report:    open studies/demo/report/index.html in a browser"
	@echo "phase times (wall, $$(nproc) CPUs, $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)):"
	@awk '{ printf "  %-8s %7.1f s\n", $$1, $$2 / 1000; t += $$2 } END { printf "  %-8s %7.1f s\n", "total", t / 1000 }' $(PHASES)

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
