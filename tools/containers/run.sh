#!/usr/bin/env bash
# `make test-containers`: the container tier. Starts a private dockerd, builds every image this
# machine can build (Debian base by debootstrap, the exporters image from exporters/Dockerfile,
# stand-ins for Prometheus, Alertmanager and Mailpit from Debian packages), runs the stack from
# docker-compose.yml through tools/containers/compose.py and the checks in tests/containers/, then
# stops the engine. docs/containers.md explains the design; timings are printed at the end.
#
#   SKIP when not root or when docker.io/debootstrap cannot be installed (a reason is printed).
#   TRADEWATCH_CONTAINERS_CACHE  image cache (default /var/cache/tradewatch-containers)
#   TRADEWATCH_CONTAINERS_KEEP=1 leave the engine running (prints DOCKER_HOST) for debugging
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PY=${PY:-$ROOT/.venv/bin/python}
CACHE=${TRADEWATCH_CONTAINERS_CACHE:-/var/cache/tradewatch-containers}
# An unusual private range, so this engine's networks collide with nothing on the machine.
POOL=${TRADEWATCH_CONTAINERS_POOL:-10.217.0.0/16}
BIP=${TRADEWATCH_CONTAINERS_BIP:-10.218.0.1/24}
# The client that comes with the engine (docker.io); the classic builder, whose --cache-from
# accepts images loaded from a tarball (the exporters build relies on it).
export PATH=/usr/bin:$PATH DOCKER_BUILDKIT=0
T0=$(date +%s)
declare -a TIMES=()
step() { TIMES+=("$(printf '%-34s %4ss' "$1" "$(( $(date +%s) - $2 ))")"); }
skip() { echo "test-containers: SKIPPED: $*"; exit 0; }

[ "$(id -u)" = 0 ] || skip "needs root to run its own dockerd (you are uid $(id -u))"
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  if ! command -v apt-get >/dev/null; then skip "no dockerd/debootstrap and no apt-get to install them"; fi
  t=$(date +%s)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io debootstrap >/tmp/tw-containers-apt.log 2>&1 \
    || skip "apt-get install docker.io debootstrap failed (see /tmp/tw-containers-apt.log)"
  step "install docker.io debootstrap" "$t"
fi

