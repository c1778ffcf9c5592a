"""A least-recently-used cache of decoded frames, bounded in BYTES rather than in frame count.

A 1080p RGB frame is 6 MB and a 200x200 one 120 kB, so a count bound is either wasteful or
dangerous; the byte bound keeps memory predictable whatever the resolution. Thread-safe: the
frame server's reader thread fills it while the UI thread peeks. It never decodes anything and
never returns a frame that could be modified by the caller (arrays are stored read-only).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np


class FrameCache:
    """Maps frame index -> read-only uint8 array [H, W, 3]; total `nbytes` <= `max_bytes`."""

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[int, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, index: int) -> bool:
        return index in self._items

    def get(self, index: int) -> np.ndarray | None:
        with self._lock:
            arr = self._items.get(index)
            if arr is None:
                self.misses += 1
                return None
            self._items.move_to_end(index)
            self.hits += 1
            return arr

    def peek(self, index: int) -> np.ndarray | None:
        """Like get, but without touching recency or the hit counters."""
        with self._lock:
            return self._items.get(index)

    def put(self, index: int, frame: np.ndarray) -> None:
        """Store a frame; frames larger than the whole bound are not stored at all."""
        size = frame.nbytes
        if size > self.max_bytes:
            return
        frame.flags.writeable = False
        with self._lock:
            old = self._items.pop(index, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[index] = frame
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
