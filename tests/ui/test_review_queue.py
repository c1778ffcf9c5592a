"""The review queue and review-state keys on a real video, a real project store and real
predictions: N walks predicted segments / boundaries most uncertain first, the count drops as
a human deals with them, Shift+Enter confirms what is in view as one undo step, R / Ctrl+D set
the review state (undoable)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from sdanet_gui.data.units import FeatureSpec
from sdanet_gui.jobs.scoring import VideoResult

K = Qt.Key
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
CLASSES = ["arm wrestling", "cheering", "talking"]
SPEC = FeatureSpec(fps=28.0, snippet_frames=7, stride_frames=7)  # 0.25 s snippets, 40 on the demo


def model_result():
    """Scores shaped so the uncertainty order is known by construction (0.25 s snippets):
    P1 arm wrestling 1-3 s: clear class, but RGB and flow attention disagree (0.8) inside;
    P2 cheering 5-7 s: cheering and talking tied (no margin);
    P3 talking 7.5-9 s: clear, but the score only drops from 0.98 to 0.59 after its end."""
    t = 40
    cas = np.zeros((t, 4), np.float32)
    cas[:, 3] = 5.0                        # background everywhere else
    att = np.full(t, 0.05, np.float32)
    cas[4:12] = [5, 0, 0, 0]
    att[4:12] = 1.0
    cas[20:28] = [0, 5, 5, 0]
    att[20:28] = 1.0
    cas[30:] = [0, 0, 5, 0]
    att[30:36] = 1.0
    att[36:] = 0.6
    modal = np.full((t, 2), 0.5, np.float32)
    modal[4:12] = [1.0, 0.2]
    return VideoResult("demo", cas, att, SPEC, list(CLASSES), modality_attention=modal)


@pytest.fixture
def preds(review, project):
    """Three stored predictions of a model version (frames at 28 fps), scores shown."""
    mv = project.add_model_version("test-model")
    project.add_predictions(mv.id, project.video_id, [
        ("arm wrestling", 28, 84, 1.0), ("cheering", 140, 196, 0.9), ("talking", 210, 252, 0.8)])
    review.editor.refresh()
    review.show_model_result(model_result())
    ids = {p.label: p.id for p in project.predicted_segments(project.video_id)}
    return ids["arm wrestling"], ids["cheering"], ids["talking"]


def human_sources(project):
    return sorted(s.source_prediction_id for s in project.segments(project.video_id))


def test_n_walks_items_most_uncertain_first_and_the_count_drops(qtbot, review, project, preds):
    p1, p2, p3 = preds
    assert review.queue_label.text() == "9 of 9 left"  # 3 predictions x (segment + 2 boundaries)
    review.timeline.set_x_range(0.0, 2.0)
    messages = []
    review.status.connect(messages.append)
    qtbot.keyClick(review, K.Key_N)
    assert messages[-1].endswith("; 9 of 9 left")    # the status line and the bar say the same
    # the tie: P2's segment first; it is selected, the player is on its first frame, and the
    # timeline moved to show it
    assert review.queue.current == ("segment", p2)
    assert review.editor.selected_id == -p2 and review.player.position == 140
    lo, hi = review.timeline.x_range()
    assert lo <= 5.0 and hi >= 7.0
    qtbot.keyClick(review, K.Key_N)
    assert review.queue.current == ("segment", p1)  # modality disagreement
    qtbot.keyClick(review, K.Key_N)
    assert review.queue.current == ("end", p3)  # flat score after the end
    assert review.player.position == 251  # the last frame of P3
    qtbot.keyClick(review, K.Key_N, SHIFT)
    assert review.queue.current == ("segment", p1)

    qtbot.keyClick(review, K.Key_Return)  # accept P1 (selected): its 3 items are done
    assert human_sources(project) == [p1]
    assert review.queue_label.text() == "6 of 9 left"
    qtbot.keyClick(review, K.Key_N)  # the next unresolved after P1's segment
    assert review.queue.current == ("end", p3)
    assert messages[-1].endswith("; 6 of 9 left") and review.queue_label.text() == "6 of 9 left"
    qtbot.keyClick(review, K.Key_Return)
    assert review.queue_label.text() == "3 of 9 left"
    qtbot.keyClick(review, K.Key_Z, CTRL)
    assert review.queue_label.text() == "6 of 9 left"


def test_without_scores_the_queue_ranks_by_prediction_score(qtbot, review, project):
    mv = project.add_model_version("m")
    project.add_predictions(mv.id, project.video_id, [
        ("arm wrestling", 28, 84, 2.0), ("arm wrestling", 100, 130, 1.0), ("talking", 210, 252, 0.8)])
    review.editor.refresh()
    ids = [p.id for p in project.predicted_segments(project.video_id)]
    assert review.queue_label.text() == "3 of 3 left"  # segments only: no curves for boundaries
    qtbot.keyClick(review, K.Key_N)
    assert review.queue.current == ("segment", ids[1])  # half its class's best score


def test_confirm_all_in_view_accepts_exactly_the_visible_predictions_in_one_undo(qtbot, review, project, preds):
    p1, p2, p3 = preds
    review.timeline.set_x_range(0.5, 8.0)  # P1 [1, 3] and P2 [5, 7] inside, P3 [7.5, 9] cut
    before = review.editor.undo_stack.count()
    qtbot.keyClick(review, K.Key_Return, SHIFT)
    assert human_sources(project) == sorted([p1, p2])
    assert all(s.provenance == "accepted-prediction" for s in project.segments(project.video_id))
    assert review.editor.undo_stack.count() == before + 1
    assert review.queue_label.text() == "3 of 9 left"
    qtbot.keyClick(review, K.Key_Z, CTRL)
    assert project.segments(project.video_id) == []
    assert review.queue_label.text() == "9 of 9 left"
    qtbot.keyClick(review, K.Key_Z, CTRL | SHIFT)
    assert human_sources(project) == sorted([p1, p2])


def test_reviewed_to_playhead_done_and_human_segments_resolve_items(qtbot, review, project, preds):
    vid = project.video_id
    review.player.seek_frame(100)  # past P1 (ends at 84), before P2 (starts at 140)
    qtbot.keyClick(review, K.Key_R)
    state = project.review_state(vid)
    assert (state.state, state.reviewed_to) == ("partial", 101)
    assert review.queue_label.text() == "6 of 9 left"  # P1 lies inside the reviewed span
    qtbot.keyClick(review, K.Key_D, CTRL)
    assert project.review_state(vid).state == "done"
    assert review.queue_label.text() == "0 of 9 left"
    qtbot.keyClick(review, K.Key_N)
    assert review.queue.current is None  # nothing left to visit
    qtbot.keyClick(review, K.Key_Z, CTRL)
    assert project.review_state(vid).state == "partial"
    qtbot.keyClick(review, K.Key_Z, CTRL)
    assert project.review_state(vid).state == "unreviewed"
    assert review.queue_label.text() == "9 of 9 left"
    # a segment the human drew over a prediction (same class, IoU 54/56) resolves it
    from sdanet_gui.project.commands import AddSegment

    review.editor.push(AddSegment(vid, "arm wrestling", 30, 84))
    assert review.queue_label.text() == "6 of 9 left"
    assert all(it.key != preds[0] for it in review.queue.pending())


def test_the_scoring_worker_reports_per_modality_attention_the_queue_uses(qtbot, checkpoint):
    """A real (untrained) checkpoint on the bundled demo features: VideoResult carries the
    network's RGB and flow attention [T, 2] (their mean is the fused attention), and the
    ranking of its predicted segments gets the disagreement term from it."""
    from pathlib import Path

    from sdanet_gui.bundled import resource_files
    from sdanet_gui.sdanet.localization import display_scores
    from sdanet_gui.sdanet.uncertainty import rank_items
    from sdanet_gui.jobs.background import CallQueue
    from sdanet_gui.jobs.scoring import ScoringRunner

    results, calls = [], CallQueue()
    runner = ScoringRunner(calls, on_result=results.append)
    runner.start(checkpoint, {"demo_1": Path(str(resource_files() / "demo" / "features" / "demo_1.h5"))})
    try:
        assert calls.run_until(lambda: not runner.busy(), timeout=60)
    finally:
        runner.shutdown()
    (result,) = results
    t = result.cas.shape[0]
    assert result.modality_attention.shape == (t, 2)
    np.testing.assert_allclose(result.modality_attention.mean(axis=1), result.attention, atol=1e-6)
    segs = [(i, s.label, s.start, s.end) for i, s in enumerate(result.segments)]
    assert segs
    items = rank_items(segs, display_scores(result.cas, result.attention), result.classes,
                       result.spec, result.modality_attention)
    assert len(items) == 3 * len(segs) and all("disagreement" in it.components for it in items)
    assert [it.uncertainty for it in items] == sorted((it.uncertainty for it in items), reverse=True)
