"""How far a held-out figure can be trusted (sdanet/held_out.py) and the re-weighted AP it rests
on (evaluation.match_detections / weighted_average_precision): counting a video twice must give
exactly what evaluating a copy of it under another name gives, and the bootstrap interval must
say "no difference" for identical models and be seeded."""

from __future__ import annotations

import numpy as np
import pytest

from sdanet_gui.data.structures import AnnotationSet, Segment, VideoAnnotation
from sdanet_gui.sdanet.evaluation import THUMOS_TIOUS, detection_map, match_detections
from sdanet_gui.sdanet.held_out import HeldOutReport, compare_on_held_out

CLASSES = ["a", "b", "c"]


def random_set(seed: int, videos: int = 8):
    rng = np.random.default_rng(seed)
    gt, preds = {}, {}
    for v in range(videos):
        name = f"v{v}"
        segs = []
        for _ in range(int(rng.integers(0, 5))):
            s = float(rng.uniform(0, 100))
            segs.append(Segment(CLASSES[int(rng.integers(3))], s, s + float(rng.uniform(1, 10))))
        gt[name] = VideoAnnotation(name, segments=segs)
        p = []
        for g in segs:   # some near hits, so that the APs are not all 0
            if rng.random() < 0.7:
                p.append(Segment(g.label, g.start + float(rng.normal(0, 1)), g.end + float(rng.normal(0, 1)),
                                 score=float(rng.random())))
        for _ in range(int(rng.integers(0, 12))):
            s = float(rng.uniform(0, 100))
            p.append(Segment(CLASSES[int(rng.integers(3))], s, s + float(rng.uniform(1, 10)),
                             score=float(rng.random())))
        preds[name] = p
    preds["not_held_out"] = [Segment("a", 1.0, 5.0, score=0.99)]
    return AnnotationSet(gt, CLASSES), preds


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reweighted_ap_equals_evaluating_copies_of_the_videos(seed):
    gt, preds = random_set(seed)
    res = detection_map(gt, preds, THUMOS_TIOUS, classes=CLASSES)
    m = match_detections(gt, preds, THUMOS_TIOUS, classes=CLASSES)
    np.testing.assert_allclose(m.average_precision(), res.ap, atol=1e-12)
    # v0 twice and v3 not at all == a copy of v0 under another name, v3 left out
    videos = dict(gt.videos)
    videos["copy"] = VideoAnnotation("copy", segments=list(gt.videos["v0"].segments))
    del videos["v3"]
    twice = dict(preds)
    twice["copy"] = [Segment(s.label, s.start, s.end, score=s.score) for s in preds["v0"]]
    del twice["v3"]
    ref = detection_map(AnnotationSet(videos, CLASSES), twice, THUMOS_TIOUS, classes=CLASSES)
    w = np.ones(len(m.videos))
    w[m.videos.index("v0")], w[m.videos.index("v3")] = 2.0, 0.0
    ap = m.average_precision(w)
    present = [m.classes.index(c) for c in ref.classes]
    np.testing.assert_allclose(ap[:, present], ref.ap, atol=1e-12)


def test_identical_models_differ_by_nothing_and_the_interval_is_seeded():
    gt, preds = random_set(5)
    same = compare_on_held_out(gt, preds, preds, THUMOS_TIOUS, CLASSES, resamples=300, seed=1)
    assert same.before == same.after and same.interval == [0.0, 0.0]
    assert same.videos == 8 and same.names == list(gt.videos)
    assert same.segments == sum(len(v.segments) for v in gt.videos.values())
    worse = {k: v[: len(v) // 2] for k, v in preds.items()}
    a = compare_on_held_out(gt, worse, preds, THUMOS_TIOUS, CLASSES, resamples=300, seed=1)
    b = compare_on_held_out(gt, worse, preds, THUMOS_TIOUS, CLASSES, resamples=300, seed=1)
    assert a == b and a.interval_of == "after - before"
    assert a.after == pytest.approx(detection_map(gt, worse, THUMOS_TIOUS, CLASSES).average_map)
    assert a.interval[0] <= a.interval[1]
    for name, c in a.per_class.items():
        assert c.segments == sum(1 for v in gt.videos.values() for s in v.segments if s.label == name)
    assert HeldOutReport.from_dict(a.to_dict()) == a


def test_without_a_model_to_compare_the_interval_is_that_of_the_figure_itself():
    gt, preds = random_set(3)
    r = compare_on_held_out(gt, preds, None, THUMOS_TIOUS, CLASSES, resamples=200)
    assert r.before is None and r.interval_of == "after" and r.difference is None
    assert 0.0 <= r.interval[0] <= r.interval[1] <= 1.0 and r.after > 0
    empty = compare_on_held_out(AnnotationSet({}, CLASSES), preds, preds, THUMOS_TIOUS, CLASSES)
    assert (empty.videos, empty.after, empty.interval) == (0, None, None)
