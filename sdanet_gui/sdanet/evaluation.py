"""Detection mAP (the ActivityNet algorithm) and video classification mAP, vectorized.

Why it exists: every number we report, and the model selection during training, comes from
here, so it must give the official ActivityNet evaluator's numbers (`eval_detection.py`,
`compute_average_precision_detection`) while being fast enough to run after every validation.

The algorithm, per class and per tIoU threshold t:
  - predictions in the order `scores.argsort()[::-1]` gives (see ties below); each is matched
    to the not yet matched ground-truth segment of the same video with the highest tIoU, if
    that tIoU >= t (true positive), else it is a false positive. Predictions in a video without
    ground truth of that class, including videos absent from the ground truth, are false
    positives (as in the official code).
  - AP = VOC all-points interpolated precision/recall area; mAP = mean over the classes that have
    ground truth; classes without predictions get AP 0.
Where the official code's result depends on numpy's sort, we call the same sort on the same
array, so the numbers are the official evaluator's on this machine, to the last bit:
  - exact score ties: the official sorts a class's scores (in file order: video by video, list
    order) with numpy's default `argsort()` and reverses it. That sort is not stable (on CPUs
    with AVX-512 even arrays of five elements come out unstably), so we apply that very call to
    that very array, once per class.
  - equal-tIoU ground truths: the official tries a video's ground truths of the class (file
    order) in `tiou.argsort()[::-1]` order. For a stable sort that takes the LATER of two equal
    ones first; with numpy's SIMD sorts it depends on the whole array. For the few predictions
    that have such a tie among their candidates we compute that same array and argsort, and
    order the tied candidates as it does.
  - 0/0: the official tIoU of a zero-length prediction with a zero-length ground truth (or of a
    reversed prediction whose negative length cancels a ground truth's) is NaN, which no "<
    threshold" test rejects and which numpy sorts first after the reversal: such a pair matches
    at every threshold, and is tried first. We do the same (tIoU +inf internally). Predictions
    that end before they start are scored like every other one (as false positives, unless
    that 0/0 case applies).
  - times are compared in seconds, as in the official evaluator. The CO2-Net/DELU THUMOS14 code
    instead rounds the ground truth to the snippet grid (round(sec * 25 / 16)) and compares
    snippet indices, which moves its numbers slightly.
How it is fast: candidate (prediction, ground truth) pairs are built per (class, video) with
numpy, replicated per threshold, and the greedy matching runs for all classes, videos and
thresholds at once in rounds. In each round every undecided prediction proposes its best
still-free ground truth; a proposal is final when (1) every earlier undecided prediction of its
(threshold, class, video) group proposed a different ground truth, or (2) no earlier undecided
prediction of the group has that ground truth as a candidate at all. Either way the sequential
loop would make the same choice; the rest retry next round (two or three rounds on THUMOS14).
tests/sdanet/official_reference.py is the plain loop these numbers are checked against.

What it must never do: import torch or read files (the CLI and the data layer do that).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import attrgetter
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..data.structures import AnnotationSet, Segment

THUMOS_TIOUS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
ANET_TIOUS: np.ndarray = np.linspace(0.5, 0.95, 10)
AMBIGUOUS_LABELS = frozenset({"ambiguous"})


def parse_tious(text: str) -> tuple[float, ...]:
    """"0.1:0.7:0.1" (start:stop:step, stop included) or "0.5,0.75,0.95" -> thresholds in (0, 1]."""
    text = str(text).strip()
    try:
        if ":" in text:
            parts = [float(p) for p in text.split(":")]
            if len(parts) != 3 or parts[2] <= 0 or parts[1] < parts[0]:
                raise ValueError
            start, stop, step = parts
            n = int(math.floor((stop - start) / step + 1e-9)) + 1
            values = [round(start + i * step, 10) for i in range(n)]
        else:
            values = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise ValueError(f"not a tIoU list: {text!r} (use start:stop:step or a,b,c)") from None
    if not values or any(not (0.0 < v <= 1.0) for v in values):
        raise ValueError(f"tIoU thresholds must be in (0, 1]: {text!r}")
    return tuple(values)


def tiou_key(t: float) -> str:
    return f"{t:.2f}"


def segment_iou(target: Sequence[float], candidates: np.ndarray) -> np.ndarray:
    """tIoU of one [start, end] against [N, 2] candidates (the official formula and order),
    with 0/0 as 0 (a similarity; the matching itself keeps the official NaN rule)."""
    candidates = np.asarray(candidates, dtype=np.float64).reshape(-1, 2)
    inter = (np.minimum(target[1], candidates[:, 1]) - np.maximum(target[0], candidates[:, 0])).clip(0)
    union = (candidates[:, 1] - candidates[:, 0]) + (target[1] - target[0]) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """VOC 2011 all-points interpolated AP (the official `interpolated_prec_rec`)."""
    return float(interpolated_ap_rows(np.asarray(precision)[None], np.asarray(recall)[None])[0])


def interpolated_ap_rows(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """`interpolated_ap` of each row of [K, N] precision / recall at once. Each row's sum is
    taken over exactly the terms the official code sums, in its order, so the numbers are
    its numbers to the last bit."""
    k = precision.shape[0]
    mprec = np.concatenate([np.zeros((k, 1)), precision, np.zeros((k, 1))], axis=1)
    mrec = np.concatenate([np.zeros((k, 1)), recall, np.ones((k, 1))], axis=1)
    mprec = np.maximum.accumulate(mprec[:, ::-1], axis=1)[:, ::-1]
    step = mrec[:, 1:] - mrec[:, :-1]
    terms = step * mprec[:, 1:]
    changed = mrec[:, 1:] != mrec[:, :-1]
    return np.array([np.sum(terms[i][changed[i]]) for i in range(k)], dtype=np.float64)


@dataclass
class DetectionResult:
    """ap[k, c] is class c's AP at tiou_thresholds[k]; map[k] the mean over `classes`."""

    tiou_thresholds: np.ndarray
    map: np.ndarray
    ap: np.ndarray
    classes: list[str]
    average_map: float
    num_ground_truth: dict = field(default_factory=dict)
    num_predictions: int = 0
    predictions_outside_gt: int = 0

    @property
    def per_class(self) -> dict[str, dict[str, float]]:
        out = {}
        for ci, name in enumerate(self.classes):
            row = {tiou_key(t): float(self.ap[k, ci]) for k, t in enumerate(self.tiou_thresholds)}
            row["average"] = float(self.ap[:, ci].mean()) if len(self.tiou_thresholds) else 0.0
            out[name] = row
        return out

    def to_json_dict(self) -> dict:
        """The `sdanet eval --json` contract."""
        return {
            "tiou_thresholds": [float(t) for t in self.tiou_thresholds],
            "mAP": {tiou_key(t): float(m) for t, m in zip(self.tiou_thresholds, self.map)},
            "average_mAP": float(self.average_map),
            "per_class": self.per_class,
        }


