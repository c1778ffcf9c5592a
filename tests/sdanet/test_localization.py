"""Proposal generation: planted actions come back as segments in seconds, the family's scoring
rules hold (checked against plain loops written from their definition), soft-NMS equals the
sequential algorithm, ambiguous intervals are avoided."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdanet_gui.data.units import FeatureSpec
from sdanet_gui.sdanet.localization import (PROPOSAL_DTYPE, PostProcessing, group_runs,
                                            localize_snippets, localize_video, outer_inner_scores,
                                            score_curves, smooth, soft_nms_reference,
                                            soft_nms_scores, video_scores)

SPEC = FeatureSpec(fps=25.0, snippet_frames=16, stride_frames=16)   # 0.64 s per snippet
CLASSES = ["Jump", "Run", "Throw"]


def clean_video(t=200, plants=((1, 20, 40), (2, 100, 130)), c=3):
    """CAS [t, c+1] and attention [t] with clean planted actions (class, start, end snippet)."""
    cas = np.full((t, c + 1), -2.0)
    cas[:, -1] = 2.0
    att = np.full(t, 0.02)
    for k, s, e in plants:
        att[s:e] = 0.95
        cas[s:e, k] = 4.0
        cas[s:e, -1] = -2.0
    return cas, att


def test_planted_segments_are_recovered_in_seconds():
    cas, att = clean_video()
    segs = localize_video(cas, att, SPEC, CLASSES, PostProcessing())
    assert {s.label for s in segs} == {"Run", "Throw"}
    for label, s, e in (("Run", 20, 40), ("Throw", 100, 130)):
        best = max((x for x in segs if x.label == label), key=lambda x: x.score)
        assert best.start == pytest.approx(s * 0.64) and best.end == pytest.approx(e * 0.64)
        assert best.meta == {"start_snippet": s, "end_snippet": e}
    assert all(x.score is not None for x in segs)
    # another grid (stride 8 frames at 30 fps) scales the seconds, nothing else
    spec2 = FeatureSpec(fps=30.0, snippet_frames=16, stride_frames=8)
    segs2 = localize_video(cas, att, spec2, CLASSES, PostProcessing())
    best = max(segs2, key=lambda x: x.score)
    n_snippets = best.meta["end_snippet"] - best.meta["start_snippet"]
    assert best.end - best.start == pytest.approx(n_snippets * 8 / 30)


def test_score_curves_and_video_scores_follow_the_family_definition():
    rng = np.random.default_rng(0)
    cas, att = rng.normal(size=(57, 4)), rng.random(57)
    np.testing.assert_allclose(score_curves(cas, att), cas[:, :3] * att[:, None])
    w = cas * att[:, None]
    k = 57 // 10
    top = np.sort(w, axis=0)[-k:].mean(axis=0)
    expected = np.exp(top) / np.exp(top).sum()
    np.testing.assert_allclose(video_scores(cas, att), expected[:3])
    # very short videos still use one snippet
    np.testing.assert_allclose(video_scores(cas[:3], att[:3]).sum() <= 1.0, True)


def test_group_runs_matches_a_plain_loop():
    rng = np.random.default_rng(1)
    att = np.clip(np.convolve(rng.random(300), np.ones(5) / 5, mode="same") + rng.normal(0, 0.05, 300), 0, 1)
    thr = [0.3, 0.5, 0.7]
    li, s, e = group_runs(att, thr)
    expected = []
    for i, th in enumerate(thr):
        run = None
        for t in range(len(att) + 1):
            on = t < len(att) and att[t] > th
            if on and run is None:
                run = t
            if not on and run is not None:
                expected.append((i, run, t))
                run = None
    assert list(zip(li.tolist(), s.tolist(), e.tolist())) == expected


def _oic_plain(w, s, e, ratio):
    """get_proposal_oic_2's score without the video term, transcribed as a loop."""
    group = list(range(s, e))
    inner = np.mean(w[group])
    ln = len(group)
    outer_s = max(0, int(group[0] - ratio * ln))
    outer_e = min(int(w.shape[0] - 1), int(group[-1] + ratio * ln))
    outer = list(range(outer_s, group[0])) + list(range(group[-1] + 1, outer_e + 1))
    return inner - (np.mean(w[outer]) if outer else 0.0)