# ------------------------------------------------------------------ a private engine
WORK=$(mktemp -d /tmp/tw-dockerd.XXXXXX)
export DOCKER_HOST=unix://$WORK/docker.sock
stop_engine() {
  if [ "${TRADEWATCH_CONTAINERS_KEEP:-0}" = 1 ]; then
    echo "test-containers: engine kept: DOCKER_HOST=$DOCKER_HOST (kill \$(cat $WORK/dockerd.pid))"; return
  fi
  if [ -s "$WORK/dockerd.pid" ]; then
    local pid; pid=$(cat "$WORK/dockerd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  # Leftover container mounts (vfs has none, but shm/secrets/volumes do) before removing the root.
  grep -o " $WORK/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  ip link delete tw-ci0 2>/dev/null || true
  rm -rf "$WORK"
}
trap stop_engine EXIT
t=$(date +%s)
# Its own bridge (tw-ci0, created here), address pool, data root, exec root, pidfile and socket.
ip link add tw-ci0 type bridge
ip addr add "$BIP" dev tw-ci0
ip link set tw-ci0 up
# In its own mount namespace, where / is made rshared: docker-compose.yml mounts / with rslave
# propagation (system-exporter), which needs a shared or slave /. The host's mount table is left
# as it is (the namespace's propagation from the host is private).
unshare --mount --propagation private sh -c 'mount --make-rshared / && exec "$@"' dockerd \
  dockerd --storage-driver vfs --data-root "$WORK/data" --exec-root "$WORK/exec" \
  --pidfile "$WORK/dockerd.pid" --host "$DOCKER_HOST" --bridge tw-ci0 \
  --default-address-pool "base=$POOL,size=24" --ip 127.0.0.1 --log-level warn \
  >"$WORK/dockerd.log" 2>&1 &
for _ in $(seq 120); do docker version >/dev/null 2>&1 && break; sleep 0.5; done
docker version >/dev/null 2>&1 || { tail -20 "$WORK/dockerd.log"; echo "test-containers: FAILED: dockerd did not start"; exit 1; }
step "start dockerd" "$t"

# ------------------------------------------------------------------ images (cached by content)
mkdir -p "$CACHE"
load_or() {  # load_or NAME KEY -- build command...: docker load a cached tarball or build and save it
  local name=$1 key=$2; shift 3
  local tar="$CACHE/$name-$key.tar" t; t=$(date +%s)
  if [ -s "$tar" ]; then docker load -q -i "$tar" >/dev/null; step "load $name (cached)" "$t"; return; fi
  "$@"
  local images; images=$(docker images --format '{{.Repository}}:{{.Tag}}' --filter "label=tradewatch.ci.image=$name")
  [ "$name" = base ] && images=tradewatch-ci/base:bookworm
  rm -f "$CACHE/$name"-*.tar
  # shellcheck disable=SC2086
  docker save -o "$tar.tmp" $images && mv "$tar.tmp" "$tar"
  step "build $name" "$t"
}
hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
# What pip inside the images needs to reach the index the way this machine does.
PIP_FILES=(/etc/ssl/certs/ca-certificates.crt /etc/pip.conf /etc/xdg/pip/pip.conf /etc/xdg/pip/constraints.txt)
BASE_KEY=$(echo "$MIRROR bookworm minbase python3,python3-venv,ca-certificates,busybox $(hash_of tools/containers/base.sh "${PIP_FILES[@]}")" | sha256sum | cut -c1-16)
load_or base "$BASE_KEY" -- bash tools/containers/base.sh "$MIRROR" tradewatch-ci/base:bookworm "${PIP_FILES[@]}"

STANDIN_KEY=$(echo "$BASE_KEY $(hash_of tools/containers/images/*)" | sha256sum | cut -c1-16)
image() { "$PY" tools/containers/compose.py image "$1"; }
STANDIN_TAGS=("$(image prometheus)" "$(image alertmanager)" "$(image mailpit)")
load_or standins "$STANDIN_KEY" -- bash tools/containers/images/build.sh tradewatch-ci/base:bookworm "${STANDIN_TAGS[@]}"

# The exporters image: docker's own layer cache does the work. The previous build (both stages) is
# loaded and given as --cache-from, so the dependency layers (numpy, scipy, matplotlib: minutes on
# vfs) are reused while pyproject.toml and the base are unchanged; the source layers always rebuild.
t=$(date +%s)
IMAGE=$(image trading-exporter)
IFS=$'\t' read -r CONTEXT DOCKERFILE < <("$PY" tools/containers/compose.py build trading-exporter)
EXP_CACHE="$CACHE/exporters-cache-$BASE_KEY.tar"
[ -s "$EXP_CACHE" ] && docker load -q -i "$EXP_CACHE" >/dev/null
build_exporters() {
  docker build -q --build-arg PYTHON_IMAGE=tradewatch-ci/base:bookworm --target build \
    --cache-from tradewatch-ci/exporters-build:latest -t tradewatch-ci/exporters-build:latest \
    -f "$CONTEXT/$DOCKERFILE" "$CONTEXT" >/dev/null
  docker build --build-arg PYTHON_IMAGE=tradewatch-ci/base:bookworm \
    --cache-from tradewatch-ci/exporters-build:latest --cache-from "$IMAGE" -t "$IMAGE" \
    -f "$CONTEXT/$DOCKERFILE" "$CONTEXT" >"$WORK/exporters-build.log" 2>&1
}
if ! build_exporters; then
  tail -40 "$WORK/exporters-build.log"; echo "test-containers: FAILED: exporters image does not build"; exit 1
fi
rm -f "$CACHE"/exporters-cache-*.tar
docker save -o "$EXP_CACHE.tmp" tradewatch-ci/exporters-build:latest "$IMAGE" && mv "$EXP_CACHE.tmp" "$EXP_CACHE"
step "build exporters (exporters/Dockerfile)" "$t"
docker image prune -f >/dev/null

# ------------------------------------------------------------------ the stack and its checks
t=$(date +%s)
rc=0
TRADEWATCH_CONTAINERS=1 "$PY" -m pytest -p no:cacheprovider -m containers tests/containers -v \
  --timeout 900 "${@}" || rc=$?
step "stack checks (pytest -m containers)" "$t"
step "total" "$T0"
echo "test-containers timings:"; printf '  %s\n' "${TIMES[@]}"
[ "$rc" = 0 ] || { echo "test-containers: FAILED (dockerd log: $WORK/dockerd.log)"; cp "$WORK/dockerd.log" /tmp/tw-dockerd-last.log; }
exit "$rc"