def _gt_arrays(gt: AnnotationSet, class_index: Mapping[str, int], video_index: dict):
    vids, labels, starts, ends = [], [], [], []
    for name, video in gt.videos.items():
        vi = video_index.setdefault(name, len(video_index))
        for seg in video.segments:
            if seg.label.lower() in AMBIGUOUS_LABELS or seg.label not in class_index:
                continue
            vids.append(vi)
            labels.append(class_index[seg.label])
            starts.append(float(seg.start))
            ends.append(float(seg.end))
    return (np.asarray(vids, dtype=np.int64), np.asarray(labels, dtype=np.int64),
            np.asarray(starts, dtype=np.float64), np.asarray(ends, dtype=np.float64))


def _pred_arrays(preds: Mapping[str, Sequence[Segment]], class_index: Mapping[str, int],
                 video_index: dict):
    n_gt_videos = len(video_index)
    counts, segs_all = [], []
    for name, segs in preds.items():
        video_index.setdefault(name, len(video_index))
        counts.append(len(segs))
        segs_all.extend(segs)
    vids = np.repeat(np.asarray([video_index[n] for n in preds], dtype=np.int64),
                     np.asarray(counts, dtype=np.int64))
    if not segs_all:
        e = np.zeros(0)
        return vids, vids.copy(), e, e.copy(), e.copy(), 0
    n = len(segs_all)
    labels = np.fromiter(map(class_index.get, map(attrgetter("label"), segs_all), repeat(-1)),
                         dtype=np.int64, count=n)
    try:
        nums = np.fromiter(chain.from_iterable(map(attrgetter("start", "end", "score"), segs_all)),
                           dtype=np.float64, count=3 * n).reshape(n, 3)
    except (TypeError, ValueError):
        raise ValueError("every prediction needs a numeric start, end and score") from None
    starts, ends, scores_a = nums[:, 0], nums[:, 1], nums[:, 2]
    keep = labels >= 0
    vids, labels, scores_a = vids[keep], labels[keep], scores_a[keep]
    starts_a, ends_a = starts[keep], ends[keep]
    if len(scores_a) and not np.all(np.isfinite(scores_a)):
        raise ValueError("every prediction needs a finite score")
    outside = int(np.count_nonzero(vids >= n_gt_videos))
    return vids, labels, starts_a, ends_a, scores_a, outside


