"""The class palette driven by keys on the review view: P / Ctrl+K opens it, typing filters,
arrows move, Enter relabels the selection (or picks the class of the next added segment)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from sdanet_gui.ui.review.class_palette import match_classes

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier


def test_matching_prefers_prefix_then_substring_then_letters_in_order():
    classes = ["CliffDiving", "CricketBowling", "CricketShot", "Diving", "BasketballDunk"]
    assert match_classes(classes, "") == [0, 1, 2, 3, 4]
    assert match_classes(classes, "div") == [3, 0]
    assert match_classes(classes, "crbo") == [1]
    assert match_classes(classes, "CRICKET s") == [2]  # "cricket s" is not a substring; letters in order
    assert match_classes(classes, "zz") == []


def test_keys_open_filter_move_and_pick_and_the_relabel_is_undoable(qtbot, review, project):
    (sid,) = project.add_imported_segments(project.video_id, [("arm wrestling", 2.0, 4.0)])
    review.editor.refresh()
    review.editor.select(sid)
    qtbot.keyClick(review, K.Key_K, CTRL)  # Escape closes without a change
    palette = review.palette
    assert palette is not None and palette.isVisible()
    qtbot.keyClick(palette.filter_edit, K.Key_Down)
    qtbot.keyClick(palette.filter_edit, K.Key_Down)
    assert palette.list.currentRow() == 2
    qtbot.keyClick(palette.filter_edit, K.Key_Escape)
    assert not palette.isVisible() and project.segment(sid).label == "arm wrestling"

    review.setFocus()
    qtbot.keyClick(review, K.Key_P)  # typing filters, Enter picks
    palette = review.palette
    qtbot.keyClicks(palette.filter_edit, "talk")
    assert [palette.classes[i] for i in palette.matches()] == ["talking"]
    qtbot.keyClick(palette.filter_edit, K.Key_Return)
    assert not palette.isVisible()
    assert project.segment(sid).label == "talking"
    review.setFocus()
    qtbot.keyClick(review, K.Key_Z, CTRL)
    assert project.segment(sid).label == "arm wrestling"

    qtbot.keyClick(review, K.Key_P)  # arrows, then Enter
    qtbot.keyClick(review.palette.filter_edit, K.Key_Down)
    qtbot.keyClick(review.palette.filter_edit, K.Key_Return)
    assert project.segment(sid).label == "cheering"


def test_with_nothing_selected_the_pick_is_the_class_of_the_next_add(qtbot, review, project):
    review.editor.select(None)
    qtbot.keyClick(review, K.Key_P)
    qtbot.keyClicks(review.palette.filter_edit, "cheer")
    qtbot.keyClick(review.palette.filter_edit, K.Key_Return)
    review.setFocus()
    review.player.seek_frame(20)
    qtbot.keyClick(review, K.Key_I)
    review.player.seek_frame(40)
    qtbot.keyClick(review, K.Key_O)
    (seg,) = project.segments(project.video_id)
    assert (seg.label, seg.start_frame, seg.end_frame, seg.provenance) == ("cheering", 20, 41, "added")


def test_a_selected_prediction_is_accepted_as_the_picked_class_in_one_undo(qtbot, review, project):
    mv = project.add_model_version("m")
    project.add_predictions(mv.id, project.video_id, [("arm wrestling", 28, 84, 1.0)])
    review.editor.refresh()
    (pred,) = project.predicted_segments(project.video_id)
    review.editor.select(-pred.id)
    qtbot.keyClick(review, K.Key_P)
    qtbot.keyClicks(review.palette.filter_edit, "talking")
    qtbot.keyClick(review.palette.filter_edit, K.Key_Return)
    (seg,) = project.segments(project.video_id)
    assert (seg.label, seg.source_prediction_id, seg.start_frame, seg.end_frame) == ("talking", pred.id, 28, 84)
    assert review.editor.undo_stack.count() == 1
    review.setFocus()
    qtbot.keyClick(review, K.Key_Z, CTRL)
    assert project.segments(project.video_id) == []
