# The two commands a newcomer needs: `make demo` and `make test`; `make dev` runs the real stack.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LOCALSTACK_VENV := .venv-localstack
PYTHON313 ?= $(shell for p in "$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)"/versions/3.13*/bin/python python3.13; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null && { echo "$$p"; break; }; done)

.PHONY: demo dev test lint install localstack services monitoring-tools bench clean

# The demo app on embedded defaults (demo/settings.py), with its own requirements.
demo: $(VENV)/.demo-installed
	@rm -rf .demo && mkdir -p .demo  # a fresh database: no endpoints of an earlier run retried
	DJANGO_SETTINGS_MODULE=demo.settings $(PY) manage.py demo

$(VENV)/.demo-installed: requirements.txt demo/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r demo/requirements.txt
	touch $@

# The real stack on 127.0.0.1 from the Procfile's lines, with dev.env's local-safe settings:
# migrate first, then web (http://127.0.0.1:8000), the four worker pools and beat (scripts/dev.sh).
dev: install services
	@bash scripts/dev.sh

test: install localstack services
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .
	$(VENV)/bin/lint-imports

install: $(VENV)/.installed
$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# LocalStack needs Python 3.13; it lives in its own virtualenv (see requirements-localstack.txt).
localstack: $(LOCALSTACK_VENV)/.installed
$(LOCALSTACK_VENV)/.installed: requirements-localstack.txt
	@test -n "$(PYTHON313)" || { echo "No Python 3.13 found for LocalStack (set PYTHON313=...)" >&2; exit 1; }
	test -x $(LOCALSTACK_VENV)/bin/python || $(PYTHON313) -m venv $(LOCALSTACK_VENV)
	$(LOCALSTACK_VENV)/bin/pip install -q --disable-pip-version-check --no-deps -r requirements-localstack.txt
	touch $@

services:
	@bash scripts/ensure-services.sh

# promtool (Debian's prometheus package, no service started) for tests/test_monitoring.py.
monitoring-tools:
	@bash scripts/install-promtool.sh

# Benchmarks print ratios against the obvious alternative, measured in the same run.
bench: install localstack services
	$(PY) bench/bench_signing.py
	$(PY) bench/bench_bulk_issue.py
	$(PY) bench/bench_delivery.py

clean:
	rm -rf .demo .dev .pytest_cache .mypy_cache .ruff_cache