def _ragged_arange(counts: np.ndarray) -> np.ndarray:
    total = int(counts.sum())
    return np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)


def _candidate_pairs(p_group, p_start, p_end, g_group, g_start, g_end, prune=True):
    """(prediction, ground truth) index pairs of the same group; with `prune`, only those that
    can overlap (ground-truth start within (p_start - longest ground truth, p_end], widened by a
    margin; the exact tIoU decides later)."""
    if prune:
        length = g_end - g_start
        lo_t = float(min(g_start.min(), p_start.min()))
        span = float(max(g_end.max(), p_end.max()) - lo_t) + float(length.max()) + 10.0
        n_grp = int(max(g_group.max(), p_group.max())) + 1
        prune = bool(np.isfinite(span * (n_grp + 1) * 4.0))  # keys near the float limit: no pruning
    if prune:
        maxlen = np.zeros(n_grp)
        np.maximum.at(maxlen, g_group, length)
        g_key = g_group * span + (g_start - lo_t)
        g_order = np.argsort(g_key, kind="stable")
        keys = g_key[g_order]
        margin = 1e-9 * span * n_grp + 1e-9
        base = p_group * span - lo_t
        lo = np.searchsorted(keys, base + p_start - maxlen[p_group] - margin, side="left")
        hi = np.searchsorted(keys, base + p_end + margin, side="right")
    else:
        g_order = np.argsort(g_group, kind="stable")
        gs = g_group[g_order]
        lo = np.searchsorted(gs, p_group, side="left")
        hi = np.searchsorted(gs, p_group, side="right")
    counts = np.maximum(hi - lo, 0)
    pair_p = np.repeat(np.arange(len(p_group)), counts)
    pair_g = g_order[np.repeat(lo, counts) + _ragged_arange(counts)]
    if prune:
        same = g_group[pair_g] == p_group[pair_p]
        pair_p, pair_g = pair_p[same], pair_g[same]
    return pair_p, pair_g


def _official_tiou(p_start, p_end, g_start, g_end) -> np.ndarray:
    """The official tIoU, elementwise: 0/0 is NaN, a negative union gives -0.0."""
    inter = (np.minimum(p_end, g_end) - np.maximum(p_start, g_start)).clip(0)
    union = (g_end - g_start) + (p_end - p_start) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / union


def _zero_union_pairs(deg, p_group, p_start, p_end, g_group, g_start, g_end):
    """(prediction, ground truth) pairs whose union is exactly 0: a prediction of length <= 0
    with a ground truth of the opposite length in its group (both zero-length, or a reversed
    prediction cancelling a ground truth). The official tIoU of these is 0/0 = NaN."""
    by_key: dict = {}
    for g in range(len(g_group)):
        by_key.setdefault((int(g_group[g]), float(g_end[g] - g_start[g])), []).append(g)
    pp, gg = [], []
    for p in deg.tolist():
        hits = by_key.get((int(p_group[p]), -float(p_end[p] - p_start[p])), ())
        pp += [p] * len(hits)
        gg += hits
    return np.asarray(pp, dtype=np.int64), np.asarray(gg, dtype=np.int64)


