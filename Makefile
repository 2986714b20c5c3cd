# One way to do each chore. Every target sets up what it needs first (venv, services, keys).
SHELL := /bin/bash
.DEFAULT_GOAL := help
export DJANGO_SETTINGS_MODULE ?= franchise_platform.settings.dev

.PHONY: help setup run dev test lint lint-deploy bench widget lock image

help:
	@echo "make run    — set up and start the platform as the image serves it (gunicorn :8000, Celery worker and beat, demo network)"
	@echo "make dev    — the same with runserver: auto-reload and Django's debug pages"
	@echo "make test   — set up and run every test against real PostgreSQL, Redis, Celery, Chromium"
	@echo "make lint   — ruff, ruff format, mypy, import-linter, djLint, makemigrations --check, lint-deploy"
	@echo "make lint-deploy — hadolint, shellcheck, yamllint, compose schema + config, nginx -t, kustomize + kubernetes-validate"
	@echo "make bench  — benchmarks; figures go to bench/results/"
	@echo "make widget — build the amoCRM widget archive dist/widget.zip"
	@echo "make image  — build deploy/Dockerfile with buildah (local Debian base when no registry answers)"

setup:
	@source scripts/lib.sh && ensure_venv && ensure_services && ensure_local_keys && compile_translations

# The server as the image runs it (gunicorn, DEBUG off, collected static files); `make dev` is
# runserver with auto-reload and Django's debug pages.
run:
	@source scripts/lib.sh && ensure_venv && ensure_services && ensure_local_keys && compile_translations \
	  && DJANGO_SETTINGS_MODULE=franchise_platform.settings.local exec scripts/entrypoint.sh all

dev:
	@source scripts/lib.sh && ensure_venv && ensure_services && ensure_local_keys && compile_translations \
	  && DJANGO_SETTINGS_MODULE=franchise_platform.settings.dev exec scripts/entrypoint.sh dev

test:
	@source scripts/lib.sh && ensure_venv && ensure_services && ensure_chromium && compile_translations \
	  && ensure_pgbouncer && ensure_deploy_linters && ensure_rabbitmq \
	  && DJANGO_SETTINGS_MODULE=franchise_platform.settings.test .venv/bin/pytest $(PYTEST_ARGS)

lint:
	@source scripts/lib.sh && ensure_venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
	.venv/bin/lint-imports
	.venv/bin/djlint frontend/templates --lint
	@source scripts/lib.sh && ensure_services && DJANGO_SETTINGS_MODULE=franchise_platform.settings.test \
	  .venv/bin/python manage.py makemigrations --check --dry-run
	@$(MAKE) --no-print-directory lint-deploy

lint-deploy:
	@source scripts/lib.sh && ensure_venv && ensure_deploy_linters && lint_deploy

bench:
	@source scripts/lib.sh && ensure_venv && ensure_services && \
	  DJANGO_SETTINGS_MODULE=franchise_platform.settings.test .venv/bin/python -m bench.run $(BENCH_ARGS)

widget:
	@source scripts/lib.sh && ensure_venv && .venv/bin/python frontend/amocrm_widget/build.py

image:
	@source scripts/lib.sh && ensure_image_tools && scripts/image.sh build

lock:
	.venv/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock
