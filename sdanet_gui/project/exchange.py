"""Import annotation files into a project and export its review work back out.

The file formats themselves (ActivityNet JSON, THUMOS14 txt, CSV, ELAN, W-TALC) live in
`sdanet_gui.data.annotations`; this module is only the glue between those plain structures
(seconds) and the project store (frames with provenance):

- `import_annotations`: ground truth becomes human segments with provenance 'imported' (their
  seconds kept per boundary, see store.py), THUMOS 'Ambiguous' spans become ambiguous spans,
  ActivityNet result files become the predicted segments of a new model version named
  "imported". Everything of one import happens in ONE transaction: a malformed file, or a
  problem found half-way, leaves the project exactly as it was. Every instance of a file is
  kept, exact duplicates too; importing the same file again adds nothing twice. Times far past
  a video the project knows are refused with the row named. `videos_dir` locates video files
  by name stem and gives those videos their decoder clocks (probed before the transaction
  starts).
- `export_annotations`: writes the human segments (optionally only reviewed material) in any
  write format; a file is replaced atomically, a folder as one set that never overwrites what
  this program did not write there (`data.export_folder`).

Never imports Qt; never writes annotation files itself.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.annotation_checks import check_span
from ..data.structures import AnnotationSet, Segment, VideoAnnotation
from ..data.units import constant_frame_to_seconds
from ..errors import UserError
from .store import Project

log = logging.getLogger(__name__)

EXPORT_FORMATS = ("activitynet", "thumos14", "csv", "elan", "wtalc")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv",
                  ".flv", ".ts", ".3gp", ".ogv")
#: Constant-rate decoders place frame i within this many seconds of i / fps.
CONSTANT_RATE_TOLERANCE_S = 1e-4


@dataclass
class ImportReport:
    source: str
    format: str
    videos_added: int = 0
    segments: int = 0
    skipped_duplicates: int = 0
    ambiguous: int = 0
    predictions: int = 0
    model_version_id: int | None = None
    located: list[str] = field(default_factory=list)
    clipped: int = 0          # segments (or predictions) that end after the end of their video
    clipped_outside: int = 0  # of those, how many start at or after its end (a one-frame stub)
    labels_tidied: int = 0    # labels written with spaces around them (data/labels.py strips them)
    videos: list[str] = field(default_factory=list)   # the file's videos, by name

    def warning(self) -> str | None:
        """What the user must be told about material that did not fit its video, or None.

        Frames cannot lie outside a video, so such segments are cut at its last frame (the
        file's seconds are kept: an export still gives back what was imported)."""
        if not self.clipped:
            return None
        one = self.clipped == 1
        what = "predicted segment" if self.model_version_id is not None else "segment"
        text = (f"{self.clipped} {what}{'' if one else 's'} of {self.source} "
                f"{'extends' if one else 'extend'} past the end of {'its' if one else 'their'} "
                f"video and {'was' if one else 'were'} clipped to it")
        if self.clipped_outside:
            text += (f"; {self.clipped_outside} of them start{'s' if self.clipped_outside == 1 else ''} "
                     f"after the end and {'is' if self.clipped_outside == 1 else 'are'} now one frame at its end")
        return text

    def summary(self) -> str:
        parts = [f"{self.videos_added} new videos"]
        if self.model_version_id is not None:
            parts.append(f"{self.predictions} predicted segments (model version {self.model_version_id})")
        else:
            parts.append(f"{self.segments} segments")
            if self.ambiguous:
                parts.append(f"{self.ambiguous} ambiguous spans")
            if self.skipped_duplicates:
                parts.append(f"{self.skipped_duplicates} already in the project")
        if self.located:
            parts.append(f"{len(self.located)} video files located")
        if self.clipped:
            parts.append(f"{self.clipped} clipped at the end of their video"
                         + (f" ({self.clipped_outside} start after it)" if self.clipped_outside else ""))
        if self.labels_tidied:
            parts.append(f"{self.labels_tidied} label{'s' if self.labels_tidied != 1 else ''} stored "
                         "without the spaces around them")
        return f"imported {self.source} ({self.format}): " + ", ".join(parts)


def import_annotations(project: Project, path: str | os.PathLike, *, as_predictions: bool | None = None,
                       videos_dir: str | os.PathLike | None = None, fps: float | None = None,
                       fixed_classes: bool | None = None, model_name: str = "imported") -> ImportReport:
    """Import a file or folder of annotations (or predictions) into `project` in one transaction.

    `as_predictions=None` decides from the file (an ActivityNet `results` file is predictions).
    With `fixed_classes` (default: the project setting "classes_fixed"), a label outside the
    project's class list is an error naming file, entry and label.
    """
    from ..data import annotations as formats

    path = Path(path)
    fmt = formats.detect_format(path)
    if as_predictions is None:
        as_predictions = fmt == "activitynet_results"
    if fixed_classes is None:
        fixed_classes = bool(project.get_setting("classes_fixed", False))
    known = project.classes() if fixed_classes else None
    probes = _video_files(videos_dir) if videos_dir else {}

    report = ImportReport(str(path), fmt)
    if as_predictions:
        if fmt != "activitynet_results":
            raise UserError(f"{path}: predictions are read from ActivityNet result files "
                            f"('results'), this is {fmt}", path=path)
        preds = formats.load_predictions(path)
        labels = sorted({s.label for segs in preds.values() for s in segs})
        _check_fixed(path, labels, known)
        with project.transaction():
            project.add_classes(labels)
            mv = project.add_model_version(model_name, metrics={"source": str(path)})
            report.model_version_id = mv.id
            for name, segs in preds.items():
                rec = project.find_video(name) or _add_video(project, name, report)
                if not segs:
                    continue
                _check_far_past(project, rec, path, segs)
                report.labels_tidied += sum("label_as_written" in s.meta for s in segs)
                _count_clipped(project, rec.id, [s.start for s in segs], [s.end for s in segs], report)
                starts, ends = project.frames_for_import(rec.id, [s.start for s in segs],
                                                         [s.end for s in segs])
                rows = [(seg.label, s, e, 0.0 if seg.score is None else float(seg.score))
                        for seg, s, e in zip(segs, starts.tolist(), ends.tolist())]
                report.predictions += project.add_predictions(mv.id, rec.id, rows)
            _locate(project, probes, report)
            project.log_edit("import", "ImportPredictions", report.summary(), [], [])
        return report

    aset = formats.load_annotations(path, classes=known, fps=fps)
    with project.transaction():
        project.add_classes(aset.classes or aset.all_labels())
        project.add_classes(aset.all_labels())
        for name, va in aset.videos.items():
            report.videos.append(name)
            rec = project.find_video(name)
            if rec is None:
                rec = _add_video(project, name, report, va)
            elif va.subset and not rec.subset:
                project.set_video_fields(rec.id, subset=va.subset)
            _check_far_past(project, rec, path, va.segments, va.ambiguous)
            report.labels_tidied += sum("label_as_written" in s.meta for s in va.segments)
            # Every instance of the file is kept, exact duplicates too (ground truth repeats
            # instances, and each counts in the mAP); what the project already holds from an
            # earlier import is matched one for one, so importing the file again adds nothing.
            have = Counter((s.label, s.import_start_s, s.import_end_s) for s in project.segments(rec.id)
                           if s.provenance == "imported")
            rows = []
            for seg in va.segments:
                key = (seg.label, float(seg.start), float(seg.end))
                if have[key]:
                    have[key] -= 1
                    report.skipped_duplicates += 1
                    continue
                rows.append(key)
            _count_clipped(project, rec.id, [r[1] for r in rows], [r[2] for r in rows], report)
            report.segments += len(project.add_imported_segments(rec.id, rows))
            have_amb = Counter((a[2], a[3]) for a in project.ambiguous(rec.id))
            spans = []
            for a, b in va.ambiguous:
                key = (float(a), float(b))
                if have_amb[key]:
                    have_amb[key] -= 1
                else:
                    spans.append(key)
            report.ambiguous += project.add_ambiguous(rec.id, spans)
        _locate(project, probes, report)
        project.log_edit("import", "ImportAnnotations", report.summary(), [], [])
    return report


def _check_far_past(project: Project, rec, path: Path, segments, ambiguous=()) -> None:
    """Refuse material far past the end of a video whose extent the project knows (its decoded
    frames, or a duration an earlier file gave): the readers checked the file against its own
    durations only. Nearer overhangs are clipped and reported (`_count_clipped`)."""
    if project.frame_limit(rec.id) is None:
        return
    duration = project.clock(rec.id).duration
    for seg in segments:
        check_span(seg.start, seg.end, path, seg.where or f"video {rec.name!r}", duration)
    for a, b in ambiguous:
        check_span(a, b, path, f"video {rec.name!r}, ambiguous interval", duration, what="interval")


def _count_clipped(project: Project, video_id: int, starts, ends, report: ImportReport) -> None:
    """Count the spans (seconds) that reach past the end of a video of known extent: the store
    cuts them at its last frame (Project.frames_for_import). Half a frame of slack: a file that
    rounds its last end up by less than that is not clipped in any visible way."""
    if not len(ends) or project.frame_limit(video_id) is None:
        return
    clock = project.clock(video_id)
    slack = 0.5 * clock.mean_frame_seconds
    starts, ends = np.asarray(starts, dtype=np.float64), np.asarray(ends, dtype=np.float64)
    past = ends > clock.duration + slack
    report.clipped += int(np.count_nonzero(past))
    report.clipped_outside += int(np.count_nonzero(past & (starts >= clock.duration - slack)))


def _check_fixed(path: Path, labels, known) -> None:
    if known is None:
        return
    unknown = [label for label in labels if label not in known]
    if unknown:
        raise UserError(f"{path}: label {unknown[0]!r} is not one of the project's classes "
                        f"({', '.join(known)})", path=path)


def _add_video(project: Project, name: str, report: ImportReport, va: VideoAnnotation | None = None):
    report.videos_added += 1
    if va is None:
        return project.add_video(name)
    return project.add_video(name, subset=va.subset, duration=va.duration, source_fps=va.fps)


# --- locating video files ------------------------------------------------------------------------

@dataclass
class _Probe:
    path: Path
    fps: float
    frame_count: int
    duration: float
    timestamps: np.ndarray | None
    fingerprint: str


def _video_files(folder: str | os.PathLike) -> dict[str, Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: video folder not found", path=folder)
    found: dict[str, Path] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES:
            found.setdefault(p.stem, p)
    return found


def probe_for_project(path: str | os.PathLike) -> _Probe:
    """Decoder clock and fingerprint of a video file, as `Project.locate_video` wants them."""
    from ..media.fingerprint import fingerprint
    from ..media.probe import probe_video

    info = probe_video(path)
    clock = info.clock
    fps = round(clock.average_fps, 9)   # 164 frames / 6.56 s is 24.999999999999996
    n = clock.frame_count
    ts = np.asarray(clock.timestamps, dtype=np.float64)
    uniform = constant_frame_to_seconds(np.arange(n), fps)
    constant = bool(np.max(np.abs(ts - uniform)) <= CONSTANT_RATE_TOLERANCE_S)
    return _Probe(Path(path), fps, n, float(clock.duration), None if constant else ts,
                  fingerprint(path))


def locate_video_file(project: Project, video: int | str, path: str | os.PathLike):
    """Attach a video file to a project video: probe it, then re-map its frames (one transaction)."""
    pr = probe_for_project(path)
    return project.locate_video(video, pr.path, fps=pr.fps, frame_count=pr.frame_count,
                                duration=pr.duration, timestamps=pr.timestamps,
                                fingerprint=pr.fingerprint)


def attach_feature_file(project: Project, path: str | os.PathLike):
    """Make a per-video feature file (data/feature_files.py) the features of the project video it
    names (its `video_name`, else the file stem); a video of that name is added (provisional
    clock, the file's duration) when the project has none. Returns (VideoRecord, added).

    UserError when the file is not a per-video feature file, or when it records the fingerprint
    of another file than the project's video (features of a different video must not be scored
    against this one's segments)."""
    import math

    import h5py

    from ..data.feature_files import FORMAT_NAME

    path = Path(path).absolute()
    try:
        with h5py.File(path, "r") as h:
            attrs = dict(h.attrs)
            per_video = isinstance(h.get("features"), h5py.Dataset)
    except OSError as exc:
        raise UserError(f"{path}: not a readable HDF5 feature file ({exc})", path=path) from exc
    if attrs.get("format") != FORMAT_NAME or not per_video:
        raise UserError(f"{path}: not a per-video SDANet feature file (sdanet extract writes one "
                        f"<video>.h5 per video)", path=path)
    name = str(attrs.get("video_name") or path.stem)
    fp = str(attrs.get("fingerprint") or "")
    duration = float(attrs.get("duration_s", math.nan))
    with project.transaction():
        rec = project.find_video(name)
        added = rec is None
        if added:
            rec = project.add_video(name, duration=duration if math.isfinite(duration) and duration > 0 else None)
        elif fp and rec.fingerprint and fp != rec.fingerprint:
            raise UserError(f"{path}: these features were extracted from another file than the "
                            f"project's video {name!r} (fingerprints differ)", path=path)
        project.set_video_fields(rec.id, feature_ref=str(path))
    return project.video(rec.id), added


IMPORTED_FEATURES = "features/imported"   # inside the project: per-video files of imported sets


def attach_feature_set(project: Project, path: str | os.PathLike, names, annotations=None,
                       default_spec=None) -> dict:
    """Give the project videos `names` the features a feature set holds for them (matched by
    name): a per-video folder, an HDF5 set file or a W-TALC bundle (data/feature_sets.py;
    `annotations` as there, for sets whose annotations are not beside them; `default_spec` fills
    the frame rate and snippet length a set does not record, e.g. a W-TALC bundle). Each video's
    features are written as a per-video feature file into the project
    (`features/imported/<name>.h5`, the file the training and scoring read), and a video whose
    extent is unknown gets that of its features. Returns {"attached": [names], "missing":
    [names without features in the set]}; UserError naming the file when the set cannot be
    read."""
    import numpy as np

    from ..data.feature_files import FeatureFile, write_feature_file
    from ..data.feature_sets import load_feature_set

    fs = load_feature_set(path, annotations=annotations, default_spec=default_spec)
    by_name = {v.name: v for v in fs.videos}
    folder = project.folder / IMPORTED_FEATURES
    folder.mkdir(parents=True, exist_ok=True)
    attached, missing = [], []
    for name in names:
        video = by_name.get(name)
        if video is None:
            missing.append(name)
            continue
        feats = np.asarray(video.features(), dtype=np.float32)
        seconds = float(fs.spec.snippet_to_seconds(feats.shape[0]))
        out = folder / f"{name.replace('/', '_').replace(os.sep, '_')}.h5"
        write_feature_file(out, FeatureFile(name, feats, fs.spec, duration_s=seconds))
        project.bound_duration(name, seconds)
        project.set_video_fields(name, feature_ref=str(out.relative_to(project.folder)))
        attached.append(name)
    return {"attached": attached, "missing": missing}


def video_file_status(project: Project, video: int | str) -> str:
    """'unlocated', 'missing' (file gone or moved), 'changed' (another file at that path) or 'ok'.

    A changed file must not be shown against frames that were reviewed on the old one.
    """
    from ..media.fingerprint import fingerprint

    rec = project.video(video)
    path = project.video_path(rec.id)
    if path is None:
        return "unlocated"
    if not path.is_file():
        return "missing"
    if rec.fingerprint and fingerprint(path) != rec.fingerprint:
        return "changed"
    return "ok"


def _locate(project: Project, files: dict[str, Path], report: ImportReport) -> None:
    for rec in project.videos():
        if rec.located or rec.name not in files:
            continue
        locate_video_file(project, rec.id, files[rec.name])
        report.located.append(rec.name)


# --- export ----------------------------------------------------------------------------------------

def project_annotations(project: Project, *, only_reviewed: bool = False,
                        video_names: list[str] | None = None,
                        include_empty_unreviewed: bool = False) -> AnnotationSet:
    """The project's human segments as plain seconds, ready for any writer.

    With `only_reviewed`, unreviewed videos are left out and a partially reviewed video keeps
    only the segments that end inside its reviewed span [0, N). Without it, an unreviewed video
    with no segment is still left out unless `include_empty_unreviewed`: written as a video with
    no actions it would read as "nothing happens here" wherever the file is used as ground truth,
    and nobody has looked.
    """
    with project.snapshot():
        records = project.videos() if video_names is None else [project.video(n) for n in video_names]
        videos = {}
        for rec in records:
            review = project.review_state(rec.id)
            span = project.reviewed_span(rec.id)
            if only_reviewed and span is None:
                continue
            if span is None and not include_empty_unreviewed and not project.segments(rec.id):
                continue
            segs = []
            for s in project.segments(rec.id):
                if only_reviewed and s.end_frame > span[1]:
                    continue
                start, end = project.segment_seconds(s)
                meta = {"provenance": s.provenance, "review_state": review.state}
                if rec.clock_kind == "decoded":
                    meta.update(start_frame=s.start_frame, end_frame=s.end_frame)
                segs.append(Segment(s.label, float(start), float(end), meta=meta))
            fps = rec.fps if rec.clock_kind == "decoded" else rec.source_fps
            meta = {}
            path = project.video_path(rec.id)
            if path is not None:
                meta["media_path"] = str(path)
            videos[rec.name] = VideoAnnotation(
                rec.name, rec.subset, rec.duration, segs,
                [(a[2], a[3]) for a in project.ambiguous(rec.id)], fps, meta)
        classes = project.classes()
    return AnnotationSet(videos, classes, str(project.folder))


def export_annotations(project: Project, fmt: str, out: str | os.PathLike, *,
                       only_reviewed: bool = False, video_names: list[str] | None = None,
                       include_empty_unreviewed: bool = False, force: bool = False) -> Path:
    """Write the project's annotations as `fmt` (EXPORT_FORMATS) to `out`; returns the path.
    (Which videos: project_annotations.)

    A folder format never overwrites or deletes a file in `out` that this program did not write
    there (`data.export_folder.ExportWouldOverwrite` names them) unless `force`."""
    from ..data import annotations as formats

    if fmt not in EXPORT_FORMATS:
        raise UserError(f"unknown export format {fmt!r} (choose from {', '.join(EXPORT_FORMATS)})")
    aset = project_annotations(project, only_reviewed=only_reviewed, video_names=video_names,
                               include_empty_unreviewed=include_empty_unreviewed)
    if not aset.videos:
        raise UserError(f"{project.folder}: nothing to export"
                        + (" (no video is marked reviewed)" if only_reviewed else ""),
                        path=project.folder)
    media = {n: v.meta["media_path"] for n, v in aset.videos.items() if "media_path" in v.meta}
    return formats.save_annotations(aset, out, fmt, media_paths=media or None, force=force)
