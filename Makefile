# crossinvest — two commands for a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup demo test lint typecheck bench bench-web system-deps clean

# Python environment with crossinvest and everything it needs (re-run when pyproject changes).
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,spark]'
	$(PY) -m crossinvest.web.assets
	touch $@

# Debian packages the browser tests and Chinese rendering need (root, apt).
system-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else echo "需要 root 安装 chromium fonts-noto-cjk / run: sudo apt-get install chromium fonts-noto-cjk"; fi; \
	fi

demo: setup
	$(BIN)/crossinvest demo

test: setup system-deps
	$(BIN)/ruff check crossinvest tests benchmarks
	$(BIN)/ruff format --check crossinvest tests benchmarks
	$(BIN)/mypy crossinvest/warehouse crossinvest/validation crossinvest/readers crossinvest/analytics
	$(BIN)/pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check crossinvest tests benchmarks
	$(BIN)/ruff format --check crossinvest tests benchmarks

typecheck: setup
	$(BIN)/mypy crossinvest/warehouse crossinvest/validation crossinvest/readers crossinvest/analytics

bench: setup
	$(PY) benchmarks/bench_load.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

# Web benchmark: needs wrk (apt) and Datasette (bench extra) for the side-by-side figure.
bench-web: setup
	command -v wrk >/dev/null 2>&1 || apt-get install -y -qq wrk
	$(BIN)/pip install -q -e '.[bench]'
	$(PY) benchmarks/bench_web.py
