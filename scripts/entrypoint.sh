#!/usr/bin/env bash
# One entrypoint for every role, used by `make run` and by the container image:
#   entrypoint.sh migrate | web | worker | beat | flower | all | dev
# `all` (what `make run` uses) migrates, collects static files, seeds the demo network, then runs
# the web as the image does (gunicorn with deploy/gunicorn.conf.py, sized for this machine), the
# worker and beat together; Ctrl-C stops all. `dev` (`make dev`) is the same with Django's
# auto-reloading runserver as the web (settings/dev.py: DEBUG and its error pages).
# In the image VENV=/opt/venv (see deploy/Dockerfile); in the repository the default is .venv.
#
# Environment (all optional): PORT (web; default: the port of PLATFORM_BASE_URL, else 8000),
# WEB_CONCURRENCY (gunicorn processes; 3 for `web`, one more than the CPUs for `all`), WEB_THREADS
# (per process; 2 for `all`: 3 x 2 served best on two cores, README «Benchmarks»), WORKER_CONCURRENCY, WORKER_QUEUES (comma-separated; default: the default queue),
# WORKER_MAX_TASKS_PER_CHILD, BEAT_SCHEDULE_FILE, MIGRATION_EXECUTOR (standard | multiprocessing),
# DATABASE_CREATE (1: create the database when missing, as `make run` does; 0 in clusters),
# PROMETHEUS_MULTIPROC_DIR (emptied at start: each container has its own), FLOWER_BASIC_AUTH,
# STOP_GRACE (`all`/`dev`: seconds Ctrl-C waits for a warm stop before killing; default 25).
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT" || exit 1

role="${1:-all}"
PORT="${PORT:-$("$PY" -c 'import os,urllib.parse as u; print(u.urlsplit(os.environ.get("PLATFORM_BASE_URL","http://localhost:8000")).port or 8000)')}"

migrate() {
  if [ "${DATABASE_CREATE:-1}" = "1" ]; then ensure_database; fi
  "$PY" manage.py migrate_schemas --noinput -v 0 --executor "${MIGRATION_EXECUTOR:-standard}"
  "$PY" manage.py platform_setup
}

# prometheus-client's multiprocess mode: one directory per container, emptied before the
# processes that write into it start (files of dead processes would otherwise be summed again).
metrics_dir() {
  if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 -maxdepth 1 -name '*.db' -delete
  fi
}

worker_args() {
  local args=(-A franchise_platform worker --loglevel "${LOG_LEVEL:-INFO}"
    --concurrency "${WORKER_CONCURRENCY:-2}")
  if [ -n "${WORKER_QUEUES:-}" ]; then args+=(--queues "$WORKER_QUEUES"); fi
  if [ -n "${WORKER_MAX_TASKS_PER_CHILD:-}" ]; then
    args+=(--max-tasks-per-child "$WORKER_MAX_TASKS_PER_CHILD")
  fi
  if [ -n "${WORKER_HOSTNAME:-}" ]; then args+=(--hostname "$WORKER_HOSTNAME"); fi
  printf '%s\n' "${args[@]}"
}

case "$role" in
  migrate) migrate ;;
  web)
    metrics_dir
    exec "$VENV/bin/gunicorn" franchise_platform.wsgi:application -c "$ROOT/deploy/gunicorn.conf.py" \
      --bind "0.0.0.0:$PORT" --workers "${WEB_CONCURRENCY:-3}" ;;
  worker)
    metrics_dir
    mapfile -t args < <(worker_args)
    exec "$VENV/bin/celery" "${args[@]}" ;;
  beat)
    schedule="${BEAT_SCHEDULE_FILE:-$ROOT/.local/celerybeat-schedule}"
    mkdir -p "$(dirname "$schedule")"
    exec "$VENV/bin/celery" -A franchise_platform beat --loglevel "${LOG_LEVEL:-INFO}" \
      --schedule "$schedule" ;;
  flower)
    # Celery's monitor; only with a login (Flower itself reads FLOWER_BASIC_AUTH).
    [ -n "${FLOWER_BASIC_AUTH:-}" ] || die "flower needs FLOWER_BASIC_AUTH=user:password"
    exec "$VENV/bin/celery" -A franchise_platform flower --port="${FLOWER_PORT:-5555}" ;;
  all | dev)
    migrate
    if [ "$role" = "all" ]; then "$PY" manage.py collectstatic --noinput -v 0; fi
    "$PY" manage.py demo_network
    mkdir -p "$ROOT/.local"
    # One directory for the three processes: /metrics on the web then shows the worker's too.
    export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$ROOT/.local/prometheus}"
    metrics_dir
    pids=()
    # Ctrl-C: a warm stop, then past STOP_GRACE a kill of what still runs (stop_processes, lib.sh).
    stop_all() {
      trap '' INT TERM
      say "stopping"
      stop_processes "${STOP_GRACE:-25}" "${pids[@]}"
      wait || true
      exit 0
    }
    trap stop_all INT TERM
    if [ "$role" = "all" ]; then
      # The image's server and configuration; WhiteNoise in it serves the collected static files.
      WEB_THREADS="${WEB_THREADS:-2}" "$VENV/bin/gunicorn" franchise_platform.wsgi:application \
        -c "$ROOT/deploy/gunicorn.conf.py" --bind "0.0.0.0:$PORT" \
        --workers "${WEB_CONCURRENCY:-$(( $(nproc) + 1 ))}" & pids+=($!)
    else
      "$PY" manage.py runserver "0.0.0.0:$PORT" & pids+=($!)
    fi
    # The worker below the web's CPU priority: on one host a burst of payments is acknowledged
    # first and applied right after (deploy/compose.yaml gives it fewer CPU shares likewise).
    # Linux's SCHED_IDLE (chrt --idle) where it is allowed: the kernel then gives the worker only
    # the CPU time the web leaves unused and preempts it whenever a web thread wakes. nice 19
    # alone still let it take a quarter of the cores during a burst (README «Benchmarks»).
    # WORKER_SCHED_IDLE=0 keeps the ordinary policy.
    worker_priority=(nice -n "${WORKER_NICE:-19}")
    if [ "${WORKER_SCHED_IDLE:-1}" = 1 ]; then
      if command -v chrt > /dev/null && chrt --idle 0 true 2> /dev/null; then
        worker_priority=(chrt --idle 0 "${worker_priority[@]}")
      else
        say "chrt --idle is not available here: the worker runs at nice ${WORKER_NICE:-19} only"
      fi
    fi
    "${worker_priority[@]}" "$VENV/bin/celery" -A franchise_platform worker --loglevel INFO \
      --concurrency "${WORKER_CONCURRENCY:-2}" & pids+=($!)
    "$VENV/bin/celery" -A franchise_platform beat --loglevel INFO \
      --schedule "${BEAT_SCHEDULE_FILE:-$ROOT/.local/celerybeat-schedule}" & pids+=($!)
    say "web on :$PORT, worker and beat running — Ctrl-C stops all three"
    wait -n "${pids[@]}" || true
    stop_processes "${STOP_GRACE:-25}" "${pids[@]}"
    wait || true
    ;;
  *) die "unknown role: $role (migrate | web | worker | beat | flower | all | dev)" ;;
esac
