"""Turn one video into a per-video HDF5 feature file (`<out_dir>/<video stem>.h5`).

Pipeline: probe + open the video, resample it to the extractor's fps by picking, for resampled
frame k at k / fps seconds, the source frame shown at that time (FrameClock.seconds_to_frame);
cut non-overlapping snippets of `snippet_frames`; each snippet also sees the next snippet's first
frame, so motion covers the snippet boundary. Snippet i spans [16 i / fps, 16 (i + 1) / fps) s
of the source video (clipped to its duration); the count is `FeatureSpec.snippet_count(duration)`
and frames past the end repeat the last frame.

A file with the same video fingerprint and the same extractor config is a cache hit: nothing is
decoded. Progress goes to `progress(done, total)`; `cancel` (a callable returning True, or a
threading.Event) is checked between snippets and raises `Cancelled`. The file is written
atomically, so a cancelled or failed run leaves the previous file (if any) untouched.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.feature_files import FeatureFile, write_feature_file
from ..errors import Cancelled, UserError
from .fingerprint import fingerprint

log = logging.getLogger(__name__)

EXTRACTORS = ("tiny", "i3d")
READ_CACHE_BYTES = 32 * 1024 * 1024
BATCH_SNIPPETS = 4


def make_extractor(name: str, weights_dir: str | os.PathLike | None = None, device: str | None = None):
    if name == "tiny":
        from .tiny_extractor import TinyExtractor

        return TinyExtractor()
    if name == "i3d":
        from .i3d import I3DExtractor

        return I3DExtractor(weights_dir, device=device)
    raise UserError(f"unknown extractor '{name}' (choose from {', '.join(EXTRACTORS)})")


def output_path(video_path: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    return Path(out_dir) / f"{Path(video_path).stem}.h5"


def is_cache_hit(out: Path, video_fingerprint: str, extractor_name: str, config: dict) -> bool:
    """True if `out` holds features of this exact video by this exact extractor config."""
    if not out.is_file():
        return False
    import h5py

    try:
        with h5py.File(out, "r") as h:
            attrs = dict(h.attrs)
            ok = "features" in h and h["features"].shape[0] > 0
    except OSError:
        return False

    def s(v):
        return v.decode() if isinstance(v, bytes) else str(v)

    try:
        stored = json.loads(s(attrs.get("extractor_config", "{}")) or "{}")
    except ValueError:
        return False
    return ok and s(attrs.get("fingerprint", "")) == video_fingerprint and \
        s(attrs.get("extractor", "")) == extractor_name and stored == json.loads(json.dumps(config))


def _cancelled(cancel) -> bool:
    if cancel is None:
        return False
    if hasattr(cancel, "is_set"):
        return bool(cancel.is_set())
    return bool(cancel())


def extract_features(video_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                     extractor="tiny", weights_dir: str | os.PathLike | None = None,
                     progress: Callable[[int, int], None] | None = None, cancel=None,
                     overwrite: bool = False, device: str | None = None) -> Path:
    """Extract features of one video into `out_dir/<stem>.h5`; returns that path.

    `extractor` is a name ("tiny" | "i3d") or an extractor object (reused across videos).
    """
    from .reader import open_video

    video_path = Path(video_path)
    out = output_path(video_path, out_dir)
    fp = fingerprint(video_path)
    ext = make_extractor(extractor, weights_dir, device) if isinstance(extractor, str) else extractor
    if not overwrite and is_cache_hit(out, fp, ext.name, ext.config):
        log.info("%s: features up to date in %s", video_path, out)
        return out

    with open_video(video_path, cache_bytes=READ_CACHE_BYTES) as reader:
        features, start, end = _run(reader, ext, progress, cancel)
        duration = reader.clock.duration
        if reader.warning:
            log.warning("%s: %s", video_path, reader.warning)
    if _cancelled(cancel):
        raise Cancelled(f"extraction of {video_path.name} cancelled")
    write_feature_file(out, FeatureFile(
        video_name=video_path.stem, features=features, spec=ext.spec, snippet_start_s=start,
        snippet_end_s=end, extractor=ext.name, extractor_config=ext.config, fingerprint=fp,
        duration_s=duration))
    return out


def resample_plan(reader, spec) -> tuple[int, np.ndarray]:
    """(snippet count T, source frame index of each resampled frame [T * snippet_frames + 1])."""
    t = spec.snippet_count(reader.clock.duration)
    n = t * spec.stride_frames + max(0, spec.snippet_frames - spec.stride_frames) + 1
    times = spec.frame_seconds(np.arange(n))
    src = np.asarray(reader.clock.seconds_to_frame(times), dtype=np.int64)
    return t, src


def _run(reader, ext, progress, cancel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    spec = ext.spec
    t, src = resample_plan(reader, spec)
    if progress is not None:
        progress(0, t)
    needed = np.unique(src)
    prepared: dict[int, np.ndarray] = {}   # source index -> prepared frame, freed once used
    last_use = {int(s): k for k, s in enumerate(src)}
    feats: list[np.ndarray] = []
    batch: list[list[np.ndarray]] = []
    done = 0
    frames = reader.iter_frames(needed)
    k_next = 0  # next resampled frame whose source frame we still need

    def take(k):
        return prepared[int(src[k])]

    for snippet in range(t):
        if _cancelled(cancel):
            raise Cancelled(f"extraction of {reader.path.name} cancelled")
        lo = snippet * spec.stride_frames
        hi = lo + spec.snippet_frames + 1
        while k_next < hi:
            want = int(src[k_next])
            while want not in prepared:
                i, frame = next(frames)
                prepared[i] = ext.prepare(frame)
            k_next += 1
        batch.append([take(k) for k in range(lo, hi)])
        for k in range(lo, lo + spec.stride_frames):   # frames no later snippet uses
            s = int(src[k])
            if last_use[s] < lo + spec.stride_frames and s in prepared:
                del prepared[s]
        if len(batch) == BATCH_SNIPPETS or snippet == t - 1:
            feats.append(np.asarray(ext.snippets(batch), dtype=np.float32))
            done += len(batch)
            batch = []
            if progress is not None:
                progress(done, t)
    frames.close()
    features = np.concatenate(feats, axis=0)
    start = spec.snippet_to_seconds(np.arange(t))
    end = spec.snippet_end_seconds(np.arange(t), reader.clock.duration)
    return features, np.asarray(start, dtype=np.float64), np.asarray(end, dtype=np.float64)
