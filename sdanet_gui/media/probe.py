"""What a video file holds, measured with PyAV before any frame is shown.

Why it exists: the decoders disagree on the details that matter for editing (decord reports
garbage timestamps for some AVI files, trusts header frame counts of truncated files, cannot open
AV1-in-Matroska), so one probe decides the truth for every backend: which stream a player would
show, the presentation timestamp of every frame (from a demux pass, no decoding), the keyframes,
the display rotation, and whether the tail of the file actually decodes (a truncated or damaged
file is cut to the frames that decode, with a warning that says where it stopped).

It never decodes the whole file (only the last group of pictures) and never returns pixels.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..data.units import FrameClock
from ..errors import UserError

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 60.0
_MPEG4_VOP_START = b"\x00\x00\x01\xb6"   # a packet holding two of these is a packed B-frame pair
TAIL_DECODE_BUDGET_S = 15.0


@dataclass
class VideoInfo:
    """Facts about one video stream. Timestamps are seconds from the first frame (frame 0 at 0)."""

    path: Path
    stream_index: int
    codec: str
    coded_width: int
    coded_height: int
    rotation: int                      # degrees clockwise to turn decoded pixels for display
    time_base: Fraction
    pts: np.ndarray = field(repr=False)        # int64 [N] presentation pts of frames 0..N-1
    keyframe_pts: np.ndarray = field(repr=False)  # int64 [K] sorted pts of keyframes
    clock: FrameClock = field(repr=False)
    header_frames: int = 0
    warning: str | None = None
    # MPEG-4 Part 2 "packed B-frames" (DivX/XviD in AVI): one packet carries two frames, so packet
    # timestamps do not follow the pictures and only the decoder's output order is display order
    packed_b_frames: bool = False

    @property
    def frame_count(self) -> int:
        return int(len(self.pts))

    @property
    def width(self) -> int:
        return self.coded_height if self.rotation in (90, 270) else self.coded_width

    @property
    def height(self) -> int:
        return self.coded_width if self.rotation in (90, 270) else self.coded_height


def check_file(path: str | os.PathLike) -> Path:
    """UserError unless `path` is an existing, non-empty regular file."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: video file not found", path=path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder, not a video file", path=path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror or exc})", path=path) from exc
    if size == 0:
        raise UserError(f"{path}: the file is empty (0 bytes)", path=path)
    return path


