"""`tradewatch doctor`: checks a running stack and says what to fix."""
