"""The system exporter: host metrics, watched trading-system processes and dependency probes."""
