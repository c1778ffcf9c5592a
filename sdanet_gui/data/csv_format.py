"""Comma-separated annotation tables: ours and G-TAD's.

Ours (one row per segment), columns in this order:
  video, label, start_s, end_s, start_frame, end_frame, score, provenance, review_state,
  subset, duration_s, fps
The first nine are the exchange contract; the last three keep what a round trip would otherwise
lose. Frames, provenance and review_state come from / go to `Segment.meta` keys of the same
names (frames fall back to the video's fps when meta has none). A row whose label is
`Ambiguous` (any case) is a THUMOS14 ambiguous interval; a row with an empty label only declares
a video (one that has no segments). Empty cells are "unknown".

G-TAD's (`video,type,type_idx,start,end,startFrame,endFrame`): `type` is the class, rows of type
`Ambiguous` are ambiguous intervals, frames go to `Segment.meta` (start_frame, end_frame) and the
class index to meta["type_idx"]. The subset comes from the file name
(`test_Annotation.csv` -> test, `val_Annotation.csv` -> validation).

Never writes in place (sdanet_gui.atomic); a bad row raises UserError naming file and line.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from ..atomic import write_text
from .annotation_checks import (check_labels, fail, get_video, make_interval, make_segment, parse_duration,
                                parse_fps, parse_optional_number)
from .labels import is_ambiguous
from .structures import AnnotationSet, Segment, VideoAnnotation
from .thumos import AMBIGUOUS, SUBSET_ALIASES, format_time
from .units import constant_frame_to_seconds, constant_seconds_to_boundary

COLUMNS = ["video", "label", "start_s", "end_s", "start_frame", "end_frame", "score", "provenance",
           "review_state", "subset", "duration_s", "fps"]
REQUIRED = ("video", "label", "start_s", "end_s")
GTAD_COLUMNS = ["video", "type", "type_idx", "start", "end", "startFrame", "endFrame"]


def read_header(path: Path) -> list[str]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return [h.strip() for h in next(csv.reader(fh), [])]
    except FileNotFoundError:
        raise fail(path, "", "file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise fail(path, "", f"cannot read the file ({exc})") from None


def kind_of(path: Path) -> str:
    """'csv' (ours), 'gtad_csv' or '' from the header."""
    header = set(read_header(path))
    if {"video", "type", "start", "end"} <= header:
        return "gtad_csv"
    if set(REQUIRED) <= header:
        return "csv"
    return ""


def _rows(path: Path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            reader.fieldnames = [h.strip() for h in (reader.fieldnames or [])]
            for row in reader:
                yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k is not None}
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise fail(path, "", f"cannot read the file ({exc})") from None


def _int_or_none(value: str, path, where, what):
    x = parse_optional_number(value, path, where, what)
    if x is None:
        return None
    if x != int(x):
        raise fail(path, where, f"{what} is {value!r}, not a whole frame number")
    return int(x)


def read_csv(path: str | Path, fps: float | None = None) -> AnnotationSet:
    path = Path(path)
    header = read_header(path)
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise fail(path, "header", f"missing column(s) {', '.join(missing)} (expected {','.join(COLUMNS)})")
    videos: dict[str, VideoAnnotation] = {}
    for line, row in _rows(path):
        where = f"line {line}"
        name = row.get("video", "")
        if not name:
            raise fail(path, where, "video name is empty")
        video = get_video(videos, name, row.get("subset", ""), path, where)
        dur = parse_duration(row.get("duration_s"), path, where, "duration_s")
        vfps = parse_fps(row.get("fps"), path, where)
        if dur is not None:
            video.duration = dur
        if vfps is not None:
            video.fps = vfps
        label = row.get("label", "")
        if not label:
            continue
        start, end = row.get("start_s", ""), row.get("end_s", "")
        sf = _int_or_none(row.get("start_frame"), path, where, "start_frame")
        ef = _int_or_none(row.get("end_frame"), path, where, "end_frame")
        rate = video.fps or fps
        if not start and sf is not None and rate:
            start = constant_frame_to_seconds(sf, rate)
        if not end and ef is not None and rate:
            end = constant_frame_to_seconds(ef, rate)
        if is_ambiguous(label):
            video.ambiguous.append(make_interval(start, end, path, where, video.duration))
            continue
        meta = {k: v for k, v in (("start_frame", sf), ("end_frame", ef),
                                  ("provenance", row.get("provenance")),
                                  ("review_state", row.get("review_state"))) if v not in (None, "")}
        video.segments.append(make_segment(label, start, end, path, where, score=row.get("score"), meta=meta,
                                           duration=video.duration))
    aset = AnnotationSet(videos=videos, source=str(path))
    aset.classes = aset.all_labels()
    return aset


def read_gtad_csv(path: str | Path) -> AnnotationSet:
    path = Path(path)
    header = read_header(path)
    missing = [c for c in ("video", "type", "start", "end") if c not in header]
    if missing:
        raise fail(path, "header", f"missing column(s) {', '.join(missing)} (expected {','.join(GTAD_COLUMNS)})")
    videos: dict[str, VideoAnnotation] = {}
    m = re.match(r"^(?P<subset>[^_]+)_Annotation$", path.stem)
    subset = SUBSET_ALIASES.get(m.group("subset"), m.group("subset")) if m else ""
    for line, row in _rows(path):
        where = f"line {line}"
        name, label = row.get("video", ""), row.get("type", "")
        if not name:
            raise fail(path, where, "video name is empty")
        video = get_video(videos, name, subset, path, where)
        if is_ambiguous(label):
            video.ambiguous.append(make_interval(row.get("start"), row.get("end"), path, where))
            continue
        meta = {k: v for k, v in (("start_frame", _int_or_none(row.get("startFrame"), path, where, "startFrame")),
                                  ("end_frame", _int_or_none(row.get("endFrame"), path, where, "endFrame")),
                                  ("type_idx", _int_or_none(row.get("type_idx"), path, where, "type_idx")))
                if v is not None}
        video.segments.append(make_segment(label, row.get("start"), row.get("end"), path, where, meta=meta))
    aset = AnnotationSet(videos=videos, source=str(path))
    aset.classes = aset.all_labels()
    return aset


def _frames(seg: Segment, video: VideoAnnotation) -> tuple:
    sf, ef = seg.meta.get("start_frame"), seg.meta.get("end_frame")
    if video.fps:
        sf = constant_seconds_to_boundary(seg.start, video.fps) if sf is None else sf
        ef = constant_seconds_to_boundary(seg.end, video.fps) if ef is None else ef
    return ("" if sf is None else int(sf)), ("" if ef is None else int(ef))


def write_csv(aset: AnnotationSet, path: str | Path) -> Path:
    path = Path(path)
    if aset.classes:
        check_labels(aset, aset.classes, path)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for name, v in aset.videos.items():
        tail = [v.subset, "" if v.duration is None else format_time(v.duration),
                "" if v.fps is None else format_time(v.fps)]
        for s in v.segments:
            sf, ef = _frames(s, v)
            w.writerow([name, s.label, format_time(s.start), format_time(s.end), sf, ef,
                        "" if s.score is None else repr(float(s.score)), s.meta.get("provenance", ""),
                        s.meta.get("review_state", ""), *tail])
        for a, b in v.ambiguous:
            w.writerow([name, AMBIGUOUS, format_time(a), format_time(b), "", "", "", "", "", *tail])
        if not v.segments and not v.ambiguous:
            w.writerow([name, "", "", "", "", "", "", "", "", *tail])
    write_text(path, buf.getvalue())
    return path


def write_gtad_csv(aset: AnnotationSet, path: str | Path) -> Path:
    """G-TAD's table; type_idx from meta when read from G-TAD, else 1-based class position."""
    path = Path(path)
    classes = list(aset.classes) or aset.all_labels()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(GTAD_COLUMNS)
    for name, v in aset.videos.items():
        for s in v.segments:
            sf, ef = _frames(s, v)
            idx = s.meta.get("type_idx", classes.index(s.label) + 1 if s.label in classes else "")
            w.writerow([name, s.label, idx, format_time(s.start), format_time(s.end), sf, ef])
        for a, b in v.ambiguous:
            sf = constant_seconds_to_boundary(a, v.fps) if v.fps else ""
            ef = constant_seconds_to_boundary(b, v.fps) if v.fps else ""
            w.writerow([name, AMBIGUOUS, 0, format_time(a), format_time(b), sf, ef])
    write_text(path, buf.getvalue())
    return path
