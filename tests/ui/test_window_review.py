"""The whole window with a real video: drop it, it plays with the timeline below, the video list,
segment table and undo history follow every edit."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from sdanet_gui.session.review_session import DEFAULT_CLASS

from .mouse import click, drag

K = Qt.Key


def drop(window, paths):
    """Drag enter + drop with file URLs, delivered to the window's handlers (Qt ignores a drop
    sent through the event queue when no real drag is in progress)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = QDragEnterEvent(QPoint(200, 200), *args)
    window.dragEnterEvent(enter)
    assert enter.isAccepted()
    ev = QDropEvent(QPointF(200, 200), *args)
    window.dropEvent(ev)
    assert ev.isAccepted()


def opened(window):
    return lambda: window.review is not None and window.review.player.shown_frame == 0


def test_drop_a_real_video_it_opens_in_a_new_project_and_plays(qtbot, window, demo_video, _private_home):
    drop(window, [demo_video])
    qtbot.waitUntil(opened(window), timeout=15000)
    review = window.review
    assert window.centralWidget().currentWidget() is review and not window.empty_state.isVisible()
    assert review.timeline.isVisible() and review.timeline.y() > review.frame_view.y()  # below
    assert review.timeline.duration == pytest.approx(10.0, abs=0.05)
    # a project was created in the default location, and the status bar says where
    folder = Path(window.project.folder)
    assert folder.parent == _private_home / "data" / "projects" or "projects" in folder.parts
    assert (folder / "project.sqlite").is_file()
    assert window.project.classes() == [DEFAULT_CLASS]
    assert [i.text(0) for i in window.video_list.items()] == ["mmaction2__demo"]
    # play for a moment
    review.setFocus()
    qtbot.keyClick(review, K.Key_Space)
    qtbot.waitUntil(lambda: (review.player.shown_frame or 0) >= 5, timeout=5000)
    qtbot.keyClick(review, K.Key_Space)
    assert review.timeline.playhead == pytest.approx(review.player.seconds())
    # seek by clicking the timeline at 2.0 s: the player shows the frame at 2.0 s
    click(review.timeline.viewport(), review.timeline.widget_pos("score", 2.0))
    qtbot.waitUntil(lambda: review.player.shown_frame == review.player.position, timeout=5000)
    assert abs(review.player.position - 56) <= 1


def test_dropping_a_folder_adds_its_videos_and_reports_what_it_cannot_open(qtbot, window, tmp_path, shared_data, monkeypatch):
    errors = []
    monkeypatch.setattr("sdanet_gui.ui.shell.opening.show_error", lambda *a, **k: errors.append(a[2]))
    folder = tmp_path / "clips" / "nested"
    folder.mkdir(parents=True)
    for name in ("sleap__small_robot_3_frame.mp4", "decord__video_0.mov"):
        (folder / name).write_bytes((shared_data / "videos" / name).read_bytes())
    (folder / "notes.txt").write_text("not a video")
    (folder / "broken.mp4").write_bytes(b"\x00" * 1000)
    drop(window, [tmp_path / "clips"])
    qtbot.waitUntil(lambda: len(window.video_list.items()) == 2 and not window.opening.busy(), timeout=20000)
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=5000)
    assert "broken.mp4" in errors[0]
    names = sorted(i.text(0) for i in window.video_list.items())
    assert names == ["sleap__small_robot_3_frame", "video_0"] or names == ["decord__video_0", "sleap__small_robot_3_frame"]
    window.video_list.filter.setText("robot")
    assert [i.isHidden() for i in window.video_list.items()].count(False) == 1


def test_segment_table_and_undo_history_follow_edits(qtbot, window, demo_video):
    drop(window, [demo_video])
    qtbot.waitUntil(opened(window), timeout=15000)
    review, table = window.review, window.segment_table
    project = window.project
    tl = review.timeline
    # draw a segment on the (only) lane, from 3.0 s to 5.0 s
    drag(tl.viewport(), QPointF(tl.widget_pos("lanes", 3.0, 0.66)), QPointF(tl.widget_pos("lanes", 5.0, 0.66)))
    (seg,) = project.segments(window.current_video_id)
    assert abs(seg.start_frame - 84) <= 1 and abs(seg.end_frame - 140) <= 1
    assert table.rowCount() == 1 and table.item(0, table.CLASS).text() == DEFAULT_CLASS
    assert table.item(0, table.BY).text() == "added" and table.selected_id() == seg.id
    assert window.undo_view.model().rowCount() == 2  # "<opened>" + the add
    # choosing a row in the table selects the segment and moves the player to its start
    review.editor.select(None)
    table.selectRow(0)
    assert review.editor.selected_id == seg.id and review.player.position == seg.start_frame
    # undo from the Edit menu: the table empties
    window.menus.undo.trigger()
    assert project.segments(window.current_video_id) == [] and table.rowCount() == 0
    window.menus.redo.trigger()
    assert table.rowCount() == 1
    assert window.video_list.items()[0].text(2) == "0 / 1"


