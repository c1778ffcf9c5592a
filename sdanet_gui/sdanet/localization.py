"""Proposal generation: from a video's class activation sequence (CAS) and attention to scored segments.

Why it exists: the network scores snippets; people and evaluators need segments. This module is
the CO2-Net / DELU / DDG-Net test-time protocol (their `multiple_threshold_hamnet`,
`get_proposal_oic_2`, `soft_nms`, `filter_segments`), rewritten vectorized so that one
5,000-snippet video localizes in milliseconds and the GUI can re-run it while a slider moves.

Pipeline (shapes: T snippets, C classes, the CAS has C+1 channels, the last is background):
  1. optional temporal smoothing (average pool, zero padded). Off by default: the network
     already smooths with `train.smoothing_kernel` (ActivityNet: 13), as the family does.
  2. wcas = cas * attention                                            [T, C+1]
  3. video score = softmax(mean of the top floor(T / topk_divisor) snippets of wcas)[:C]
     kept classes: score >= class_threshold, else the single best class
  4. for every attention threshold: snippets with attention > threshold, grouped into runs of
     consecutive snippets (class-agnostic, so every kept class shares the same geometry)
  5. outer-inner contrast score per (class, run): mean of wcas inside minus the mean over the two
     flanks of outer_inner_ratio x length (clipped to the video), plus
     video_score_weight x video score
  6. all thresholds merged, Gaussian soft-NMS per class (sigma), then drop proposals touching an
     ambiguous interval (THUMOS14), then those shorter than `min_length_snippets`.

Family semantics kept on purpose (they shape the published numbers):
  - the flank bounds use Python's int() truncation: [max(0, int(s - r*L)), s) and
    (last, min(T-1, int(last + r*L))]; both flanks are averaged together; empty flanks count 0.
  - soft-NMS measures overlap with the family's "+1" convention on [start, end) snippet indices
    (inter = min(e) - max(s) + 1, area = e - s + 1), so abutting proposals do decay each other;
    it keeps every proposal and only decays scores; the ambiguous and length filters come after
    it (the family drops length <= 1 in its test script after NMS).
  - the ambiguous interval (seconds) becomes range(round(a), round(b)) in snippets; a proposal is
    dropped if its snippet range shares a snippet with it.
Deviations: exact score ties in soft-NMS are broken by (start, end, threshold) order instead of
the family's swap-dependent argmax order (only matters for bit-identical ties of different
geometry). Soft-NMS runs in rounds (see `soft_nms_scores`) that give the sequential algorithm's
scores (tested against `soft_nms_reference`), including negative scores, which a decay raises.
Everything is on the snippet grid until the very end; seconds come from `FeatureSpec`.

What it must never do: import torch or Qt, or convert units other than through `data.units`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..data.structures import Segment
from ..data.units import FeatureSpec

PROPOSAL_DTYPE = np.dtype([("class", np.int32), ("start_snippet", np.int32),
                           ("end_snippet", np.int32), ("score", np.float64)])


def _default_thresholds() -> list[float]:
    return [float(x) for x in np.linspace(0.1, 0.9, 10)]   # CO2-Net: np.linspace(0.1, 0.9, 10)


@dataclass
class PostProcessing:
    """Every knob of proposal generation; defaults are the CO2-Net THUMOS14 protocol."""

    class_threshold: float = 0.2          # keep classes whose video score reaches this
    attention_thresholds: list[float] = field(default_factory=_default_thresholds)
    outer_inner_ratio: float = 0.25       # flank length as a fraction of the proposal length
    video_score_weight: float = 0.2       # gamma: weight of the video score in a proposal score
    nms_sigma: float = 0.3                # Gaussian soft-NMS: weight = exp(-iou^2 / sigma)
    topk_divisor: float = 10.0            # video score: top floor(T / topk_divisor) snippets
    min_length_snippets: int = 2          # the family keeps t_end - t_start > 1
    smoothing_kernel: int = 1             # average-pool kernel on CAS and attention (1 = off)
    max_proposals_per_video: int = 0      # keep the best N after NMS (0 = all)
    min_score: float | None = None        # drop proposals scoring below this after NMS
    filter_ambiguous: bool = True         # drop proposals overlapping ambiguous intervals

    def __post_init__(self):
        self.attention_thresholds = [float(x) for x in np.atleast_1d(self.attention_thresholds)]
        if not self.attention_thresholds:
            raise ValueError("post-processing needs at least one attention threshold")
        if self.nms_sigma <= 0 or self.topk_divisor <= 0:
            raise ValueError("nms_sigma and topk_divisor must be > 0")
        if int(self.smoothing_kernel) < 1:
            raise ValueError("smoothing_kernel must be >= 1")

    # --- (de)serialization -------------------------------------------------------------------
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PostProcessing":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in dict(d).items() if k in known})

    @classmethod
    def from_config(cls, cfg: Any) -> "PostProcessing":
        """From an `SDANetConfig` (its `post` section), a section object, or a plain dict;
        missing fields keep their defaults, unknown ones are ignored.

        `train.smoothing_kernel` is deliberately not read: the network already smooths its CAS
        and attention with it (as the family does inside the model); smoothing here is only for
        raw scores that were not smoothed (`post.smoothing_kernel`, if a config has one).
        """
        if cfg is None:
            return cls()
        if isinstance(cfg, Mapping):
            d = dict(cfg.get("post", cfg.get("postprocess", cfg)))
        else:
            section = getattr(cfg, "post", None) or getattr(cfg, "postprocess", None) or cfg
            if isinstance(section, Mapping):
                d = dict(section)
            else:
                d = {f: getattr(section, f) for f in dir(section) if not f.startswith("_")
                     and not callable(getattr(section, f))}
        aliases = {"max_proposals": "max_proposals_per_video", "min_length": "min_length_snippets",
                   "gamma": "video_score_weight", "sigma": "nms_sigma"}
        for old, new in aliases.items():
            if old in d and new not in d:
                d[new] = d.pop(old)
        if d.get("min_score") == 0.0:      # the config's "0 = off"
            d["min_score"] = None
        return cls.from_dict(d)


# --- snippet-level scores ----------------------------------------------------------------------

def smooth(x: np.ndarray, kernel: int) -> np.ndarray:
    """Average pool over time, stride 1, zero padding counted (torch AvgPool1d(k, 1, k//2)).

    x: [T] or [T, C] -> same shape. kernel 1 returns x unchanged.
    """
    kernel = int(kernel)
    if kernel <= 1:
        return x
    x = np.asarray(x, dtype=np.float64)
    squeeze = x.ndim == 1
    x2 = x[:, None] if squeeze else x
    pad = kernel // 2
    xp = np.pad(x2, ((pad, pad), (0, 0)))
    cs = np.concatenate([np.zeros((1, x2.shape[1])), np.cumsum(xp, axis=0)])
    out = ((cs[kernel:] - cs[:-kernel]) / kernel)[: x2.shape[0]]
    return out[:, 0] if squeeze else out


def _check_inputs(cas, attention) -> tuple[np.ndarray, np.ndarray]:
    cas = np.asarray(cas, dtype=np.float64)
    attention = np.asarray(attention, dtype=np.float64).reshape(-1)
    if cas.ndim != 2 or cas.shape[1] < 2:
        raise ValueError(f"cas must be [T, C+1] with C >= 1, got shape {cas.shape}")
    if attention.shape[0] != cas.shape[0]:
        raise ValueError(f"attention has {attention.shape[0]} snippets, cas {cas.shape[0]}")
    return cas, attention


def score_curves(cas, attention, smoothing_kernel: int = 1) -> np.ndarray:
    """The per-class test-time score the GUI draws: CAS x attention without background.

    cas: [T, C+1] logits, attention: [T] in [0, 1] -> [T, C].
    """
    cas, attention = _check_inputs(cas, attention)
    cas, attention = smooth(cas, smoothing_kernel), smooth(attention, smoothing_kernel)
    return cas[:, :-1] * attention[:, None]


def _video_scores_weighted(wcas: np.ndarray, topk_divisor: float) -> np.ndarray:
    t = wcas.shape[0]
    k = max(1, int(t // topk_divisor))
    top = np.partition(wcas, t - k, axis=0)[t - k:] if k < t else wcas
    logits = top.mean(axis=0)
    e = np.exp(logits - logits.max())
    return (e / e.sum())[:-1]


def video_scores(cas, attention, params: PostProcessing | None = None) -> np.ndarray:
    """Video-level class scores [C]: softmax over C+1 of the mean of the top
    max(1, floor(T / topk_divisor)) snippets of cas * attention, background dropped
    (the family's `get_cls_score(element_logits, rat=10)`)."""
    params = params or PostProcessing()
    cas, attention = _check_inputs(cas, attention)
    cas, attention = smooth(cas, params.smoothing_kernel), smooth(attention, params.smoothing_kernel)
    return _video_scores_weighted(cas * attention[:, None], params.topk_divisor)


# --- grouping and scoring ----------------------------------------------------------------------

def group_runs(attention: np.ndarray, thresholds: Sequence[float]) -> tuple[np.ndarray, ...]:
    """Runs of consecutive snippets with attention > threshold, for every threshold at once.

    -> (threshold_index [N], start [N], end [N]) with end exclusive, in (threshold, start) order.
    """
    thr = np.asarray(thresholds, dtype=np.float64)
    mask = attention[None, :] > thr[:, None]                      # [L, T]
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)                               # +1 at starts, -1 after ends
    li, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)
    return li.astype(np.int64), starts.astype(np.int64), ends.astype(np.int64)


def outer_inner_scores(wcas: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                       ratio: float) -> np.ndarray:
    """Outer-inner contrast (without the video-score term) of runs [start, end) per column.

    wcas: [T, K]; starts/ends: [N] -> [N, K].
    """
    t = wcas.shape[0]
    cs = np.zeros((t + 1, wcas.shape[1]), dtype=np.float64)
    np.cumsum(wcas, axis=0, out=cs[1:])
    length = ends - starts
    inner = (cs[ends] - cs[starts]) / length[:, None]
    last = ends - 1
    # int() truncates toward zero; max(0, .) makes that equal to floor here.
    outer_s = np.maximum(0, np.trunc(starts - ratio * length).astype(np.int64))
    outer_e = np.minimum(t - 1, np.trunc(last + ratio * length).astype(np.int64))
    left_n = starts - outer_s
    right_n = np.maximum(0, outer_e - last)
    right_end = last + 1 + right_n
    outer_sum = (cs[starts] - cs[outer_s]) + (cs[right_end] - cs[ends])
    n = (left_n + right_n)[:, None]
    outer = np.divide(outer_sum, n, out=np.zeros_like(outer_sum), where=n > 0)
    return inner - outer


# --- soft-NMS ----------------------------------------------------------------------------------

def _ragged_arange(counts: np.ndarray) -> np.ndarray:
    """[0..c0-1, 0..c1-1, ...] for counts [c0, c1, ...]."""
    return np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)


