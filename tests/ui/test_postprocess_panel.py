"""The post-processing dock: moving a slider re-localizes the shown video's predictions from the
cached scores of a real (small, untrained) SDANet checkpoint, without running the network again;
the values are saved with the project and restored when it is opened again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from sdanet_gui.bundled import resource_files

DEMO = Path(str(resource_files() / "demo"))
K = Qt.Key


def _no_network(*_a, **_k):
    raise AssertionError("the network ran again")


def localized_frames(project, vid, result, params) -> set:
    """{(label, start_frame, end_frame)} that localizing the cached scores with `params` gives
    (segments shorter than a frame are not stored)."""
    from sdanet_gui.sdanet.localization import localize_video

    out = {(seg.label, *project.seconds_to_frames(vid, seg.start, seg.end))
           for seg in localize_video(result.cas, result.attention, result.spec, result.classes, params)}
    return {e for e in out if e[2] > e[1]}


def press(qtbot, knob, key, times=1):
    knob.slider.setFocus()
    for _ in range(times):
        qtbot.keyClick(knob.slider, key)


def test_moving_sliders_relocalizes_from_cached_scores_and_is_saved(qtbot, window, checkpoint,  # noqa: F811
                                                                    monkeypatch):
    monkeypatch.setattr("sdanet_gui.bundled.model_files", lambda: checkpoint.parent)
    window.opening.open_demo()
    qtbot.waitUntil(lambda: window.review is not None and window.review.player.shown_frame == 0, timeout=20000)
    qtbot.waitUntil(lambda: len(window.session.scored_videos()) == 3, timeout=60000)
    project, vid = window.project, window.current_video_id
    panel = window.postprocess
    assert window.postprocess_dock.isVisible()
    version = window.session.active.id
    result = window.session.result(project.video(vid).name)
    assert panel.params().class_threshold == pytest.approx(result.params.class_threshold)
    before = project.predicted_segments(vid, version)
    assert before
    other = {n: len(project.predicted_segments(n)) for n in ("demo_1", "demo_2", "demo_3")
             if project.find_video(n).id != vid}
    # the reviewer accepts one prediction (Enter): a human segment, which regeneration keeps
    editor = window.review.editor
    editor.select(-editor.visible_predictions()[0].id)
    window.review.setFocus()
    qtbot.keyClick(window.review, K.Key_Return)
    accepted = [s for s in project.segments(vid) if s.provenance == "accepted-prediction"]
    assert len(accepted) == 1
    monkeypatch.setattr("sdanet_gui.sdanet.predict.score_features", _no_network)
    monkeypatch.setattr("sdanet_gui.sdanet.predict.load_model", _no_network)

    # one attention threshold at this untrained model's median attention on the video (slider
    # Home = 0.00, then up one 0.01 step at a time): fewer proposals than 20 thresholds, but some
    level = int(round(float(np.median(np.asarray(result.attention))) * 100))
    press(qtbot, panel.attention_steps, K.Key_Home)
    press(qtbot, panel.attention_min, K.Key_Home)
    press(qtbot, panel.attention_min, K.Key_Up, level)
    press(qtbot, panel.attention_max, K.Key_Home)
    press(qtbot, panel.attention_max, K.Key_Up, level)
    assert panel.params().attention_thresholds == [pytest.approx(level / 100)]
    after_attention = project.predicted_segments(vid, version)
    # exactly what localization of the cached scores with the new values gives (plus the row
    # the accepted segment came from, which regeneration keeps), and not what was there before
    source = accepted[0].source_prediction_id
    got = {(p.label, p.start_frame, p.end_frame) for p in after_attention if p.id != source}
    assert after_attention and got == localized_frames(project, vid, result, panel.params())
    assert got != {(p.label, p.start_frame, p.end_frame) for p in before if p.id != source}
    assert len(project.predicted_segments(vid)) == len(after_attention)  # replaced, not added
    drawn = sum(int((lane.kinds == 0).sum()) for lane in window.review.timeline.lanes)
    humans = len(project.segments(vid))
    assert drawn <= len(after_attention)
    assert window.segment_table.rowCount() <= len(after_attention) + humans

    assert [s.id for s in project.segments(vid) if s.provenance == "accepted-prediction"] == [accepted[0].id]
    # undoing the accept still removes the human segment (its source prediction was replaced)
    qtbot.keyClick(window.review, K.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not [s for s in project.segments(vid) if s.provenance == "accepted-prediction"]

    # back to the default attention range, then the class threshold to 1.0: only the best class
    press(qtbot, panel.attention_steps, K.Key_End)
    press(qtbot, panel.attention_min, K.Key_Home)
    press(qtbot, panel.attention_max, K.Key_End)
    wide = project.predicted_segments(vid, version)
    press(qtbot, panel.class_threshold, K.Key_End)
    assert panel.params().class_threshold == pytest.approx(1.0)
    strict = project.predicted_segments(vid, version)
    assert {(p.label, p.start_frame, p.end_frame) for p in strict} == localized_frames(
        project, vid, result, panel.params())
    assert len({p.label for p in strict}) == 1 and len(strict) <= len(wide)
    # only the shown video changed; the values are in the project's settings
    assert {n: len(project.predicted_segments(n)) for n in other} == other
    saved = project.get_setting("postprocess")
    assert saved["class_threshold"] == pytest.approx(1.0) and len(saved["attention_thresholds"]) == 20

    # reopen: the panel shows the saved values
    folder = project.folder
    window.close()
    from sdanet_gui.ui.shell.main_window import MainWindow

    again = MainWindow()
    qtbot.addWidget(again)
    again.opening.open_project(folder)
    try:
        assert again.postprocess is not None
        restored = again.postprocess.params()
        assert restored.class_threshold == pytest.approx(1.0)
        assert restored.attention_thresholds == pytest.approx(saved["attention_thresholds"])
        assert restored.min_length_snippets == saved["min_length_snippets"]
        assert restored.nms_sigma == pytest.approx(saved["nms_sigma"])
    finally:
        again.close()
