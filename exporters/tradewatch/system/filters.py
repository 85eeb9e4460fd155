"""Include/exclude regex pairs for device, interface and mount point names."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class NameFilter:
    """A name passes when it matches ``include`` (if set) and does not match ``exclude`` (if set).

    Both are searched with ``re.search``; anchor them (``^...$``) for whole-name matches, as
    node_exporter's flags do.
    """

    include: re.Pattern[str] | None = None
    exclude: re.Pattern[str] | None = None

    def __call__(self, name: str) -> bool:
        if self.include is not None and not self.include.search(name):
            return False
        return not (self.exclude is not None and self.exclude.search(name))