def _overlap_pairs(starts: np.ndarray, ends: np.ndarray):
    """All ordered pairs (i, j), i != j, of proposals that overlap under the +1 convention,
    with their IoU. Proposals must be sorted by start. -> (src, dst, iou), grouped by src."""
    n = len(starts)
    # sorted by start: j > i overlaps i iff starts[j] <= ends[i]
    hi = np.searchsorted(starts, ends, side="right")
    counts = np.maximum(hi - np.arange(n) - 1, 0)
    total = int(counts.sum())
    if total == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e, np.zeros(0)
    i = np.repeat(np.arange(n), counts)
    j = i + 1 + _ragged_arange(counts)
    inter = np.maximum(np.minimum(ends[i], ends[j]) - np.maximum(starts[i], starts[j]) + 1, 0)
    area_i = ends[i] - starts[i] + 1
    area_j = ends[j] - starts[j] + 1
    iou = inter / (area_i + area_j - inter)
    src = np.concatenate([i, j])
    dst = np.concatenate([j, i])
    iou2 = np.concatenate([iou, iou])
    order = np.argsort(src, kind="stable")
    return src[order], dst[order], iou2[order]


def soft_nms_scores(starts: np.ndarray, ends: np.ndarray, scores: np.ndarray,
                    sigma: float = 0.3, pairs=None) -> np.ndarray:
    """Gaussian soft-NMS (the family's `soft_nms`, which keeps every box): the score each
    proposal has when it is picked. Proposals must be sorted by (start, end); ties in score are
    picked lowest index first. starts/ends/scores: [N] -> [N].

    Gives the sequential algorithm's scores (`soft_nms_reference`) in far fewer numpy rounds.
    A proposal's final score depends only on which overlapping neighbours were picked before it.
    Positive scores only ever decrease, so a positive proposal that beats all its remaining
    neighbours (ties: lower index) is picked before each of them: all such proposals are picked
    in one round. Scores <= 0 keep their sign and are all picked after the positive ones; a decay
    *raises* them, so there the order can depend on proposals that do not overlap; they are
    picked one at a time per group of transitively overlapping proposals (such groups do not
    influence each other).
    """
    scores = np.asarray(scores, dtype=np.float64)
    starts = np.asarray(starts)
    ends = np.asarray(ends)
    n = len(scores)
    if n == 0:
        return scores.copy()
    src, dst, iou = pairs if pairs is not None else _overlap_pairs(starts, ends)
    w_ = -(iou * iou) / sigma                     # log of the decay weight, <= 0
    s_, d_ = src, dst
    x = scores.copy()
    final = np.full(n, np.nan)
    remaining = np.ones(n, dtype=bool)
    idx = np.arange(n)

    def apply_decay(pick, s_, d_, w_):
        nonlocal x
        if len(s_):
            hit = pick[d_] & remaining[s_]
            if hit.any():
                decay = np.bincount(s_[hit], weights=w_[hit], minlength=n)
                x = np.where(remaining, x * np.exp(decay), x)
            keep = remaining[s_] & remaining[d_]
            return s_[keep], d_[keep], w_[keep]
        return s_, d_, w_

    # Phase 1: positive scores, local maxima in parallel.
    while True:
        eligible = remaining & (x > 0)
        if not eligible.any():
            break
        best = np.full(n, -np.inf)
        first_tied = np.full(n, n)
        if len(s_):
            heads = np.flatnonzero(np.concatenate(([True], s_[1:] != s_[:-1])))
            nodes = s_[heads]
            xd = x[d_]
            best[nodes] = np.maximum.reduceat(xd, heads)
            if (eligible & (x == best)).any():
                tied_nb = np.where(xd == x[s_], d_, n)
                first_tied[nodes] = np.minimum.reduceat(tied_nb, heads)
        pick = eligible & ((x > best) | ((x == best) & (idx < first_tied)))
        final[pick] = x[pick]
        remaining &= ~pick
        s_, d_, w_ = apply_decay(pick, s_, d_, w_)

    # Phase 2: scores <= 0, sequential within each group of transitively overlapping proposals
    # (one pick per group and round; the picked proposal decays its neighbours, found through
    # the pair list, which is grouped by src).
    live = np.flatnonzero(remaining)                # sorted by start
    if len(live):
        logw = -(iou * iou) / sigma
        lo = np.searchsorted(src, np.arange(n), side="left")
        hi = np.searchsorted(src, np.arange(n), side="right")
        reach = np.maximum.accumulate(ends[live])
        glive = np.cumsum(np.concatenate(([True], starts[live][1:] > reach[:-1])))
        while len(live):
            vals = x[live]
            new_group = np.concatenate(([True], glive[1:] != glive[:-1]))
            seg = np.cumsum(new_group) - 1
            gmax = np.maximum.reduceat(vals, np.flatnonzero(new_group))
            cand = np.flatnonzero(vals == gmax[seg])
            sc = seg[cand]
            first = cand[np.concatenate(([True], sc[1:] != sc[:-1]))]
            picked = live[first]
            final[picked] = x[picked]
            remaining[picked] = False
            cnt = hi[picked] - lo[picked]
            if cnt.sum():
                pidx = np.repeat(lo[picked], cnt) + _ragged_arange(cnt)
                nb = dst[pidx]
                ok = remaining[nb]
                np.multiply.at(x, nb[ok], np.exp(logw[pidx][ok]))
            keep = np.ones(len(live), dtype=bool)
            keep[first] = False
            live, glive = live[keep], glive[keep]
    return final


