"""Detection mAP: hand-computed cases, the official algorithm's rules, and equality with a plain
per-prediction loop (tests/sdanet/official_reference.py) on random sets with duplicates and
exact ties."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdanet_gui.data.structures import AnnotationSet, Segment, VideoAnnotation
from sdanet_gui.sdanet.evaluation import (ANET_TIOUS, THUMOS_TIOUS, classification_map,
                                          detection_map, format_table, interpolated_ap,
                                          parse_tious, segment_iou)

REPO = Path(__file__).resolve().parents[2]


def _load_reference():
    spec = importlib.util.spec_from_file_location("official_reference", Path(__file__).with_name("official_reference.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


REF = _load_reference()


def gt_set(videos: dict[str, list[tuple[str, float, float]]], ambiguous=None) -> AnnotationSet:
    vids = {name: VideoAnnotation(name, "test", 100.0, [Segment(l, s, e) for l, s, e in segs],
                                  list((ambiguous or {}).get(name, [])))
            for name, segs in videos.items()}
    return AnnotationSet(vids, sorted({l for segs in videos.values() for l, _, _ in segs}))


def preds_of(rows: dict[str, list[tuple[str, float, float, float]]]):
    return {v: [Segment(l, s, e, sc) for l, s, e, sc in segs] for v, segs in rows.items()}


# --- tIoU and thresholds ------------------------------------------------------------------------

def test_tiou_edge_cases():
    gts = np.array([[0.0, 10.0], [10.0, 20.0], [2.0, 4.0], [0.0, 10.0], [30.0, 40.0], [5.0, 5.0]])
    iou = segment_iou([0.0, 10.0], gts)
    assert iou[0] == 1.0                      # identical
    assert iou[1] == 0.0                      # touching at one point: no overlap
    assert iou[2] == pytest.approx(0.2)       # contained: 2 / 10
    assert iou[4] == 0.0                      # disjoint
    assert iou[5] == 0.0                      # zero-length ground truth inside
    assert segment_iou([5.0, 5.0], np.array([[5.0, 5.0]]))[0] == 0.0   # 0/0 is defined as 0
    assert segment_iou([5.0, 15.0], np.array([[0.0, 10.0]]))[0] == pytest.approx(5 / 15)


def test_parse_tious():
    assert parse_tious("0.1:0.7:0.1") == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
    assert parse_tious("0.1:0.7:0.1") == THUMOS_TIOUS
    assert parse_tious("0.5:0.95:0.05") == tuple(round(x, 10) for x in ANET_TIOUS)
    assert parse_tious("0.5, 0.75,0.95") == (0.5, 0.75, 0.95)
    assert parse_tious("0.5") == (0.5,)
    for bad in ("", "a", "0.1:0.7", "0.5:0.1:0.1", "0.1:0.7:0", "1.5", "0,0.5", "-0.1"):
        with pytest.raises(ValueError):
            parse_tious(bad)


# --- AP by hand ----------------------------------------------------------------------------------

def test_interpolated_ap_by_hand():
    # TP, FP, TP with 3 positives: precision 1, 1/2, 2/3 at recall 1/3, 1/3, 2/3
    ap = interpolated_ap(np.array([1.0, 0.5, 2 / 3]), np.array([1 / 3, 1 / 3, 2 / 3]))
    assert ap == pytest.approx(1 / 3 * 1.0 + 1 / 3 * 2 / 3)
    assert interpolated_ap(np.array([0.0]), np.array([0.0])) == 0.0


def test_detection_map_by_hand():
    gt = gt_set({"v1": [("A", 0, 10), ("A", 20, 30)]})
    preds = preds_of({"v1": [("A", 0, 10, 0.9),      # TP (iou 1)
                             ("A", 1, 10, 0.8),      # second hit on a matched GT: FP
                             ("A", 20, 29, 0.7)]})   # iou 0.9: TP up to 0.9
    res = detection_map(gt, preds, [0.5, 0.95])
    assert res.classes == ["A"]
    assert res.ap[0, 0] == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)
    assert res.ap[1, 0] == pytest.approx(0.5)
    assert res.average_map == pytest.approx((0.5 + 2 / 6 + 0.5) / 2)
    assert res.per_class["A"]["0.50"] == pytest.approx(5 / 6)
    assert set(res.to_json_dict()) == {"tiou_thresholds", "mAP", "average_mAP", "per_class"}


def test_prediction_takes_the_unmatched_gt_of_highest_tiou():
    gt = gt_set({"v": [("A", 0, 10), ("A", 8, 18)]})
    # the first prediction overlaps GT2 best; the second can then still match GT1 at 0.5
    preds = preds_of({"v": [("A", 7, 17, 0.9), ("A", 0, 9, 0.8)]})
    res = detection_map(gt, preds, [0.5])
    assert res.ap[0, 0] == pytest.approx(1.0)
    # at 0.9 neither matches
    assert detection_map(gt, preds, [0.95]).ap[0, 0] == 0.0


def test_official_rules_for_foreign_videos_classes_and_ambiguous():
    gt = gt_set({"v1": [("A", 0, 10)], "v2": [("B", 0, 10)]}, ambiguous={"v1": [(50, 60)]})
    base = preds_of({"v1": [("A", 0, 10, 0.5)], "v2": [("B", 0, 10, 0.5)]})
    assert detection_map(gt, base, [0.5]).average_map == 1.0
    # a higher-scored prediction on a video absent from the GT is a false positive (official)
    extra = dict(base, v9=[Segment("A", 0, 10, 0.9)])
    res = detection_map(gt, extra, [0.5])
    assert res.ap[0, res.classes.index("A")] == pytest.approx(0.5)
    assert res.predictions_outside_gt == 1
    # a label without GT is ignored; a GT class without predictions scores 0 and counts
    res = detection_map(gt, preds_of({"v1": [("A", 0, 10, 0.5), ("Z", 0, 10, 0.9)]}), [0.5])
    assert res.classes == ["A", "B"] and res.map[0] == pytest.approx(0.5)
    # 'Ambiguous' labelled segments are not ground truth either
    gt2 = gt_set({"v1": [("A", 0, 10), ("Ambiguous", 20, 30)]})
    assert detection_map(gt2, base, [0.5]).classes == ["A"]


def test_class_order_follows_classes_argument():
    gt = gt_set({"v": [("A", 0, 10), ("B", 20, 30)]})
    res = detection_map(gt, preds_of({"v": [("B", 20, 30, 1.0)]}), [0.5], classes=["B", "A", "C"])
    assert res.classes == ["B", "A"]
    assert list(res.ap[0]) == [1.0, 0.0]
    assert "B" in format_table(res) and "mAP" in format_table(res)


def test_nonfinite_score_is_refused():
    gt = gt_set({"v": [("A", 0, 10)]})
    with pytest.raises(ValueError):
        detection_map(gt, preds_of({"v": [("A", 0, 10, float("nan"))]}), [0.5])


def test_empty_predictions():
    gt = gt_set({"v": [("A", 0, 10)]})
    res = detection_map(gt, {}, THUMOS_TIOUS)
    assert res.average_map == 0.0 and res.ap.shape == (7, 1)


# --- equality with the plain loop ----------------------------------------------------------------

def _compare_with_reference(gt, preds, tious):
    res = detection_map(gt, preds, tious)
    classes, ref = REF.reference_detection_map(gt, preds, tious)
    assert sorted(res.classes) == sorted(classes)
    cols = [res.classes.index(c) for c in classes]
    np.testing.assert_allclose(res.ap[:, cols], ref, atol=1e-12, rtol=0)


seg_st = st.tuples(st.sampled_from("ABC"), st.integers(0, 30), st.integers(1, 12))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gt_rows=st.dictionaries(st.sampled_from(["v1", "v2", "v3"]), st.lists(seg_st, min_size=1, max_size=6),
                               min_size=1),
       pred_rows=st.dictionaries(st.sampled_from(["v1", "v2", "v3", "v4"]),
                                 st.lists(st.tuples(seg_st, st.sampled_from([0.1, 0.5, 0.5, 0.9, 1.0]),
                                                    st.booleans()), max_size=25)),
       tious=st.sampled_from([THUMOS_TIOUS, tuple(ANET_TIOUS), (0.3,), (0.05, 0.5, 1.0)]))
def test_equals_reference_loop_with_duplicates_and_ties(gt_rows, pred_rows, tious):
    gt = gt_set({v: [(l, s, s + n) for l, s, n in segs] for v, segs in gt_rows.items()})
    preds = {}
    for v, rows in pred_rows.items():
        out = []
        for (l, s, n), score, dup in rows:
            out.append(Segment(l, float(s), float(s + n), score))
            if dup:                                   # exact duplicate
                out.append(Segment(l, float(s), float(s + n), score))
        preds[v] = out
    _compare_with_reference(gt, preds, list(tious))


def test_equals_reference_on_a_large_random_set():
    rng = np.random.default_rng(3)
    gt_rows, pred_rows = {}, {}
    for v in range(12):
        name = f"v{v}"
        starts = rng.uniform(0, 200, 15)
        gt_rows[name] = [(str(rng.choice(["A", "B", "C"])), float(s), float(s + rng.uniform(1, 20)))
                         for s in starts]
        rows = []
        for lab, s, e in gt_rows[name]:
            for _ in range(8):
                js, je = rng.normal(0, 2, 2)
                rows.append((lab, s + js, max(s + js + 0.1, e + je), float(np.round(rng.random(), 2))))
        rows += [(str(rng.choice(["A", "B", "C"])), float(a), float(a + 5), float(np.round(rng.random(), 2)))
                 for a in rng.uniform(0, 200, 30)]
        pred_rows[name] = rows
    _compare_with_reference(gt_set(gt_rows), preds_of(pred_rows), list(THUMOS_TIOUS))


# --- real ground truth ---------------------------------------------------------------------------

def test_real_thumos_gt_perfectly_predicted_scores_one(shared_data):
    from sdanet_gui.data.annotations import load_annotations

    gt = load_annotations(shared_data / "annotations" / "thumos14_cmcs" / "test")
    preds = {n: [Segment(s.label, s.start, s.end, 1.0) for s in v.segments] for n, v in gt.videos.items()}
    res = detection_map(gt, preds, THUMOS_TIOUS)
    assert len(res.classes) == 20 and sum(res.num_ground_truth.values()) == 3358
    np.testing.assert_array_equal(res.map, np.ones(7))
    # dropping half the instances of one class halves that class's recall and AP
    cls = res.classes[0]
    kept = {n: [s for i, s in enumerate(v) if s.label != cls or i % 2 == 0] for n, v in preds.items()}
    half = detection_map(gt, kept, [0.5])
    n_kept = sum(1 for v in kept.values() for s in v if s.label == cls)
    assert half.ap[0, 0] == pytest.approx(n_kept / res.num_ground_truth[cls])


# --- classification mAP --------------------------------------------------------------------------

def test_classification_map_by_hand():
    labels = np.array([[1, 0], [0, 1], [1, 0], [0, 0]])
    scores = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.05], [0.1, 0.9]])
    # class 0: ranking 1,1(no),1,0 -> hits at ranks 1 and 3: (1 + 2/3) / 2
    # class 1: ranking by 0.9 (no), 0.2 (yes) -> 1/2
    assert classification_map(labels, scores) == pytest.approx(((1 + 2 / 3) / 2 + 0.5) / 2)
    assert classification_map(labels, labels.astype(float)) == 1.0
    with pytest.raises(ValueError):
        classification_map(labels, scores[:, :1])


# --- the official evaluator's own tie and 0/0 rules ----------------------------------------------

def test_equal_tiou_ground_truths_are_tried_later_one_first():
    """A prediction [5, 15] overlaps GT [0, 10] and GT [10, 20] equally (1/3). The official code
    tries them in `tiou.argsort()[::-1]` order; numpy sorts two elements stably, so the LATER
    ground truth is matched. The next prediction [10, 20] then finds its own GT taken: a false
    positive (AP 0.5); the earlier-first rule would have matched both (AP 1.0)."""
    assert list(np.argsort(np.array([1 / 3, 1 / 3]))[::-1]) == [1, 0]
    gt = gt_set({"v": [("A", 0, 10), ("A", 10, 20)]})
    preds = preds_of({"v": [("A", 5, 15, 0.9), ("A", 10, 20, 0.8)]})
    res = detection_map(gt, preds, [0.3])
    assert res.ap[0, 0] == pytest.approx(0.5)
    _compare_with_reference(gt, preds, [0.3])


def test_exact_score_ties_follow_the_official_sort():
    """Two predictions of one score: the official `scores.argsort()[::-1]` puts the later one
    first (a true positive here), so precision starts at 1 (AP 1.0, not 0.5)."""
    gt = gt_set({"v": [("A", 0, 10)]})
    preds = preds_of({"v": [("A", 50, 60, 0.5), ("A", 0, 10, 0.5)]})
    assert detection_map(gt, preds, [0.5]).ap[0, 0] == pytest.approx(1.0)
    _compare_with_reference(gt, preds, [0.5])


def test_zero_over_zero_matches_as_in_the_official_code():
    """The official tIoU of a zero-length prediction and a zero-length GT is 0/0 = NaN, which
    passes every threshold; so is that of a reversed prediction whose negative length cancels a
    GT's. Any other reversed prediction is a false positive."""
    gt = gt_set({"v": [("A", 5, 5), ("B", 3, 8)]})
    hits = preds_of({"v": [("A", 70, 70, 0.9), ("B", 10, 5, 0.9)]})
    res = detection_map(gt, hits, [0.5, 0.95])
    np.testing.assert_array_equal(res.ap, np.ones((2, 2)))
    _compare_with_reference(gt, hits, [0.5, 0.95])
    miss = preds_of({"v": [("B", 10, 4, 0.9), ("B", 3, 8, 0.5)]})
    res = detection_map(gt, miss, [0.5])
    assert res.ap[0, res.classes.index("B")] == pytest.approx(0.5)
    _compare_with_reference(gt, miss, [0.5])


