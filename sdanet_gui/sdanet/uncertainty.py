"""Where is the model unsure? Rank predicted segments and their boundaries for human review.

Why: a reviewer's time is best spent where SDANet is least sure, not in time order. The review
queue (ui/review/review_queue.py) walks the items this module ranks, most uncertain first.

Inputs (one video; T snippets on the grid of a `units.FeatureSpec`, C classes):
  scores             [T, C] per-class scores in 0..1 on the display scale
                     (`localization.display_scores`: softmax class probability x attention,
                     the curves the timeline draws)
  modality_attention [T, M] per-modality foreground attention in 0..1 (rgb, flow, ...), or None
  segments           (key, label, start_s, end_s[, confidence]) of the predicted segments
                     (seconds; confidence in 0..1 is used only when there are no scores)

Review items: every segment gives three: the segment itself ('segment'), its start boundary
('start') and its end boundary ('end'). Each gets components in 0..1 (1 = most unsure):

  margin (segment items). With R_t = max(0, 1 - sum_c S[t, c]) (the "no action here" remainder)
      and P_t = [S[t, :], R_t] (C+1 outcomes), margin = mean over the segment's snippets of
      (largest - second largest entry of P_t).  u_margin = 1 - margin.
      Low when two classes, or a class and "nothing", are nearly tied inside the segment.
  flatness (boundary items). For the segment's class c, w = `window` snippets on each side of
      the boundary snippet k: contrast = mean S[inside, c] - mean S[outside, c] (inside = after a
      start, before an end), i.e. the score step across the boundary (= mean slope x 2w
      snippets).  u_flat = 1 - clip(contrast, 0, 1). A flat curve (or one that rises outside the
      segment) cannot tell where the action starts or ends. A boundary at the edge of the video
      (no outside snippets) is not uncertain: u_flat = 0.
  disagreement (both, only with M >= 2 modalities). D_t = max_m A[t, m] - min_m A[t, m]
      (|rgb - flow| for two modalities), averaged over the segment's snippets (segment items) or
      over the 2w snippets around the boundary (boundary items).  u_dis = mean D.

  uncertainty = sum_k weight_k * u_k / sum_k weight_k over the components available to the item
  (segment: margin, disagreement; boundary: flatness, disagreement). Without per-modality
  attention the disagreement term is simply absent (weights renormalize), never assumed 0.

Snippet of a time: `spec.seconds_to_snippet` (units module); a segment covers snippets
[floor(start), ceil(end)), at least one. Items sort by uncertainty (descending), then time.

This module is numpy only: it must never import torch or Qt, or read files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

KINDS = ("segment", "start", "end")
DEFAULT_WINDOW = 2  # snippets on each side of a boundary
DEFAULT_WEIGHTS = {"margin": 1.0, "flatness": 1.0, "disagreement": 1.0}


@dataclass(frozen=True)
class ReviewItem:
    """One thing to review. Times in seconds; `time` is where the item is (segment start or
    the boundary); components: name -> u in 0..1 (only those available)."""

    kind: str            # 'segment' | 'start' | 'end'
    key: int             # the caller's id of the segment (e.g. a prediction id)
    label: str
    start: float
    end: float
    time: float
    uncertainty: float
    components: dict = field(default_factory=dict)

    @property
    def ident(self) -> tuple[str, int]:
        return (self.kind, self.key)

    def reason(self) -> str:
        """The component that contributes most, in words (status bar)."""
        if not self.components:
            return "no scores"
        name = max(self.components, key=lambda k: self.components[k])
        return {"margin": "low margin between the top two classes",
                "flatness": "flat score at the boundary",
                "disagreement": "RGB and flow attention disagree",
                "confidence": "low prediction score (no score curves loaded)"}.get(name, name)


def outcome_matrix(scores: np.ndarray) -> np.ndarray:
    """[T, C] display scores -> [T, C+1]: the scores and the "no action" remainder column."""
    s = np.clip(np.nan_to_num(np.asarray(scores, dtype=np.float64)), 0.0, 1.0)
    rest = np.clip(1.0 - s.sum(axis=1, keepdims=True), 0.0, 1.0)
    return np.concatenate([s, rest], axis=1)


def top2_margin(outcomes: np.ndarray) -> np.ndarray:
    """[T, K] (K >= 2) -> [T]: largest minus second largest entry per row."""
    if outcomes.shape[1] < 2:
        return np.ones(outcomes.shape[0])
    part = np.partition(outcomes, outcomes.shape[1] - 2, axis=1)
    return part[:, -1] - part[:, -2]


def modality_disagreement(modality_attention) -> np.ndarray | None:
    """[T, M] -> [T] max - min over modalities; None without at least two modalities."""
    if modality_attention is None:
        return None
    a = np.asarray(modality_attention, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] < 2:
        return None
    a = np.clip(np.nan_to_num(a), 0.0, 1.0)
    return a.max(axis=1) - a.min(axis=1)


def _span(spec, t: int, start_s: float, end_s: float) -> tuple[int, int]:
    a = int(math.floor(spec.seconds_to_snippet(float(start_s)) + 1e-9))
    b = int(math.ceil(spec.seconds_to_snippet(float(end_s)) - 1e-9))
    a = min(max(a, 0), t - 1)
    return a, min(max(b, a + 1), t)


def _combine(components: dict, weights: dict) -> float:
    total = sum(weights.get(k, 1.0) for k in components)
    if total <= 0:
        return 0.0
    return float(sum(weights.get(k, 1.0) * v for k, v in components.items()) / total)


def _prefix(x: np.ndarray) -> np.ndarray:
    """[T] or [T, C] -> cumulative sums with a leading zero row ([T+1] / [T+1, C])."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros((x.shape[0] + 1,) + x.shape[1:])
    np.cumsum(x, axis=0, out=out[1:])
    return out


