#!/usr/bin/env bash
# Installs the Debian packages the test suite runs for real: Prometheus (with promtool) and
# Alertmanager (with amtool); node_exporter too, for `make bench` comparisons.
# Only when missing and only as root; otherwise says what will be skipped.
set -euo pipefail
want=()
command -v promtool >/dev/null 2>&1 || want+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || want+=(prometheus-alertmanager)
if [ "${WITH_NODE_EXPORTER:-0}" = 1 ]; then
  command -v prometheus-node-exporter >/dev/null 2>&1 || want+=(prometheus-node-exporter)
fi
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "NOTE: ${want[*]} missing and not running as root: tests that need them will be skipped." >&2
  echo "      Install with: sudo apt-get install -y ${want[*]}" >&2
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || { echo "NOTE: no apt-get; ${want[*]} missing: tests that need them will be skipped." >&2; exit 0; }
echo "installing ${want[*]} from Debian"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# The packages try to start system services; there is no init here and we run our own
# processes on our own ports, so a failing service start must not fail the install.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
apt-get install -y -q --no-install-recommends "${want[@]}" >/dev/null
rm -f /usr/sbin/policy-rc.d
