"""ActivityNet JSON: ground truth (`database` -> video -> subset, duration, annotations) and
result files (`results` -> video -> [{label, score, segment}]).

Accepted ground-truth layouts: with the `database` wrapper (official files, G-TAD's
thumos_gt.json whose segments are strings such as ["18.6", "24.8"]) and the bare
`{video: {...}}` layout of mmaction2's test files. Optional top-level keys kept in
`AnnotationSet.info`: fps, snippet_frames, stride_frames, feature_dim, modalities, class_list,
train_subset, test_subset, version. A `class_list` key fixes the class list. We also write and
read two per-video extras that other readers ignore: `ambiguous` ([[s, e], ...], THUMOS14
ambiguous intervals) and `fps`.

This module never writes a file in place (sdanet_gui.atomic) and never returns half a file:
the first bad entry raises `UserError` naming the file and the entry.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import write_text
from .annotation_checks import (check_class_list, check_labels, fail, make_interval, make_segment,
                                parse_duration, parse_fps)
from .labels import is_ambiguous
from .structures import AnnotationSet, Segment, VideoAnnotation

INFO_KEYS = ("version", "fps", "snippet_frames", "stride_frames", "feature_dim", "modalities",
             "class_list", "train_subset", "test_subset")
DEFAULT_VERSION = "VERSION 1.3"


def read_json(path: str | Path):
    """Parse a JSON file; a syntax error names the line and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise fail(path, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(path, "", f"cannot read the file ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise fail(path, f"line {exc.lineno}, column {exc.colno}", f"not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise fail(path, "", "JSON nested too deeply to be an annotation file") from None


def kind_of(data) -> str:
    """'results', 'gt' or '' (not ActivityNet) for parsed JSON."""
    if not isinstance(data, dict):
        return ""
    if "results" in data and isinstance(data["results"], dict):
        return "results"
    if "database" in data:
        return "gt"
    if data and all(isinstance(v, dict) and ("annotations" in v or "subset" in v) for v in data.values()):
        return "gt"
    return ""


def read_gt(path: str | Path, data=None) -> AnnotationSet:
    path = Path(path)
    data = read_json(path) if data is None else data
    if kind_of(data) != "gt":
        raise fail(path, "", "not an ActivityNet ground-truth file (expected a 'database' object "
                             "of videos, or an object of videos with 'annotations')")
    database = data["database"] if "database" in data else data
    if not isinstance(database, dict):
        raise fail(path, "database", "must be an object mapping video names to entries")
    info = {k: data[k] for k in INFO_KEYS if "database" in data and k in data}
    videos: dict[str, VideoAnnotation] = {}
    for name, entry in database.items():
        where = f"video {name!r}"
        if not isinstance(entry, dict):
            raise fail(path, where, "entry must be an object")
        subset = entry.get("subset", "")
        if not isinstance(subset, str):
            raise fail(path, where, f"subset is {subset!r}, expected a name")
        video = VideoAnnotation(name=str(name), subset=subset,
                                duration=parse_duration(entry.get("duration"), path, where),
                                fps=parse_fps(entry.get("fps"), path, where))
        anns = entry.get("annotations", [])
        if not isinstance(anns, list):
            raise fail(path, where, "'annotations' must be a list")
        for i, ann in enumerate(anns):
            at = f"{where}, annotation {i}"
            if not isinstance(ann, dict) or "segment" not in ann or "label" not in ann:
                raise fail(path, at, "needs 'segment' and 'label'")
            seg = ann["segment"]
            if not isinstance(seg, (list, tuple)) or len(seg) != 2:
                raise fail(path, at, f"segment is {seg!r}, expected [start, end]")
            if is_ambiguous(ann["label"]):   # THUMOS14 ground truth in this layout: not an action
                video.ambiguous.append(make_interval(seg[0], seg[1], path, at, video.duration))
                continue
            video.segments.append(make_segment(ann["label"], seg[0], seg[1], path, at, score=ann.get("score"),
                                               duration=video.duration))
        for i, amb in enumerate(entry.get("ambiguous", []) or []):
            if not isinstance(amb, (list, tuple)) or len(amb) != 2:
                raise fail(path, f"{where}, ambiguous {i}", f"is {amb!r}, expected [start, end]")
            video.ambiguous.append(make_interval(amb[0], amb[1], path, f"{where}, ambiguous {i}",
                                                 video.duration))
        videos[video.name] = video
    aset = AnnotationSet(videos=videos, source=str(path), info=info)
    class_list = info.get("class_list")
    if class_list is not None:
        if not isinstance(class_list, list):
            raise fail(path, "class_list", "must be a list of class names")
        class_list = check_class_list(class_list, path, "class_list")
        check_labels(aset, class_list, path)
        aset.classes = list(class_list)
    else:
        aset.classes = aset.all_labels()
    return aset


def read_results(path: str | Path, data=None, *, for_evaluation: bool = False) -> dict[str, list[Segment]]:
    """video -> scored segments. `for_evaluation` keeps what the official evaluator scores but
    a project cannot hold: segments that end before they start."""
    path = Path(path)
    data = read_json(path) if data is None else data
    if kind_of(data) != "results":
        raise fail(path, "", "not an ActivityNet result file (expected a 'results' object)")
    out: dict[str, list[Segment]] = {}
    for name, preds in data["results"].items():
        where = f"video {name!r}"
        if not isinstance(preds, list):
            raise fail(path, where, "predictions must be a list")
        segs = []
        for i, p in enumerate(preds):
            at = f"{where}, prediction {i}"
            if not isinstance(p, dict) or not {"segment", "label", "score"} <= set(p):
                raise fail(path, at, "needs 'label', 'score' and 'segment'")
            seg = p["segment"]
            if not isinstance(seg, (list, tuple)) or len(seg) != 2:
                raise fail(path, at, f"segment is {seg!r}, expected [start, end]")
            s = make_segment(p["label"], seg[0], seg[1], path, at, score=p["score"],
                             any_span=for_evaluation)
            if s.score is None:
                raise fail(path, at, "score is missing")
            segs.append(s)
        out[str(name)] = segs
    return out


def gt_document(aset: AnnotationSet, extra: dict | None = None) -> dict:
    """The ground-truth JSON object (with `database`) for an annotation set."""
    doc: dict = {"version": aset.info.get("version", DEFAULT_VERSION)}
    for k in INFO_KEYS:
        if k in aset.info and k not in ("version", "class_list"):
            doc[k] = aset.info[k]
    doc.update(extra or {})
    doc["class_list"] = list(aset.classes)
    database = {}
    for name, v in aset.videos.items():
        entry: dict = {"subset": v.subset}
        if v.duration is not None:
            entry["duration"] = float(v.duration)
        if v.fps is not None:
            entry["fps"] = float(v.fps)
        entry["annotations"] = [_ann(s) for s in v.segments]
        if v.ambiguous:
            entry["ambiguous"] = [[float(a), float(b)] for a, b in v.ambiguous]
        database[name] = entry
    doc["database"] = database
    return doc


def write_gt(aset: AnnotationSet, path: str | Path, extra: dict | None = None) -> Path:
    path = Path(path)
    write_text(path, json.dumps(gt_document(aset, extra), indent=1) + "\n")
    return path


def write_results(preds: dict[str, list[Segment]], path: str | Path, version: str = DEFAULT_VERSION) -> Path:
    path = Path(path)
    for name, segs in preds.items():
        if any(s.score is None for s in segs):
            raise ValueError(f"prediction of video {name!r} without a score")
    results = {name: [{"label": s.label, "score": float(s.score), "segment": [float(s.start), float(s.end)]}
                      for s in segs] for name, segs in preds.items()}
    doc = {"version": version, "results": results, "external_data": {}}
    write_text(path, json.dumps(doc) + "\n")
    return path


def _ann(s: Segment) -> dict:
    out = {"segment": [float(s.start), float(s.end)], "label": s.label}
    if s.score is not None:
        out["score"] = float(s.score)
    return out
