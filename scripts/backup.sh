#!/usr/bin/env bash
# Backups of the whole database (the public schema, the template and every network's schema) and
# their restore into a fresh database. See deploy/BACKUP.md.
#
#   scripts/backup.sh dump [--out DIR]                       DATABASE_URL -> DIR/<db>-<UTC time>.dump
#                                                            and <same>.manifest.json
#   scripts/backup.sh verify FILE.dump                       checksum and catalogue of a dump
#   scripts/backup.sh restore FILE.dump --database NAME      into NAME, which must not exist yet
#                                                            (created on DATABASE_URL's server)
#
# The dump is pg_dump's custom format (compressed, restorable selectively, in parallel with -j).
# The manifest names what is inside (networks, schemas, migrations) and which master keys
# (fingerprints only, never keys) wrap the networks' data keys: a restore needs those keys in
# PLATFORM_ENCRYPTION_KEYS, or no secret in it can be read.
# Needs pg_dump/pg_restore/psql of the server's major version or newer (the image has them).
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }

db_url() { echo "${DATABASE_URL:?DATABASE_URL is required}"; }

# A libpq URL for another database on the same server.
url_for_db() {
  "$PY" - "$1" "$2" <<'PYEOF'
import sys, urllib.parse as u
url = u.urlsplit(sys.argv[1])
print(u.urlunsplit((url.scheme, url.netloc, "/" + sys.argv[2], url.query, "")))
PYEOF
}

sha256() { "$PY" -c 'import hashlib,sys; h=hashlib.sha256(); f=open(sys.argv[1],"rb"); [h.update(b) for b in iter(lambda: f.read(1<<20), b"")]; print(h.hexdigest())' "$1"; }

manifest_write() {
  local url="$1" dump="$2" out="$3"
  DUMP_SHA256="$(sha256 "$dump")" DUMP_FILE="$(basename "$dump")" \
  PG_DUMP_VERSION="$(pg_dump --version)" "$PY" - "$url" "$out" <<'PYEOF'
import json, os, sys, urllib.parse as u
from datetime import UTC, datetime
import psycopg2

url, out = sys.argv[1], sys.argv[2]
conn = psycopg2.connect(url)
conn.set_session(readonly=True, autocommit=True)
cur = conn.cursor()
cur.execute("SHOW server_version")
server = cur.fetchone()[0]
cur.execute("SELECT current_database()")
database = cur.fetchone()[0]
cur.execute(
    "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
    "AND nspname <> 'information_schema' ORDER BY nspname"
)
schemas = [r[0] for r in cur.fetchall()]
networks = []
cur.execute("SELECT to_regclass('public.tenants_network') IS NOT NULL")
if cur.fetchone()[0]:
    cur.execute(
        "SELECT slug, schema_name FROM public.tenants_network "
        "WHERE schema_name <> 'public' ORDER BY slug"
    )
    networks = [{"slug": s, "schema": n} for s, n in cur.fetchall()]
key_ids = set()
migrations = {}
for schema in schemas:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", [f'"{schema}".security_datakey'])
    if cur.fetchone()[0]:
        cur.execute(f'SELECT DISTINCT master_key_id FROM "{schema}".security_datakey')
        key_ids.update(r[0] for r in cur.fetchall())
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", [f'"{schema}".django_migrations'])
    if cur.fetchone()[0]:
        cur.execute(f'SELECT count(*) FROM "{schema}".django_migrations')
        migrations[schema] = cur.fetchone()[0]
manifest = {
    "format": "franchise-platform-backup/1",
    "file": os.environ["DUMP_FILE"],
    "sha256": os.environ["DUMP_SHA256"],
    "bytes": os.path.getsize(os.path.join(os.path.dirname(out), os.environ["DUMP_FILE"])),
    "created_at": datetime.now(UTC).isoformat(),
    "database": database,
    "server_version": server,
    "pg_dump": os.environ["PG_DUMP_VERSION"],
    "schemas": schemas,
    "networks": networks,
    "migrations": migrations,
    "master_key_ids": sorted(key_ids),
}
with open(out, "w") as fh:
    json.dump(manifest, fh, ensure_ascii=False, indent=2)
print(f"==> manifest {out}: {len(networks)} networks, {len(schemas)} schemas")
PYEOF
}

