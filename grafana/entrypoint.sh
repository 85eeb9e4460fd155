#!/bin/sh
# Grafana refuses to provision a Slack contact point whose URL is empty, while in TradeWatch an empty
# (or absent) secrets/slack_webhook_url means "Slack not configured" and the stack must still start.
# So the secret is read here and handed to provisioning as TRADEWATCH_SLACK_WEBHOOK_URL; without one,
# the Slack contact points point at a closed local port (their sends fail and are logged, nothing leaves).
set -eu
secret=/run/secrets/slack_webhook_url
url=""
if [ -r "$secret" ]; then url=$(tr -d '\r\n' < "$secret"); fi
if [ -z "$url" ]; then
  url="http://127.0.0.1:9/slack-not-configured"
  echo "tradewatch: $secret is empty; Grafana's Slack contact points are inert (e-mail still works)" >&2
fi
export TRADEWATCH_SLACK_WEBHOOK_URL="$url"
exec /run.sh "$@"
