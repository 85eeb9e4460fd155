"""The deduplication window of event_ids: 64-bit digests in sorted numpy segments, flat in memory."""

from __future__ import annotations

import base64
from collections import deque
from hashlib import blake2b as _blake2b
from typing import Any

import numpy as np


class DedupeWindow:
    """Remembers at least the last ``capacity`` event_ids, in about 8 bytes each.

    An id is kept as the 64-bit BLAKE2b digest of its UTF-8 bytes (a false duplicate needs a
    collision: about 3e-8 with a full window of a million). New digests go into a small set; when it
    holds ``capacity / segments`` of them it is sealed into a sorted numpy array and the oldest
    array is dropped, so memory is flat (a few MB per million ids) instead of ~100 bytes per id,
    and a batch is checked against the sealed arrays with vectorized binary searches.
    """

    def __init__(self, capacity: int, segments: int = 8):
        self.capacity = capacity
        self.segment_size = max(1, -(-capacity // segments)) if capacity else 0
        self.max_sealed = -(-capacity // self.segment_size) if capacity else 0
        self.current: set[int] = set()
        self.sealed: deque[np.ndarray] = deque()

    @staticmethod
    def digest(event_id: str) -> int:
        return int.from_bytes(_blake2b(event_id.encode(), digest_size=8).digest(), "little")

    def __len__(self) -> int:
        return len(self.current) + sum(len(s) for s in self.sealed)

    def seen(self, digests: list[int]) -> list[bool]:
        """For each digest: in the window already, or earlier in ``digests``. Adds nothing."""
        if not self.capacity:
            return [False] * len(digests)
        found = None
        if self.sealed and digests:
            wanted = np.fromiter(digests, dtype=np.uint64, count=len(digests))
            found = np.zeros(len(digests), dtype=bool)
            for segment in self.sealed:
                idx = np.searchsorted(segment, wanted)
                idx[idx == len(segment)] = 0
                found |= segment[idx] == wanted
        current = self.current
        # The usual case, checked at C speed: nothing repeats, within the batch or with the window.
        if (found is None or not found.any()) and current.isdisjoint(digests) and len(set(digests)) == len(digests):
            return [False] * len(digests)
        hits = found.tolist() if found is not None else [False] * len(digests)
        batch: set[int] = set()
        out = []
        for d, hit in zip(digests, hits, strict=True):
            dup = hit or d in current or d in batch
            if not dup:
                batch.add(d)
            out.append(dup)
        return out

    def add(self, digests: list[int]) -> None:
        """Remember digests known to be new."""
        if not self.capacity:
            return
        while digests:
            room = self.segment_size - len(self.current)
            self.current.update(digests[:room])
            digests = digests[room:]
            if len(self.current) >= self.segment_size:
                self._seal()

    def _seal(self) -> None:
        self.sealed.append(np.sort(np.fromiter(self.current, dtype=np.uint64, count=len(self.current))))
        self.current = set()
        while len(self.sealed) > self.max_sealed:
            self.sealed.popleft()

    def to_snapshot(self) -> dict[str, Any]:
        b64 = base64.b64encode
        current = np.fromiter(self.current, dtype=np.uint64, count=len(self.current))
        return {
            "segments": [b64(s.astype("<u8").tobytes()).decode() for s in self.sealed],
            "current": b64(current.astype("<u8").tobytes()).decode(),
        }

    def from_snapshot(self, data: dict[str, Any]) -> None:
        self.current = set()
        self.sealed = deque()
        if not self.capacity:
            return
        for text in data.get("segments", []):
            self.sealed.append(np.frombuffer(base64.b64decode(text), dtype="<u8").astype(np.uint64))
        while len(self.sealed) > self.max_sealed:
            self.sealed.popleft()
        self.add(np.frombuffer(base64.b64decode(data.get("current", "")), dtype="<u8").tolist())
