"""Scores from a real (small, untrained) SDANet checkpoint on the bundled demo features, computed
in the worker thread and shown on the timeline; the demo opens as a ready review."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sdanet_gui.bundled import resource_files

from .conftest import write_wrong_features

DEMO = Path(str(resource_files() / "demo"))
CLASSES = ["Flash", "Slide", "Grow", "Spin"]


def test_the_demo_opens_as_a_ready_review_with_scores_and_predictions(qtbot, window, checkpoint, monkeypatch):
    monkeypatch.setattr("sdanet_gui.bundled.model_files", lambda: checkpoint.parent)
    window.opening.open_demo()
    qtbot.waitUntil(lambda: window.review is not None and window.review.player.shown_frame == 0, timeout=20000)
    qtbot.waitUntil(lambda: len(window.session.scored_videos()) == 3, timeout=60000)
    project = window.project
    assert sorted(v.name for v in project.videos()) == ["demo_1", "demo_2", "demo_3"]
    assert project.classes()[:4] == CLASSES
    tl = window.review.timeline
    assert tl.classes[:4] == CLASSES and tl.curve_classes  # curves drawn for the classes
    assert not tl.no_scores_label.isVisible()
    result = window.session.result(project.video(window.current_video_id).name)
    assert result.cas.shape == (70, 5) and result.attention.shape == (70,)
    # predictions of the model are stored (frames) and drawn in the lanes as predicted segments
    preds = project.predicted_segments(window.current_video_id)
    assert len(preds) == len([s for s in result.segments
                              if project.seconds_to_frames(window.current_video_id, s.start, s.end)[1]
                              > project.seconds_to_frames(window.current_video_id, s.start, s.end)[0]])
    # the display filter (>= 0.3 x the class's best score) hides soft-NMS's decayed duplicates
    best = {}
    for p in preds:
        best[p.label] = max(best.get(p.label, -np.inf), p.score)
    shown_ids = {-p.id for p in preds if p.score >= 0.3 * best[p.label] - 1e-12}
    drawn = sum(int((lane.kinds == 0).sum()) for lane in tl.lanes)
    assert 0 < drawn == len(shown_ids) < len(preds)
    assert {int(i) for lane in tl.lanes for i in lane.ids[lane.kinds == 0]} == shown_ids
    assert window.segment_table.rowCount() == len(shown_ids)
    # curves on the fixed 0..1 display scale, y axis fixed at 0..1
    values = tl.score_curves.values
    assert values.shape[1] == len(tl.curve_classes) + 1 and 0.0 <= values.min() and values.max() <= 1.0
    assert tl.score_plot.vb.viewRange()[1] == pytest.approx([0.0, 1.04])


def test_a_checkpoint_that_does_not_fit_the_features_is_reported(qtbot, window, checkpoint, tmp_path, monkeypatch):
    errors = []
    monkeypatch.setattr("sdanet_gui.ui.shell.main_window.show_error", lambda *a, **k: errors.append(a[2]))
    wrong = write_wrong_features(tmp_path / "demo_1.h5")
    window.session.score(checkpoint, {"demo_1": wrong})
    qtbot.waitUntil(lambda: bool(errors), timeout=60000)
    assert "demo_1.h5" in errors[0] and "expects [T, 256]" in errors[0]
