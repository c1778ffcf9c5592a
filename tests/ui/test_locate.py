"""Locate…: a project video whose file was moved is shown as missing; the user points at the
file, it is checked (fingerprint) and opens with its own frame count; a different file is used
only after the user said so. Real windows, real videos copied into tmp (the shared data stays
read-only); only the platform's native file dialog is replaced by the path it would return."""

from __future__ import annotations

import shutil

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from sdanet_gui.project.exchange import locate_video_file
from sdanet_gui.project.store import Project


def _moved_project(tmp_path, video):
    """A project whose one video "clip" (with a segment at 5..8 s) was then moved away."""
    original = tmp_path / "disk" / "clip.mp4"
    original.parent.mkdir()
    shutil.copy(video, original)
    with Project.create(tmp_path / "proj") as p:
        p.add_classes(["action"])
        p.add_video("clip")
        locate_video_file(p, "clip", original)
        p.add_imported_segments("clip", [("action", 5.0, 8.0)])
    moved = tmp_path / "elsewhere" / "renamed.mp4"
    moved.parent.mkdir()
    original.rename(moved)
    return tmp_path / "proj", original, moved


def _choose_file(monkeypatch, path):
    """The native file dialog answers `path`; returns the recorded (caption, start folder) calls."""
    calls = []

    def fake(parent, caption="", folder="", filter="", *args, **kwargs):
        calls.append((caption, folder))
        return str(path), ""

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(fake))
    return calls


def _item(window, name):
    return next(i for i in window.video_list.items() if i.text(0).startswith(name))


def test_a_moved_video_is_shown_missing_and_double_click_locates_and_opens_it(
        qtbot, window, tmp_path, demo_video, monkeypatch):
    folder, original, moved = _moved_project(tmp_path, demo_video)
    window.open_paths([folder])
    assert window.review is None  # nothing to show: the only video is missing
    item = _item(window, "clip")
    assert "(missing)" in item.text(0) and not item.icon(0).isNull()
    assert str(original) in item.toolTip(0) and "Locate" in item.toolTip(0)

    calls = _choose_file(monkeypatch, moved)
    tree = window.video_list.tree
    pos = QPoint(30, tree.visualItemRect(item).center().y())  # on the name
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)  # a double-click is
    qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)  # press, release, press
    assert len(calls) == 1 and "clip" in calls[0][0] and calls[0][1] == str(original.parent)
    qtbot.waitUntil(lambda: window.review is not None and window.review.player.shown_frame is not None,
                    timeout=15000)
    project = window.project
    assert window.locator.question is None  # the same file: nothing to ask
    assert project.video_path("clip") == moved and window.review.player.frame_count == 280
    assert "(missing)" not in _item(window, "clip").text(0)
    seg = project.segments("clip")[0]
    assert (seg.start_frame, seg.end_frame) == (140, 224)  # 5 s and 8 s at 28 fps


def test_a_different_file_is_used_only_after_the_user_agreed(qtbot, window, tmp_path, demo_video,
                                                             shared_data, monkeypatch):
    folder, original, moved = _moved_project(tmp_path, demo_video)
    other = tmp_path / "other.avi"
    shutil.copy(shared_data / "videos" / "mmaction2__test.avi", other)  # 164 frames, 6.56 s
    window.open_paths([folder])
    project = window.project
    vid = project.video("clip").id
    _choose_file(monkeypatch, other)

    def ask():
        menu = window.locator.context_menu(vid)
        locate = next(a for a in menu.actions() if a.objectName() == "locateAction")
        assert menu.defaultAction() is locate  # the missing video's first choice
        locate.trigger()
        qtbot.waitUntil(lambda: window.locator.question is not None and window.locator.question.isVisible(),
                        timeout=15000)
        return window.locator.question

    box = ask()
    assert "not the file this project was made with" in box.text()
    assert "280 frames" in box.text() and "164 frames" in box.text()
    assert "1 segment reaches past the end" in box.text()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.No), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.locator.question is None)
    assert project.video_path("clip") == original and project.video("clip").frame_count == 280

    box = ask()
    qtbot.mouseClick(box.button(QMessageBox.StandardButton.Yes), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.review is not None and window.review.player.frame_count == 164,
                    timeout=15000)
    rec = project.video("clip")
    assert project.video_path("clip") == other and rec.frame_count == 164
    assert rec.fingerprint.startswith("v1:294566:")  # the new file's, no longer the old one's
    seg = project.segments("clip")[0]
    assert seg.end_frame == 164  # cut at the end of the shorter file, not outside it


def test_a_video_known_only_from_an_annotation_file_is_located_without_a_question(
        qtbot, window, tmp_path, demo_video, monkeypatch):
    gt = tmp_path / "gt.csv"
    gt.write_text("video,label,start_s,end_s\nmy_clip,jump,1.0,2.0\n")
    window.open_paths([gt])  # a new project with "my_clip", no file yet
    item = _item(window, "my_clip")
    assert "No video file located yet" in item.toolTip(0)
    video = tmp_path / "found.mp4"
    shutil.copy(demo_video, video)
    _choose_file(monkeypatch, video)
    window.video_list.open_requested.emit(item.data(0, Qt.ItemDataRole.UserRole))  # Enter on the row
    qtbot.waitUntil(lambda: window.review is not None and window.review.player.frame_count == 280,
                    timeout=15000)
    assert window.project.video_path("my_clip") == video
    seg = window.project.segments("my_clip")[0]
    assert (seg.start_frame, seg.end_frame) == (28, 56)
