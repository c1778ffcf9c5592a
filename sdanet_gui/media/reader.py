"""Open a video and read RGB frames by index: decord first, PyAV when decord cannot do the job.

`open_video(path)` probes the file (probe.py: stream, per-frame timestamps, rotation, damage),
then tries decord and falls back to PyAV when decord cannot open the file or disagrees with the
probe. Every frame is returned as RGB uint8 [H, W, 3] with the display rotation applied, and
kept in a byte-bounded LRU cache. One decode runs at a time (a lock), so the frame server's
reader thread and the UI thread may both call in; the UI should only call `cached()`, which
never decodes. decord decodes into the buffer of the last evicted frame when nobody holds it any
more (frame_cache.py says why: memory stays within the cache bound).

This module never imports Qt and never shows a frame the probe did not vouch for.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from ..data.units import FrameClock
from ..errors import UserError
from .frame_cache import FrameCache
from .probe import VideoInfo, probe_video, run_with_timeout

log = logging.getLogger(__name__)

DEFAULT_CACHE_BYTES = 256 * 1024 * 1024
OPEN_TIMEOUT_S = 30.0


class VideoReader:
    """Frames of one video by decoder index, with timestamps from the probe.

    Attributes: path, backend ("decord" | "pyav"), frame_count, average_fps, clock (FrameClock),
    width/height (after rotation), rotation (degrees clockwise applied for display), warning
    (None, or where decoding of a damaged file stops), fallback_reason (why decord was not used).
    """

    def __init__(self, info: VideoInfo, decoder, cache_bytes: int = DEFAULT_CACHE_BYTES,
                 fallback_reason: str | None = None):
        self.info = info
        self._decoder = decoder
        self.cache = FrameCache(cache_bytes)
        self._lock = threading.RLock()
        self.fallback_reason = fallback_reason
        self.decoded_frames = 0
        self._key_index = np.searchsorted(info.pts, info.keyframe_pts)   # keyframes as frame indices

    @property
    def decode_lock(self) -> threading.RLock:
        """Held by every decode: whoever holds it makes decodes wait (tests make a decode slow)."""
        return self._lock

    # --- facts ---------------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self.info.path

    @property
    def backend(self) -> str:
        return self._decoder.name

    @property
    def frame_count(self) -> int:
        return self.info.frame_count

    @property
    def clock(self) -> FrameClock:
        return self.info.clock

    @property
    def duration(self) -> float:
        return self.info.clock.duration

    @property
    def average_fps(self) -> float:
        return self.info.clock.average_fps

    @property
    def width(self) -> int:
        return self.info.width

    @property
    def height(self) -> int:
        return self.info.height

    @property
    def rotation(self) -> int:
        return self.info.rotation

    @property
    def warning(self) -> str | None:
        return self.info.warning

    @property
    def frame_bytes(self) -> int:
        return self.width * self.height * 3

    @property
    def keyframe_indices(self) -> np.ndarray:
        """int [K] ascending frame indices of the keyframes (where seeks start decoding)."""
        return self._key_index

    def keyframe_before(self, index: int) -> int:
        """Index of the keyframe at or before frame `index` (where a seek to it starts decoding)."""
        at = int(np.searchsorted(self._key_index, int(index), side="right")) - 1
        return int(self._key_index[max(at, 0)])

    def can_continue_to(self, index: int) -> bool:
        """True if the decoder reaches frame `index` by decoding on from where it stands, without
        a seek and without passing a keyframe (a read-ahead can walk there cheaply)."""
        decoder = self._decoder
        nxt = getattr(decoder, "next_index", None) if decoder is not None else None
        return nxt is not None and self.keyframe_before(index) <= nxt <= int(index)

    # --- frames --------------------------------------------------------------------------------
    def _check(self, index) -> int:
        i = int(index)
        if not 0 <= i < self.frame_count:
            raise IndexError(f"frame {i} is outside 0..{self.frame_count - 1} of {self.path}")
        return i

    def cached(self, index: int) -> np.ndarray | None:
        """The frame if it is already decoded, else None; never decodes, never blocks on one."""
        return self.cache.get(int(index))

    def frame(self, index: int) -> np.ndarray:
        """RGB uint8 [H, W, 3] of frame `index` (read-only array)."""
        i = self._check(index)
        arr = self.cache.get(i)
        if arr is not None:
            return arr
        with self._lock:
            arr = self.cache.peek(i)
            if arr is not None:
                return arr
            arr = self._decode(i)
        self.cache.put(i, arr)
        return arr

    def _decode(self, i: int) -> np.ndarray:
        if self._decoder is None:
            raise UserError(f"{self.path}: the video was closed", path=self.path)
        out = self.cache.take_buffer((self.height, self.width, 3)) if self._decoder.name == "decord" \
            else None
        arr = self._decoder.decode(i) if out is None else self._decoder.decode(i, out=out)
        self.decoded_frames += 1
        return arr

    def prefetch(self, index: int) -> bool:
        """Decode frame `index` into the cache if it is not there; True if it decoded."""
        i = self._check(index)
        if i in self.cache:
            return False
        self.frame(i)
        return True

    def fill(self, indices: Iterable[int] | range) -> None:
        """Decode the given frames into the cache in one forward pass (those not there yet)."""
        for _ in self._gather(sorted({self._check(i) for i in indices})):
            pass

    def frames(self, indices: Iterable[int] | range) -> np.ndarray:
        """RGB uint8 [N, H, W, 3] of the given frames, in the order asked."""
        idx = [self._check(i) for i in indices]
        out = np.empty((len(idx), self.height, self.width, 3), dtype=np.uint8)
        for k, (i, arr) in enumerate(self._gather(idx)):
            out[k] = arr
        return out

    def _gather(self, idx: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        have = {i: a for i in set(idx) if (a := self.cache.peek(i)) is not None}
        missing = sorted(set(idx) - set(have))
        if missing:
            if self._decoder is None:
                raise UserError(f"{self.path}: the video was closed", path=self.path)
            with self._lock:
                for i, arr in self._decoder.decode_sorted(missing):
                    self.decoded_frames += 1
                    arr.flags.writeable = False
                    have[i] = arr
                    self.cache.put(i, arr)
        for i in idx:
            yield i, have[i]

    def iter_frames(self, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (index, frame) for ascending indices without filling the cache (extraction).

        Decodes in order, so a long run of indices costs one pass over the video. Holds the decode
        lock until the generator is exhausted or closed: give extraction a reader of its own.
        """
        idx = sorted({self._check(i) for i in indices})
        if self._decoder is None:
            raise UserError(f"{self.path}: the video was closed", path=self.path)
        with self._lock:
            for i, arr in self._decoder.decode_sorted(idx):
                self.decoded_frames += 1
                yield i, arr

    def close(self) -> None:
        with self._lock:
            if self._decoder is not None:
                self._decoder.close()
                self._decoder = None
        self.cache.clear()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"VideoReader({self.path.name!r}, backend={self.backend}, frames={self.frame_count}, "
                f"{self.width}x{self.height}, {self.average_fps:.3f} fps)")