def _order_ties_officially(pair_p, pair_g, iou, p_group, p_start, p_end, g_group, g_start, g_end):
    """Pairs sorted by (prediction, -tIoU): where a prediction has candidates of exactly equal
    tIoU, reorder its run as the official `tiou.argsort()[::-1]` tries them (that argsort over
    all ground truths of its class and video, in ground-truth order). In place; rare."""
    tied = (pair_p[1:] == pair_p[:-1]) & (iou[1:] == iou[:-1])
    if not tied.any():
        return
    members = np.argsort(g_group, kind="stable")          # ground truths by group, file order
    first = np.searchsorted(g_group[members], np.arange(int(g_group.max()) + 2))
    position = np.empty(len(g_group), dtype=np.int64)      # index within its group
    position[members] = np.arange(len(g_group)) - first[g_group[members]]
    for p in np.unique(pair_p[1:][tied]).tolist():
        grp = int(p_group[p])
        group = members[first[grp]:first[grp + 1]]
        tiou = _official_tiou(p_start[p], p_end[p], g_start[group], g_end[group])
        official = np.empty(len(group), dtype=np.int64)
        official[tiou.argsort()[::-1]] = np.arange(len(group))
        lo, hi = np.searchsorted(pair_p, [p, p + 1])
        run = lo + np.lexsort((official[position[pair_g[lo:hi]]], -iou[lo:hi]))
        pair_g[lo:hi], iou[lo:hi] = pair_g[run], iou[run]


def _best_first(pair_p, pair_g, iou):
    """Pairs grouped by prediction (ascending, as given) with each prediction's candidates by
    descending tIoU. Most predictions have a single candidate; only runs of several are sorted."""
    if len(pair_p) < 2:
        return pair_p, pair_g, iou
    same = pair_p[1:] == pair_p[:-1]
    multi = np.zeros(len(pair_p), dtype=bool)
    multi[1:] |= same
    multi[:-1] |= same
    idx = np.flatnonzero(multi)
    if len(idx):
        order = idx[np.lexsort((-iou[idx], pair_p[idx]))]
        pair_g, iou = pair_g.copy(), iou.copy()
        pair_g[idx], iou[idx] = pair_g[order], iou[order]
    return pair_p, pair_g, iou


