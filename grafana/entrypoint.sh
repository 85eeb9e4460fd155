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
# The paging contact points (PagerDuty, Opsgenie, webhook) the same way: an empty secret points the
# integration at the closed local port, so it fails locally and nothing leaves the host.
inert="http://127.0.0.1:9/not-configured"
read_secret() { if [ -r "/run/secrets/$1" ]; then tr -d '\r\n' < "/run/secrets/$1"; fi; }
TRADEWATCH_PAGERDUTY_ROUTING_KEY=$(read_secret pagerduty_routing_key)
TRADEWATCH_PAGERDUTY_URL="https://events.pagerduty.com/v2/enqueue"
if [ -z "$TRADEWATCH_PAGERDUTY_ROUTING_KEY" ]; then TRADEWATCH_PAGERDUTY_ROUTING_KEY=not-configured; TRADEWATCH_PAGERDUTY_URL=$inert; fi
TRADEWATCH_OPSGENIE_API_KEY=$(read_secret opsgenie_api_key)
TRADEWATCH_OPSGENIE_API_URL="https://api.opsgenie.com/v2/alerts"
if [ -z "$TRADEWATCH_OPSGENIE_API_KEY" ]; then TRADEWATCH_OPSGENIE_API_KEY=not-configured; TRADEWATCH_OPSGENIE_API_URL=$inert; fi
TRADEWATCH_ALERT_WEBHOOK_URL=$(read_secret alert_webhook_url)
if [ -z "$TRADEWATCH_ALERT_WEBHOOK_URL" ]; then TRADEWATCH_ALERT_WEBHOOK_URL=$inert; fi
export TRADEWATCH_PAGERDUTY_ROUTING_KEY TRADEWATCH_PAGERDUTY_URL TRADEWATCH_OPSGENIE_API_KEY TRADEWATCH_OPSGENIE_API_URL TRADEWATCH_ALERT_WEBHOOK_URL
exec /run.sh "$@"