def test_outer_inner_contrast_matches_the_family_loop():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(60, 2))
    starts = np.array([0, 0, 3, 10, 55, 59, 20, 1])
    ends = np.array([1, 60, 7, 30, 60, 60, 21, 2])
    got = outer_inner_scores(w, starts, ends, 0.25)
    for i, (s, e) in enumerate(zip(starts, ends)):
        for c in range(2):
            assert got[i, c] == pytest.approx(_oic_plain(w[:, c], s, e, 0.25))


def test_soft_nms_decays_overlapping_scores_only():
    starts, ends = np.array([0, 2, 50]), np.array([10, 10, 60])
    out = soft_nms_scores(starts, ends, np.array([0.9, 0.8, 0.7]), sigma=0.3)
    inter = 10 - 2 + 1                                   # the family's +1 convention
    iou = inter / (11 + 9 - inter)
    assert out[0] == 0.9
    assert out[1] == pytest.approx(0.8 * np.exp(-iou ** 2 / 0.3))
    assert out[2] == 0.7
    # a duplicate keeps the best score once, the copy is decayed by exp(-1/sigma)
    dup = soft_nms_scores(np.array([5, 5]), np.array([9, 9]), np.array([0.6, 0.6]), 0.3)
    assert sorted(dup) == pytest.approx([0.6 * np.exp(-1 / 0.3), 0.6])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 25), st.integers(1, 9),
                          st.sampled_from([-0.4, 0.0, 0.2, 0.5, 0.5, 0.9, 1.3])), min_size=1, max_size=30),
       st.sampled_from([0.1, 0.3, 1.0]))
def test_soft_nms_equals_the_sequential_algorithm(rows, sigma):
    rows = sorted(rows, key=lambda r: (r[0], r[0] + r[1]))
    s = np.array([r[0] for r in rows])
    e = s + np.array([r[1] for r in rows])
    sc = np.array([r[2] for r in rows])
    np.testing.assert_allclose(soft_nms_scores(s, e, sc, sigma), soft_nms_reference(s, e, sc, sigma),
                               rtol=1e-12, atol=1e-12)