def match_predictions(p_group, p_start, p_end, g_group, g_start, g_end, tious) -> np.ndarray:
    """The greedy matching for many independent groups at once.

    Predictions must already be in matching order (the official score order) and carry a group
    id (class x video); a prediction can only match ground truth of its own group, and ground
    truths are tried in the official order (module docstring).
    p_*: [P], g_*: [G], tious: [K] -> tp [K, P] bool.
    """
    tious = np.asarray(tious, dtype=np.float64)
    k_n, p_n, g_n = len(tious), len(p_group), len(g_group)
    if p_n == 0 or g_n == 0 or k_n == 0:
        return np.zeros((k_n, p_n), dtype=bool)
    prune = bool(tious.min() > 0)
    pair_p, pair_g = _candidate_pairs(p_group, p_start, p_end, g_group, g_start, g_end, prune=prune)
    deg = np.flatnonzero(p_end - p_start <= 0)
    if prune and len(deg):
        # a prediction of length <= 0 overlaps nothing: its only candidates are the 0/0 pairs
        is_deg = np.zeros(p_n, dtype=bool)
        is_deg[deg] = True
        keep = ~is_deg[pair_p]
        zp, zg = _zero_union_pairs(deg, p_group, p_start, p_end, g_group, g_start, g_end)
        pair_p = np.concatenate([pair_p[keep], zp])
        pair_g = np.concatenate([pair_g[keep], zg])
        by_p = np.argsort(pair_p, kind="stable")      # grouped by prediction again
        pair_p, pair_g = pair_p[by_p], pair_g[by_p]
    iou = _official_tiou(p_start[pair_p], p_end[pair_p], g_start[pair_g], g_end[pair_g])
    iou = np.where(np.isnan(iou), np.inf, iou)   # 0/0 passes every threshold, tried first
    keep = iou >= tious.min()
    pair_p, pair_g, iou = pair_p[keep], pair_g[keep], iou[keep]
    # Order once by (prediction rank, best tIoU, the official order among equal tIoU), then
    # replicate per threshold (a pair exists at threshold k if iou >= t_k): np.nonzero keeps
    # that order per k.
    pair_p, pair_g, iou = _best_first(pair_p, pair_g, iou)
    _order_ties_officially(pair_p, pair_g, iou, p_group, p_start, p_end, g_group, g_start, g_end)
    kk, idx = np.nonzero(iou[None, :] >= tious[:, None])
    # flat keys: (threshold, prediction) also ranks predictions within a threshold, and
    # (threshold, ground truth) / (threshold, group) name what a prediction competes for
    n_groups = int(p_group.max()) + 1
    kp = kk * p_n + pair_p[idx]
    kg = kk * g_n + pair_g[idx]
    grp = kk * n_groups + p_group[pair_p[idx]]
    del kk, idx
    done = np.zeros(k_n * p_n, dtype=bool)        # matched (true positive) at that threshold
    locked = np.zeros(k_n * g_n, dtype=bool)
    unset = k_n * p_n
    # scratch arrays (lowest rank claiming a ground truth / hitting a conflict), reset each round
    claim = np.full(k_n * g_n, unset, dtype=np.int64)
    first_dup = np.full(k_n * n_groups, unset, dtype=np.int64)
    while len(kp):
        alive = ~(done[kp] | locked[kg])
        if not alive.all():
            kp, kg, grp = kp[alive], kg[alive], grp[alive]
            if not len(kp):
                break
        # each prediction's best free ground truth: the first pair of its (k, p) run
        head = np.empty(len(kp), dtype=bool)
        head[0] = True
        np.not_equal(kp[1:], kp[:-1], out=head[1:])
        hp, hg, hgrp = kp[head], kg[head], grp[head]
        # A prediction's best free ground truth is final (1) if every earlier undecided
        # prediction of its group asked for another ground truth this round (they take theirs
        # and nothing else), or (2) if no earlier undecided prediction has it as a candidate.
        np.minimum.at(claim, hg, hp)
        dup = hp > claim[hg]
        claim[hg] = unset
        if dup.any():
            np.minimum.at(first_dup, hgrp[dup], hp[dup])
            accept = hp < first_dup[hgrp]
            first_dup[hgrp[dup]] = unset
            np.minimum.at(claim, kg, kp)
            accept |= claim[hg] == hp
            claim[kg] = unset
            hp, hg = hp[accept], hg[accept]
        done[hp] = True
        locked[hg] = True
    return done.reshape(k_n, p_n)


def official_score_order(p_lab: np.ndarray, p_score: np.ndarray) -> np.ndarray:
    """Indices grouped by class (ascending), within a class in the official order: numpy's
    default argsort of the class's scores (input order), reversed (module docstring)."""
    by_class = np.argsort(p_lab, kind="stable")
    bounds = np.flatnonzero(np.diff(p_lab[by_class])) + 1
    parts = [idx[np.argsort(p_score[idx])[::-1]] for idx in np.split(by_class, bounds)]
    return np.concatenate(parts) if parts else by_class


@dataclass
class DetectionMatches:
    """The greedy matching of predictions to ground truth, before any AP is computed.

    Predictions are in matching order (by class, then the official evaluator's score order,
    `official_score_order`); `tp[k, p]` says whether prediction p is a true positive at tiou_thresholds[k].
    Matching is decided within one (class, video) group, so it does not depend on which other
    videos are evaluated: `average_precision(video_weights)` gives the AP of any multiset of the
    videos (a video counted w times) from the same matching, which is what a bootstrap over
    videos needs (sdanet/held_out.py)."""

    tiou_thresholds: np.ndarray
    classes: list[str]                 # evaluated classes (those with ground truth), in order
    videos: list[str]                  # video index -> name (ground-truth videos first)
    tp: np.ndarray                     # [K, P] bool
    pred_class: np.ndarray             # [P] class index, sorted ascending
    pred_video: np.ndarray             # [P] video index
    gt_class: np.ndarray               # [G] class index
    gt_video: np.ndarray               # [G] video index
    predictions_outside_gt: int = 0

    def average_precision(self, video_weights: np.ndarray | None = None) -> np.ndarray:
        """AP [K, C] (C = len(classes)); `video_weights` [V] counts each video that many times
        (None: once). A class whose weighted ground truth is 0 gets AP NaN; classes without
        predictions but with ground truth get 0."""
        k_n, n_c, n_v = len(self.tiou_thresholds), len(self.classes), len(self.videos)
        w = np.ones(max(n_v, 1)) if video_weights is None else np.asarray(video_weights, np.float64)
        return weighted_average_precision(self, w[None, :])[0] if k_n and n_c else np.zeros((k_n, n_c))


