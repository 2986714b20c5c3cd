#!/usr/bin/env bash
# One entrypoint for every role, used by `make run` and by the container image:
#   entrypoint.sh migrate | web | worker | beat | all
# `all` (what `make run` uses) migrates, then runs web, worker and beat together; Ctrl-C stops all.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

role="${1:-all}"
PORT="${PORT:-$("$PY" -c 'import os,urllib.parse as u; print(u.urlsplit(os.environ.get("PLATFORM_BASE_URL","http://localhost:8000")).port or 8000)')}"
WEB_CONCURRENCY="${WEB_CONCURRENCY:-3}"

migrate() {
  ensure_database
  "$PY" manage.py migrate_schemas --noinput -v 0 --executor "${MIGRATION_EXECUTOR:-standard}"
  "$PY" manage.py platform_setup
}

case "$role" in
  migrate) migrate ;;
  web)     exec "$VENV/bin/gunicorn" franchise_platform.wsgi:application --bind "0.0.0.0:$PORT" \
             --workers "$WEB_CONCURRENCY" --access-logfile - --timeout 30 ;;
  worker)  exec "$VENV/bin/celery" -A franchise_platform worker --loglevel INFO --concurrency "${WORKER_CONCURRENCY:-2}" ;;
  beat)    exec "$VENV/bin/celery" -A franchise_platform beat --loglevel INFO \
             --schedule "${BEAT_SCHEDULE_FILE:-$ROOT/.local/celerybeat-schedule}" ;;
  all)
    migrate
    "$PY" manage.py demo_network
    mkdir -p "$ROOT/.local"
    pids=()
    trap 'say "stopping"; kill "${pids[@]}" 2>/dev/null; wait; exit 0' INT TERM
    "$PY" manage.py runserver "0.0.0.0:$PORT" --noreload & pids+=($!)
    "$VENV/bin/celery" -A franchise_platform worker --loglevel INFO --concurrency 2 & pids+=($!)
    "$VENV/bin/celery" -A franchise_platform beat --loglevel INFO --schedule "$ROOT/.local/celerybeat-schedule" & pids+=($!)
    say "web on :$PORT, worker and beat running — Ctrl-C stops all three"
    wait -n "${pids[@]}" || true
    kill "${pids[@]}" 2>/dev/null || true
    wait
    ;;
  *) die "unknown role: $role (migrate | web | worker | beat | all)" ;;
esac
