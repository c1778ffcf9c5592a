"""A least-recently-used cache of decoded frames, bounded in BYTES rather than in frame count.

A 1080p RGB frame is 6 MB and a 200x200 one 120 kB, so a count bound is either wasteful or
dangerous; the byte bound keeps memory predictable whatever the resolution. Thread-safe: the
frame server's reader thread fills it while the UI thread peeks. It never decodes anything and
never returns a frame that could be modified by the caller (arrays are stored read-only).

Memory: the last evicted frame is kept as a SPARE buffer (counted in the bound) and handed back
by `take_buffer` for the next decode to write into, once nobody else holds it. Measured on a
1080p decord decode, allocating a fresh 6 MB array per frame while older ones stay cached left
~100 MB of fragmented, unreturnable heap beyond the cached bytes after a few hundred seeks;
reusing the evicted buffer avoids most of that, and the rest came from the decoder's own
frame-sized temporaries landing in the heap between cached frames: glibc raises its mmap
threshold dynamically after the first big free, so 3-6 MB buffers stop being mmapped and their
holes are never returned. `return_big_allocations_to_the_os()` (called once, by the first cache)
fixes the threshold at 1 MiB so frame-sized blocks are mmapped and go back to the OS when freed;
with both, the cache's share of RSS stays within its bound (benchmarks/media.py, memory).
"""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict

import numpy as np


MMAP_THRESHOLD = 1 << 20
_malloc_tuned: bool | None = None


def return_big_allocations_to_the_os() -> bool:
    """Have glibc serve every allocation of 1 MiB or more with its own mmap, returned to the OS
    when freed (M_MMAP_THRESHOLD fixed, which also stops glibc raising it dynamically).
    Process-wide and idempotent; False where the C library is not glibc (nothing changes)."""
    global _malloc_tuned
    if _malloc_tuned is None:
        _malloc_tuned = False
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6")
            _malloc_tuned = bool(libc.mallopt(-3, MMAP_THRESHOLD))   # -3: M_MMAP_THRESHOLD
        except (OSError, AttributeError):
            pass
    return _malloc_tuned


class FrameCache:
    """Maps frame index -> read-only uint8 array [H, W, 3]; total `nbytes` <= `max_bytes`."""

    def __init__(self, max_bytes: int):
        self.max_bytes = int(max_bytes)
        self._items: OrderedDict[int, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._spare: np.ndarray | None = None    # the last evicted frame, for reuse
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        return_big_allocations_to_the_os()

    @property
    def nbytes(self) -> int:
        """Bytes of the cached frames (the spare buffer not included)."""
        return self._bytes

    @property
    def spare_bytes(self) -> int:
        spare = self._spare
        return 0 if spare is None else spare.nbytes

    def take_buffer(self, shape, dtype=np.uint8) -> np.ndarray | None:
        """A writable array of `shape` recycled from an evicted frame that nobody else holds any
        more (no caller, no view of it), or None: the caller then allocates its own."""
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is None or spare.shape != tuple(shape) or spare.dtype != np.dtype(dtype):
            return None
        if sys.getrefcount(spare) > 2:      # this name and the call's argument: anyone else?
            return None
        try:
            spare.flags.writeable = True
        except ValueError:                  # not its own memory: never write into it
            return None
        return spare

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
            while self._bytes + self.spare_bytes > self.max_bytes:    # the spare counts too
                if len(self._items) > 1:
                    _, evicted = self._items.popitem(last=False)
                    self._bytes -= evicted.nbytes
                    self._spare = evicted       # the buffer the next decode may reuse
                elif self._spare is not None:
                    self._spare = None
                else:
                    break

    def touch(self, keys) -> None:
        """Mark the cached ones among `keys` as just used, in the order given (the last is the
        most recent): the frame server keeps the playhead's neighbourhood from being evicted."""
        with self._lock:
            for key in keys:
                if key in self._items:
                    self._items.move_to_end(key)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
            self._spare = None