def weighted_average_precision(matches: DetectionMatches, weights: np.ndarray) -> np.ndarray:
    """AP [R, K, C] of `matches` for R video weightings at once (`weights` [R, V]).

    Counting a prediction w times at one score is the same as w tied copies in a row: inside a
    run of true positives the precision only grows and inside a run of false positives the
    recall does not move, so the interpolated (all-points) area is that of the run's last point.
    NaN where a weighting leaves a class without ground truth."""
    weights = np.asarray(weights, dtype=np.float64)
    r_n = weights.shape[0]
    k_n, n_c = len(matches.tiou_thresholds), len(matches.classes)
    ap = np.zeros((r_n, k_n, n_c))
    npos = np.zeros((r_n, n_c))
    for c in range(n_c):
        npos[:, c] = weights[:, matches.gt_video[matches.gt_class == c]].sum(axis=1)
    bounds = np.searchsorted(matches.pred_class, np.arange(n_c + 1))
    for c in range(n_c):
        a, b = bounds[c], bounds[c + 1]
        if b == a:
            continue
        w = weights[:, matches.pred_video[a:b]]                       # [R, n]
        tp = matches.tp[:, a:b].astype(np.float64)                    # [K, n]
        tp_cum = np.cumsum(w[:, None, :] * tp[None], axis=2)          # [R, K, n]
        all_cum = np.cumsum(w, axis=1)[:, None, :]                    # [R, 1, n]
        with np.errstate(invalid="ignore", divide="ignore"):
            precision = np.where(all_cum > 0, tp_cum / np.maximum(all_cum, 1e-300), 0.0)
            recall = tp_cum / np.maximum(npos[:, c, None, None], 1e-300)
            # all-points interpolation: the best precision at this or any later point
            envelope = np.maximum.accumulate(precision[..., ::-1], axis=2)[..., ::-1]
            steps = np.diff(recall, axis=2, prepend=0.0)
            ap[..., c] = (steps * envelope).sum(axis=2)
    ap[np.broadcast_to((npos == 0)[:, None, :], ap.shape)] = np.nan
    return ap


def match_detections(gt: AnnotationSet, preds: Mapping[str, Sequence[Segment]],
                     tiou_thresholds: Iterable[float] = THUMOS_TIOUS,
                     classes: Sequence[str] | None = None) -> DetectionMatches:
    """The matching `detection_map` scores (same arguments; see DetectionMatches)."""
    tious = np.asarray(list(tiou_thresholds), dtype=np.float64)
    present = {s.label for v in gt.videos.values() for s in v.segments
               if s.label.lower() not in AMBIGUOUS_LABELS}
    order = list(classes) if classes is not None else (list(gt.classes) or sorted(present))
    order += sorted(present - set(order))
    eval_classes = [c for c in order if c in present]
    class_index = {c: i for i, c in enumerate(eval_classes)}
    video_index: dict[str, int] = {}
    g_vid, g_lab, g_s, g_e = _gt_arrays(gt, class_index, video_index)
    p_vid, p_lab, p_s, p_e, p_score, outside = _pred_arrays(preds, class_index, video_index)
    n_v = max(1, len(video_index))
    p_order = official_score_order(p_lab, p_score)
    p_vid, p_lab, p_s, p_e = p_vid[p_order], p_lab[p_order], p_s[p_order], p_e[p_order]
    tp = match_predictions(p_lab * n_v + p_vid, p_s, p_e, g_lab * n_v + g_vid, g_s, g_e, tious)
    names = [""] * len(video_index)
    for name, i in video_index.items():
        names[i] = name
    return DetectionMatches(tious, eval_classes, names, tp, p_lab, p_vid, g_lab, g_vid, outside)