def _mean(prefix: np.ndarray, lo: int, hi: int, col: int | None = None) -> float:
    """Mean of rows [lo, hi) (hi > lo) of the array whose prefix sums are `prefix`."""
    if col is None:
        return float(prefix[hi] - prefix[lo]) / (hi - lo)
    return float(prefix[hi, col] - prefix[lo, col]) / (hi - lo)


def _flatness(curve_sum: np.ndarray, col: int, k: int, side: str, window: int, t: int) -> float:
    """boundary_flatness from prefix sums (same definition, O(1))."""
    b0, b1 = max(0, k - window), min(k, t)
    a0, a1 = max(k, 0), min(k + window, t)
    before = _mean(curve_sum, b0, b1, col) if b1 > b0 else None
    after = _mean(curve_sum, a0, a1, col) if a1 > a0 else None
    inside, outside = (after, before) if side == "start" else (before, after)
    if outside is None:
        return 0.0
    if inside is None:
        return 1.0
    return 1.0 - min(max(inside - outside, 0.0), 1.0)


def boundary_flatness(curve: np.ndarray, k: int, side: str, window: int) -> float:
    """u_flat of a boundary at snippet k of a [T] class curve ('start': inside is [k, k+w))."""
    t = len(curve)
    before, after = curve[max(0, k - window):min(k, t)], curve[max(k, 0):min(k + window, t)]
    inside, outside = (after, before) if side == "start" else (before, after)
    if len(outside) == 0:
        return 0.0  # the video's edge: nothing to decide
    if len(inside) == 0:
        return 1.0
    contrast = float(inside.mean() - outside.mean())
    return 1.0 - min(max(contrast, 0.0), 1.0)


def rank_items(segments: Sequence[tuple[int, str, float, float]], scores, classes: Sequence[str],
               spec, modality_attention=None, *, window: int = DEFAULT_WINDOW,
               weights: dict | None = None) -> list[ReviewItem]:
    """Review items of `segments`, most uncertain first (see the module docstring).

    segments: (key, label, start_s, end_s); scores [T, C] 0..1 with columns `classes`;
    spec: the FeatureSpec of the snippet grid; modality_attention [T, M] or None.
    A segment whose label has no column gets u = 1 for margin and flatness (the model has no
    opinion on it). With scores None or T == 0: segment items only, uncertainty = 1 - the
    segment's confidence (1 when not given).
    """
    weights = {**DEFAULT_WEIGHTS, **(weights or {})}
    window = max(1, int(window))
    s = None if scores is None else np.asarray(scores, dtype=np.float64)
    if s is not None and (s.ndim != 2 or s.shape[0] == 0):
        s = None
    if s is not None and s.shape[1] != len(classes):
        raise ValueError(f"scores have {s.shape[1]} columns for {len(classes)} classes")
    items: list[ReviewItem] = []
    if s is None:
        for key, label, a, b, *conf in segments:
            u = 1.0 - min(max(float(conf[0]), 0.0), 1.0) if conf and conf[0] is not None else 1.0
            items.append(ReviewItem("segment", int(key), label, float(a), float(b), float(a), u,
                                    {"confidence": u}))
        return sorted(items, key=lambda i: (-i.uncertainty, i.time, i.key))
    t = s.shape[0]
    dis = modality_disagreement(modality_attention)
    if dis is not None and len(dis) != t:
        dis = None  # attention from another grid: not comparable, leave the term out
    column = {c: i for i, c in enumerate(classes)}
    # prefix sums: every window mean below is O(1) (hundreds of items on 20,000 snippets)
    margin_sum = _prefix(top2_margin(outcome_matrix(s)))
    curve_sum = _prefix(np.clip(np.nan_to_num(s), 0.0, 1.0))
    dis_sum = _prefix(dis) if dis is not None else None
    for key, label, start_s, end_s, *_ in segments:
        a, b = _span(spec, t, start_s, end_s)
        col = column.get(label)
        comp = {"margin": 1.0 - _mean(margin_sum, a, b) if col is not None else 1.0}
        if dis_sum is not None:
            comp["disagreement"] = _mean(dis_sum, a, b)
        items.append(ReviewItem("segment", int(key), label, float(start_s), float(end_s),
                                float(start_s), _combine(comp, weights), comp))
        for side, at in (("start", start_s), ("end", end_s)):
            k = int(round(spec.seconds_to_snippet(float(at))))
            k = min(max(k, 0), t)
            comp = {"flatness": _flatness(curve_sum, col, k, side, window, t) if col is not None else 1.0}
            if dis_sum is not None:
                lo, hi = max(0, k - window), min(t, k + window)
                comp["disagreement"] = _mean(dis_sum, lo, hi) if hi > lo else 0.0
            items.append(ReviewItem(side, int(key), label, float(start_s), float(end_s), float(at),
                                    _combine(comp, weights), comp))
    order = {k: i for i, k in enumerate(KINDS)}
    return sorted(items, key=lambda i: (-i.uncertainty, i.time, i.key, order[i.kind]))
