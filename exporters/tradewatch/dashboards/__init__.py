"""Grafana dashboards and log alert rules as code (grafana-foundation-sdk).

`tradewatch dashboards` (or `python -m tradewatch.dashboards`) writes grafana/dashboards/<Folder>/*.json
and grafana/provisioning/alerting/log-rules.yml; `--check` only reports files that differ.
"""

# Where the runbooks are published: the alert rules' base (render.RUNBOOK_BASE), so panels and alerts
# link alike; override with `tradewatch dashboards --runbook-base`. Defined here, not in common.py,
# so that `tradewatch dashboards --help` works without grafana-foundation-sdk (a build-time tool,
# not a base dependency of the exporters image).
from tradewatch.devstack.render import RUNBOOK_BASE

DEFAULT_RUNBOOK_BASE = RUNBOOK_BASE + "/"
