#!/bin/sh
# Starts Alertmanager with Slack when the webhook secret exists, e-mail only otherwise.
# Works with the busybox shell of the prom/alertmanager image (and any POSIX sh).
#   /run/secrets/slack_webhook_url non-empty -> alertmanager.yml (Slack + e-mail)
#   otherwise                                -> alertmanager.email-only.yml (generated, no Slack)
# TRADEWATCH_QUIET_HOURS_TZ (an IANA zone such as America/New_York) replaces the quiet-hours
# location. Extra arguments are passed to Alertmanager.
set -eu
CONFIG_DIR="${ALERTMANAGER_CONFIG_DIR:-/etc/alertmanager}"
SLACK_SECRET="${SLACK_WEBHOOK_URL_FILE:-/run/secrets/slack_webhook_url}"
RUN_DIR="${ALERTMANAGER_RUN_DIR:-/tmp}"
BIN="${ALERTMANAGER_BIN:-/bin/alertmanager}"

if [ -s "$SLACK_SECRET" ] && [ -r "$SLACK_SECRET" ]; then
  src="$CONFIG_DIR/alertmanager.yml"
  echo "entrypoint: Slack webhook secret found: Slack + e-mail" >&2
elif [ -s "$SLACK_SECRET" ]; then
  src="$CONFIG_DIR/alertmanager.email-only.yml"
  echo "entrypoint: $SLACK_SECRET exists but is not readable by uid $(id -u): e-mail only (chmod 644 it)" >&2
else
  src="$CONFIG_DIR/alertmanager.email-only.yml"
  echo "entrypoint: no Slack webhook secret ($SLACK_SECRET): e-mail only" >&2
fi
out="$RUN_DIR/alertmanager.yml"
if [ -n "${TRADEWATCH_QUIET_HOURS_TZ:-}" ]; then
  case "$TRADEWATCH_QUIET_HOURS_TZ" in
    *[!A-Za-z0-9_/+-]*) echo "entrypoint: invalid TRADEWATCH_QUIET_HOURS_TZ" >&2; exit 2 ;;
  esac
  sed "s#location: Europe/London#location: $TRADEWATCH_QUIET_HOURS_TZ#" "$src" > "$out"
else
  cp "$src" "$out"
fi
# Templates are referenced by absolute path in the config; keep them where they are.
exec "$BIN" --config.file="$out" "$@"
