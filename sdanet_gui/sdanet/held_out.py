"""How far a held-out figure can be trusted: a bootstrap over the held-out videos.

Why it exists: a fine-tuned model may only replace the one in use when it is measurably better
on videos it never saw, and a team must see what that measurement rests on. With three
held-out videos one lucky or unlucky video moves the average mAP by tens of points, so the
difference after - before is reported with a bootstrap interval: the held-out VIDEOS are
resampled with replacement (the unit a reviewer adds one at a time, and the unit whose
difficulty varies most), both models are scored on the same resample (paired), and the
interval is the central `confidence` share of the resampled differences (percentile method).

The matching of predictions to ground truth is done once (`evaluation.match_detections`: it
is decided per class and video, so it does not change with the resample); each resample only
re-weights it (`evaluation.weighted_average_precision`), so 2,000 resamples of a few hundred
predictions take a fraction of a second.

A resample's average mAP follows `detection_map`: AP per class and tIoU over the classes that
have ground truth in the resample, averaged. Per class, the interval of the change in that
class's AP (averaged over the tIoUs) uses the resamples that contain the class.

What it must never do: decide anything (session/adoption.py turns a report into "adopt or
not"), import torch, or read files.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..data.structures import AnnotationSet, Segment
from .evaluation import AMBIGUOUS_LABELS, match_detections, weighted_average_precision

DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95


@dataclass
class ClassFigures:
    """One class on the held-out videos: AP (averaged over the tIoUs) before / after, the
    bootstrap interval of after - before, and the ground-truth segments it rests on."""

    before: float | None
    after: float | None
    interval: list[float] | None
    segments: int


@dataclass
class HeldOutReport:
    """The held-out figures of one run (fractions, not percent).

    before / after: average mAP of the model before and after (before None: nothing to compare
    with, e.g. a cold start in a project without a usable model); interval: [lo, hi] of
    after - before, or of `after` itself when there is no before (`interval_of` says which);
    videos / segments: what the figure rests on."""

    before: float | None
    after: float | None
    interval: list[float] | None
    interval_of: str
    videos: int
    segments: int
    names: list[str] = field(default_factory=list)
    per_class: dict[str, ClassFigures] = field(default_factory=dict)
    resamples: int = 0
    confidence: float = DEFAULT_CONFIDENCE

    @property
    def difference(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> "HeldOutReport":
        per_class = {str(k): ClassFigures(**v) for k, v in dict(d.get("per_class") or {}).items()}
        known = {f for f in cls.__dataclass_fields__} - {"per_class"}
        return cls(**{k: v for k, v in d.items() if k in known}, per_class=per_class)


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    """Mean over `axis` ignoring NaN; NaN where everything is NaN (no warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=axis)


def _average_map(ap: np.ndarray) -> np.ndarray:
    """[R, K, C] AP (NaN: class absent from the resample) -> [R] average mAP."""
    return _nanmean(_nanmean(ap, axis=2), axis=1)   # over the classes present, then the tIoUs


def compare_on_held_out(gt: AnnotationSet, after: Mapping[str, Sequence[Segment]],
                        before: Mapping[str, Sequence[Segment]] | None, tious: Sequence[float],
                        classes: Sequence[str] | None = None, *, resamples: int = DEFAULT_RESAMPLES,
                        confidence: float = DEFAULT_CONFIDENCE, seed: int = 0) -> HeldOutReport:
    """The HeldOutReport of predictions `after` (and `before`, None: none) on every video of `gt`.

    Deterministic for a given `seed`. With no held-out video every figure is None."""
    names = list(gt.videos)
    segments = sum(1 for v in gt.videos.values() for s in v.segments
                   if s.label.lower() not in AMBIGUOUS_LABELS)
    if not names:
        return HeldOutReport(None, None, None, "after - before" if before is not None else "after",
                             0, 0, [], {}, 0, confidence)
    after_m = match_detections(gt, after, tious, classes)
    before_m = match_detections(gt, before, tious, classes) if before is not None else None
    n_gt = len(names)          # ground-truth videos come first in the matches' video index
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1361]))
    draws = rng.integers(0, n_gt, size=(int(resamples), n_gt))
    counts = np.zeros((int(resamples), n_gt))
    np.add.at(counts, (np.arange(int(resamples))[:, None], draws), 1.0)

    def weights_for(m):
        w = np.zeros((counts.shape[0] + 1, max(len(m.videos), 1)))
        w[0, :n_gt] = 1.0              # row 0: the held-out set itself
        w[1:, :n_gt] = counts          # videos only in the predictions weigh 0 (not held out)
        return w

    lo_q, hi_q = 100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2
    ap_after = weighted_average_precision(after_m, weights_for(after_m))
    map_after = _average_map(ap_after)
    ap_before = map_before = None
    if before_m is not None:
        ap_before = weighted_average_precision(before_m, weights_for(before_m))
        map_before = _average_map(ap_before)
        spread = map_after[1:] - map_before[1:]
    else:
        spread = map_after[1:]
    spread = spread[np.isfinite(spread)]
    interval = [float(np.percentile(spread, lo_q)), float(np.percentile(spread, hi_q))] \
        if len(spread) else None

    def value(x):
        return None if x is None or not np.isfinite(x) else float(x)

    per_class = {}
    gt_counts = np.bincount(after_m.gt_class, minlength=len(after_m.classes))
    for c, name in enumerate(after_m.classes):
        a = _nanmean(ap_after[:, :, c], axis=1)      # both matchings share the class order
        b = _nanmean(ap_before[:, :, c], axis=1) if ap_before is not None else None
        diff = (a[1:] - b[1:]) if b is not None else a[1:]
        diff = diff[np.isfinite(diff)]
        per_class[name] = ClassFigures(
            before=value(b[0]) if b is not None else None, after=value(a[0]),
            interval=[float(np.percentile(diff, lo_q)), float(np.percentile(diff, hi_q))] if len(diff) else None,
            segments=int(gt_counts[c]))
    return HeldOutReport(
        before=value(map_before[0]) if map_before is not None else None, after=value(map_after[0]),
        interval=interval, interval_of="after - before" if before is not None else "after",
        videos=n_gt, segments=int(segments), names=names, per_class=per_class,
        resamples=int(resamples), confidence=float(confidence))
