"""Alertmanager notification channels, each switched on by its secret file.

alertmanager/alertmanager.yml (the hand-written source) names every channel. From it come:

* ``alertmanager.email-only.yml``: every channel removed (what runs with no secret set);
* ``alertmanager.channels.yml``: the same config with each channel's ``*_configs`` between
  ``# >>> channel`` / ``# <<< channel`` marker lines, so alertmanager/entrypoint.sh (busybox sh, no
  YAML parser in the image) deletes the channels whose secret is empty with one ``sed`` each;
* the native stack's config (:func:`native`), for Debian's Alertmanager 0.25 on loopback.

Alertmanager 0.25 reads the Slack URL, the PagerDuty routing key and the Opsgenie API key from
files (``api_url_file``, ``routing_key_file``, ``api_key_file``) but has no telegram
``bot_token_file`` and no webhook ``url_file`` (0.26+): those values stand in the source as
placeholders that the entrypoint (compose) or :func:`native` replaces with the secret's content.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SECRETS_DIR = "/run/secrets"


@dataclass(frozen=True)
class Channel:
    name: str
    key: str  # the receiver key holding this channel's configs
    secrets: tuple[str, ...]  # all must be non-empty for the channel to be on
    files: dict[str, str] = field(default_factory=dict)  # config key -> secret read by Alertmanager
    inline: dict[str, str] = field(default_factory=dict)  # config key -> secret written into the config
    api_url_key: str | None = None  # where a stand-in's URL goes (tests, dev stack)
    pages: bool = False  # a paging service: critical receivers only


CHANNELS: tuple[Channel, ...] = (
    Channel("slack", "slack_configs", ("slack_webhook_url",), files={"api_url_file": "slack_webhook_url"}),
    Channel(
        "pagerduty",
        "pagerduty_configs",
        ("pagerduty_routing_key",),
        files={"routing_key_file": "pagerduty_routing_key"},
        api_url_key="url",
        pages=True,
    ),
    Channel(
        "opsgenie",
        "opsgenie_configs",
        ("opsgenie_api_key",),
        files={"api_key_file": "opsgenie_api_key"},
        api_url_key="api_url",
        pages=True,
    ),
    Channel(
        "telegram",
        "telegram_configs",
        ("telegram_bot_token", "telegram_chat_id"),
        inline={"bot_token": "telegram_bot_token", "chat_id": "telegram_chat_id"},
        api_url_key="api_url",
    ),
    Channel("webhook", "webhook_configs", ("alert_webhook_url",), inline={"url": "alert_webhook_url"}),
    Channel("heartbeat", "webhook_configs", ("heartbeat_url",), inline={"url": "heartbeat_url"}),
)
BY_NAME = {c.name: c for c in CHANNELS}
#: Every secret file a channel reads, in the order `make secrets` creates them.
SECRET_NAMES: tuple[str, ...] = tuple(dict.fromkeys(s for c in CHANNELS for s in c.secrets))

#: The placeholders of the inlined secrets in alertmanager.yml (entrypoint.sh names the same).
PLACEHOLDERS: dict[str, Any] = {
    "telegram_bot_token": "secret.invalid/telegram_bot_token",
    "telegram_chat_id": -100999000999,
    "alert_webhook_url": "http://secret.invalid/alert_webhook_url",
    "heartbeat_url": "http://secret.invalid/heartbeat_url",
}
#: What the entrypoint accepts for an inlined secret (it refuses anything else: no YAML injection).
VALID_INLINE = {
    "telegram_bot_token": re.compile(r"^[0-9]{1,20}:[A-Za-z0-9_-]{1,100}$"),
    "telegram_chat_id": re.compile(r"^-?[0-9]{1,20}$"),
    "alert_webhook_url": re.compile(r"^https?://[A-Za-z0-9._~:/?#@!$&()*+,;=%-]+$"),
    "heartbeat_url": re.compile(r"^https?://[A-Za-z0-9._~:/?#@!$&()*+,;=%-]+$"),
}


#: The Watchdog's receiver: its webhook is the heartbeat.
HEARTBEAT_RECEIVER = "deadmans-switch"


def channel_of(key: str, configs: Any, receiver: str | None = None) -> Channel | None:
    """Which channel a receiver's ``key: configs`` entry belongs to: by the secret it names (source
    and generated files) or, once the secrets are written in (a running config), by its key and
    ``receiver`` name."""
    text = json.dumps(configs, default=str)
    for channel in CHANNELS:
        if channel.key == key and any(s in text or str(PLACEHOLDERS.get(s, "\0")) in text for s in channel.secrets):
            return channel
    if receiver is not None and key == "webhook_configs":
        return BY_NAME["heartbeat" if receiver == HEARTBEAT_RECEIVER else "webhook"]
    if receiver is not None and key == "telegram_configs":
        return BY_NAME["telegram"]
    return None


def strip_channels(doc: dict[str, Any], keep: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """A copy of ``doc`` without the configs of every channel not in ``keep``."""
    out = copy.deepcopy(doc)
    for receiver in out.get("receivers", []):
        for key in list(receiver):
            channel = channel_of(key, receiver[key])
            if channel is not None and channel.name not in keep:
                del receiver[key]
    if "slack" not in keep:
        out.get("global", {}).pop("slack_api_url_file", None)
    return out


def marked_text(doc: dict[str, Any], dump: Any) -> str:
    """``doc`` as YAML with each channel's configs between marker lines (no YAML anchors)."""
    head = {k: v for k, v in doc.items() if k != "receivers"}
    lines = [dump(head).rstrip("\n"), "receivers:"]
    for receiver in doc.get("receivers", []):
        lines.append(f"- name: {receiver['name']}")
        for key, value in receiver.items():
            if key == "name":
                continue
            block = "\n".join("  " + line for line in dump({key: value}).rstrip("\n").splitlines())
            channel = channel_of(key, value)
            if channel is None:
                lines.append(block)
            else:
                lines += [f"# >>> {channel.name}", block, f"# <<< {channel.name}"]
    return "\n".join(lines) + "\n"


