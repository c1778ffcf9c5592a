"""Training manifests: a frozen, self-contained copy of the review work that fine-tuning reads.

Fine-tuning runs for minutes in another process while the user keeps editing, so it must not
read the live database. `freeze_manifest` copies, for the chosen videos and in one consistent
read, what may teach the model:
  - human segments a person stood behind: confirmed, edited, added, accepted-prediction
    (imported ground truth only when `trust_imported=True`, e.g. a curated THUMOS14 file);
  - the reviewed spans: 'partial' -> [0, reviewed_to), 'done' -> the whole video; with
    `trust_imported`, a video holding imported segments counts as reviewed whole. Only inside
    reviewed spans may the trainer treat the absence of a segment as background;
  - ambiguous spans (never background, never action), the class list, each video's frame clock
    (kind, fps, frame count, duration; per-frame timestamps for variable frame rate) and its
    feature reference;
  - per video what its review says nothing about: `classes_after_review`, the classes created
    after it was last reviewed (the class record, schema version 2) and absent from it: its
    reviewed span is no background for them; `unknown_classes`, the classes whose video-level
    label is unknown: those, and in a video not reviewed to its end every class it has no
    segment of (the rest of it may hold any). Fine-tuning masks these instead of reading
    their absence as "not there";
and stamps it with `Project.state_fingerprint()` so a result can say which state it learned from
and `is_current()` can tell whether the project has changed since.

Manifests are JSON (`to_json`/`from_json`), written atomically (`write`). This module never
writes to the project.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import write_text
from ..errors import UserError
from .schema import HUMAN_PROVENANCES
from .store import Project, now_iso

MANIFEST_FORMAT = "sdanet-training-manifest"
MANIFEST_VERSION = 2   # 2: ManifestVideo.unknown_classes, .fully_reviewed


@dataclass
class ManifestSegment:
    segment_id: int
    label: str
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    provenance: str


@dataclass
class ManifestVideo:
    video_id: int
    name: str
    subset: str
    clock: str                       # 'decoded' or 'provisional' (millisecond frames)
    fps: float
    frame_count: int | None
    duration: float | None
    timestamps: list[float] | None   # per-frame seconds for variable frame rate, else None
    feature_ref: str | None
    review_state: str
    reviewed_spans: list[list[int]]  # [[start_frame, end_frame), ...]
    reviewed_spans_s: list[list[float]]
    segments: list[ManifestSegment] = field(default_factory=list)
    ambiguous_s: list[list[float]] = field(default_factory=list)
    fully_reviewed: bool = False     # reviewed to its end: may be held out to measure a model
    unknown_classes: list[str] = field(default_factory=list)
    classes_after_review: list[str] = field(default_factory=list)


@dataclass
class Manifest:
    fingerprint: str
    classes: list[str]
    videos: list[ManifestVideo]
    created: str = ""
    project: str = ""
    trust_imported: bool = False
    format: str = MANIFEST_FORMAT
    version: int = MANIFEST_VERSION

    # --- (de)serialisation --------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, *, source: str = "manifest") -> "Manifest":
        try:
            d = json.loads(text)
            if d.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"not a training manifest (format {d.get('format')!r})")
            if int(d.get("version", 0)) > MANIFEST_VERSION:
                raise ValueError(f"manifest version {d['version']} is newer than this program")
            videos = []
            for v in d["videos"]:
                v = dict(v)
                v["segments"] = [ManifestSegment(**s) for s in v.get("segments", [])]
                videos.append(ManifestVideo(**v))
            return cls(**{**d, "videos": videos})
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"{source}: not a readable training manifest ({exc})", path=source) from exc

    def write(self, path: str | os.PathLike) -> Path:
        write_text(path, self.to_json())
        return Path(path)

    @classmethod
    def read(cls, path: str | os.PathLike) -> "Manifest":
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{path}: cannot read the manifest ({exc.strerror or exc})", path=path) from exc
        return cls.from_json(text, source=str(path))

    # --- questions ----------------------------------------------------------------------------
    def is_current(self, project: Project) -> bool:
        """True while the project's review work is unchanged since this manifest was frozen."""
        return project.state_fingerprint() == self.fingerprint

    @property
    def segment_count(self) -> int:
        return sum(len(v.segments) for v in self.videos)


def freeze_manifest(project: Project, video_ids=None, *, trust_imported: bool = False) -> Manifest:
    """Copy the trainable review work of `video_ids` (ids or names; None: every video that has
    any) into a Manifest. Videos with neither a reviewed span nor a usable segment are left out."""
    provenances = HUMAN_PROVENANCES + (("imported",) if trust_imported else ())
    with project.snapshot():
        fingerprint = project.state_fingerprint()
        classes = project.classes()
        created = project.class_created()
        if video_ids is None:
            records = project.videos()
        else:
            records = [project.video(v) for v in video_ids]
        videos = []
        for rec in records:
            segs = [s for s in project.segments(rec.id) if s.provenance in provenances]
            review = project.review_state(rec.id)
            span = project.reviewed_span(rec.id)
            if span is None and trust_imported and any(s.provenance == "imported" for s in segs):
                limit = project.frame_limit(rec.id)
                span = (0, int(limit if limit is not None else max(s.end_frame for s in segs)))
            if span is None and not segs and video_ids is None:
                continue
            spans = [list(span)] if span else []
            limit = project.frame_limit(rec.id)
            whole = bool(span) and (review.state == "done" or (limit is not None and span[1] >= limit)
                                    or (review.state == "unreviewed" and trust_imported))
            have = {s.label for s in segs}
            if review.modified:   # a class of the same instant counts as later (masked: the safe side)
                after = [c for c in classes if c not in have and span and created.get(c) is not None
                         and created[c] >= review.modified]
            else:                 # trusted imported ground truth: its classes came with it
                imported_at = max((s.modified for s in segs), default="")
                after = [c for c in classes if c not in have and span and created.get(c) is not None
                         and created[c] > imported_at]
            unknown = [c for c in classes if c not in have and (not whole or c in after)]
            clock = project.clock(rec.id, covering=max([s.end_frame for s in segs] + [0]))
            spans_s = [[float(clock.frame_to_seconds(a)), float(clock.frame_to_seconds(b))]
                       for a, b in spans]
            timestamps = None
            if rec.has_timestamps:
                timestamps = np.asarray(clock.timestamps, dtype=float).tolist()
            msegs = []
            for s in segs:
                start_s, end_s = project.segment_seconds(s)
                msegs.append(ManifestSegment(s.id, s.label, s.start_frame, s.end_frame,
                                             float(start_s), float(end_s), s.provenance))
            videos.append(ManifestVideo(
                rec.id, rec.name, rec.subset, rec.clock_kind, rec.fps, rec.frame_count,
                rec.duration, timestamps, rec.feature_ref, review.state, spans, spans_s, msegs,
                [[a[2], a[3]] for a in project.ambiguous(rec.id)], whole, unknown, after))
    return Manifest(fingerprint, classes, videos, created=now_iso(), project=str(project.folder),
                    trust_imported=trust_imported)
