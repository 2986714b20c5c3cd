#!/usr/bin/env bash
# Build and run deploy/Dockerfile without a Docker engine: buildah builds, podman runs, both on
# the vfs storage driver (no overlay or fuse needed) with runc.
#   scripts/image.sh build                 the image (default); `make image` runs this
#   scripts/image.sh base                  only the local base image (debootstrap), when missing
#   scripts/image.sh run ROLE [OPTIONS…]   podman run IMAGE ROLE with this machine's flags
#   scripts/image.sh podman ARGS…          podman on the same storage (logs, rm, images, …)
#
# The base: the official python:3.11-slim-bookworm when a registry answers within a few seconds,
# otherwise localhost/franchise-base:bookworm, Debian bookworm (whose python3 is 3.11) bootstrapped
# from Debian's archive with debootstrap, built once and kept. IMAGE_BASE=official|local forces one.
#
# Environment: IMAGE (default localhost/franchise-platform:latest), IMAGE_BASE, DEBIAN_MIRROR,
# CONTAINERS_STORAGE_DRIVER (vfs).
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IMAGE="${IMAGE:-localhost/franchise-platform:latest}"
LOCAL_BASE="localhost/franchise-base:bookworm"
OFFICIAL_BASE="docker.io/library/python:3.11-slim-bookworm"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
STORAGE=(--storage-driver "${CONTAINERS_STORAGE_DRIVER:-vfs}")

# A registry that answers /v2/ (401 or 200) within 5 s; no answer means no registry here.
registry_reachable() {
  local code
  code="$(curl -sS -m 5 -o /dev/null -w '%{http_code}' https://registry-1.docker.io/v2/ 2>/dev/null || true)"
  [ "$code" = "401" ] || [ "$code" = "200" ]
}

local_base_present() {
  buildah "${STORAGE[@]}" inspect --type image "$LOCAL_BASE" >/dev/null 2>&1
}

# Debian bookworm, minimal, with Python 3.11 and venv; `python` is python3.11 as in the official
# image (the Dockerfile calls `python`). Apt's sources include updates and security, as the
# official image's do.
base_build() {
  local rootfs ctr
  rootfs="$(mktemp -d /var/tmp/franchise-base.XXXXXX)"
  # shellcheck disable=SC2064  # expand now: this run's directory
  trap "rm -rf '$rootfs'" RETURN
  say "bootstrapping Debian bookworm into $rootfs (debootstrap, $DEBIAN_MIRROR)"
  debootstrap --variant=minbase --include=python3.11,python3-venv,python3-distutils,ca-certificates \
    bookworm "$rootfs" "$DEBIAN_MIRROR" >"$rootfs.log" 2>&1 \
    || { tail -n 30 "$rootfs.log" >&2; die "debootstrap failed (log: $rootfs.log)"; }
  rm -f "$rootfs.log"
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $DEBIAN_MIRROR bookworm main
deb $DEBIAN_MIRROR bookworm-updates main
deb ${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} bookworm-security main
EOF
  ln -sf /usr/bin/python3.11 "$rootfs/usr/local/bin/python"
  ln -sf /usr/bin/python3.11 "$rootfs/usr/local/bin/python3"
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb
  ctr="$(buildah "${STORAGE[@]}" from scratch)"
  # shellcheck disable=SC2064
  trap "rm -rf '$rootfs' '$rootfs.tar'; buildah ${STORAGE[*]} rm '$ctr' >/dev/null 2>&1 || true" RETURN
  # A tar archive given to `buildah add` is unpacked, owners, modes and device nodes kept.
  tar -C "$rootfs" -cf "$rootfs.tar" .
  buildah "${STORAGE[@]}" add "$ctr" "$rootfs.tar" /
  rm -f "$rootfs.tar"
  buildah "${STORAGE[@]}" config --env LANG=C.UTF-8 \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd python3 --label org.opencontainers.image.title=franchise-base \
    --label "org.opencontainers.image.description=Debian bookworm (debootstrap) with Python 3.11" "$ctr"
  buildah "${STORAGE[@]}" commit --quiet "$ctr" "$LOCAL_BASE" >/dev/null
  say "base image $LOCAL_BASE ready"
}

