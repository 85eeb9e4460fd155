"""The trading exporter: a trading system's events, folded into portfolio and execution metrics."""