def soft_nms_reference(starts, ends, scores, sigma: float = 0.3) -> np.ndarray:
    """The sequential algorithm, plainly (for tests): repeatedly pick the highest current score
    (lowest index on ties), decay every other remaining proposal by exp(-iou^2 / sigma)."""
    starts = np.asarray(starts, dtype=np.float64)
    ends = np.asarray(ends, dtype=np.float64)
    cur = np.asarray(scores, dtype=np.float64).copy()
    final = np.full(len(cur), np.nan)
    remaining = np.ones(len(cur), dtype=bool)
    for _ in range(len(cur)):
        cand = np.where(remaining, cur, -np.inf)
        j = int(np.argmax(cand))
        final[j] = cur[j]
        remaining[j] = False
        inter = np.maximum(np.minimum(ends[j], ends) - np.maximum(starts[j], starts) + 1, 0)
        iou = inter / ((ends[j] - starts[j] + 1) + (ends - starts + 1) - inter)
        w = np.exp(-(iou * iou) / sigma)
        cur = np.where(remaining, cur * w, cur)
    return final


# --- the whole pipeline -------------------------------------------------------------------------

def localize_snippets(cas, attention, params: PostProcessing | None = None,
                      ambiguous_snippets: Sequence[tuple[int, int]] = (),
                      classes: Sequence[int] | None = None) -> np.ndarray:
    """Proposals on the snippet grid for one video.

    cas: [T, C+1] logits (last channel background); attention: [T] in [0, 1];
    ambiguous_snippets: [(start, end)] snippet ranges (end exclusive) to avoid;
    classes: score these class indices instead of the video-score selection (the GUI's
    "show class X anyway").
    -> structured array of PROPOSAL_DTYPE (class, start_snippet, end_snippet exclusive, score),
       sorted by descending score.
    """
    p = params or PostProcessing()
    cas, attention = _check_inputs(cas, attention)
    t = cas.shape[0]
    if t == 0:
        return np.zeros(0, dtype=PROPOSAL_DTYPE)
    cas, attention = smooth(cas, p.smoothing_kernel), smooth(attention, p.smoothing_kernel)
    wcas = cas * attention[:, None]
    vscore = _video_scores_weighted(wcas, p.topk_divisor)
    if classes is None:
        kept = np.flatnonzero(vscore >= p.class_threshold)
        if len(kept) == 0:
            kept = np.array([int(np.argmax(vscore))])
    else:
        kept = np.asarray(sorted(set(int(c) for c in classes)), dtype=np.int64)
        if len(kept) and (kept.min() < 0 or kept.max() >= len(vscore)):
            raise ValueError(f"class index out of range 0..{len(vscore) - 1}")
    li, starts, ends = group_runs(attention, p.attention_thresholds)
    if len(starts) == 0 or len(kept) == 0:
        return np.zeros(0, dtype=PROPOSAL_DTYPE)
    order = np.lexsort((li, ends, starts))           # by start, end, threshold
    starts, ends = starts[order], ends[order]
    contrast = outer_inner_scores(wcas[:, kept], starts, ends, p.outer_inner_ratio)   # [N, K]
    scores = contrast + p.video_score_weight * vscore[kept][None, :]
    # one soft-NMS problem for all kept classes: class k's copies shifted k * offset snippets
    # later, so that they never overlap another class's (tIoU uses differences only)
    n_k = len(kept)
    offset = (np.arange(n_k, dtype=np.int64) * (t + 2))[:, None]
    nms = soft_nms_scores((starts[None, :] + offset).ravel(), (ends[None, :] + offset).ravel(),
                          scores.T.ravel(), p.nms_sigma).reshape(n_k, -1).T
    keep = np.ones(len(starts), dtype=bool)
    if p.filter_ambiguous and len(ambiguous_snippets):
        amb = np.asarray(ambiguous_snippets, dtype=np.int64).reshape(-1, 2)
        hit = (np.maximum(starts[:, None], amb[None, :, 0])
               < np.minimum(ends[:, None], amb[None, :, 1]))
        keep &= ~hit.any(axis=1)
    keep &= (ends - starts) >= p.min_length_snippets
    n_keep = int(keep.sum())
    out = np.zeros(n_keep * len(kept), dtype=PROPOSAL_DTYPE)
    out["class"] = np.tile(kept, n_keep)
    out["start_snippet"] = np.repeat(starts[keep], len(kept))
    out["end_snippet"] = np.repeat(ends[keep], len(kept))
    out["score"] = nms[keep].reshape(-1)
    if p.min_score is not None:
        out = out[out["score"] >= p.min_score]
    out = out[np.argsort(-out["score"], kind="stable")]
    if p.max_proposals_per_video and p.max_proposals_per_video > 0:
        out = out[: int(p.max_proposals_per_video)]
    return out


