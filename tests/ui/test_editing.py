"""Editing segments on the timeline of a real video, with a real project store underneath:
every gesture is one command on the undo stack and is in the database when the mouse is up."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt

from .mouse import LEFT, send, click, drag

K = Qt.Key
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def seg(review, project):
    """One imported 'arm wrestling' segment [2 s, 4 s) = frames [56, 112) at 28 fps, zoomed in."""
    (sid,) = project.add_imported_segments(project.video_id, [("arm wrestling", 2.0, 4.0)])
    review.editor.refresh()
    review.timeline.set_x_range(1.0, 5.0)  # ~4 s over the lane width: several px per frame
    return sid


def lane_pos(review, seconds, row=0, y=0.66):
    return QPointF(review.timeline.widget_pos("lanes", seconds, row + y))


def frames(project, sid):
    s = project.segment(sid)
    return s.start_frame, s.end_frame


def t(reader, frame):
    return float(reader.clock.frame_to_seconds(frame))


def test_drag_end_two_frames_right_then_undo_and_redo(qtbot, review, project, reader, seg):
    assert frames(project, seg) == (56, 112)
    drag(review.timeline.viewport(), lane_pos(review, t(reader, 112)), lane_pos(review, t(reader, 114)))
    assert frames(project, seg) == (56, 114)  # in the database on release
    assert review.editor.undo_stack.count() == 1
    assert review.timeline.lane(0).segment(seg) == pytest.approx((t(reader, 56), t(reader, 114)))
    assert project.segment(seg).provenance == "edited"
    review.setFocus()
    qtbot.keyClick(review, K.Key_Z, CTRL)
    assert frames(project, seg) == (56, 112) and project.segment(seg).provenance == "imported"
    assert review.timeline.lane(0).segment(seg) == pytest.approx((t(reader, 56), t(reader, 112)))
    qtbot.keyClick(review, K.Key_Z, CTRL | SHIFT)
    assert frames(project, seg) == (56, 114)


def test_a_drag_previews_while_moving_and_commits_once_on_release(qtbot, review, project, reader, seg):
    vp = review.timeline.viewport()
    a, b = lane_pos(review, t(reader, 56)), lane_pos(review, t(reader, 46))
    send(vp, QEvent.Type.MouseMove, a, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
    send(vp, QEvent.Type.MouseButtonPress, a, LEFT, LEFT)
    edits_before = len(project.edit_log())
    for i in range(1, 7):
        qtbot.wait(15)
        send(vp, QEvent.Type.MouseMove, a + (b - a) * (i / 6), Qt.MouseButton.NoButton, LEFT)
    lane = review.timeline.lane(0)
    assert lane.preview is not None and lane.preview[1] == pytest.approx(t(reader, 46))
    assert frames(project, seg) == (56, 112)  # nothing written while the mouse is down
    send(vp, QEvent.Type.MouseButtonRelease, b, LEFT, Qt.MouseButton.NoButton)
    assert frames(project, seg) == (46, 112)
    assert len(project.edit_log()) == edits_before + 1 and lane.preview is None


def test_drag_the_body_moves_the_whole_segment(review, project, reader, seg):
    drag(review.timeline.viewport(), lane_pos(review, t(reader, 80)), lane_pos(review, t(reader, 85)))
    assert frames(project, seg) == (61, 117)


def test_drag_on_an_empty_lane_adds_a_segment_of_that_class(review, project, reader, seg):
    drag(review.timeline.viewport(), lane_pos(review, t(reader, 120), row=1),
         lane_pos(review, t(reader, 130), row=1))
    added = [s for s in project.segments(project.video_id) if s.provenance == "added"]
    assert [(s.label, s.start_frame, s.end_frame) for s in added] == [("cheering", 120, 130)]
    assert review.editor.selected_id == added[0].id


def test_click_selects_and_ctrl_arrows_nudge_the_selected_boundary(qtbot, review, project, reader, seg):
    click(review.timeline.viewport(), lane_pos(review, t(reader, 112)))  # on the end boundary
    assert review.editor.selected_id == seg and review.editor.selected_part == "end"
    review.setFocus()
    qtbot.keyClick(review, K.Key_Right, CTRL)
    assert frames(project, seg) == (56, 113)
    qtbot.keyClick(review, K.Key_Left, CTRL | SHIFT)
    assert frames(project, seg) == (56, 103)
    click(review.timeline.viewport(), lane_pos(review, t(reader, 80)))  # the body: moves all
    review.setFocus()
    qtbot.keyClick(review, K.Key_Right, CTRL | SHIFT)
    assert frames(project, seg) == (66, 113)


def test_click_on_an_empty_lane_seeks_and_deselects(review, project, reader, seg):
    review.editor.select(seg)
    click(review.timeline.viewport(), lane_pos(review, 4.5, row=2))
    assert review.editor.selected_id is None
    assert review.player.position == reader.clock.seconds_to_frame(4.5) or \
        abs(review.player.position - reader.clock.seconds_to_frame(4.5)) <= 1


def test_tab_walks_segments_in_time_order(qtbot, review, project, seg):
    ids = project.add_imported_segments(project.video_id, [("talking", 0.5, 1.0), ("cheering", 6.0, 7.0)])
    review.editor.refresh()
    review.player.seek_frame(0)
    review.setFocus()
    order = []
    for _ in range(4):
        qtbot.keyClick(review, K.Key_Tab)
        order.append(review.editor.selected_id)
    assert order == [ids[0], seg, ids[1], ids[0]]
    qtbot.keyClick(review, K.Key_Backtab, SHIFT)
    assert review.editor.selected_id == ids[1]
    assert review.player.position == project.segment(ids[1]).start_frame


def test_confirm_split_merge_relabel_delete_by_keys_each_undoable(qtbot, review, project, reader, seg):
    review.setFocus()
    review.editor.select(seg)
    qtbot.keyClick(review, K.Key_Return)
    assert project.segment(seg).provenance == "confirmed"
    review.player.seek_frame(84)
    qtbot.keyClick(review, K.Key_S)
    parts = sorted((s.start_frame, s.end_frame) for s in project.segments(project.video_id))
    assert parts == [(56, 84), (84, 112)]
    review.editor.select(seg)
    qtbot.keyClick(review, K.Key_M)
    assert [(s.start_frame, s.end_frame) for s in project.segments(project.video_id)] == [(56, 112)]
    qtbot.keyClick(review, K.Key_2)
    assert project.segment(seg).label == "cheering"
    assert review.editor.row_of(seg) == 1  # now drawn in the cheering lane
    qtbot.keyClick(review, K.Key_Z, CTRL)
    assert project.segment(seg).label == "arm wrestling"
    qtbot.keyClick(review, K.Key_Delete)
    assert project.segments(project.video_id) == []
    stack = review.editor.undo_stack
    assert stack.count() == 4  # confirm, split, merge, delete (the undone relabel was dropped)
    while stack.canUndo():
        qtbot.keyClick(review, K.Key_Z, CTRL)
    assert [(s.start_frame, s.end_frame, s.provenance) for s in project.segments(project.video_id)] == \
        [(56, 112, "imported")]


def test_enter_on_a_prediction_accepts_it(qtbot, review, project, reader):
    mv = project.add_model_version("sdanet-test")
    project.add_predictions(mv.id, project.video_id, [("talking", 140, 200, 0.8)])
    review.editor.refresh()
    review.timeline.set_x_range(4.0, 8.0)
    click(review.timeline.viewport(), lane_pos(review, t(reader, 170), row=2, y=0.18))
    assert review.editor.selected_id is not None and review.editor.selected_id < 0
    review.setFocus()
    qtbot.keyClick(review, K.Key_Return)
    (s,) = project.segments(project.video_id)
    assert (s.label, s.start_frame, s.end_frame, s.provenance) == ("talking", 140, 200, "accepted-prediction")
    assert review.editor.selected_id == s.id


def test_mark_in_and_out_add_a_segment_in_the_current_lane(qtbot, review, project):
    review.setFocus()
    review.editor.current_row = 2
    review.player.seek_frame(30)
    qtbot.keyClick(review, K.Key_I)
    review.player.seek_frame(44)
    qtbot.keyClick(review, K.Key_O)
    (s,) = project.segments(project.video_id)
    assert (s.label, s.start_frame, s.end_frame, s.provenance) == ("talking", 30, 45, "added")


def test_an_invalid_edit_is_reported_and_not_put_on_the_stack(qtbot, review, project, seg):
    review.setFocus()
    review.player.seek_frame(10)  # not inside the segment
    review.editor.select(seg)
    with qtbot.waitSignal(review.status) as sig:
        qtbot.keyClick(review, K.Key_S)
    assert "cannot split" in sig.args[0]
    assert review.editor.undo_stack.count() == 0 and frames(project, seg) == (56, 112)


def test_l_loops_playback_over_the_selected_segment(qtbot, review, project, reader, seg):
    review.setFocus()
    review.editor.select(seg)
    qtbot.keyClick(review, K.Key_L)
    assert review.player.position == 56
    review.player.set_speed(4.0)  # the 2 s segment loops every 0.5 s
    frames_seen = set()
    review.player.position_changed.connect(frames_seen.add)
    qtbot.keyClick(review, K.Key_Space)
    qtbot.wait(1300)
    qtbot.keyClick(review, K.Key_Space)
    assert frames_seen and min(frames_seen) >= 56 and max(frames_seen) < 112
    assert 56 in frames_seen  # came back to the start at least once
    qtbot.keyClick(review, K.Key_L)
    assert review.player.loop is None


def test_undo_of_an_edit_changed_elsewhere_is_refused_and_leaves_the_history(qtbot, review, project, reader, seg):
    from sdanet_gui.project.commands import MoveBoundary

    review.setFocus()
    review.editor.select(seg, "end")
    qtbot.keyClick(review, K.Key_Right, CTRL)
    assert frames(project, seg) == (56, 113)
    MoveBoundary(seg, "end", 120).apply(project)  # another writer changes the same segment
    messages = []
    review.status.connect(messages.append)
    qtbot.keyClick(review, K.Key_Z, CTRL)
    assert frames(project, seg) == (56, 120)  # nothing overwritten
    assert messages and "cannot undo" in messages[0]
    assert review.editor.undo_stack.count() == 0
