# The two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LOCALSTACK_VENV := .venv-localstack
PYTHON313 ?= $(shell for p in "$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)"/versions/3.13*/bin/python python3.13; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null && { echo "$$p"; break; }; done)

# Embedded defaults for the demo: SQLite, an in-process broker, moto's S3, an SMTP sink
# and a webhook receiver, all on loopback.
DEMO_ENV := DJANGO_DEBUG=true DJANGO_SECRET_KEY=demo-only-not-secret \
	FIELD_ENCRYPTION_KEYS=ZGVtby1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5ISE= \
	DJANGO_ENV_FILE=/dev/null DATABASE_URL=sqlite:///.demo/db.sqlite3 \
	CELERY_BROKER_URL=memory:// \
	DJANGO_AWS_ACCESS_KEY_ID=demo DJANGO_AWS_SECRET_ACCESS_KEY=demo-secret \
	DJANGO_AWS_STORAGE_BUCKET_NAME=demo-media DJANGO_AWS_STATIC_BUCKET_NAME=demo-static \
	DJANGO_AWS_S3_ENDPOINT_URL=http://127.0.0.1:45999 DJANGO_AWS_S3_REGION_NAME=us-east-1 \
	DJANGO_AWS_S3_ADDRESSING_STYLE=path DJANGO_AWS_S3_SECURE_URLS=false \
	DJANGO_AWS_S3_USE_SSL=false DJANGO_AWS_GZIPPED=false \
	EMAIL_URL=smtp://127.0.0.1:45998 WEBHOOK_ALLOW_HTTP=true WEBHOOK_ALLOWED_NETWORKS=127.0.0.0/8

.PHONY: demo test lint install localstack services bench clean

demo: install
	@mkdir -p .demo
	$(DEMO_ENV) $(PY) manage.py demo

test: install localstack services
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .

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

# Benchmarks print ratios against the obvious alternative, measured in the same run.
bench: install localstack services
	$(PY) bench/bench_signing.py
	$(PY) bench/bench_bulk_issue.py
	$(PY) bench/bench_delivery.py

clean:
	rm -rf .demo .pytest_cache .mypy_cache .ruff_cache
