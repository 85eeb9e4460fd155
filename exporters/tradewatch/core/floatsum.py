"""Exact float sums that never raise: what the folds add up at scrape time.

Every number an event carries is finite (the validator refuses ``NaN``, ``Infinity`` and numbers
beyond double range as ``non_finite``), but finite numbers can still add up past the largest
double: two trades of ``realized_pnl: 1e308`` are both valid. Plain ``+`` then gives ``inf``, which
the lifetime folds export as ``+Inf``; :func:`math.fsum` raises ``OverflowError`` instead
("intermediate overflow in fsum", and ``ValueError`` for ``inf - inf``), which failed the whole
trading collector. :func:`total` is ``fsum`` where the exact sum is a double, and the plain sum
(``+Inf``, ``-Inf`` or ``NaN``, as the running sums give) where it is not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def total(values: Iterable[float]) -> float:
    """``math.fsum(values)``, or the plain float sum when the exact one is not a finite double."""
    values = values if isinstance(values, list | tuple) else list(values)
    try:
        return math.fsum(values)
    except (OverflowError, ValueError):
        return sum(values, 0.0)
