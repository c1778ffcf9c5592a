"""The one place that converts between snippets, frames and seconds.

Frames are the truth for human edits: a segment is [start_frame, end_frame) on the decoder's
frame index. Seconds come from per-frame timestamps (variable frame rate exists). Model outputs
live on the snippet grid of a `FeatureSpec`. No other module does arithmetic on these units.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np


#: The longest video any time may refer to (48 hours). Longer times are refused where files are
#: read: they are nearly always milliseconds or frames typed as seconds.
MAX_SECONDS = 48 * 3600.0
#: The highest frame rate accepted from a file (high-speed cameras stay well below).
MAX_FPS = 100_000.0


def far_past_end(duration: float) -> float:
    """The latest time a segment of a video of this duration may reach before it is refused as
    a unit mistake rather than clipped at the video's end: ten times the duration plus ten
    minutes. Generous on purpose: real files run past their videos (W-TALC's THUMOS14
    `video_test_0000270` has a segment ending at 4x its recorded duration); milliseconds typed
    as seconds land 1000x past."""
    return 10.0 * float(duration) + 600.0


@dataclass(frozen=True)
class FeatureSpec:
    """How a feature matrix [T, D] maps onto time, and how its columns split into modalities.

    Snippet i covers frames [i * stride_frames, i * stride_frames + snippet_frames) of the video
    resampled to `fps`; the family's convention places snippet i at i * stride_frames / fps s.
    """

    fps: float = 25.0
    snippet_frames: int = 16
    stride_frames: int = 16
    modalities: tuple[tuple[str, int], ...] = (("rgb", 1024), ("flow", 1024))

    def __post_init__(self):
        if not (self.fps > 0 and self.snippet_frames > 0 and self.stride_frames > 0):
            raise ValueError(f"feature spec needs positive fps/snippet/stride, got {self}")
        if not self.modalities or any(d <= 0 for _, d in self.modalities):
            raise ValueError(f"feature spec needs positive modality dims, got {self.modalities}")

    @property
    def feature_dim(self) -> int:
        return sum(d for _, d in self.modalities)

    @property
    def modality_names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.modalities)

    @property
    def snippet_seconds(self) -> float:
        """Seconds between the starts of two consecutive snippets."""
        return self.stride_frames / self.fps

    def modality_slices(self) -> dict[str, slice]:
        out, at = {}, 0
        for name, dim in self.modalities:
            out[name] = slice(at, at + dim)
            at += dim
        return out

    # --- conversions -------------------------------------------------------------------------
    def snippet_to_seconds(self, snippet):
        """Start time of snippet index (scalar or array; fractional indices allowed)."""
        return np.asarray(snippet, dtype=np.float64) * self.snippet_seconds if not np.isscalar(snippet) \
            else float(snippet) * self.snippet_seconds

    def seconds_to_snippet(self, seconds):
        """Fractional snippet position of a time (the inverse of `snippet_to_seconds`)."""
        return np.asarray(seconds, dtype=np.float64) / self.snippet_seconds if not np.isscalar(seconds) \
            else float(seconds) / self.snippet_seconds

    def frame_seconds(self, frame):
        """Time of frame `frame` of the video resampled to the spec's fps (what an extractor sees)."""
        return np.asarray(frame, dtype=np.float64) / self.fps

    def snippet_end_seconds(self, snippet, duration_s: float):
        """End time of snippets (a snippet spans `snippet_frames` resampled frames), clipped to
        the video's duration and never before the snippet's start."""
        start = self.snippet_to_seconds(np.asarray(snippet))
        return np.maximum(np.minimum(start + self.snippet_frames / self.fps, duration_s), start)

    def snippet_count(self, duration_s: float) -> int:
        """Number of snippets a video of this duration yields (at least one)."""
        return max(1, int(math.floor(duration_s / self.snippet_seconds)))

    # --- (de)serialization --------------------------------------------------------------------
    def to_dict(self) -> dict:
        d = asdict(self)
        d["modalities"] = [[n, int(dim)] for n, dim in self.modalities]
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "FeatureSpec":
        mods = d.get("modalities")
        if mods is None and "feature_dim" in d:
            dim = int(d["feature_dim"])
            mods = [("rgb", dim // 2), ("flow", dim - dim // 2)] if dim % 2 == 0 else [("features", dim)]
        return cls(
            fps=float(d.get("fps", 25.0)),
            snippet_frames=int(d.get("snippet_frames", 16)),
            stride_frames=int(d.get("stride_frames", d.get("snippet_frames", 16))),
            modalities=tuple((str(n), int(dim)) for n, dim in (mods or cls.modalities)),
        )

    def with_dims(self, dims: Sequence[int]) -> "FeatureSpec":
        names = self.modality_names if len(dims) == len(self.modalities) else \
            (("rgb", "flow") if len(dims) == 2 else tuple(f"m{i}" for i in range(len(dims))))
        return FeatureSpec(self.fps, self.snippet_frames, self.stride_frames,
                           tuple(zip(names, (int(x) for x in dims))))


class FrameClock:
    """Frame index <-> seconds for one video, from its per-frame timestamps.

    `timestamps[i]` is the presentation time (s) of frame i; frame i is shown during
    [timestamps[i], timestamps[i+1]) and the last frame until `duration`.

    A constant-rate clock (`FrameClock.constant`) holds only its rate and frame count: every
    conversion is computed in closed form, bit for bit what the table `arange(n) / fps` would
    give, so its cost and memory do not grow with the video's length (a provisional clock of
    1000 frames per second reaching a mistyped 600,000 s once took 9 GB). `timestamps` builds
    that table only when asked for it.
    """

    __slots__ = ("_timestamps", "_fps", "_count", "duration")

    def __init__(self, timestamps, duration: float = 0.0):
        self._timestamps = np.asarray(timestamps, dtype=np.float64)
        self._fps: float | None = None
        self._count = int(len(self._timestamps))
        self.duration = float(duration)

    @classmethod
    def constant(cls, fps: float, frame_count: int, duration: float | None = None) -> "FrameClock":
        """Frame i at i / fps; the last frame lasts until `duration` (default frame_count / fps)."""
        clock = cls.__new__(cls)
        clock._timestamps = None
        clock._fps = float(fps)
        clock._count = int(frame_count)
        clock.duration = frame_count / float(fps) if duration is None else float(duration)
        return clock

    def __repr__(self) -> str:
        kind = f"{self._fps:g} fps" if self._fps is not None else "timestamps"
        return f"FrameClock({self._count} frames, {kind}, duration={self.duration})"

    @property
    def timestamps(self) -> np.ndarray:
        if self._timestamps is None:   # a constant clock's table, built on request only
            return np.arange(self._count, dtype=np.float64) / self._fps
        return self._timestamps

    @property
    def frame_count(self) -> int:
        return self._count

    @property
    def average_fps(self) -> float:
        return self.frame_count / self.duration if self.duration > 0 else 0.0

    # --- the extended table ext = timestamps + [duration], by index ------------------------
    def _ext(self, idx):
        """ext[idx] for indices in [0, frame_count] (closed form for a constant clock)."""
        i = np.asarray(idx, dtype=np.int64)
        if self._timestamps is not None:
            return np.append(self._timestamps, self.duration)[i]
        return np.where(i < self._count, i / self._fps, self.duration)

    def _count_frames_before(self, seconds, inclusive: bool):
        """How many frame start times are < seconds (<= with `inclusive`), in [0, frame_count]:
        np.searchsorted(timestamps, seconds, "left" / "right"), in O(1) per value for a
        constant clock (an estimate from the rate, then exact comparisons against i / fps)."""
        s = np.asarray(seconds, dtype=np.float64)
        if self._timestamps is not None:
            return np.searchsorted(self._timestamps, s, side="right" if inclusive else "left")
        n, fps = self._count, self._fps
        s = np.where(np.isnan(s), np.inf, s)          # searchsorted puts NaN after everything
        k = np.clip(np.floor(np.clip(s * fps, -1.0, n + 1.0)) + 1, 0, n).astype(np.int64)

        def before(i):  # frame i starts before s (or at it, inclusive)
            ti = i / fps
            return (ti <= s) if inclusive else (ti < s)

        for _ in range(64):   # the estimate is off by at most a frame or two (rounding)
            down = (k > 0) & ~before(k - 1)
            up = (k < n) & before(np.minimum(k, n - 1)) & ~down
            if not (down.any() or up.any()):
                break
            k = k - down + up
        return k

    # --- conversions -----------------------------------------------------------------------
    def frame_to_seconds(self, frame):
        """Start time of a frame; frame == frame_count maps to the duration (half-open ends)."""
        out = self._ext(np.clip(np.asarray(frame), 0, self.frame_count))
        return float(out) if np.ndim(out) == 0 else out

    def seconds_to_frame(self, seconds):
        """Index of the frame shown at a time (clamped into the video)."""
        s = np.asarray(seconds, dtype=np.float64)
        idx = self._count_frames_before(s + 1e-9, inclusive=True) - 1
        idx = np.clip(idx, 0, max(0, self.frame_count - 1))
        return int(idx) if np.ndim(idx) == 0 else idx

    def seconds_to_boundary(self, seconds):
        """Nearest frame boundary (0..frame_count) to a time, for segment ends in [start, end)."""
        s = np.asarray(seconds, dtype=np.float64)
        n = self.frame_count
        if self._timestamps is not None:
            idx = np.searchsorted(np.append(self._timestamps, self.duration), s, side="left")
        else:
            idx = self._count_frames_before(s, inclusive=False)
            idx = idx + ((idx == n) & (self.duration < s))     # the table's last entry: duration
        idx = np.clip(idx, 0, n)
        prev = np.clip(idx - 1, 0, n)
        pick = np.where(np.abs(self._ext(prev) - s) <= np.abs(self._ext(idx) - s), prev, idx)
        return int(pick) if np.ndim(pick) == 0 else pick

    @property
    def mean_frame_seconds(self) -> float:
        """How long a frame is shown on average (a tolerance of "half a frame" is half this)."""
        return self.duration / self.frame_count if self.frame_count else 0.0


def format_timecode(seconds: float) -> str:
    """hh:mm:ss.fff, as shown next to the player."""
    ms = int(round(max(0.0, seconds) * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def format_duration(seconds: float) -> str:
    """m:ss, or h:mm:ss past an hour: a length in a narrow column (the video list)."""
    total = int(round(max(0.0, float(seconds))))
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def parse_timecode(text: str) -> float:
    """Accept hh:mm:ss.fff, mm:ss.fff or plain seconds."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"not a time: {text!r}")
    total = 0.0
    for p in parts:
        total = total * 60 + float(p)
    if total < 0:
        raise ValueError(f"not a time: {text!r}")
    return total


# --- constant-rate helpers for annotation formats (appended for the format readers/writers) -------
def constant_frame_to_seconds(frame, fps: float):
    """Start time of a frame index on a constant-rate clock (formats that store frames + fps)."""
    if not fps or fps <= 0:
        raise ValueError(f"need a positive fps, got {fps!r}")
    out = np.asarray(frame, dtype=np.float64) / float(fps)
    return float(out) if out.ndim == 0 else out


def constant_seconds_to_boundary(seconds, fps: float):
    """Nearest frame boundary to a time on a constant-rate clock (segment ends in [start, end))."""
    if not fps or fps <= 0:
        raise ValueError(f"need a positive fps, got {fps!r}")
    out = np.rint(np.asarray(seconds, dtype=np.float64) * float(fps)).astype(np.int64)
    return int(out) if out.ndim == 0 else out


def seconds_to_milliseconds(seconds) -> int:
    """Whole milliseconds (ELAN time slots)."""
    return int(round(float(seconds) * 1000.0))


def milliseconds_to_seconds(ms) -> float:
    return float(ms) / 1000.0