cmd_dump() {
  local out="${BACKUP_DIR:-$ROOT/.local/backups}"
  while [ $# -gt 0 ]; do
    case "$1" in
      --out) out="$2"; shift 2 ;;
      *) usage ;;
    esac
  done
  mkdir -p "$out"
  local url name stamp dump
  url="$(db_url)"
  name="$("$PY" -c 'import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).path.lstrip("/"))' "$url")"
  stamp="$(date -u +%Y%m%dT%H%M%SZ)"
  dump="$out/$name-$stamp.dump"
  say "dumping $name (all schemas) to $dump"
  # One consistent snapshot of every schema; owners and grants are the target's business.
  pg_dump --format=custom --compress=6 --no-owner --no-privileges --file="$dump.partial" "$url"
  mv "$dump.partial" "$dump"
  manifest_write "$url" "$dump" "$dump.manifest.json"
  echo "$dump"
}

cmd_verify() {
  local dump="${1:-}"
  [ -f "$dump" ] || usage
  local manifest="$dump.manifest.json"
  [ -f "$manifest" ] || die "no manifest next to $dump"
  local expected actual
  expected="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' "$manifest")"
  actual="$(sha256 "$dump")"
  [ "$expected" = "$actual" ] || die "checksum mismatch: $dump is damaged or not the one its manifest names"
  pg_restore --list "$dump" >/dev/null || die "pg_restore cannot read $dump"
  say "verified $dump (sha256 $actual)"
}

cmd_restore() {
  local dump="${1:-}" target=""
  shift || true
  while [ $# -gt 0 ]; do
    case "$1" in
      --database) target="$2"; shift 2 ;;
      *) usage ;;
    esac
  done
  [ -n "$target" ] || usage
  [[ "$target" =~ ^[A-Za-z0-9_]{1,63}$ ]] || die "database name: letters, digits and _ only"
  cmd_verify "$dump"
  local admin
  admin="$(url_for_db "$(db_url)" postgres)"
  # A fresh database only: restoring over live data is never what a restore should do.
  if [ "$(psql "$admin" -Atc "SELECT 1 FROM pg_database WHERE datname = '$target'")" = "1" ]; then
    die "database $target already exists; restore into a new one and switch DATABASE_URL"
  fi
  psql "$admin" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$target\""
  say "restoring $dump into $target"
  pg_restore --no-owner --no-privileges --exit-on-error --jobs="${RESTORE_JOBS:-2}" \
    --dbname="$(url_for_db "$(db_url)" "$target")" "$dump"
  # The restored database must hold every schema the manifest names.
  "$PY" - "$(url_for_db "$(db_url)" "$target")" "$dump.manifest.json" <<'PYEOF'
import json, sys
import psycopg2
manifest = json.load(open(sys.argv[2]))
with psycopg2.connect(sys.argv[1]) as conn, conn.cursor() as cur:
    cur.execute("SELECT nspname FROM pg_namespace")
    present = {r[0] for r in cur.fetchall()}
missing = sorted(set(manifest["schemas"]) - present)
if missing:
    sys.exit(f"restore incomplete, missing schemas: {missing}")
print(f"==> restored {len(manifest['networks'])} networks; master keys needed: "
      f"{', '.join(manifest['master_key_ids']) or 'none'}")
PYEOF
}

case "${1:-}" in
  dump) shift; cmd_dump "$@" ;;
  verify) shift; cmd_verify "$@" ;;
  restore) shift; cmd_restore "$@" ;;
  *) usage ;;
esac
