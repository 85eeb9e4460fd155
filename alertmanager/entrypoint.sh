#!/bin/sh
# Starts Alertmanager with the channels whose secret file is non-empty, e-mail only otherwise.
# Works with the busybox shell of the prom/alertmanager image (and any POSIX sh).
#   no channel secret set   -> alertmanager.email-only.yml as is (generated, no channel)
#   some set                -> alertmanager.channels.yml (generated) without the channels that are off
# Channels and their secrets (in $TRADEWATCH_SECRETS_DIR, default /run/secrets):
#   slack (slack_webhook_url, or $SLACK_WEBHOOK_URL_FILE), pagerduty (pagerduty_routing_key),
#   opsgenie (opsgenie_api_key), telegram (telegram_bot_token + telegram_chat_id),
#   webhook (alert_webhook_url), heartbeat (heartbeat_url: the Watchdog's dead man's switch).
# Telegram's token and chat id and the webhook URLs are written into the run-time copy (mode 600):
# Alertmanager 0.25 cannot read them from files. They are checked first (no YAML injection).
# TRADEWATCH_QUIET_HOURS_TZ (an IANA zone such as America/New_York) replaces the quiet-hours
# location. Extra arguments are passed to Alertmanager.
set -eu
CONFIG_DIR="${ALERTMANAGER_CONFIG_DIR:-/etc/alertmanager}"
SECRETS="${TRADEWATCH_SECRETS_DIR:-/run/secrets}"
SLACK_SECRET="${SLACK_WEBHOOK_URL_FILE:-$SECRETS/slack_webhook_url}"
RUN_DIR="${ALERTMANAGER_RUN_DIR:-/tmp}"
BIN="${ALERTMANAGER_BIN:-/bin/alertmanager}"

# secret_on FILE: true when FILE is non-empty and readable (a warning when it is only unreadable).
secret_on() {
  if [ -s "$1" ] && [ -r "$1" ]; then return 0; fi
  if [ -s "$1" ]; then echo "entrypoint: $1 exists but is not readable by uid $(id -u): channel off (chmod 644 it)" >&2; fi
  return 1
}
on=""
secret_on "$SLACK_SECRET" && on="$on slack"
secret_on "$SECRETS/pagerduty_routing_key" && on="$on pagerduty"
secret_on "$SECRETS/opsgenie_api_key" && on="$on opsgenie"
secret_on "$SECRETS/telegram_bot_token" && secret_on "$SECRETS/telegram_chat_id" && on="$on telegram"
secret_on "$SECRETS/alert_webhook_url" && on="$on webhook"
secret_on "$SECRETS/heartbeat_url" && on="$on heartbeat"

out="$RUN_DIR/alertmanager.yml"
umask 077
if [ -z "$on" ]; then
  src="$CONFIG_DIR/alertmanager.email-only.yml"
  echo "entrypoint: no channel secret set (Slack $SLACK_SECRET, PagerDuty, Opsgenie, Telegram, webhook, heartbeat in $SECRETS): e-mail only" >&2
  cp "$src" "$out.tmp"
else
  echo "entrypoint: channels on:$on (+ e-mail)" >&2
  cp "$CONFIG_DIR/alertmanager.channels.yml" "$out.tmp"
  for ch in slack pagerduty opsgenie telegram webhook heartbeat; do
    case " $on " in
      *" $ch "*) ;;
      *) sed -i "/^# >>> $ch\$/,/^# <<< $ch\$/d" "$out.tmp" ;;
    esac
  done
  # inline PLACEHOLDER SECRET REGEX WHAT [QUOTE]: the placeholder becomes the secret's content.
  inline() {
    value=$(tr -d '\r\n' < "$SECRETS/$2")
    if ! printf '%s' "$value" | grep -Eq "$3"; then
      echo "entrypoint: $SECRETS/$2 does not look like $4" >&2; rm -f "$out.tmp"; exit 2
    fi
    value=$(printf '%s' "$value" | sed 's/[&|\\]/\\&/g')
    sed -i "s|$1|${5:-}$value${5:-}|" "$out.tmp"
  }
  url='^https?://[A-Za-z0-9._~:/?#@!$&()*+,;=%-]+$'
  case " $on " in *" telegram "*)
    inline 'secret.invalid/telegram_bot_token' telegram_bot_token '^[0-9]{1,20}:[A-Za-z0-9_-]{1,100}$' 'a bot token (123:ABC...)' "'"
    inline '-100999000999' telegram_chat_id '^-?[0-9]{1,20}$' 'a chat id (an integer)' ;;
  esac
  case " $on " in *" webhook "*) inline 'http://secret.invalid/alert_webhook_url' alert_webhook_url "$url" 'an http(s) URL' ;; esac
  case " $on " in *" heartbeat "*) inline 'http://secret.invalid/heartbeat_url' heartbeat_url "$url" 'an http(s) URL' ;; esac
  case " $on " in *" slack "*) sed -i "s|/run/secrets/slack_webhook_url|$SLACK_SECRET|" "$out.tmp" ;; esac
  sed -i "s|/run/secrets/|$SECRETS/|" "$out.tmp"
fi
if [ -n "${TRADEWATCH_QUIET_HOURS_TZ:-}" ]; then
  case "$TRADEWATCH_QUIET_HOURS_TZ" in
    *[!A-Za-z0-9_/+-]*) echo "entrypoint: invalid TRADEWATCH_QUIET_HOURS_TZ" >&2; exit 2 ;;
  esac
  sed -i "s#location: Europe/London#location: $TRADEWATCH_QUIET_HOURS_TZ#" "$out.tmp"
fi
mv "$out.tmp" "$out"
# Templates are referenced by absolute path in the config; keep them where they are.
exec "$BIN" --config.file="$out" "$@"
