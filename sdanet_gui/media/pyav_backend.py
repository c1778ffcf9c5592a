"""PyAV (FFmpeg) as a frame decoder: the fallback for files decord cannot open or gets wrong
(AV1 in Matroska, truncated files), and the reference the tests compare against.

Random access seeks to the keyframe at or before the wanted frame and decodes forward; a request
a little ahead of the last decoded frame (playback, forward scrubbing) continues decoding without
seeking. Frames before the target are never converted to RGB. Rotation from the display matrix
is applied here (decord applies it itself). Not thread-safe: the reader holds a lock.

Streams with MPEG-4 packed B-frames (probe.py) carry timestamps that do not follow the pictures;
there frame i is the i-th picture the decoder puts out, so a random access decodes from the start
of the stream (slow on long files, but the only order that is right).
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from .probe import VideoInfo, open_container, stream_by_index

NAME = "pyav"


def rotate(frame: np.ndarray, clockwise_degrees: int) -> np.ndarray:
    """Turn an [H, W, C] image clockwise by a multiple of 90 degrees."""
    k = (clockwise_degrees // 90) % 4
    return frame if k == 0 else np.ascontiguousarray(np.rot90(frame, k=-k))


class PyAVBackend:
    name = NAME

    def __init__(self, info: VideoInfo):
        self.info = info
        self._container = open_container(info.path)
        self._stream = stream_by_index(self._container, info.stream_index)
        self._index_of = {int(p): i for i, p in enumerate(info.pts)}
        self._frames = None       # live decode iterator
        self._last_pts = None     # pts of the last frame taken from it
        self._last_index = None   # output position of that frame (packed B-frame streams)
        self.seeks = 0

    @property
    def next_index(self) -> int | None:
        """The frame the live decode yields next without a seek (None: a seek comes first)."""
        if self._frames is None:
            return None
        if self.info.packed_b_frames:
            return None if self._last_index is None else self._last_index + 1
        last = self._index_of.get(int(self._last_pts)) if self._last_pts is not None else None
        return None if last is None else last + 1

    def _keyframe_before(self, pts: int) -> int:
        keys = self.info.keyframe_pts
        at = int(np.searchsorted(keys, pts, side="right")) - 1
        return int(keys[max(at, 0)])

    def _position_for(self, target_pts: int) -> None:
        key = self._keyframe_before(target_pts)
        if self._frames is not None and self._last_pts is not None and key <= self._last_pts < target_pts:
            return  # decoding forward from where we are is no slower than seeking
        self._container.seek(key, stream=self._stream, backward=True, any_frame=False)
        self._frames = self._container.decode(self._stream)
        self._last_pts = None
        self.seeks += 1

    def _advance_to(self, target_pts: int):
        import av

        self._position_for(target_pts)
        try:
            for frame in self._frames:
                if frame.pts is None:
                    continue
                self._last_pts = frame.pts
                if frame.pts >= target_pts:
                    return frame
        except av.error.FFmpegError as exc:
            self._frames = None
            idx = self._index_of.get(int(target_pts), -1)
            raise UserError(f"{self.info.path}: frame {idx} cannot be decoded ({exc})",
                            path=self.info.path) from exc
        self._frames = None
        idx = self._index_of.get(int(target_pts), -1)
        raise UserError(f"{self.info.path}: frame {idx} is missing from the file (ended early)",
                        path=self.info.path)

    def _advance_to_index(self, index: int):
        """The `index`-th picture the decoder puts out, counted from the start of the stream."""
        import av

        if self._frames is None or self._last_index is None or self._last_index >= index:
            self._container.seek(int(self.info.pts[0]), stream=self._stream, backward=True,
                                 any_frame=False)
            self._frames = self._container.decode(self._stream)
            self._last_index = -1
            self.seeks += 1
        try:
            for frame in self._frames:
                self._last_index += 1
                if self._last_index == index:
                    return frame
        except av.error.FFmpegError as exc:
            self._frames = None
            raise UserError(f"{self.info.path}: frame {index} cannot be decoded ({exc})",
                            path=self.info.path) from exc
        self._frames = None
        raise UserError(f"{self.info.path}: frame {index} is missing from the file (ended early)",
                        path=self.info.path)

    def _to_rgb(self, frame) -> np.ndarray:
        return rotate(frame.to_ndarray(format="rgb24"), self.info.rotation)

    def decode(self, index: int) -> np.ndarray:
        if self.info.packed_b_frames:
            return self._to_rgb(self._advance_to_index(int(index)))
        return self._to_rgb(self._advance_to(int(self.info.pts[int(index)])))

    def decode_sorted(self, indices: list[int]):
        for i in indices:
            yield int(i), self.decode(i)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
            self._frames = None
