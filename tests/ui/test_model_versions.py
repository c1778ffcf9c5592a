"""Model versions in the review window, with real checkpoints on the bundled demo: the active
version's scores come back from the cache on reopening (no network), a new version is adopted
(re-scored in the worker, change summary), the previous version's lane, and rollback through the
Versions dialog. Human segments are never touched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from sdanet_gui.session.prediction_filter import DEFAULT_MIN_RELATIVE, visible_predictions


def _demo_window(qtbot, window):
    """The demo opened in `window` and scored by the bundled demo model; returns the project."""
    window.opening.open_demo()
    qtbot.waitUntil(lambda: window.review is not None and window.review.player.shown_frame == 0, timeout=20000)
    qtbot.waitUntil(lambda: len(window.session.scored_videos()) == 3 and not window.session.scoring_pending(), timeout=60000)
    return window.project


def _lane_prediction_ids(window) -> set[int]:
    return {-int(i) for lane in window.review.timeline.lanes for i in lane.ids[lane.kinds == 0]}


def _shown(project, vid, mid) -> list:
    return visible_predictions(project.predicted_segments(vid, mid), DEFAULT_MIN_RELATIVE)


def test_reopening_shows_the_active_versions_curves_from_the_cache_without_the_network(
        qtbot, window, checkpoint, monkeypatch):
    project = _demo_window(qtbot, window)
    folder = Path(project.folder)
    mv = project.active_model_version()
    assert mv is not None and window.project.active_model_version().id == mv.id and window.session.scoring_runs == 1
    # every demo video now remembers its features and has cached scores of the active version
    assert all(v.feature_ref for v in project.videos())
    assert len(list((folder / "cache" / "scores" / f"v{mv.id}").glob("*.npz"))) == 3
    name = project.video(window.current_video_id).name
    curves = window.review.timeline.score_curves.values.copy()
    predictions = project.predicted_segments(name, mv.id)
    window.close()  # closes the project (lock released)

    def no_network(*a, **k):
        raise AssertionError("the network was run on reopening")

    monkeypatch.setattr("sdanet_gui.sdanet.predict.load_model", no_network)
    from sdanet_gui.ui.shell.main_window import MainWindow

    w2 = MainWindow()
    qtbot.addWidget(w2)
    w2.resize(1280, 820)
    w2.show()
    w2.opening.open_project(folder)
    qtbot.waitUntil(lambda: w2.review is not None and w2.review.player.shown_frame == 0, timeout=20000)
    assert w2.session.scoring_pid is None and w2.session.scoring_runs == 0  # no scoring worker was ever started
    assert w2.project.active_model_version().id == mv.id and w2.session.scored_videos() == ["demo_1", "demo_2", "demo_3"]
    tl = w2.review.timeline
    assert project_video_name(w2) == name and not tl.no_scores_label.isVisible()
    np.testing.assert_array_equal(tl.score_curves.values, curves)  # the same curves, from the cache
    assert w2.project.predicted_segments(name, mv.id) == predictions  # nothing re-stored
    assert _lane_prediction_ids(w2) == {p.id for p in _shown(w2.project, name, mv.id)}

    # Model > Load checkpoint: a new version, made active, scored in the worker
    monkeypatch.undo()
    w2.load_checkpoint(checkpoint)
    qtbot.waitUntil(lambda: w2.session.change_summary is not None, timeout=60000)
    new = w2.project.active_model_version()
    assert new.id != mv.id and new.checkpoint == str(checkpoint) and w2.session.scoring_runs == 1
    assert w2.session.previous.id == mv.id
    assert w2.session.change_summary.previous_name == mv.name and len(w2.session.change_summary.videos) == 3
    w2.close()


def project_video_name(w) -> str:
    return w.project.video(w.current_video_id).name


def test_adopt_rescores_summarizes_shows_the_previous_lane_and_rolls_back(qtbot, window, checkpoint, tmp_path,
                                                                           monkeypatch):
    project = _demo_window(qtbot, window)
    v1 = project.active_model_version()
    vid = window.current_video_id
    # human work that must survive every model switch
    from sdanet_gui.project.commands import AcceptPredictions, AddSegment

    first = _shown(project, vid, v1.id)[0]
    window.review.editor.push(AcceptPredictions([first.id]))
    window.review.editor.push(AddSegment(vid, "Spin", 10, 40))
    human = project.dump_human_tables()
    runs = window.session.scoring_runs
    messages = []  # every status-bar message (a later one may replace the summary on screen)
    window.statusBar().messageChanged.connect(messages.append)

    # what FT-GUI does when a fine-tune run is done
    metrics = {"finetune": {"before": {"average_mAP": 0.2}, "after": {"average_mAP": 0.35}}}
    v2 = project.add_model_version("tuned", checkpoint=checkpoint, metrics=metrics, parent_id=v1.id)
    window.session.adopt(v2)
    assert window.project.active_model_version().id == v2.id
    qtbot.waitUntil(lambda: window.session.change_summary is not None, timeout=60000)
    assert window.session.scoring_runs == runs + 1  # re-scored in the worker (no cache for v2 yet)
    summary = window.session.change_summary
    assert summary.new_name == "tuned" and summary.previous_name == v1.name
    assert [v.video for v in summary.videos] == ["demo_1", "demo_2", "demo_3"]
    for change in summary.videos:  # the counts account for every shown prediction, old and new
        old, new = _shown(project, change.video, v1.id), _shown(project, change.video, v2.id)
        assert change.added + change.changed + change.unchanged == len(new)
        assert change.removed + change.changed + change.unchanged == len(old)
    assert summary.short_text() in messages
    assert len(list((Path(project.folder) / "cache" / "scores" / f"v{v2.id}").glob("*.npz"))) == 3
    # the lanes and the table show the active version's predictions only
    assert _lane_prediction_ids(window) == {p.id for p in _shown(project, vid, v2.id)}
    assert window.segment_table.rowCount() == len(project.segments(vid)) + len(_shown(project, vid, v2.id))
    assert project.dump_human_tables() == human

    # View > Show previous model's predictions: v1's shown predictions in their own sub-band
    window.menus.show_previous.trigger()
    classes = window.review.timeline.classes
    clock = project.clock(vid)
    old = _shown(project, vid, v1.id)
    for lane in window.review.timeline.lanes:
        assert lane.previous_shown
        mine = sorted((p.start_frame, p.end_frame) for p in old if p.label == classes[lane.row])
        expect_s = clock.frame_to_seconds(np.array([s for s, _ in mine], dtype=np.int64))
        expect_e = clock.frame_to_seconds(np.array([e for _, e in mine], dtype=np.int64))
        np.testing.assert_allclose(lane.prev_starts, expect_s)
        np.testing.assert_allclose(lane.prev_ends, expect_e)
    assert sum(len(lane.prev_starts) for lane in window.review.timeline.lanes) == len(old) > 0
    caption = window.review.timeline.previous_caption
    assert caption.isVisible() and f"previous model '{v1.name}'" in caption.textItem.toPlainText()
    qtbot.wait(50)
    assert window.grab().save(str(tmp_path / "previous_lane.png"))  # looked at while writing this

    # Model > Versions…: both listed, metrics, active / previous marked; rollback in one click
    dialog = window.versions_dialog()
    qtbot.waitExposed(dialog)
    item1, item2 = dialog.item_of(v1.id), dialog.item_of(v2.id)
    d = dialog
    assert item2.text(d.STATE) == "● active" and item1.text(d.STATE) == "previous"
    assert item2.text(d.MAP) == "20.0 → 35.0" and item1.text(d.MAP) == "—"
    assert item2.text(d.PARENT) == v1.name and item2.text(d.CHECKPOINT) == str(checkpoint)
    assert summary.details_text() == dialog.changes.toPlainText()
    assert dialog.grab().save(str(tmp_path / "versions_dialog.png"))
    dialog.tree.setCurrentItem(item1)
    assert dialog.make_active_button.isEnabled()
    qtbot.mouseClick(dialog.make_active_button, Qt.MouseButton.LeftButton)
    assert window.project.active_model_version().id == v1.id
    assert window.session.scoring_runs == runs + 1  # v1's scores came from the cache: no network
    assert window.session.change_summary.new_name == v1.name and window.session.change_summary.previous_name == "tuned"
    assert _lane_prediction_ids(window) == {p.id for p in _shown(project, vid, v1.id)}
    lane_prev = {round(float(s), 6) for lane in window.review.timeline.lanes for s in lane.prev_starts}
    assert len(lane_prev) > 0  # now v2's predictions are the previous lane
    assert d.item_of(v1.id).text(d.STATE) == "● active" and d.item_of(v2.id).text(d.STATE) == "previous"
    assert not dialog.make_active_button.isEnabled() or dialog.selected_version_id() != v1.id
    window.menus.show_previous.trigger()
    assert not any(lane.previous_shown for lane in window.review.timeline.lanes)
    assert not window.review.timeline.previous_caption.isVisible()
    assert project.dump_human_tables() == human

    # features that changed since their scores were cached are scored again, the rest not
    import shutil

    from sdanet_gui.bundled import resource_files
    from sdanet_gui.project.score_cache import ScoreCache

    private = tmp_path / "demo_2.h5"
    shutil.copy2(Path(str(resource_files() / "demo" / "features" / "demo_2.h5")), private)
    project.set_video_fields(project.find_video("demo_2").id, feature_ref=str(private))
    window.session.change_summary = None
    window.session.adopt(v2)
    assert window.session.scoring_runs == runs + 2 and window.session.scoring_videos() == ["demo_2"]
    qtbot.waitUntil(lambda: window.session.change_summary is not None, timeout=60000)
    assert [v.video for v in window.session.change_summary.videos] == ["demo_1", "demo_2", "demo_3"]
    assert ScoreCache.for_project(project).get(v2.id, private) is not None
    assert project.dump_human_tables() == human

    # a version whose checkpoint cannot be used: the error is shown, the active one stays
    errors = []
    monkeypatch.setattr("sdanet_gui.ui.shell.main_window.show_error", lambda *a, **k: errors.append(a[2]))
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    bad = project.add_model_version("junk", checkpoint=junk)
    window.session.adopt(bad)
    qtbot.waitUntil(lambda: not window.session.scoring_pending(), timeout=60000)
    assert errors and "junk.pt" in errors[0]
    assert window.project.active_model_version().id == v2.id and window.session.previous.id == v1.id
    assert any("'tuned' stays active" in m for m in messages)
    assert _lane_prediction_ids(window) == {p.id for p in _shown(project, vid, v2.id)}
    assert project.dump_human_tables() == human

    # switching again while a version is still being scored: that run stops, the last choice wins
    v3 = project.add_model_version("third", checkpoint=checkpoint)
    window.session.change_summary = None
    window.session.adopt(v3)
    assert window.session.scoring_busy()
    window.session.adopt(v2)
    qtbot.waitUntil(lambda: window.session.change_summary is not None and not window.session.scoring_pending(), timeout=60000)
    assert window.project.active_model_version().id == v2.id and window.session.change_summary.new_name == "tuned"
    assert _lane_prediction_ids(window) == {p.id for p in _shown(project, vid, v2.id)}
    assert project.dump_human_tables() == human

    # a version whose checkpoint file is gone is listed as such
    project.add_model_version("lost", checkpoint=tmp_path / "gone.pt")
    dialog.refresh()
    assert dialog.items()[-1].text(d.CHECKPOINT) == f"{tmp_path / 'gone.pt'} (missing)"
    dialog.close()


class _P:  # the fields of project.store.PredictedSegment that the comparison reads
    def __init__(self, label, start_frame, end_frame):
        self.label, self.start_frame, self.end_frame = label, start_frame, end_frame


def test_compare_predictions_counts_added_removed_changed_and_unchanged():
    from sdanet_gui.session.versions import compare_predictions

    old = [_P("a", 0, 100), _P("a", 200, 300), _P("b", 500, 600), _P("b", 800, 900)]
    new = [_P("a", 0, 100),            # the same frames: unchanged
           _P("a", 210, 310),          # tIoU 90/110 with its old twin: changed
           _P("a", 500, 600),          # other class than the old one there: added
           _P("b", 860, 1000)]         # tIoU 40/200 < 0.5: added (and the old one removed)
    c = compare_predictions("v", old, new)
    assert (c.added, c.removed, c.changed, c.unchanged) == (2, 2, 1, 1)
    assert c.any
    same = compare_predictions("v", old, list(old))
    assert (same.added, same.removed, same.changed, same.unchanged) == (0, 0, 0, 4) and not same.any
    assert compare_predictions("v", [], new).added == 4 and compare_predictions("v", old, []).removed == 4

