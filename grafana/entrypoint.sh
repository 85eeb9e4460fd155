#!/bin/sh
# Grafana's contact points read their secrets as files: notifications.yml says
# `$__file{/tmp/tradewatch-secrets/NAME}` (Grafana expands it in provisioning values, whitespace
# trimmed). This script only makes every NAME exist: a symlink to /run/secrets/NAME when that secret
# is non-empty (the secret is never copied nor put in an environment variable), else an inert value.
# Why not `$__file{/run/secrets/NAME}` directly: an empty (or absent) secret means "not configured" in
# TradeWatch and the stack must still start, but `$__file` has no default, fails on a missing file,
# and Grafana refuses a Slack/PagerDuty/Opsgenie/webhook contact point with an empty URL or key. The
# inert URLs are a closed local port: sends fail and are logged, nothing leaves the host.
set -eu
src=/run/secrets
dir=/tmp/tradewatch-secrets
inert=http://127.0.0.1:9/not-configured
umask 077
rm -rf "$dir"
mkdir -p "$dir"

# provide NAME FALLBACK: link the secret when it has a non-blank character, else write FALLBACK.
provide() {
  if [ -r "$src/$1" ] && grep -q '[^[:space:]]' "$src/$1"; then
    ln -s "$src/$1" "$dir/$1"
  else
    printf '%s' "$2" > "$dir/$1"
    echo "tradewatch: $src/$1 is empty; Grafana's contact points using it are inert" >&2
    return 1
  fi
}
# endpoint SECRET URL_NAME URL: a service's API URL, inert when its key is not configured.
endpoint() {
  url=$3
  provide "$1" not-configured || url=$inert
  printf '%s' "$url" > "$dir/$2"
}

provide slack_webhook_url http://127.0.0.1:9/slack-not-configured || true
provide alert_webhook_url "$inert" || true
endpoint pagerduty_routing_key pagerduty_url https://events.pagerduty.com/v2/enqueue
endpoint opsgenie_api_key opsgenie_api_url https://api.opsgenie.com/v2/alerts
exec /run.sh "$@"
