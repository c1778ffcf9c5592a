"""Which stored predictions the review window SHOWS (lanes and segment table): one rule, here.

Why: the test-time protocol (multi-threshold proposals + Gaussian soft-NMS) keeps every proposal
and only decays the scores of overlapping ones, so a video's predictions hold many
near-duplicates with decayed scores (demo_1: 52 predictions, four or more per action). The
store keeps them all (evaluation needs them); the reviewer sees only those whose score reaches
`min_relative` x the best score of the same class in the same video.

Default 0.3: soft-NMS multiplies a proposal's score by exp(-IoU^2 / sigma) (sigma 0.3) for each
better proposal it overlaps, so a duplicate of the best proposal with IoU >= 0.6 and an equal
raw score ends at <= exp(-0.36 / 0.3) = 0.30 of the best: the default hides what soft-NMS
itself marked as a duplicate of the best, and keeps distinct detections of comparable strength.
0 shows everything. The value is a project setting (SETTING_KEY).

It never changes or deletes predictions; it only selects.
"""

from __future__ import annotations

from typing import Iterable, Sequence

SETTING_KEY = "review.min_relative_prediction_score"
DEFAULT_MIN_RELATIVE = 0.3


def class_best(predictions: Iterable) -> dict[str, float]:
    """Best score per class label of `predictions` (objects with .label and .score)."""
    best: dict[str, float] = {}
    for p in predictions:
        s = float(p.score if p.score is not None else 0.0)
        if p.label not in best or s > best[p.label]:
            best[p.label] = s
    return best


def relative_score(score, best: float) -> float:
    """score / best of its class (1.0 for the best; 1.0 when the best is not positive)."""
    s = float(score if score is not None else 0.0)
    return s / best if best > 0 else (1.0 if s >= best else 0.0)


def visible_predictions(predictions: Sequence, min_relative: float) -> list:
    """The predictions shown with threshold `min_relative` in [0, 1] (0: all), stored order kept.

    A prediction is shown when score >= min_relative x (best score of its class in this list);
    when a class's best score is not positive only its best ones are shown."""
    if min_relative <= 0:
        return list(predictions)
    best = class_best(predictions)
    return [p for p in predictions if relative_score(p.score, best[p.label]) >= min_relative - 1e-12]
