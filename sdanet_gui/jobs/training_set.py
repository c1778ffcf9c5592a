"""What a fine-tuning run trains on, built from a frozen training manifest (no database access).

Why it exists: the fine-tuning core (`sdanet.finetune.finetune_videos`) works on a FeatureSet
plus reviewed spans; a project holds frames, provenance and feature-file references. This module
is the one bridge: for every manifest video it reads the per-video HDF5 feature file
(`video.feature_ref`, written by `sdanet extract`; relative references resolve against the
project folder), and builds a `FeatureVideo` whose annotation holds the manifest's human
segments (seconds) and ambiguous spans. The reviewed spans go along separately: only inside
them may a missing segment mean background (the core turns all of it into snippet targets with
`video_snippet_targets`, ambiguous spans never background).

Classes: the CHECKPOINT's classes first, in its order, then the project's classes it does not
know that a segment of the manifest uses (in the project's order): fine-tuning grows those into
the model (`TrainingSet.new_classes`); a checkpoint class the project never uses is kept. What a
video's review cannot say goes into its annotation's meta: the classes whose video label is
unknown (`dataset.UNLABELLED_KEY`: the manifest's `unknown_classes`, and every class the project
does not have) and the classes its reviewed span is no background for
(`finetune.BACKGROUND_UNKNOWN_KEY`: created after it was reviewed, or not in the project).

Left out and counted (`TrainingSet.skipped`): videos without a feature reference, and videos
with neither a human segment nor a reviewed span. Refused with a UserError naming the file: a
referenced feature file that is missing or unreadable, features whose dimensions differ from the
checkpoint's or from the other videos' spec.

Optional replay: the training subset of the base's own feature set (recorded in the checkpoint,
or a path the user gave), trained on its annotations (video labels and segments; the new
classes masked: those videos predate them), to keep what the base model knew; its test subset
measures how much was kept (`replay_test`). Its videos are renamed "replay/<name>" so they can never collide with a
project video.

This module never writes anything and never imports torch or Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data.structures import FeatureSet, FeatureVideo, Segment, VideoAnnotation
from ..data.units import FeatureSpec
from ..errors import UserError
from ..project.manifest import Manifest, ManifestVideo

REPLAY_PREFIX = "replay/"


@dataclass
class TrainingSet:
    """The material of one run. `feature_set.videos` = `videos` + `replay`."""

    feature_set: FeatureSet
    videos: list[FeatureVideo]                              # corrected videos
    reviewed_spans_s: dict[str, list[tuple[float, float]]]  # name -> reviewed [start_s, end_s)
    replay: list[FeatureVideo] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)  # reason -> video names
    new_classes: list[str] = field(default_factory=list)    # grown into the checkpoint
    replay_test: list[FeatureVideo] = field(default_factory=list)  # the base's test videos

    def snippet_targets(self) -> dict[str, np.ndarray]:
        """{video: long [T]} (-1 unknown, 0 background, c+1 class c) of the corrected videos
        (the core trains on those that are not held out, and on the replay videos' annotations)."""
        from ..sdanet.finetune import video_snippet_targets

        return {v.name: video_snippet_targets(self.feature_set.spec, v, self.reviewed_spans_s[v.name],
                                              self.feature_set.classes) for v in self.videos}

    @property
    def skipped_count(self) -> int:
        return sum(len(v) for v in self.skipped.values())


def feature_path(manifest: Manifest, video: ManifestVideo) -> Path | None:
    """The feature file of a manifest video (relative references: inside the project folder)."""
    if not video.feature_ref:
        return None
    p = Path(video.feature_ref)
    if not p.is_absolute() and manifest.project:
        p = Path(manifest.project) / p
    return p


def build_training_set(manifest: Manifest, classes: Sequence[str], spec: FeatureSpec | None, *,
                       checkpoint: str | None = None, replay: str | None = None,
                       source: str = "") -> TrainingSet:
    """The TrainingSet of `manifest` for a checkpoint trained on `classes` with features `spec`.

    `classes`, `spec`: the checkpoint's ([] and None for a cold start: then the first video's
    features set the spec the others must share); the set's class list is `classes` plus the new
    classes (module docstring). `checkpoint` only names the checkpoint in messages; `source`
    names the manifest file.
    """
    from ..data.feature_files import read_feature_file
    from ..sdanet.dataset import UNLABELLED_KEY
    from ..sdanet.finetune import BACKGROUND_UNKNOWN_KEY

    ck = f"the checkpoint {checkpoint}" if checkpoint else "the checkpoint"
    used = {s.label for mv in manifest.videos for s in mv.segments}
    new_classes = [c for c in manifest.classes if c not in set(classes) and c in used]
    all_classes = list(classes) + new_classes
    not_in_project = [c for c in all_classes if c not in set(manifest.classes)]
    skipped: dict[str, list[str]] = {"no_features": [], "nothing_reviewed": []}
    videos, spans = [], {}
    data_spec: FeatureSpec | None = None
    first_file: Path | None = None
    for mv in manifest.videos:
        if not mv.segments and not mv.reviewed_spans_s:
            skipped["nothing_reviewed"].append(mv.name)
            continue
        path = feature_path(manifest, mv)
        if path is None:
            skipped["no_features"].append(mv.name)
            continue
        if not path.is_file():
            raise UserError(f"{path}: feature file of video '{mv.name}' not found (extract its "
                            f"features again with `sdanet extract`)", path=path)
        ff = read_feature_file(path, default_spec=spec)
        if spec is None:   # a cold start: the first video's features are the reference
            spec, ck = ff.spec, f"the features of {path}"
        dims = [d for _, d in ff.spec.modalities]
        if dims != [d for _, d in spec.modalities] or ff.features.shape[1] != spec.feature_dim:
            raise UserError(f"{path}: features of video '{mv.name}' have {ff.features.shape[1]} "
                            f"dims ({_dims(ff.spec)}), {ck} expects {_dims(spec)}", path=path)
        if data_spec is None:
            data_spec, first_file = ff.spec, path
        elif ff.spec != data_spec:
            raise UserError(f"{path}: features of video '{mv.name}' use another snippet grid "
                            f"({_grid(ff.spec)}) than {first_file} ({_grid(data_spec)}); extract "
                            f"all videos with the same settings", path=path)
        meta = {UNLABELLED_KEY: list(dict.fromkeys(list(mv.unknown_classes) + not_in_project)),
                BACKGROUND_UNKNOWN_KEY: list(dict.fromkeys(list(mv.classes_after_review) + not_in_project))}
        ann = VideoAnnotation(
            mv.name, mv.subset, mv.duration,
            [Segment(s.label, float(s.start_s), float(s.end_s), meta={"provenance": s.provenance,
                                                                      "segment_id": s.segment_id})
             for s in mv.segments],
            ambiguous=[(float(a), float(b)) for a, b in mv.ambiguous_s], fps=mv.fps,
            meta={k: v for k, v in meta.items() if v})
        feats = ff.features
        videos.append(FeatureVideo(mv.name, ann, _loader=(lambda a=feats: a),
                                   num_snippets=int(feats.shape[0])))
        spans[mv.name] = [(float(a), float(b)) for a, b in mv.reviewed_spans_s]
    fs_spec = data_spec or spec
    replayed, replay_test = _replay_videos(replay, classes, new_classes, spec, ck) if replay else ([], [])
    fs = FeatureSet(spec=fs_spec, classes=all_classes, videos=videos + replayed,
                    train_subset="", test_subset="", source=source or manifest.project,
                    skipped=skipped["no_features"] + skipped["nothing_reviewed"])
    return TrainingSet(fs, videos, spans, replayed, {k: v for k, v in skipped.items() if v},
                       new_classes, replay_test)


def _replay_videos(path: str, classes: Sequence[str], new_classes: Sequence[str], spec: FeatureSpec,
                   ck: str) -> tuple[list[FeatureVideo], list[FeatureVideo]]:
    """(training-subset videos, annotated test-subset videos) of a base feature set, renamed
    'replay/<name>'; the new classes are unknown to them."""
    from ..data.feature_sets import load_feature_set
    from ..sdanet.dataset import UNLABELLED_KEY
    from ..sdanet.finetune import BACKGROUND_UNKNOWN_KEY

    rfs = load_feature_set(path, spec=spec)
    if list(rfs.classes) != list(classes):
        raise UserError(f"{path}: the replay feature set has {len(rfs.classes)} classes "
                        f"({', '.join(rfs.classes[:4])}{', ...' if len(rfs.classes) > 4 else ''}), "
                        f"{ck} was trained on {len(classes)} ({', '.join(list(classes)[:4])}"
                        f"{', ...' if len(classes) > 4 else ''}); choose the set it was trained on",
                        path=path)

    def renamed(v):
        name = REPLAY_PREFIX + v.name
        meta = v.annotation.meta
        if new_classes:
            meta = {**meta, UNLABELLED_KEY: list(new_classes), BACKGROUND_UNKNOWN_KEY: list(new_classes)}
        return replace(v, name=name, annotation=replace(v.annotation, name=name, meta=meta))

    out = [renamed(v) for v in rfs.by_subset(rfs.train_subset)]
    if not out:
        raise UserError(f"{path}: the replay feature set has no videos in its training subset "
                        f"'{rfs.train_subset}'", path=path)
    tests = [renamed(v) for v in rfs.by_subset(rfs.test_subset)
             if rfs.test_subset and rfs.test_subset != rfs.train_subset and v.annotation.segments]
    return out, tests


def _dims(spec: FeatureSpec) -> str:
    return " + ".join(f"{n} {d}" for n, d in spec.modalities)


def _grid(spec: FeatureSpec) -> str:
    return f"{spec.fps:g} fps, {spec.snippet_frames}-frame snippets every {spec.stride_frames}"
