"""The trading simulator behind ``tradewatch simulate`` (see docs/simulator.md).

sim = Simulator(seed=7, scenario="flash-crash", speed=60, warmup=30, start=1_700_000_000)
for event in sim.events(10_000): ...          # offline, no sleeping
sim.run(TradeWatchClient(...), duration=600)  # live, paced on the wall clock
"""

from tradewatch.simulate.engine import DEFAULT_SYMBOLS, INSTRUMENTS, Simulator
from tradewatch.simulate.scenarios import SCENARIOS, Effects, Scenario

__all__ = ["DEFAULT_SYMBOLS", "INSTRUMENTS", "SCENARIOS", "Effects", "Scenario", "Simulator"]