def test_open_a_saved_project_shows_its_first_video_and_segments(qtbot, window, project, reader):
    project.add_imported_segments(project.video_id, [("talking", 1.0, 2.0)])
    folder = project.folder
    project.close()
    window.open_paths([folder])
    qtbot.waitUntil(opened(window), timeout=15000)
    assert window.segment_table.rowCount() == 1
    assert window.review.timeline.classes == ["arm wrestling", "cheering", "talking"]
    assert len(window.review.timeline.lane(2)) == 1


def test_a_missing_path_is_reported_by_name(qtbot, window, tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr("sdanet_gui.ui.shell.opening.show_error", lambda *a, **k: seen.append(a[2]))
    window.open_paths([tmp_path / "nope.mp4"])
    assert seen and "nope.mp4: not found" in seen[0]


def test_segment_table_cells_edit_class_and_times_through_undoable_commands(qtbot, window, project, reader):
    from PySide6.QtWidgets import QComboBox, QLineEdit

    (sid,) = project.add_imported_segments(project.video_id, [("talking", 1.0, 2.0)])
    folder = project.folder
    project.close()
    window.open_paths([folder])
    qtbot.waitUntil(opened(window), timeout=15000)
    table, p = window.segment_table, window.project
    # type a new end time into the End cell, as a user does: double-click, type, Enter
    def double_click(index):  # a real double-click: press-release, then the double-click press
        rect = table.visualRect(index)
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())

    double_click(table.model().index(0, table.END))
    editor = table.findChild(QLineEdit)
    assert editor is not None
    editor.selectAll()
    qtbot.keyClicks(editor, "00:00:03.000")
    qtbot.keyClick(editor, K.Key_Return)
    qtbot.waitUntil(lambda: p.segment(sid).end_frame == 84, timeout=3000)
    assert reader.clock.seconds_to_boundary(3.0) == 84
    assert table.item(0, table.END).text() == "00:00:03.000"
    # the class cell offers the project's classes
    double_click(table.model().index(0, table.CLASS))
    box = table.findChild(QComboBox)
    assert [box.itemText(i) for i in range(box.count())] == ["arm wrestling", "cheering", "talking"]
    box.setCurrentText("cheering")
    qtbot.keyClick(box, K.Key_Return)
    qtbot.waitUntil(lambda: p.segment(sid).label == "cheering", timeout=3000)
    # a bad time is refused with a message and the cell shows the stored value again
    assert window.review.editor.edit_field(sid, "start", "not a time") is False
    assert table.item(0, table.START).text() == "00:00:01.000" and p.segment(sid).start_frame == 28
    window.menus.undo.trigger()
    window.menus.undo.trigger()
    assert (p.segment(sid).label, p.segment(sid).end_frame) == ("talking", 56)


def test_dropping_an_annotation_file_imports_it_and_a_bad_one_is_named(qtbot, window, shared_data, tmp_path, monkeypatch):
    errors = []
    monkeypatch.setattr("sdanet_gui.ui.shell.opening.show_error", lambda *a, **k: errors.append(a[2]))
    gt = shared_data / "annotations" / "activitynet13_subset_mmaction2" / "gt.json"
    drop(window, [gt])
    assert errors == []
    assert window.project is not None and window.project.videos()
    items = window.video_list.items()
    assert len(items) == len(window.project.videos()) and all("(missing)" in i.text(0) for i in items)
    assert "imported" in window.statusBar().currentMessage()
    bad = tmp_path / "broken.json"
    bad.write_text("{ not json")
    drop(window, [bad])
    assert errors and "broken.json" in errors[0]