def ambiguous_to_snippets(spec: FeatureSpec, ambiguous: Sequence[tuple[float, float]]):
    """Ambiguous intervals in seconds -> snippet ranges [round(start), round(end)) (family rule)."""
    if not len(ambiguous):
        return np.zeros((0, 2), dtype=np.int64)
    sec = np.asarray(ambiguous, dtype=np.float64).reshape(-1, 2)
    return np.round(spec.seconds_to_snippet(sec)).astype(np.int64)


def proposals_to_segments(proposals: np.ndarray, spec: FeatureSpec,
                          classes: Sequence[str]) -> list[Segment]:
    """Snippet proposals -> `Segment`s in seconds (start of the first snippet to the start of the
    snippet after the last, the family's convention)."""
    starts = np.asarray(spec.snippet_to_seconds(proposals["start_snippet"]), dtype=np.float64).tolist()
    ends = np.asarray(spec.snippet_to_seconds(proposals["end_snippet"]), dtype=np.float64).tolist()
    names = [classes[c] for c in proposals["class"].tolist()]
    return [Segment(c, s, e, sc, {"start_snippet": a, "end_snippet": b})
            for c, s, e, sc, a, b in zip(names, starts, ends, proposals["score"].tolist(),
                                         proposals["start_snippet"].tolist(),
                                         proposals["end_snippet"].tolist())]