def run_with_timeout(fn, timeout_s: float, what: str, path: Path):
    """Run `fn()` in a helper thread; UserError if it does not finish in time (a hung decoder).

    The helper thread is a daemon: if a native decoder really hangs it is abandoned, not killed.
    """
    result: dict = {}

    def target():
        try:
            result["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = exc

    t = threading.Thread(target=target, name=f"{what}-{path.name}", daemon=True)
    t.start()
    t.join(timeout_s)
    if t.is_alive():
        raise UserError(f"{path}: {what} did not finish within {timeout_s:.0f} s; the file may be "
                        "damaged or use an unsupported codec", path=path)
    if "error" in result:
        raise result["error"]
    return result["value"]


def probe_video(path: str | os.PathLike, timeout_s: float = PROBE_TIMEOUT_S) -> VideoInfo:
    path = check_file(path)
    return run_with_timeout(lambda: _probe(path), timeout_s, "reading the video's index", path)


def pick_video_stream(container, path: Path):
    """The stream a player shows: FFmpeg's best video stream, never attached cover art."""
    videos = [s for s in container.streams.video if not _is_cover_art(s)]
    if not videos:
        kinds = sorted({s.type for s in container.streams})
        if "audio" in kinds:
            raise UserError(f"{path}: has audio only, no video stream to show", path=path)
        raise UserError(f"{path}: has no video stream (streams: {', '.join(kinds) or 'none'})",
                        path=path)
    try:
        best = container.streams.best("video")
    except Exception:  # noqa: BLE001 - older PyAV; fall back to our own rule
        best = None
    if best is not None and best in videos:
        return best
    return max(videos, key=lambda s: (s.codec_context.width or 0) * (s.codec_context.height or 0))


def _is_cover_art(stream) -> bool:
    try:
        import av

        return bool(stream.disposition & av.stream.Disposition.attached_pic)
    except Exception:  # noqa: BLE001
        return False


def stream_by_index(container, index: int):
    for stream in tuple(container.streams.video):
        if stream.index == index:
            return stream
    raise ValueError(f"no video stream #{index}")


def open_container(path: Path):
    import av

    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise UserError(f"{path}: not a video file that can be read ({_reason(exc)})", path=path) from exc


def _reason(exc) -> str:
    msg = getattr(exc, "strerror", None) or str(exc)
    return msg.strip().rstrip(".") or type(exc).__name__


def _probe(path: Path) -> VideoInfo:
    import av

    container = open_container(path)
    try:
        stream = pick_video_stream(container, path)
        tb = stream.time_base or Fraction(1, 1_000_000)
        pts_list, key_list, durations = [], [], []
        packed = False
        check_packing = stream.codec_context.name == "mpeg4"
        try:
            for pkt in container.demux(stream):
                if pkt.size == 0:
                    continue
                if getattr(pkt, "is_discard", False):
                    continue
                if check_packing and not packed:
                    packed = bytes(pkt).count(_MPEG4_VOP_START) > 1
                p = pkt.pts if pkt.pts is not None else pkt.dts
                if p is None:
                    continue
                pts_list.append(p)
                durations.append(pkt.duration or 0)
                if pkt.is_keyframe:
                    key_list.append(p)
        except av.error.FFmpegError as exc:
            log.warning("%s: demux stopped after %d packets: %s", path, len(pts_list), exc)
        if not pts_list:
            raise UserError(f"{path}: the video stream holds no frames", path=path)
        decode_order = list(pts_list)
        pts = np.array(sorted(set(pts_list)), dtype=np.int64)
        keys = np.array(sorted(set(key_list or [pts_list[0]])), dtype=np.int64)
        header = int(stream.frames or 0)
        codec = stream.codec_context.name
        stream_index = int(stream.index)
        rate = stream.average_rate or stream.guessed_rate
        width, height = stream.codec_context.width, stream.codec_context.height
        tail = _decode_tail(container, stream, decode_order, keys, path)
    finally:
        container.close()

    warning = None
    if tail.error is not None:
        decoded = np.array(sorted(tail.decoded_pts), dtype=np.int64)
        before = pts[pts < tail.start_pts]
        good = np.union1d(before, decoded)
        if len(good) == 0:
            raise UserError(f"{path}: no frame of the video can be decoded ({tail.error})", path=path)
        stated = max(header, len(pts))
        steps = np.diff(good)
        stop_s = float((good[-1] - good[0] + (np.median(steps) if len(steps) else 0)) * tb)
        warning = (f"decoding stops after frame {len(good)} of {stated} (at {stop_s:.2f} s): "
                   f"the file is damaged after that point ({tail.error})")
        log.info("%s: %s", path, warning)
        pts = good
    elif width == 0 or height == 0:
        width, height = tail.width, tail.height
    if tail.width and tail.height:
        width, height = tail.width, tail.height

    times = (pts - pts[0]).astype(np.float64) * float(tb)
    last_dur = _last_frame_duration(times, durations, tb, rate)
    clock = FrameClock(times, float(times[-1] + last_dur))
    return VideoInfo(path=path, stream_index=stream_index, codec=codec, coded_width=int(width),
                     coded_height=int(height), rotation=tail.rotation, time_base=Fraction(tb), pts=pts,
                     keyframe_pts=keys, clock=clock, header_frames=header, warning=warning,
                     packed_b_frames=packed)


def _last_frame_duration(times: np.ndarray, durations: list, tb, rate) -> float:
    if len(times) >= 2:
        return float(np.median(np.diff(times)))
    if durations and durations[-1]:
        return float(durations[-1] * tb)
    return 1.0 / float(rate) if rate else 0.04


@dataclass
class _Tail:
    start_pts: int
    decoded_pts: list
    error: str | None
    rotation: int
    width: int
    height: int


def _decode_tail(container, stream, decode_order: list, keys: np.ndarray, path: Path) -> _Tail:
    """Decode from the last keyframe to the end: does the file really hold what its index says?"""
    import av

    last_key = int(keys[-1])
    rotation, width, height, decoded, error = 0, 0, 0, [], None
    try:
        container.seek(last_key, stream=stream, backward=True, any_frame=False)
        t0 = time.monotonic()
        for frame in container.decode(stream):
            if not decoded:
                rotation = int(-(frame.rotation or 0)) % 360
                width, height = frame.width, frame.height
            if frame.pts is not None:
                decoded.append(frame.pts)
            if time.monotonic() - t0 > TAIL_DECODE_BUDGET_S:
                log.warning("%s: tail check stopped after %.0f s", path, TAIL_DECODE_BUDGET_S)
                break
    except av.error.FFmpegError as exc:
        error = _reason(exc)
    start = min([p for p in decoded if p is not None], default=last_key)
    return _Tail(min(start, last_key), decoded, error, rotation, width, height)
