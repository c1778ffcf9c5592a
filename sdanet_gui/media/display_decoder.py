"""Decode frames straight to the player's DISPLAY size, one frame per call, for the frame server.

Why it exists: a 1080p H.264 frame costs ~9 ms of CPU to decode and 6 MB as RGB, while the
player's widget shows it at, say, 640x360. Scrubbing near the playhead is only instant when the
frames around it are already decoded, so the frame server decodes whole stretches of GOPs around
the playhead. Converting each decoded picture once, from YUV straight to widget-size RGB (one
swscale pass, no full-size RGB array), makes that much cheaper and fits ~9x more frames in the
same cache bytes.

`step()` decodes exactly ONE frame, so the frame server can switch to a newer request between any
two frames (the latest request wins). The decoder walks forward from the keyframe it last seeked
to; `cost(i)` says how many frames reaching frame `i` takes (continuing when frame `i` lies ahead
in the same GOP, else from its keyframe), so the caller can plan. This module never yields a frame
that comes before the keyframe it seeked to (the leading frames of an open GOP may be damaged),
never decodes a frame the probe did not vouch for, and is not thread-safe: only the frame
server's reader thread uses it.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from .probe import VideoInfo, open_container, stream_by_index
from .pyav_backend import rotate

NAME = "pyav-display"
INTERPOLATION = "AREA"     # downscaling: area averaging keeps fine detail without aliasing


def fit_size(width: int, height: int, box: tuple[int, int] | None) -> tuple[int, int] | None:
    """The largest (w, h) with the video's aspect ratio that fits in `box` (w, h), or None when
    the video already fits in it (frames are then served at full resolution)."""
    if box is None:
        return None
    bw, bh = int(box[0]), int(box[1])
    if bw <= 0 or bh <= 0:
        return None
    scale = min(bw / width, bh / height)
    if scale >= 1.0:
        return None
    return max(2, int(round(width * scale))), max(2, int(round(height * scale)))


class DisplayDecoder:
    """PyAV decode of one video stream to RGB uint8 [h, w, 3] at `size` = (w, h) after rotation."""

    name = NAME

    def __init__(self, info: VideoInfo, size: tuple[int, int], threads: int = 0):
        from av.video.reformatter import VideoReformatter

        self.info = info
        self.size = (int(size[0]), int(size[1]))
        self._container = open_container(info.path)
        self._stream = stream_by_index(self._container, info.stream_index)
        if threads != 1:
            self._stream.thread_type = "AUTO"
            self._stream.thread_count = threads
        self._reformatter = VideoReformatter()
        self._index_of = {int(p): i for i, p in enumerate(info.pts)}
        self._key_index = np.searchsorted(info.pts, info.keyframe_pts)
        self._frames = None          # live decode iterator
        self._floor = 0              # frames before the keyframe we seeked to are never yielded
        self.next_index: int | None = None   # what step() yields next; None: a seek comes first
        self.seeks = 0
        self.decoded = 0

    # --- planning --------------------------------------------------------------------------------
    def keyframe_before(self, index: int) -> int:
        at = int(np.searchsorted(self._key_index, int(index), side="right")) - 1
        return int(self._key_index[max(at, 0)])

    def can_continue_to(self, index: int) -> bool:
        """True if decoding on from where the decoder stands reaches `index` without a seek and
        without passing a keyframe (past one, a seek is never slower)."""
        nxt = self.next_index
        return nxt is not None and self.keyframe_before(index) <= nxt <= index

    def cost(self, index: int) -> int:
        """Frames to decode to get frame `index` (a seek, when needed, counts one frame more)."""
        if self.can_continue_to(index):
            return index - self.next_index + 1
        return index - self.keyframe_before(index) + 2

    def position_for(self, index: int) -> None:
        """Make the next steps walk towards `index`: continue if that is cheaper, else seek."""
        if not self.can_continue_to(index):
            self.seek(self.keyframe_before(index))

    def seek(self, key_index: int) -> None:
        """Seek to the keyframe at frame index `key_index` (a keyframe index)."""
        if self._container is None:
            raise UserError(f"{self.info.path}: the video was closed", path=self.info.path)
        self._container.seek(int(self.info.pts[key_index]), stream=self._stream, backward=True,
                             any_frame=False)
        self._frames = self._container.decode(self._stream)
        self._floor = int(key_index)
        self.next_index = int(key_index)
        self.seeks += 1

    # --- decoding --------------------------------------------------------------------------------
    def step(self, want=None) -> tuple[int, np.ndarray | None] | None:
        """Decode the next frame: (index, RGB [h, w, 3] or None when `want(index)` is False, i.e.
        the caller already has it), or None at the end of the stream."""
        import av

        if self._frames is None:
            self.seek(self.keyframe_before(self.next_index or 0))
        try:
            for frame in self._frames:
                self.decoded += 1
                i = self._index_of.get(frame.pts) if frame.pts is not None else None
                if i is None or i < self._floor:
                    continue
                self.next_index = i + 1
                if want is not None and not want(i):
                    return i, None
                return i, self._to_rgb(frame)
        except av.error.FFmpegError as exc:
            where = self.next_index
            self._frames = None
            self.next_index = None
            raise UserError(f"{self.info.path}: decoding stopped near frame {where} ({exc})",
                            path=self.info.path) from exc
        self._frames = None
        self.next_index = None
        return None

    def _to_rgb(self, frame) -> np.ndarray:
        w, h = self.size
        if self.info.rotation in (90, 270):
            w, h = h, w
        out = self._reformatter.reformat(frame, width=w, height=h, format="rgb24",
                                         interpolation=INTERPOLATION, threads=1)
        # swscale pads rows; a packed copy is cheap at display size and what a QImage wants
        return np.ascontiguousarray(rotate(out.to_ndarray(), self.info.rotation))

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
            self._frames = None
            self.next_index = None
