"""Ranking review items by model uncertainty (sdanet.uncertainty): numpy only, hand-made curves
on a 1 s snippet grid so each component can be checked against its documented formula."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from sdanet_gui.data.units import FeatureSpec
from sdanet_gui.sdanet.uncertainty import (boundary_flatness, modality_disagreement, outcome_matrix,
                                           rank_items, top2_margin)

SPEC = FeatureSpec(fps=10.0, snippet_frames=10, stride_frames=10)  # snippet i = [i s, i+1 s)
CLASSES = ["a", "b"]


def by_ident(items):
    return {it.ident: it for it in items}


def test_module_does_not_import_torch():
    import subprocess

    code = ("import sys, sdanet_gui.sdanet.uncertainty; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_margin_is_top_two_of_scores_and_the_no_action_remainder():
    s = np.array([[0.6, 0.3], [0.5, 0.0], [0.2, 0.2]])
    p = outcome_matrix(s)
    assert p[:, 2] == pytest.approx([0.1, 0.5, 0.6])  # 1 - sum of the class scores
    assert top2_margin(p) == pytest.approx([0.3, 0.0, 0.4])


def test_a_tied_segment_ranks_before_a_clear_one():
    t = 20
    s = np.zeros((t, 2))
    s[2:6, 0] = 0.9                 # clear "a" in [2, 6): margin 0.9 - 0.1 = 0.8
    s[10:14, 0] = s[10:14, 1] = 0.45  # "a" and "b" tied in [10, 14): margin 0.45 - 0.45 = 0
    items = rank_items([(1, "a", 2.0, 6.0), (2, "a", 10.0, 14.0)], s, CLASSES, SPEC)
    seg = {it.key: it for it in items if it.kind == "segment"}
    assert seg[1].components == {"margin": pytest.approx(1 - 0.8)}
    assert seg[2].components == {"margin": pytest.approx(1 - 0.0)}
    assert seg[2].uncertainty > seg[1].uncertainty
    order = [it.ident for it in items if it.kind == "segment"]
    assert order == [("segment", 2), ("segment", 1)]


def test_flat_boundary_is_more_uncertain_than_a_sharp_step():
    t = 30
    s = np.zeros((t, 2))
    s[5:10, 0] = 0.9                       # sharp: 0 -> 0.9 at snippet 5, 0.9 -> 0 at 10
    s[15:25, 0] = np.linspace(0.1, 0.6, 10)  # a slow ramp up ...
    s[14, 0] = 0.1
    s[25:, 0] = 0.55                      # ... and no drop after the end
    items = by_ident(rank_items([(1, "a", 5.0, 10.0), (2, "a", 15.0, 25.0)], s, CLASSES, SPEC, window=2))
    assert items[("start", 1)].components["flatness"] == pytest.approx(1 - 0.9)
    assert items[("end", 1)].components["flatness"] == pytest.approx(1 - 0.9)
    ramp = s[:, 0]
    contrast = ramp[15:17].mean() - ramp[13:15].mean()
    assert items[("start", 2)].components["flatness"] == pytest.approx(1 - contrast)
    contrast_end = ramp[23:25].mean() - ramp[25:27].mean()
    assert items[("end", 2)].components["flatness"] == pytest.approx(1 - contrast_end)
    assert items[("end", 2)].uncertainty > items[("start", 2)].uncertainty > items[("start", 1)].uncertainty


def test_score_rising_outside_the_segment_is_fully_uncertain_and_the_video_edge_is_not():
    curve = np.array([0.0, 0.0, 0.2, 0.2, 0.9, 0.9])
    assert boundary_flatness(curve, 4, "end", 2) == 1.0    # higher after the "end"
    assert boundary_flatness(curve, 0, "start", 2) == 0.0  # starts at the video's first snippet
    assert boundary_flatness(curve, 6, "end", 2) == 0.0    # ends with the video


def test_modality_disagreement_adds_a_term_and_is_left_out_without_it():
    t = 12
    s = np.zeros((t, 2))
    s[2:8, 0] = 0.6
    s[2:8, 1] = 0.3
    agree = np.full((t, 2), 0.7)
    disagree = agree.copy()
    disagree[2:8, 1] = 0.3          # flow attention much lower inside the segment
    segs = [(7, "a", 2.0, 8.0)]
    plain = by_ident(rank_items(segs, s, CLASSES, SPEC))[("segment", 7)]
    assert plain.components == {"margin": pytest.approx(0.7)}  # 1 - (0.6 - 0.3)
    assert plain.uncertainty == pytest.approx(0.7)
    same = by_ident(rank_items(segs, s, CLASSES, SPEC, agree))[("segment", 7)]
    assert same.components["disagreement"] == pytest.approx(0.0)
    assert same.uncertainty == pytest.approx((0.7 + 0.0) / 2)
    diff = by_ident(rank_items(segs, s, CLASSES, SPEC, disagree))[("segment", 7)]
    assert diff.components["disagreement"] == pytest.approx(0.4)
    assert diff.uncertainty == pytest.approx((0.7 + 0.4) / 2)
    assert diff.reason() == "low margin between the top two classes"
    # one modality, or attention on another grid: the term is absent, not zero
    assert modality_disagreement(agree[:, :1]) is None
    other_grid = by_ident(rank_items(segs, s, CLASSES, SPEC, np.zeros((t + 3, 2))))[("segment", 7)]
    assert "disagreement" not in other_grid.components


def test_without_scores_items_rank_by_confidence_and_have_no_boundaries():
    items = rank_items([(1, "a", 0.0, 2.0, 0.9), (2, "b", 3.0, 4.0, 0.2), (3, "a", 5.0, 6.0)], None, [], None)
    assert [it.ident for it in items] == [("segment", 3), ("segment", 2), ("segment", 1)]
    assert [it.uncertainty for it in items] == pytest.approx([1.0, 0.8, 0.1])


def test_unknown_label_and_column_count_mismatch():
    s = np.full((5, 2), 0.2)
    items = by_ident(rank_items([(1, "zz", 1.0, 3.0)], s, CLASSES, SPEC))
    assert items[("segment", 1)].uncertainty == 1.0 and items[("start", 1)].uncertainty == 1.0
    with pytest.raises(ValueError):
        rank_items([(1, "a", 1.0, 3.0)], np.zeros((5, 3)), CLASSES, SPEC)