ensure_base() {
  if local_base_present; then return 0; fi
  base_build
}

choose_base() {
  case "${IMAGE_BASE:-auto}" in
    official) echo "$OFFICIAL_BASE" ;;
    local) ensure_base >&2 && echo "$LOCAL_BASE" ;;
    auto)
      if registry_reachable; then
        echo "$OFFICIAL_BASE"
      else
        say "no container registry answers: building on the local base $LOCAL_BASE" >&2
        ensure_base >&2 && echo "$LOCAL_BASE"
      fi
      ;;
    *) die "IMAGE_BASE must be official, local or auto (got: $IMAGE_BASE)" ;;
  esac
}

# Package installs in RUN steps see this machine's CA bundle and pip configuration (mounted for
# the RUN only, never part of a layer): some networks reach PyPI only through their own CA.
build_mounts() {
  local cert="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" mounts=()
  if [ -f "$cert" ]; then mounts+=(--volume "$cert:/etc/ssl/certs/ca-certificates.crt:ro"); fi
  if [ -f /etc/pip.conf ]; then mounts+=(--volume /etc/pip.conf:/etc/pip.conf:ro); fi
  if [ -d /etc/xdg/pip ]; then mounts+=(--volume /etc/xdg/pip:/etc/xdg/pip:ro); fi
  if [ -n "${PIP_FIND_LINKS:-}" ] && [ -d "$PIP_FIND_LINKS" ]; then
    mounts+=(--volume "$PIP_FIND_LINKS:$PIP_FIND_LINKS:ro")
  fi
  if [ ${#mounts[@]} -gt 0 ]; then printf '%s\n' "${mounts[@]}"; fi
}

image_build() {
  local base mounts=()
  base="$(choose_base)"
  mapfile -t mounts < <(build_mounts)
  say "building $IMAGE from deploy/Dockerfile on $base"
  # --layers: the dependency layer (requirements.lock) is reused until the lock changes;
  # --format docker: the Dockerfile's SHELL (pipefail) is kept (OCI images have no SHELL).
  local bud=(buildah "${STORAGE[@]}" bud --layers --format docker --runtime runc --network host
    --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 --ignorefile deploy/Dockerfile.dockerignore
    --build-arg "PYTHON_IMAGE=$base" "${mounts[@]}" -f deploy/Dockerfile)
  local out build_stage
  out="$(mktemp)"
  # shellcheck disable=SC2064  # expand now: this run's file
  trap "rm -f '$out'" RETURN
  (cd "$ROOT" && "${bud[@]}" -t "$IMAGE" . | tee "$out")
  # The build stage's last layer (the line `--> <id>` before the runtime stage starts) gets a tag
  # of its own, so that pruning (below) keeps the build stage's layers as the next build's cache.
  build_stage="$(awk '/STEP 1\/.* AS runtime/ {print last; exit} /^--> / {last=$NF}' "$out")"
  if [ -n "$build_stage" ]; then buildah "${STORAGE[@]}" tag "$build_stage" "$IMAGE-build"; fi
  # vfs keeps a full copy of the file system per layer: the layers of earlier builds that no tag
  # reaches any more go (the cached base and dependency layers are reached by the tags).
  buildah "${STORAGE[@]}" rmi --prune >/dev/null 2>&1 || true
  say "built $IMAGE ($(buildah "${STORAGE[@]}" images --format "{{.Size}}" "$IMAGE"))"
}

# podman on this machine: runc (crun fails on hybrid cgroups), host network (a bridge would leave
# interfaces and firewall rules behind), bounded ulimits (the host's are too large for runc).
image_run() {
  local role="${1:?role: web | worker | beat | migrate | flower}"
  shift
  exec podman "${STORAGE[@]}" run --runtime runc --network host \
    --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 "$@" "$IMAGE" "$role"
}

case "${1:-build}" in
  build) image_build ;;
  base) ensure_base ;;
  run) shift && image_run "$@" ;;
  podman) shift && exec podman "${STORAGE[@]}" "$@" ;;
  *) die "usage: scripts/image.sh build | base | run ROLE [podman run options] | podman ARGS" ;;
esac
