"""Alert delivery tools: ``tradewatch alert test`` (a synthetic alert through Alertmanager to every
receiver it routes to) and ``tradewatch alerts`` (firing now and fired in a period)."""