def detection_map(gt: AnnotationSet, preds: Mapping[str, Sequence[Segment]],
                  tiou_thresholds: Iterable[float] = THUMOS_TIOUS,
                  classes: Sequence[str] | None = None) -> DetectionResult:
    """ActivityNet detection mAP of `preds` (video -> segments with scores, seconds) against
    every video of `gt` (apply `gt.subset(name)` first). Ambiguous intervals and segments
    labelled 'Ambiguous' are not ground truth. `classes` fixes the order of the per-class
    columns; only classes with ground truth are evaluated and averaged."""
    m = match_detections(gt, preds, tiou_thresholds, classes)
    tious, n_c = m.tiou_thresholds, len(m.classes)
    npos = np.bincount(m.gt_class, minlength=n_c)
    bounds = np.searchsorted(m.pred_class, np.arange(n_c + 1))
    ap = np.zeros((len(tious), n_c))
    for c in range(n_c):
        a, b = bounds[c], bounds[c + 1]
        if b == a or npos[c] == 0:
            continue
        # counts are whole numbers, exact in float64: tp + fp at rank i is i (as the official's)
        tp_cum = np.cumsum(m.tp[:, a:b], axis=1, dtype=np.int64).astype(np.float64)
        fp_cum = np.arange(1, b - a + 1, dtype=np.float64) - tp_cum
        ap[:, c] = interpolated_ap_rows(tp_cum / (tp_cum + fp_cum), tp_cum / float(npos[c]))
    mean = ap.mean(axis=1) if n_c else np.zeros(len(tious))
    return DetectionResult(
        tiou_thresholds=tious, map=mean, ap=ap, classes=m.classes,
        average_map=float(mean.mean()) if len(mean) else 0.0,
        num_ground_truth={c: int(npos[i]) for i, c in enumerate(m.classes)},
        num_predictions=int(len(m.pred_class)), predictions_outside_gt=int(m.predictions_outside_gt))


def classification_map(gt_labels: np.ndarray, scores: np.ndarray) -> float:
    """Video classification mAP (the family's `getClassificationMAP`, as a fraction): per class,
    non-interpolated AP of the videos ranked by score (ties stable), averaged over the classes
    that have at least one positive video (the family divides by zero on the others).
    gt_labels: [N, C] multi-hot, scores: [N, C] -> float in [0, 1]."""
    labels = np.asarray(gt_labels) > 0
    scores = np.asarray(scores, dtype=np.float64)
    if labels.shape != scores.shape or labels.ndim != 2:
        raise ValueError(f"labels {labels.shape} and scores {scores.shape} must both be [N, C]")
    aps = []
    for c in range(labels.shape[1]):
        npos = labels[:, c].sum()
        if npos == 0:
            continue
        hit = labels[np.argsort(-scores[:, c], kind="stable"), c].astype(np.float64)
        tp = np.cumsum(hit)
        precision = tp / np.arange(1, len(hit) + 1)
        aps.append(float(np.sum(hit * precision) / npos))
    return float(np.mean(aps)) if aps else 0.0


def format_table(result: DetectionResult, per_class: bool = True) -> str:
    """A plain-text table: mAP per threshold, the average, then AP per class (percent)."""
    t = result.tiou_thresholds
    name_w = max([len("class")] + [len(c) for c in result.classes] + [len("mAP")])
    head = f"{'':{name_w}s} " + " ".join(f"{tiou_key(x):>6s}" for x in t) + f" {'avg':>6s}"
    lines = [f"detection mAP (%) over {len(result.classes)} classes, "
             f"{sum(result.num_ground_truth.values())} ground-truth segments, "
             f"{result.num_predictions} predictions", head]
    lines.append(f"{'mAP':{name_w}s} " + " ".join(f"{100 * v:6.2f}" for v in result.map)
                 + f" {100 * result.average_map:6.2f}")
    if per_class and result.classes:
        lines.append("-" * len(head))
        for ci, name in enumerate(result.classes):
            row = result.ap[:, ci]
            lines.append(f"{name:{name_w}s} " + " ".join(f"{100 * v:6.2f}" for v in row)
                         + f" {100 * row.mean():6.2f}")
    return "\n".join(lines)
