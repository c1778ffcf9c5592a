"""Keys work wherever the focus is in the window (issue: after a wheel zoom on the timeline `+`,
`-` and Backspace did nothing until the video was clicked), except while typing in a text field;
edits made by single keys are named, and a burst of them is offered for undo.

Real window, real video, keys pressed with QTest on whatever widget has the focus."""

from __future__ import annotations


import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QInputDialog

from sdanet_gui.ui.review import keymap

K = Qt.Key


def press(qtbot, widget, portable: str) -> None:
    combo = QKeySequence(portable, keymap.PORTABLE)[0]
    qtbot.keyClick(widget, combo.key(), combo.keyboardModifiers())


@pytest.fixture
def shown(qtbot, window, demo_video):
    """The window with the demo video shown, active, one class lane and one segment."""
    window.open_paths([demo_video])
    qtbot.waitUntil(lambda: window.review is not None and window.review.player.shown_frame == 0, timeout=15000)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
    review = window.review
    review.editor.add(0, 50, 100)
    return window


def focus_targets(window):
    """Where a reviewer's focus can be: the timeline (after a mouse action), the player, the
    segment table, and each dock's main widget."""
    review = window.review
    targets = {"timeline": review.timeline.viewport(), "player": review.frame_view,
               "segment table": window.segment_table, "video list": window.video_list.tree,
               "history": window.undo_view}
    if window.postprocess is not None:
        targets["post-processing"] = window.postprocess
    return targets


def test_every_keymap_key_works_with_the_focus_anywhere(qtbot, shown, monkeypatch):
    window = shown
    review = window.review
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("", False))  # Ctrl+G asks a time
    seen = []
    review.action_triggered.connect(seen.append)
    undone = []
    window.menus.undo.triggered.connect(lambda: undone.append("undo"))
    window.menus.redo.triggered.connect(lambda: undone.append("redo"))
    misses = []
    for where, widget in focus_targets(window).items():
        for aid, keys in keymap.defaults().items():
            for key in keys:
                widget.setFocus()
                QApplication.processEvents()
                seen.clear()
                undone.clear()
                press(qtbot, widget, key)
                if review.palette is not None and review.palette.isVisible():
                    review.palette.close()     # P / Ctrl+K open the class palette, a popup
                    window.activateWindow()    # (offscreen Qt does not hand activation back)
                    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=5000)
                if review.player.playing:
                    review.player.pause()
                got = undone[-1] if aid in ("undo", "redo") and undone else (seen[0] if seen else None)
                if got != aid:
                    misses.append(f"{key} with the focus in the {where}: {got or 'nothing'} instead of {aid}")
    assert not misses, "\n".join(misses)


def test_after_a_wheel_zoom_on_the_timeline_plus_minus_and_backspace_work(qtbot, shown):
    window = shown
    review = window.review
    timeline = review.timeline
    view = timeline.viewport()
    pos = timeline.widget_pos("lanes", 5.0, 0.5)
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(int(pos.x()), int(pos.y())))
    assert QApplication.focusWidget() in (timeline, view)   # the plot took the focus
    view = QApplication.focusWidget()
    lo, hi = timeline.x_range()
    qtbot.keyClick(view, K.Key_Plus, Qt.KeyboardModifier.ShiftModifier)   # + as typed on most layouts
    lo2, hi2 = timeline.x_range()
    assert hi2 - lo2 == pytest.approx((hi - lo) / 2, rel=0.05)
    qtbot.keyClick(view, K.Key_Minus)
    lo3, hi3 = timeline.x_range()
    assert hi3 - lo3 == pytest.approx(hi - lo, rel=0.05)
    qtbot.keyClick(view, K.Key_Equal)
    assert timeline.x_range()[1] - timeline.x_range()[0] == pytest.approx((hi - lo) / 2, rel=0.05)
    (seg,) = window.project.segments(window.current_video_id)
    review.editor.select(seg.id)
    qtbot.keyClick(view, K.Key_Backspace)           # deletes like Delete
    assert window.project.segments(window.current_video_id) == []


def test_typing_in_a_text_field_is_typing_not_editing(qtbot, shown):
    window = shown
    project, vid = window.project, window.current_video_id
    before = project.dump_human_tables()
    box = window.video_list.filter
    box.setFocus()
    qtbot.keyClicks(box, "smirdo")     # S split, M merge, I/O marks, R reviewed, D ...
    qtbot.keyClick(box, K.Key_Backspace)
    qtbot.keyClick(box, K.Key_Return)  # Enter confirms a segment elsewhere, not in a text field
    assert box.text() == "smird"
    assert project.dump_human_tables() == before and project.review_state(vid).state == "unreviewed"


def test_single_key_edits_are_named_and_a_burst_can_be_undone_at_once(qtbot, shown):
    window = shown
    review = window.review
    project, vid = window.project, window.current_video_id
    undo = review.editor.undo_stack
    project.add_classes(["other"])
    review.editor.refresh()
    review.player.seek_frame(75)
    qtbot.waitUntil(lambda: review.player.position == 75, timeout=5000)
    before_tables, before_index = project.dump_human_tables(), undo.index()
    view = review.timeline.viewport()
    view.setFocus()
    qtbot.keyClick(view, K.Key_S)                      # split the segment at the playhead
    assert undo.text(undo.index() - 1).startswith("Split action 00:00:01.") and "(key S)" in undo.text(undo.index() - 1)
    assert "S: Split at the playhead — Split action" in window.statusBar().currentMessage()
    assert not review.toast.isVisible()
    # typed fast, as a path would be: R reviewed to here, I mark in, O mark out (adds), 2 and 1 relabel
    for key in (K.Key_R, K.Key_I, K.Key_O, K.Key_2, K.Key_1):
        qtbot.keyClick(view, key)
    assert undo.index() - before_index == 5
    assert review.toast.isVisible()
    text = review.toast.label.text()
    assert text.startswith(f"{undo.index() - before_index} edits from keys in ")
    qtbot.mouseClick(review.toast.button, Qt.MouseButton.LeftButton)
    assert undo.index() == before_index and not review.toast.isVisible()
    assert project.dump_human_tables() == before_tables
    assert project.review_state(vid).state == "unreviewed"


def test_keys_pressed_slowly_are_not_a_burst(qtbot, shown, monkeypatch):
    from sdanet_gui.ui.review import key_edits

    window = shown
    review = window.review
    clock = [1000.0]
    monkeypatch.setattr(key_edits.time, "monotonic", lambda: clock[0])
    view = review.timeline.viewport()
    for frame in (60, 70, 80, 90, 95):
        review.player.seek_frame(frame)
        qtbot.waitUntil(lambda f=frame: review.player.position == f, timeout=5000)
        clock[0] += key_edits.BURST_GAP_S + 0.3     # a reviewer who looks before each split
        review.editor.select(None)                  # split what is under the playhead
        qtbot.keyClick(view, K.Key_S)
    assert len(window.project.segments(window.current_video_id)) == 6
    assert not review.toast.isVisible()