def test_soft_nms_negative_scores_keep_the_sequential_order():
    # A decay raises a negative score: picking [17, 20) early would lift [16, 19) above
    # [14, 16) and change its final score (a case found by random search, kept as a regression).
    s = np.array([8, 9, 10, 11, 14, 14, 15, 15, 16, 17, 18, 18, 18])
    e = np.array([15, 13, 14, 20, 16, 16, 21, 23, 19, 20, 22, 23, 24])
    sc = np.array([0.7, 1.0, -0.2, -0.2, -0.5, 0.3, -0.5, 1.0, -0.5, -0.5, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(soft_nms_scores(s, e, sc, 0.3), soft_nms_reference(s, e, sc, 0.3),
                               rtol=1e-12, atol=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 60))
        s = np.sort(rng.integers(0, 40, n))
        e = s + rng.integers(1, 12, n)
        o = np.lexsort((e, s))
        s, e = s[o], e[o]
        sc = rng.normal(size=n)
        np.testing.assert_allclose(soft_nms_scores(s, e, sc, 0.3), soft_nms_reference(s, e, sc, 0.3),
                                   rtol=1e-12, atol=1e-12)


def test_ambiguous_intervals_drop_overlapping_proposals():
    cas, att = clean_video()
    params = PostProcessing()
    # (30 .. 33 s) covers snippets 47-51: overlaps nothing planted -> no change
    far = localize_video(cas, att, SPEC, CLASSES, params, ambiguous=[(30.0, 33.0)])
    base = localize_video(cas, att, SPEC, CLASSES, params)
    assert len(far) == len(base)
    # (70 .. 72 s) = snippets 109..112 lies inside the planted Throw [100, 130): all Throw gone
    near = localize_video(cas, att, SPEC, CLASSES, params, ambiguous=[(70.0, 72.0)])
    assert not [s for s in near if s.label == "Throw" and s.start < 72.0 and s.end > 70.0]
    assert any(s.label == "Run" for s in near)
    off = PostProcessing(filter_ambiguous=False)
    assert len(localize_video(cas, att, SPEC, CLASSES, off, ambiguous=[(70.0, 72.0)])) == len(base)


def test_localize_snippets_structure_and_limits():
    cas, att = clean_video()
    props = localize_snippets(cas, att, PostProcessing())
    assert props.dtype == PROPOSAL_DTYPE
    assert np.all(np.diff(props["score"]) <= 0)
    assert np.all(props["end_snippet"] - props["start_snippet"] >= 2)
    top1 = localize_snippets(cas, att, PostProcessing(max_proposals_per_video=1))
    assert len(top1) == 1 and top1[0] == props[0]
    forced = localize_snippets(cas, att, PostProcessing(), classes=[0])
    assert set(forced["class"].tolist()) == {0}
    # one-snippet actions survive only when min_length allows it
    c1, a1 = clean_video(plants=((0, 50, 51),))
    assert len(localize_snippets(c1, a1, PostProcessing())) == 0
    assert len(localize_snippets(c1, a1, PostProcessing(min_length_snippets=1))) > 0


def test_smoothing_is_a_zero_padded_average_pool():
    x = np.arange(6.0)
    np.testing.assert_allclose(smooth(x, 3), [1 / 3, 1, 2, 3, 4, 3])
    assert smooth(x, 1) is x


def test_bad_shapes_are_refused():
    cas, att = clean_video()
    with pytest.raises(ValueError):
        localize_video(cas[:, :3], att, SPEC, CLASSES)
    with pytest.raises(ValueError):
        localize_snippets(cas, att[:-1])


def test_params_from_config_and_dict_roundtrip():
    from sdanet_gui.sdanet.config import SDANetConfig

    cfg = SDANetConfig()
    cfg.post.nms_sigma = 0.5
    cfg.post.max_proposals = 7
    p = PostProcessing.from_config(cfg)
    assert p.nms_sigma == 0.5 and p.max_proposals_per_video == 7
    assert len(p.attention_thresholds) == 10
    assert PostProcessing.from_dict(p.to_dict()) == p
    assert PostProcessing.from_config({"post": {"class_threshold": 0.1}}).class_threshold == 0.1
    assert PostProcessing.from_config(None) == PostProcessing()


def test_localized_planted_actions_evaluate_to_full_map():
    """Localize several clean synthetic videos (one action class each, several instances),
    evaluate against the planted ground truth: every instance found, duplicates ranked last."""
    from sdanet_gui.data.structures import AnnotationSet, Segment, VideoAnnotation
    from sdanet_gui.sdanet.evaluation import THUMOS_TIOUS, detection_map

    rng = np.random.default_rng(5)
    videos, preds = {}, {}
    for v in range(4):
        plants, at = [], int(rng.integers(5, 15))
        while at < 260:
            ln = int(rng.integers(3, 25))
            plants.append((v % 3, at, at + ln))
            at += ln + int(rng.integers(10, 30))
        cas, att = clean_video(t=300, plants=plants)
        name = f"video_{v}"
        gt_segs = [Segment(CLASSES[k], SPEC.snippet_to_seconds(s), SPEC.snippet_to_seconds(e))
                   for k, s, e in plants]
        videos[name] = VideoAnnotation(name, "test", 300 * 0.64, gt_segs)
        preds[name] = localize_video(cas, att, SPEC, CLASSES, PostProcessing())
    res = detection_map(AnnotationSet(videos, CLASSES), preds, THUMOS_TIOUS)
    np.testing.assert_allclose(res.map, 1.0)
