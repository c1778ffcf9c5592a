"""Checks every annotation reader shares: times that are numbers a video can hold (not
negative, not past 48 hours, not far past a known duration), segments that end after they start,
durations and frame rates that make sense, labels inside a fixed class list.

Each reader passes the file and the entry (line, row, video/index) it is looking at, so the one
message the user sees says where the problem is. This module only validates and builds
`Segment`s; it never reads or writes files.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import UserError
from .labels import LabelError, describe, normalise_label
from .structures import AnnotationSet, Segment, VideoAnnotation
from .units import MAX_FPS, MAX_SECONDS, far_past_end


def fail(path: str | Path, entry: str, problem: str) -> UserError:
    """The one-line error: `<file>: <entry>: <problem>`."""
    where = f"{entry}: " if entry else ""
    return UserError(f"{path}: {where}{problem}", path=path)


def parse_time(value, path, entry: str, what: str) -> float:
    """A time in seconds from a number or a numeric string (the G-TAD JSON stores strings)."""
    if isinstance(value, bool):
        raise fail(path, entry, f"{what} is {value!r}, not a number")
    if isinstance(value, str):
        try:
            out = float(value.strip())
        except ValueError:
            raise fail(path, entry, f"{what} is {value!r}, not a number") from None
    elif isinstance(value, (int, float)) or hasattr(value, "__float__"):
        out = float(value)
    else:
        raise fail(path, entry, f"{what} is {value!r}, not a number")
    if not math.isfinite(out):
        raise fail(path, entry, f"{what} is {value!r}, not a finite number")
    return out


def parse_optional_number(value, path, entry: str, what: str) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_time(value, path, entry, what)


def parse_duration(value, path, entry: str, what: str = "duration") -> float | None:
    """A video duration (s) or None: positive, at most MAX_SECONDS."""
    d = parse_optional_number(value, path, entry, what)
    if d is not None and not 0.0 < d <= MAX_SECONDS:
        raise fail(path, entry, f"{what} is {d:g} s; a video lasts more than 0 s and at most "
                                f"{MAX_SECONDS / 3600:g} hours")
    return d


def parse_fps(value, path, entry: str, what: str = "fps") -> float | None:
    """A frame rate or None: positive, at most MAX_FPS."""
    f = parse_optional_number(value, path, entry, what)
    if f is not None and not 0.0 < f <= MAX_FPS:
        raise fail(path, entry, f"{what} is {f:g}; a frame rate is more than 0 and at most {MAX_FPS:g}")
    return f


def check_span(start: float, end: float, path, entry: str, duration: float | None = None,
               what: str = "segment") -> None:
    """Times a video can hold: not negative, not absurd (MAX_SECONDS), not far past a known
    duration. Refused, the same way in every format, naming the entry: such a time is nearly
    always a unit mistake (milliseconds or frames typed as seconds), and clipping it would
    hide that."""
    for t, which in ((start, "start"), (end, "end")):
        if t < 0:
            raise fail(path, entry, f"{what} {which} is {t:g} s, before the start of the video "
                                    "(times cannot be negative)")
        if t > MAX_SECONDS:
            raise fail(path, entry, f"{what} {which} is {t:g} s, more than {MAX_SECONDS / 3600:g} "
                                    "hours (are these milliseconds or frames?)")
    if duration is not None and end > far_past_end(duration):
        raise fail(path, entry, f"{what} ends at {end:g} s, far past the end of its video "
                                f"({duration:g} s; are these milliseconds or frames?)")


def make_segment(label, start, end, path, entry: str, *, score=None, meta=None,
                 duration: float | None = None, any_span: bool = False) -> Segment:
    """Validated segment: numeric finite times inside what a video can hold (`check_span`; a
    known `duration` bounds it), end not before start, a non-empty label.

    `any_span` (result files read for evaluation): any finite times are kept, reversed spans
    too, because the official evaluator scores them (as false positives)."""
    if not isinstance(label, str) or not label.strip():
        raise fail(path, entry, f"label is {describe(label)}, expected a class name")
    s = parse_time(start, path, entry, "segment start")
    e = parse_time(end, path, entry, "segment end")
    meta = dict(meta or {})
    if not any_span:
        written, label = label, check_label(label, path, entry)
        if label != written:   # spaces around it, or decomposed Unicode: the importer says so
            meta["label_as_written"] = written
        if e < s:
            raise fail(path, entry, f"segment ends before it starts ({s:g} s > {e:g} s)")
        check_span(s, e, path, entry, duration)
    sc = parse_optional_number(score, path, entry, "score")
    return Segment(label.strip(), s, e, sc, meta, where=entry)


def check_label(label, path, entry: str, what: str = "label") -> str:
    """The label as stored (`labels.normalise_label`), or the file's error naming the entry."""
    try:
        return normalise_label(label)
    except LabelError as exc:
        raise fail(path, entry, f"{what} {describe(label)} {exc}") from None


def make_interval(start, end, path, entry: str, duration: float | None = None) -> tuple[float, float]:
    s = parse_time(start, path, entry, "start")
    e = parse_time(end, path, entry, "end")
    if e < s:
        raise fail(path, entry, f"interval ends before it starts ({s:g} s > {e:g} s)")
    check_span(s, e, path, entry, duration, what="interval")
    return (s, e)


def check_class_list(names, path, entry: str = "class list") -> list[str]:
    """A file's class list, each name checked as a label (`labels`), in order."""
    return [check_label(n, path, f"{entry}, entry {i + 1}", "class name") for i, n in enumerate(names)]


def check_labels(aset: AnnotationSet, classes, path, entries: dict | None = None) -> None:
    """Every segment label must be in `classes` (a fixed class list); name the first offender.

    `entries` maps id(segment) -> entry text when the reader kept finer positions (line numbers).
    """
    allowed = set(classes)
    for name, video in aset.videos.items():
        for i, seg in enumerate(video.segments):
            if seg.label not in allowed:
                entry = (entries or {}).get(id(seg)) or f"video {name!r}, segment {i}"
                raise fail(path, entry, f"label {seg.label!r} is not in the class list "
                                        f"({len(allowed)} classes)")


def get_video(videos: dict[str, VideoAnnotation], name: str, subset: str, path, entry: str) -> VideoAnnotation:
    """The video entry, created on first sight; one video cannot sit in two subsets."""
    video = videos.get(name)
    if video is None:
        video = videos[name] = VideoAnnotation(name=name, subset=subset)
    elif subset and video.subset and video.subset != subset:
        raise fail(path, entry, f"video {name!r} is in subset {subset!r} here but "
                                f"{video.subset!r} elsewhere")
    elif subset and not video.subset:
        video.subset = subset
    return video


def apply_fps(aset: AnnotationSet, fps: float | None) -> None:
    """Fill the frame rate of videos whose file did not say it."""
    if fps:
        for video in aset.videos.values():
            if video.fps is None:
                video.fps = float(fps)
