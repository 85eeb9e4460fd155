"""The native stack runner: config rendering, the supervisor behind `tradewatch dev`, the e2e harness."""