def localize_video(cas, attention, spec: FeatureSpec, classes: Sequence[str],
                   params: PostProcessing | None = None,
                   ambiguous: Sequence[tuple[float, float]] = ()) -> list[Segment]:
    """Scored segments (seconds) for one video. cas: [T, C+1], attention: [T], classes: C names,
    ambiguous: [(start_s, end_s)] intervals whose overlapping proposals are dropped."""
    cas = np.asarray(cas)
    if cas.ndim != 2 or cas.shape[1] != len(classes) + 1:
        raise ValueError(f"cas has shape {cas.shape}, expected [T, {len(classes) + 1}] for "
                         f"{len(classes)} classes plus background")
    props = localize_snippets(cas, attention, params,
                              ambiguous_to_snippets(spec, ambiguous))
    return proposals_to_segments(props, spec, classes)


# --- display scale (appended for the review window) ---------------------------------------------

def display_scores(cas, attention) -> np.ndarray:
    """The per-class score the review window draws, on a fixed [0, 1] scale.

    cas: [T, C+1] logits (last channel background), attention: [T] in [0, 1] -> [T, C] float32.
    Each snippet's C+1 logits go through a softmax (so a class's value is the probability that
    the snippet shows that class rather than another class or background), the background
    column is dropped, and the result is multiplied by the class-agnostic attention: a class
    curve is high only where the network both attends and names that class. Unlike
    `score_curves` (logits x attention, the test-time score, range e.g. -0.6..8 and different
    per model), this scale is the same for every model and video, so curves, the attention
    curve and threshold lines can share one fixed 0..1 axis. Display only: localization uses
    `score_curves`' units.
    """
    cas, attention = _check_inputs(cas, attention)
    if cas.shape[0] == 0:
        return np.zeros((0, cas.shape[1] - 1), dtype=np.float32)
    e = np.exp(cas - cas.max(axis=1, keepdims=True))
    prob = e / e.sum(axis=1, keepdims=True)
    return np.clip(prob[:, :-1] * np.clip(attention, 0.0, 1.0)[:, None], 0.0, 1.0).astype(np.float32)
