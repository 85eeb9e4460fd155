#!/usr/bin/env bash
# base.sh MIRROR TAG [FILE...]: a Debian bookworm base image for the container tier (no registry
# here, so nothing is pulled). debootstrap minbase + python3/venv + busybox (wget for the stand-ins'
# healthchecks), `python` -> python3 like the python:*-slim images the Dockerfile expects, and the
# machine's CA bundle and pip configuration FILEs copied to the same paths, so pip inside a build
# reaches the package index exactly as pip on this machine does.
set -euo pipefail
MIRROR=$1 TAG=$2; shift 2
ROOTFS=$(mktemp -d /tmp/tw-base.XXXXXX)
trap 'rm -rf "$ROOTFS"' EXIT
chmod 755 "$ROOTFS"  # mktemp makes it 0700: the image's / must be traversable by non-root users
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates,busybox \
  bookworm "$ROOTFS" "$MIRROR" >"$ROOTFS.log" 2>&1 || { tail -20 "$ROOTFS.log"; exit 1; }
rm -f "$ROOTFS.log"
ln -sf python3 "$ROOTFS/usr/bin/python"
ln -sf /bin/busybox "$ROOTFS/usr/local/bin/wget"
for f in "$@"; do
  [ -f "$f" ] || continue
  install -D -m 644 "$f" "$ROOTFS$f"
done
# Smaller and reproducible-ish: no apt lists or caches, no docs.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/*
tar -C "$ROOTFS" --numeric-owner -c . | docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
  -c 'CMD ["/bin/bash"]' - "$TAG" >/dev/null
