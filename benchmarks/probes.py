"""What the ablation and the training-curve benchmarks measure on a trained model's scores.

One module so that both report the same quantities (numpy only; it must not import
`sdanet_gui`, since `training_curve.py --code DIR` chooses the checkout first).
"""

from __future__ import annotations

import numpy as np


def roc_auc(scores, positive) -> float:
    """ROC AUC, ties counting one half (Mann-Whitney U); NaN without both classes.
    scores [N], positive [N] bool."""
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse]    # average 1-based rank
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def foreground(spec, video) -> np.ndarray:
    """[T] bool: the snippets inside one of the video's annotated segments (`spec` a FeatureSpec)."""
    inside = np.zeros(video.num_snippets, dtype=bool)
    for seg in video.annotation.segments:
        lo = int(round(float(spec.seconds_to_snippet(seg.start))))
        hi = int(round(float(spec.seconds_to_snippet(seg.end))))
        inside[lo:hi] = True
    return inside
