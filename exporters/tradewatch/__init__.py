"""TradeWatch: observability for algorithmic and AI-driven trading systems."""

__version__ = "0.1.0"
