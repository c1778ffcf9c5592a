"""Serve frames to a player from one reader thread, so the UI never waits on a decode.

The UI thread calls `show(i)` (the frame now if cached, else None and a request), `request(i)`
(returns at once), `cached(i)` (a frame if already decoded) and `set_playing(...)`. The reader
thread decodes the most recent request only: while the user scrubs, requests that were overtaken
before the thread got to them are dropped. When idle it reads ahead: while playing, up to
`read_ahead_s` of upcoming frames (scaled by the speed); when paused, the neighbourhood of the
shown frame (forward, then backward), so scrubbing near the shown frame becomes a cache hit once
the user lingers. Backward read-ahead happens only where a keyframe is near enough, and each idle
decode is one frame, so a new request waits for at most one frame's decode (or one short seek).
Results go to `on_frame(index, frame)` called FROM THE READER THREAD: the Qt layer marshals them
to its own thread. Plain `threading`; this module never imports Qt.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

import numpy as np

from .reader import VideoReader

log = logging.getLogger(__name__)

FrameCallback = Callable[[int, np.ndarray], None]
ErrorCallback = Callable[[int, BaseException], None]
MAX_BACK_SEEK_S = 2.0


class FrameServer:
    def __init__(self, reader: VideoReader, on_frame: FrameCallback | None = None, *,
                 on_error: ErrorCallback | None = None, read_ahead_s: float = 1.0,
                 paused_read_ahead_s: float = 1.0, paused_read_back_s: float = 1.0,
                 name: str = "frame-server"):
        self.reader = reader
        self.on_frame = on_frame
        self.on_error = on_error
        self.read_ahead_s = float(read_ahead_s)
        self.paused_read_ahead_s = float(paused_read_ahead_s)
        self.paused_read_back_s = float(paused_read_back_s)
        self._cond = threading.Condition()
        self._pending: int | None = None
        self._playing = False
        self._speed = 1.0
        self._last_served: int | None = None
        self._ahead_from: int | None = None
        self._stop = False
        self.requested = 0
        self.served = 0
        self.dropped = 0
        self.read_ahead = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # --- UI thread -----------------------------------------------------------------------------
    def request(self, index: int) -> None:
        """Ask for frame `index`; returns immediately. A newer request replaces an unserved one."""
        index = min(max(int(index), 0), self.reader.frame_count - 1)
        with self._cond:
            if self._pending is not None:
                self.dropped += 1
            self._pending = index
            self.requested += 1
            self._cond.notify()

    def cached(self, index: int) -> np.ndarray | None:
        """The decoded frame if the cache holds it, else None. Never decodes."""
        if not 0 <= index < self.reader.frame_count:
            return None
        return self.reader.cached(index)

    def show(self, index: int) -> np.ndarray | None:
        """What a player calls to display frame `index`: the frame at once if it is cached (and
        the read-ahead moves to it), else None and a `request(index)`; never decodes here."""
        index = min(max(int(index), 0), self.reader.frame_count - 1)
        frame = self.reader.cached(index)
        if frame is None:
            self.request(index)
            return None
        with self._cond:
            self._last_served = index
            self._ahead_from = index
            if self._pending is not None:      # an older request is now obsolete
                self._pending = None
                self.dropped += 1
            self._cond.notify()
        return frame

    def set_playing(self, playing: bool, speed: float = 1.0) -> None:
        with self._cond:
            self._playing = bool(playing)
            self._speed = max(0.1, float(speed))
            self._cond.notify()

    @property
    def last_served(self) -> int | None:
        return self._last_served

    def close(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stop = True
            self._pending = None
            self._cond.notify()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def __enter__(self) -> "FrameServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- reader thread -------------------------------------------------------------------------
    def _next_read_ahead(self) -> int | None:
        """The next frame worth decoding while nothing is asked, or None.

        Playing: the next `read_ahead_s * speed` seconds after the last served frame. Paused: the
        next `paused_read_ahead_s`, then the `paused_read_back_s` before it (decoded in ascending
        order, so one seek serves the whole stretch). Never more than half the cache holds.
        """
        start = self._ahead_from
        if start is None:
            return None
        fps = self.reader.average_fps or 25.0
        capacity = self.reader.cache.max_bytes // max(1, self.reader.frame_bytes) // 2
        ahead_s = self.read_ahead_s * self._speed if self._playing else self.paused_read_ahead_s
        ahead = min(int(round(ahead_s * fps)), capacity)
        last = min(self.reader.frame_count - 1, start + ahead)
        cache = self.reader.cache
        for j in range(start + 1, last + 1):
            if j not in cache:
                return j
        if self._playing:
            return None
        back = min(int(round(self.paused_read_back_s * fps)), max(0, capacity - ahead))
        lo = max(0, start - back)
        if lo - self.reader.keyframe_before(lo) > MAX_BACK_SEEK_S * fps:
            return None   # one seek there would block the next request too long (sparse keyframes)
        for j in range(lo, start):
            if j not in cache:
                return j
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stop:
                        return
                    if self._pending is not None:
                        index, self._pending = self._pending, None
                        ahead = None
                        break
                    ahead = self._next_read_ahead()
                    if ahead is not None:
                        index = None
                        break
                    self._cond.wait()
            if index is not None:
                self._serve(index)
            else:
                self._read_ahead(ahead)

    def _serve(self, index: int) -> None:
        try:
            frame = self.reader.frame(index)
        except Exception as exc:  # noqa: BLE001 - reported to the UI, the thread lives on
            log.warning("frame %d of %s: %s", index, self.reader.path, exc)
            self._ahead_from = None
            if self.on_error is not None:
                self.on_error(index, exc)
            return
        self._last_served = index
        self._ahead_from = index
        self.served += 1
        if self.on_frame is not None:
            try:
                self.on_frame(index, frame)
            except Exception:  # noqa: BLE001 - a bug in the consumer must not kill the server
                log.exception("on_frame callback failed for frame %d", index)

    def _read_ahead(self, index: int) -> None:
        try:
            if self.reader.prefetch(index):
                self.read_ahead += 1
        except Exception as exc:  # noqa: BLE001
            log.info("read-ahead stopped at frame %d of %s: %s", index, self.reader.path, exc)
            self._ahead_from = None
