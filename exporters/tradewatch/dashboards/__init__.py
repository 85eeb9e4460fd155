"""Grafana dashboards and log alert rules as code (grafana-foundation-sdk).

`tradewatch dashboards` (or `python -m tradewatch.dashboards`) writes grafana/dashboards/<Folder>/*.json
and grafana/provisioning/alerting/log-rules.yml; `--check` only reports files that differ.
"""
