"""decord as a frame decoder: the fast path for the formats it handles.

Frames come back as RGB with the display rotation already applied (decord reads the display
matrix itself). This module only decodes: frame counts and timestamps come from `probe.py`,
and the constructor refuses a file whose frame count or frame size disagrees with the probe, so
the reader falls back to PyAV rather than show wrong frames. Not thread-safe: the reader holds a
lock around every call.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from .probe import VideoInfo

NAME = "decord"


class DecordBackend:
    name = NAME

    def __init__(self, info: VideoInfo, num_threads: int = 0):
        import decord

        self.info = info
        self._vr = decord.VideoReader(str(info.path), ctx=decord.cpu(0), num_threads=num_threads)
        n = len(self._vr)
        if n != info.frame_count:
            raise ValueError(f"decord counts {n} frames, the stream index holds {info.frame_count}")
        shape = self._vr[0].shape
        if (shape[0], shape[1]) != (info.height, info.width):
            raise ValueError(f"decord frames are {shape[1]}x{shape[0]}, expected "
                             f"{info.width}x{info.height} after rotation")
        self._vr.seek(0)
        self._next = 0
        # frame index of every keyframe (from the probe's pts, in presentation order)
        self._key_index = np.searchsorted(info.pts, info.keyframe_pts)

    def _goto(self, index: int) -> None:
        """Position decord so that `next()` returns frame `index`, as cheaply as possible.

        The next frame: nothing to do. Further ahead with no keyframe in between: decode and drop
        the frames in between (no RGB conversion). Anything else: seek (keyframe + decode).
        """
        if index == self._next:
            return
        if self._next is not None and self._next < index and \
                int(np.searchsorted(self._key_index, index, side="right")) == \
                int(np.searchsorted(self._key_index, self._next, side="right")):
            self._vr.skip_frames(index - self._next)
        else:
            self._vr.seek_accurate(index)

    @property
    def next_index(self) -> int | None:
        """The frame `next()` returns without a seek (None: position unknown)."""
        return self._next

    def decode(self, index: int, out: np.ndarray | None = None) -> np.ndarray:
        """RGB uint8 [H, W, 3] of frame `index`, rotation applied; written into `out` (a C-contiguous
        uint8 array of that shape, e.g. a recycled cache buffer) when given."""
        index = int(index)
        try:
            self._goto(index)
            frame = _to_numpy(self._vr.next(), out)
        except Exception as exc:  # noqa: BLE001 - decord raises its own error types
            self._next = None                   # position unknown: seek next time
            lines = [ln for ln in str(exc).splitlines() if ln.strip()]
            raise UserError(f"{self.info.path}: frame {index} cannot be decoded "
                            f"(decord: {(lines[-1] if lines else type(exc).__name__)[:200]})",
                            path=self.info.path) from exc
        self._next = index + 1
        return frame

    def decode_sorted(self, indices: list[int]):
        """Yield (index, frame) for ascending `indices`, decoding forward (one pass when dense)."""
        for i in indices:
            yield int(i), self.decode(i)

    def close(self) -> None:
        self._vr = None


def _to_numpy(nd, out: np.ndarray | None) -> np.ndarray:
    """decord NDArray -> numpy, copied straight into `out` when it fits (what decord's own
    `asnumpy` does into a fresh array), so a recycled buffer takes the frame without a second copy."""
    if out is None or out.shape != tuple(nd.shape) or out.dtype != np.uint8 or \
            not out.flags.c_contiguous or not out.flags.writeable:
        return nd.asnumpy()
    try:
        import ctypes

        from decord._ffi.base import _LIB, check_call
    except ImportError:                       # another decord layout: the plain copy
        np.copyto(out, nd.asnumpy())
        return out
    check_call(_LIB.DECORDArrayCopyToBytes(nd.handle, out.ctypes.data_as(ctypes.c_void_p),
                                           ctypes.c_size_t(out.nbytes)))
    return out
