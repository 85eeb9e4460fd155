#!/usr/bin/env bash
# build.sh BASE PROMETHEUS_TAG ALERTMANAGER_TAG MAILPIT_TAG: the stand-in images (standins.Dockerfile),
# tagged with the image names docker-compose.yml uses.
set -euo pipefail
cd "$(dirname "$0")"
BASE=$1
build() { docker build -q --build-arg BASE="$BASE" --target "$1" -t "$2" -f standins.Dockerfile . >/dev/null; }
build tools tradewatch-ci/standins-tools:latest
build prometheus "$2"
build alertmanager "$3"
build mailpit "$4"
build slack tradewatch-ci/slack:latest
