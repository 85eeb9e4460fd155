"""``tradewatch trail``: one correlation ID's story from the journals and the logs."""
