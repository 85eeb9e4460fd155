"""Error tracking with Sentry: on only when a DSN is set, redacted, never in the way.

The SDK sends from a background thread with a bounded queue, so an unreachable Sentry costs
at most a dropped report, never a blocked scrape or ingest.
"""

from __future__ import annotations

import os
from typing import Any

from tradewatch import __version__
from tradewatch.core.redact import get_redactor


def before_send(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Apply the log redaction to everything a Sentry event carries."""
    return get_redactor().value(event)


def init_sentry(service: str, dsn: str | None = None, environment: str | None = None) -> bool:
    """Initialise sentry-sdk when a DSN is configured; return whether it is on."""
    dsn = dsn or os.environ.get("SENTRY_DSN", "")
    if not dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(
        dsn=dsn,
        environment=environment or os.environ.get("SENTRY_ENVIRONMENT", "production"),
        release=f"tradewatch@{__version__}",
        send_default_pii=False,
        before_send=before_send,
        before_breadcrumb=lambda crumb, hint: get_redactor().value(crumb),
        server_name=service,
        shutdown_timeout=1,
        # Sentry is an aid, not a dependency: short timeouts, no retries on the hot path.
        transport_queue_size=100,
        traces_sample_rate=0.0,
    )
    sentry_sdk.set_tag("service", service)
    return True