def remove_marked(text: str, channel: str) -> str:
    """What entrypoint.sh's sed does for a channel that is off (for tests and `tradewatch doctor`)."""
    return re.sub(rf"(?ms)^# >>> {channel}\n.*?^# <<< {channel}\n", "", text)


def read_secret(path: Path) -> str:
    """A secret file's content ('' when absent or unreadable); a trailing newline is dropped."""
    try:
        return path.read_text().strip("\r\n")
    except OSError:
        return ""


def enabled(secrets_dir: Path, overrides: dict[str, Path] | None = None) -> dict[str, bool]:
    """channel -> on? (every secret of the channel non-empty), as the entrypoint decides."""
    paths = {s: (overrides or {}).get(s, secrets_dir / s) for s in SECRET_NAMES}
    return {c.name: all(read_secret(paths[s]) for s in c.secrets) for c in CHANNELS}


def native(
    doc: dict[str, Any], secret_files: dict[str, Path], api_urls: dict[str, str] | None = None
) -> dict[str, Any]:
    """The config for a native Alertmanager 0.25: channels whose secret files are given (and
    non-empty) are kept, file keys point at those files, inlined secrets are read in, and
    ``api_urls`` (channel -> URL) points a channel at a stand-in instead of the real service."""
    on = {c.name for c in CHANNELS if all(s in secret_files and read_secret(secret_files[s]) for s in c.secrets)}
    out = strip_channels(doc, keep=on)
    for receiver in out.get("receivers", []):
        for key, configs in receiver.items():
            channel = channel_of(key, configs)
            if channel is None:
                continue
            for cfg in configs:
                for cfg_key, secret in channel.files.items():
                    cfg[cfg_key] = str(secret_files[secret])
                for cfg_key, secret in channel.inline.items():
                    value: Any = read_secret(secret_files[secret])
                    cfg[cfg_key] = int(value) if isinstance(PLACEHOLDERS[secret], int) else value
                if api_urls and channel.name in api_urls and channel.api_url_key:
                    cfg[channel.api_url_key] = api_urls[channel.name]
    return out


def load_yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())