def test_more_than_sixteen_tied_ground_truths_follow_numpys_own_order():
    """20 identical ground truths (a real ActivityNet file repeats instances): every prediction
    ties on all of them, and numpy's sort of 20 equal values is not a simple rule on every
    CPU; the numbers still equal the plain loop's, which calls that sort itself."""
    gt = gt_set({"v": [("A", 0, 10)] * 20 + [("A", 30, 40)] * 3})
    rows = [("A", 0, 10, 0.9 - 0.01 * i) for i in range(12)] + [("A", 1, 11, 0.5)] * 4
    rows += [("A", 31, 40, 0.5)] * 5 + [("A", 0, 0, 0.4), ("A", 12, 2, 0.3)]
    _compare_with_reference(gt, preds_of({"v": rows}), list(THUMOS_TIOUS))


def test_real_thumos_gt_with_tied_predictions_equals_the_plain_loop(shared_data):
    """The real THUMOS14 test ground truth (1-decimal times, dense videos) with predictions on
    the same 0.1 s grid and 2-decimal scores: ties in score and in tIoU happen as in real result
    files, and the numbers equal the plain loop's."""
    from sdanet_gui.data.annotations import load_annotations

    gt = load_annotations(shared_data / "annotations" / "thumos14_cmcs" / "test")
    rng = np.random.default_rng(7)
    preds, ties = {}, 0
    for name, video in list(gt.videos.items())[:60]:
        rows = []
        segs = video.segments
        for i, s in enumerate(segs):
            for _ in range(3):
                a, b = np.round(np.array([s.start, s.end]) + rng.normal(0, 1.0, 2), 1)
                rows.append((s.label, float(min(a, b)), float(max(a, b)), float(np.round(rng.random(), 2))))
            if i and segs[i - 1].label == s.label:   # centred between two neighbours
                mid = round((segs[i - 1].end + s.start) / 2, 1)
                rows.append((s.label, mid - 1.0, mid + 1.0, 0.99))
                ties += 1
        preds[name] = rows
    assert ties > 50
    _compare_with_reference(gt, preds_of(preds), list(THUMOS_TIOUS))