def open_video(path: str | os.PathLike, *, cache_bytes: int = DEFAULT_CACHE_BYTES,
               prefer: str = "decord") -> VideoReader:
    """Probe and open a video; UserError naming the file and the reason when it cannot be read.

    `prefer="pyav"` skips decord (tests, benchmarks).
    """
    info = probe_video(path)
    reason = None
    if info.packed_b_frames:
        reason = "MPEG-4 with packed B-frames: decord seeks to wrong frames in such files"
    elif prefer == "decord" and info.warning is None:
        try:
            from .decord_backend import DecordBackend

            decoder = run_with_timeout(lambda: DecordBackend(info), OPEN_TIMEOUT_S,
                                       "opening the video with decord", info.path)
            return VideoReader(info, decoder, cache_bytes)
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - any decord failure means: use PyAV
            reason = f"decord: {_one_line(exc)}"
            log.info("%s: falling back to PyAV (%s)", info.path, reason)
    if info.warning is not None:
        reason = "the file is damaged; PyAV decodes up to the damage"
    from .pyav_backend import PyAVBackend

    try:
        decoder = run_with_timeout(lambda: PyAVBackend(info), OPEN_TIMEOUT_S,
                                   "opening the video with PyAV", info.path)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"{info.path}: cannot be decoded ({reason + '; ' if reason else ''}"
                        f"PyAV: {_one_line(exc)})", path=info.path) from exc
    return VideoReader(info, decoder, cache_bytes, fallback_reason=reason)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    text = [t for t in text if t.strip()]
    return (text[-1] if text else type(exc).__name__)[:300]
