"""Serve frames to a player from one reader thread, so the UI never waits on a decode.

The UI thread calls `show(i)` (the frame now if cached, else None and a request), `request(i)`
(returns at once), `cached(i)` (a frame if already decoded), `set_playing(...)` and
`set_display_size(w, h)`. The reader thread decodes the most recent request only: while the user
scrubs, requests that were overtaken before the thread got to them are dropped. Results go to
`on_frame(index, frame)` called FROM THE READER THREAD: the Qt layer marshals them to its own
thread. Plain `threading`; this module never imports Qt.

Two ways of decoding:
- Full size (no display size given, or the video fits in it): frames come from the reader
  (`VideoReader.frame`, shared cache). When idle it reads ahead: while playing, up to
  `read_ahead_s` of upcoming frames (scaled by the speed); when paused, the neighbourhood of the
  shown frame (`paused_read_back_s` before it, `paused_read_ahead_s` after it; both 5 s by
  default), GOP by GOP outward as described next.
- Display size (the player said how big its widget is and the video is larger): a PyAV decoder of
  the server's own (display_decoder.py) decodes straight to widget-size RGB into the reader's
  cache under keys (index, w, h). A scrubbing user drags the playhead NEAR the shown frame, so
  while paused the thread decodes whole GOP stretches outward from the playhead - the rest of
  the shown frame's GOP first (the decoder is already there), then the GOPs around it by
  distance - up to `scrub_radius_s` each side, as far as the cache holds, and keeps that
  neighbourhood the most recently used. A request that misses walks the decoder from where it
  stands (or from the frame's keyframe) caching every frame it passes, and switches to a newer
  request between any two frames (the latest request wins).
Each idle decode is one frame, so a new request waits for at most one frame's decode.

A decode that does not finish within `decode_timeout_s` (a damaged file, a decoder that hangs,
the reader held by someone else) is reported through `on_error` by a watchdog thread, which then
answers further requests with that error until the decode returns: the UI is told, never stuck.

Proxy (given `proxy_dir`): a video larger than `proxy_box` gets a small short-GOP copy of itself
(proxy.py: found in `proxy_dir` or built there by a low-priority child process, never waited
for). Once it is ready, a request made while paused that the cache cannot answer is ALSO sent to
the proxy thread, which decodes that frame from the proxy in about a millisecond and passes it to
`on_frame` as a `ProxyFrame` (`is_proxy(frame)`: smaller than the video, frame-index exact),
while the reader thread goes on decoding the full frame as above; when the playhead rests, that
full frame follows through `on_frame` for the same index and replaces it. A proxy frame is only
delivered while its index is the latest request and its full frame has not been delivered yet,
so a proxy never replaces a full frame on screen. `cached`/`show` never return proxy frames.
`proxy_state`, `proxy_bytes` report it; `close` cancels a build in progress.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable

import numpy as np

from ..errors import UserError
from .display_decoder import DisplayDecoder, fit_size
from .proxy import OFF, ProxyService
from .proxy_file import PROXY_BOX, ProxyFrame
from .reader import VideoReader

log = logging.getLogger(__name__)

FrameCallback = Callable[[int, np.ndarray], None]
ErrorCallback = Callable[[int, BaseException], None]
MAX_BACK_SEEK_S = 2.0
SCRUB_RADIUS_S = 5.0        # paused: decode this far each side of the shown frame (cache permitting)
DECODE_TIMEOUT_S = 10.0


class FrameServer:
    def __init__(self, reader: VideoReader, on_frame: FrameCallback | None = None, *,
                 on_error: ErrorCallback | None = None, read_ahead_s: float = 1.0,
                 paused_read_ahead_s: float = SCRUB_RADIUS_S,
                 paused_read_back_s: float = SCRUB_RADIUS_S,
                 display_size: tuple[int, int] | None = None,
                 scrub_radius_s: float = SCRUB_RADIUS_S,
                 decode_timeout_s: float = DECODE_TIMEOUT_S, decoder_threads: int = 0,
                 proxy_dir: str | os.PathLike | None = None,
                 proxy_box: tuple[int, int] = PROXY_BOX,
                 name: str = "frame-server"):
        self.reader = reader
        self.on_frame = on_frame
        self.on_error = on_error
        self.read_ahead_s = float(read_ahead_s)
        self.paused_read_ahead_s = float(paused_read_ahead_s)
        self.paused_read_back_s = float(paused_read_back_s)
        self.scrub_radius_s = float(scrub_radius_s)
        self.decode_timeout_s = float(decode_timeout_s)
        self.decoder_threads = int(decoder_threads)
        self._cond = threading.Condition()
        self._pending: int | None = None
        self._playing = False
        self._speed = 1.0
        self._last_served: int | None = None
        self._ahead_from: int | None = None
        self._touched: tuple | None = None
        self._window: tuple[int, int] | None = None        # frames read-ahead may cache
        self._stop = False
        self._display_size: tuple[int, int] | None = None
        self._display: DisplayDecoder | None = None        # reader thread only
        self.display_failed: str | None = None
        self._busy: tuple[int, float] | None = None         # (frame, monotonic start) of a decode
        self._hung: tuple[int, UserError] | None = None
        self._halt = threading.Event()
        self.requested = 0
        self.served = 0
        self.dropped = 0
        self.read_ahead = 0
        # which request is the latest and whether its full frame went out: read and set under
        # _latest_lock (never held during a callback: the UI thread takes it); the two decoding
        # threads hold _deliver_lock around "check, then on_frame", so a proxy frame can never
        # follow the full frame of its request
        self._latest_lock = threading.Lock()
        self._deliver_lock = threading.Lock()
        self._latest: int | None = None
        self._latest_full = False
        self.proxy = None if proxy_dir is None else ProxyService(
            reader.info, proxy_dir, self._deliver_proxy, box=proxy_box, name=f"{name}-proxy")
        if display_size is not None:
            self.set_display_size(*display_size)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._watchdog = threading.Thread(target=self._watch, name=f"{name}-watchdog", daemon=True)
        self._watchdog.start()

    # --- UI thread -----------------------------------------------------------------------------
    def request(self, index: int) -> None:
        """Ask for frame `index`; returns immediately. A newer request replaces an unserved one."""
        index = min(max(int(index), 0), self.reader.frame_count - 1)
        with self._latest_lock:
            if index != self._latest:
                self._latest, self._latest_full = index, False
            proxy = not self._latest_full       # asked again after its full frame: no proxy
        with self._cond:
            if self._pending is not None:
                self.dropped += 1
            self._pending = index
            self.requested += 1
            self._cond.notify()
            playing = self._playing
        if proxy and self.proxy is not None and not playing and self.proxy.ready:
            self.proxy.want(index)

    def set_display_size(self, width: int | None, height: int | None = None) -> bool:
        """The size in device pixels the player shows frames at (None: full size). When the video
        is larger, frames are decoded straight to the largest size that fits, aspect kept.
        True if the size frames are decoded at changed. Streams whose packet timestamps do not
        follow the pictures (packed B-frames) are always served by the reader at full size."""
        size = None if width is None or height is None or self.reader.info.packed_b_frames else \
            fit_size(self.reader.width, self.reader.height, (width, height))
        with self._cond:
            if size == self._display_size:
                return False
            self._display_size = size
            self._touched = None
            self._cond.notify()
            return True

    @property
    def display_size(self) -> tuple[int, int] | None:
        """(w, h) frames are decoded at, or None for full size."""
        return None if self.display_failed else self._display_size

    def _key(self, index: int, size: tuple[int, int]) -> tuple[int, int, int]:
        return (int(index), size[0], size[1])

    def cached(self, index: int) -> np.ndarray | None:
        """The decoded frame if the cache holds it (at display size, else full size), else None.
        Never decodes."""
        if not 0 <= index < self.reader.frame_count:
            return None
        size = self.display_size
        if size is not None:
            frame = self.reader.cache.get(self._key(index, size))
            if frame is not None:
                return frame
        return self.reader.cached(index)

    def show(self, index: int, request: bool = True) -> np.ndarray | None:
        """What a player calls to display frame `index`: the frame at once if it is cached (and
        the read-ahead moves to it), else None and (if `request`) a `request(index)`; never
        decodes here."""
        index = min(max(int(index), 0), self.reader.frame_count - 1)
        frame = self.cached(index)
        if frame is None:
            if request:
                self.request(index)
            return None
        with self._latest_lock:
            self._latest, self._latest_full = index, True
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
            self._touched = None
            self._cond.notify()
        if playing and self.proxy is not None:
            self.proxy.want(None)            # playback shows full frames only: no flicker

    @property
    def proxy_state(self) -> str:
        """The proxy's state (proxy.py: off, looking, building, ready, not needed, failed,
        cancelled)."""
        return OFF if self.proxy is None else self.proxy.state

    @property
    def proxy_bytes(self) -> int:
        """Disk bytes of this video's proxy (0 until it is ready)."""
        return 0 if self.proxy is None else self.proxy.nbytes

    @property
    def last_served(self) -> int | None:
        return self._last_served

    def close(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stop = True
            self._pending = None
            self._cond.notify()
        self._halt.set()
        if self.proxy is not None:
            self.proxy.close(timeout)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def is_running(self) -> bool:
        """The reader thread is alive (until close() has joined it)."""
        return self._thread.is_alive()

    @property
    def display_decoded(self) -> int:
        """Frames the display-size decoder has decoded so far (0 without one)."""
        display = self._display
        return display.decoded if display is not None else 0

    def __enter__(self) -> "FrameServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- reader thread: planning (called holding self._cond) -------------------------------------
    def _next_read_ahead(self) -> int | None:
        """Full size: the next frame worth decoding while nothing is asked, or None.

        Playing: the next `read_ahead_s * speed` seconds after the last served frame. Paused: the
        `paused_read_back_s` before the shown frame and the `paused_read_ahead_s` after it, walked
        GOP by GOP outward (`_neighbourhood_target`). Playing: never more than half the cache
        holds; paused: at most 45 % of it each side.
        """
        start = self._ahead_from
        if start is None:
            return None
        fps = self.reader.average_fps or 25.0
        capacity = self.reader.cache.max_bytes // max(1, self.reader.frame_bytes)
        cache = self.reader.cache
        if self._playing:
            ahead = min(int(round(self.read_ahead_s * self._speed * fps)), capacity // 2)
            for j in range(start + 1, min(self.reader.frame_count - 1, start + ahead) + 1):
                if j not in cache:
                    return j
            return None
        side = int(capacity * 0.45)          # as at display size: the cache keeps both sides
        ahead = min(int(round(self.paused_read_ahead_s * fps)), side)
        back = min(int(round(self.paused_read_back_s * fps)), side)
        return self._neighbourhood_target(start, start - back, start + ahead, lambda j: j,
                                          self.reader.can_continue_to)

    def _keep_newest(self, s: int, lo: int, hi: int, key) -> None:
        """The frames of the neighbourhood [lo, hi] become the most recently used in the cache,
        nearest to `s` newest (once per shown frame and size), so decoding elsewhere evicts
        other frames first."""
        self._window = (lo, hi)
        if self._touched != (s, key(s)):
            self._touched = (s, key(s))
            self.reader.cache.touch(key(j) for j in sorted(range(lo, hi + 1), key=lambda j: -abs(j - s)))

    def _neighbourhood_target(self, s: int, lo: int, hi: int, key, can_continue) -> int | None:
        """Paused: the next frame of [lo, hi] around the shown frame `s` that is not cached
        (cache key `key(j)`), in the order of `_stretches`; a stretch whose first missing frame
        lies far past its keyframe (MAX_BACK_SEEK_S) and that the decoder cannot reach by going
        on is passed over: one seek there would make the next request wait too long. Keeps the
        neighbourhood the most recently used part of the cache."""
        reader, cache = self.reader, self.reader.cache
        lo, hi = max(0, lo), min(reader.frame_count - 1, hi)
        self._keep_newest(s, lo, hi, key)
        max_back = MAX_BACK_SEEK_S * (reader.average_fps or 25.0)
        for a, b in self._stretches(s, lo, hi):
            for j in range(a, b + 1):
                if key(j) not in cache:
                    if can_continue(j) or j - reader.keyframe_before(j) <= max_back:
                        return j
                    break
        return None

    def _stretches(self, s: int, lo: int, hi: int) -> list[tuple[int, int]]:
        """Frame ranges [a, b] within [lo, hi] in the order worth decoding around playhead `s`:
        the rest of s's GOP forward, its start up to s, then the other GOPs by distance."""
        keys = self.reader.keyframe_indices
        g_lo = max(int(np.searchsorted(keys, lo, side="right")) - 1, 0)
        g_hi = max(int(np.searchsorted(keys, hi, side="right")) - 1, 0)
        n = self.reader.frame_count
        out = []
        for g in range(g_lo, g_hi + 1):
            start = int(keys[g])
            end = int(keys[g + 1]) - 1 if g + 1 < len(keys) else n - 1
            a, b = max(start, lo), min(end, hi)
            if a > b:
                continue
            if a <= s <= b:
                out.append((-1, s, b))
                if a < s:
                    out.append((0, a, s - 1))
            else:
                out.append((a - s if a > s else s - b, a, b))
        out.sort()
        return [(a, b) for _, a, b in out]

    def _display_target(self, size: tuple[int, int]) -> int | None:
        """Display size: the next frame to walk the decoder towards while idle, or None."""
        s = self._ahead_from
        if s is None:
            return None
        cache, reader = self.reader.cache, self.reader
        fps = reader.average_fps or 25.0
        capacity = cache.max_bytes // max(1, size[0] * size[1] * 3)
        n = reader.frame_count
        if self._playing:
            ahead = min(int(round(self.read_ahead_s * self._speed * fps)), capacity // 2)
            self._window = (s + 1, s + ahead)
            for j in range(s + 1, min(n - 1, s + ahead) + 1):
                if self._key(j, size) not in cache:
                    return j
            return None
        r = min(int(round(self.scrub_radius_s * fps)), int(capacity * 0.45))
        dec = self._display
        nxt = None if dec is None else dec.next_index
        lo, hi = max(0, s - r), min(n - 1, s + r)
        self._keep_newest(s, lo, hi, lambda j: self._key(j, size))
        if nxt is not None and lo <= nxt <= hi:
            # first the frames the decoder reaches by going on: every one decoded is new, while a
            # seek elsewhere re-decodes the cached start of that GOP before it gets anywhere new
            keys = reader.keyframe_indices
            g = int(np.searchsorted(keys, nxt, side="right"))
            end = min(hi, int(keys[g]) - 1 if g < len(keys) else n - 1)
            for j in range(nxt, end + 1):
                if self._key(j, size) not in cache:
                    return j
        return self._neighbourhood_target(
            s, lo, hi, lambda j: self._key(j, size),
            lambda j: dec is not None and dec.can_continue_to(j))

    def _active_size(self) -> tuple[int, int] | None:
        return None if self.display_failed else self._display_size

    # --- reader thread -------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while True:
                        if self._stop:
                            return
                        size = self._active_size()
                        if self._pending is not None:
                            job, index = "serve", self._pending
                            self._pending = None
                            break
                        index = self._display_target(size) if size else self._next_read_ahead()
                        if index is not None:
                            job = "ahead"
                            break
                        self._cond.wait()
                if size is not None and self._display_decoder(size) is None:
                    size = None                   # the display decoder cannot open: full size
                    if job == "ahead":
                        continue
                if job == "serve":
                    self._serve(index, size)
                elif size is None:
                    self._read_ahead(index)
                else:
                    self._step_towards(index, size)
        finally:
            if self._display is not None:
                self._display.close()
                self._display = None

    def _display_decoder(self, size: tuple[int, int]) -> DisplayDecoder | None:
        if self._display is not None:
            self._display.size = size
            return self._display
        try:
            self._display = DisplayDecoder(self.reader.info, size, threads=self.decoder_threads)
        except Exception as exc:  # noqa: BLE001 - full-size decoding still works
            self.display_failed = str(exc) or type(exc).__name__
            log.warning("%s: no display-size decoder, serving full size (%s)", self.reader.path, exc)
            return None
        return self._display

    def _decoding(self, index: int | None) -> None:
        """Mark the start (index) or end (None) of one decode, for the watchdog."""
        self._busy = None if index is None else (int(index), time.monotonic())
        if index is None and self._hung is not None:
            log.info("%s: decoding frame %d finished after all", self.reader.path, self._hung[0])
            self._hung = None

    def _serve(self, index: int, size: tuple[int, int] | None) -> None:
        try:
            if size is None:
                self._decoding(index)
                try:
                    frame = self._full_size_frame(index)
                finally:
                    self._decoding(None)
            else:
                index, frame = self._walk_to(index, size)
                if frame is None:
                    return                         # closed while walking
        except Exception as exc:  # noqa: BLE001 - reported to the UI, the thread lives on
            log.warning("frame %d of %s: %s", index, self.reader.path, exc)
            self._ahead_from = None
            if self.on_error is not None:
                self.on_error(index, exc)
            return
        self._last_served = index
        self._ahead_from = index
        self.served += 1
        with self._deliver_lock:
            with self._latest_lock:
                if index == self._latest:
                    self._latest_full = True
            self._call_on_frame(index, frame)

    def _call_on_frame(self, index: int, frame: np.ndarray) -> None:
        if self.on_frame is not None:
            try:
                self.on_frame(index, frame)
            except Exception:  # noqa: BLE001 - a bug in the consumer must not kill the server
                log.exception("on_frame callback failed for frame %d", index)

    # --- proxy thread ----------------------------------------------------------------------------
    def _deliver_proxy(self, index: int, frame: ProxyFrame) -> None:
        """A proxy frame goes out only for the latest request, before its full frame, paused."""
        with self._deliver_lock:
            with self._latest_lock:
                wanted = index == self._latest and not self._latest_full and not self._playing
            if wanted:
                self._call_on_frame(index, frame)

    def _full_size_frame(self, index: int) -> np.ndarray:
        """Full size: frame `index`. Paused and a little BEFORE the frame shown last (a playhead
        dragged backwards), the frames the decoder passes on its way from the keyframe (up to
        `paused_read_back_s` before `index`) are cached too: converting them costs little next
        to decoding them, and the drag asks for exactly those next (without this, each of its
        requests decoded the GOP again: 83 % cache hits, p95 117 ms on chaplin.mp4 in
        benchmarks/media.py's drag). A seek elsewhere (a click) gets only its frame, at once."""
        reader = self.reader
        last = self._last_served
        fps = reader.average_fps or 25.0
        if self._playing or index in reader.cache or last is None or \
                not 0 < last - index <= MAX_BACK_SEEK_S * fps:
            return reader.frame(index)
        side = int(reader.cache.max_bytes // max(1, reader.frame_bytes) * 0.45)
        back = min(int(round(self.paused_read_back_s * fps)), side)
        first = max(reader.keyframe_before(index), index - back)
        reader.fill(range(first, index + 1))
        return reader.frame(index)

    def _walk_to(self, index: int, size: tuple[int, int]) -> tuple[int, np.ndarray | None]:
        """Decode at display size up to frame `index`, caching every frame passed; switch to a
        newer request between frames. Returns (the index served, its frame)."""
        cache = self.reader.cache
        dec = self._display
        while True:
            frame = cache.get(self._key(index, size))
            if frame is not None:
                return index, frame
            dec.position_for(index)
            target = index
            got = self._step(dec, size, want_also=target)
            if got is None:
                raise UserError(f"{self.reader.path}: frame {index} is missing from the file "
                                "(it ended early)", path=self.reader.path)
            j, frame = got
            if j == index:
                return index, frame
            if j > index:
                raise UserError(f"{self.reader.path}: frame {index} cannot be decoded",
                                path=self.reader.path)
            with self._cond:
                if self._stop:
                    return index, None
                newer, self._pending = self._pending, None
                if newer is not None and newer != index:
                    self.dropped += 1
            if newer is not None:
                index = newer

    def _step(self, dec: DisplayDecoder, size: tuple[int, int], want_also: int | None = None,
              window: tuple[int, int] | None = None):
        """One frame of display-size decoding into the cache (frames outside `window` are passed
        over unconverted); (index, frame or None) or None at the end of the stream."""
        cache = self.reader.cache
        lo, hi = window or (0, self.reader.frame_count)
        self._decoding(want_also if want_also is not None else dec.next_index or 0)
        try:
            got = dec.step(want=lambda j: j == want_also or (
                lo <= j <= hi and self._key(j, size) not in cache))
        finally:
            self._decoding(None)
        if got is not None and got[1] is not None:
            cache.put(self._key(got[0], size), got[1])
        return got

    def _step_towards(self, index: int, size: tuple[int, int]) -> None:
        dec = self._display
        try:
            dec.position_for(index)
            got = self._step(dec, size, window=self._window)
        except Exception as exc:  # noqa: BLE001
            log.info("read-ahead stopped at frame %d of %s: %s", index, self.reader.path, exc)
            self._ahead_from = None
            return
        if got is None or got[0] > index:   # the stream ended or skipped it: stop, no busy loop
            log.info("read-ahead stopped at frame %d of %s: not decodable", index, self.reader.path)
            self._ahead_from = None
        elif got[1] is not None:
            self.read_ahead += 1

    def _read_ahead(self, index: int) -> None:
        self._decoding(index)
        try:
            if self.reader.prefetch(index):
                self.read_ahead += 1
        except Exception as exc:  # noqa: BLE001
            log.info("read-ahead stopped at frame %d of %s: %s", index, self.reader.path, exc)
            self._ahead_from = None
        finally:
            self._decoding(None)

    # --- watchdog thread -------------------------------------------------------------------------
    def _watch(self) -> None:
        period = min(0.5, max(0.02, self.decode_timeout_s / 4))
        while not self._halt.wait(period):
            busy = self._busy
            if busy is not None and self._hung is None and \
                    time.monotonic() - busy[1] > self.decode_timeout_s:
                err = UserError(f"{self.reader.path}: frame {busy[0]} was not decoded within "
                                f"{self.decode_timeout_s:g} s; the file may be damaged",
                                path=self.reader.path)
                self._hung = (busy[0], err)
                log.warning("%s", err)
                self._report(busy[0], err)
            hung = self._hung
            if hung is not None:                   # answer requests while the decode is stuck
                with self._cond:
                    pending, self._pending = self._pending, None
                if pending is not None:
                    self._report(pending, hung[1])

    def _report(self, index: int, exc: BaseException) -> None:
        if self.on_error is not None:
            try:
                self.on_error(index, exc)
            except Exception:  # noqa: BLE001
                log.exception("on_error callback failed for frame %d", index)
