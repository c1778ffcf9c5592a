"""File > Export… driven as a user: choose the format, the scope and the path, click Export; the
written file holds the project's segments of the real demo video."""

from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import Qt

from sdanet_gui.project.commands import AddSegment, SetReviewState


@pytest.fixture
def exporting(qtbot, window, project):
    """The window on the conftest project (real video) with two added segments, half reviewed."""
    AddSegment(project.video_id, "cheering", 28, 84).apply(project)       # 1 s .. 3 s at 28 fps
    AddSegment(project.video_id, "talking", 140, 196).apply(project)      # 5 s .. 7 s
    window.session.set_project(project)
    return window


def open_dialog(qtbot, window):
    dialog = window.export_dialog()
    qtbot.waitExposed(dialog)
    return dialog


def test_export_csv_writes_the_segments_and_reports_the_path(qtbot, exporting, project, tmp_path):
    dialog = open_dialog(qtbot, exporting)
    qtbot.keyClicks(dialog.format_box, "csv")
    assert dialog.fmt() == "csv"
    assert dialog.only_reviewed.isChecked()          # the default: what ground truth should hold
    assert dialog.summary.text() == "0 videos, 0 segments as csv"
    qtbot.mouseClick(dialog.only_reviewed, Qt.MouseButton.LeftButton)
    assert dialog.summary.text() == "1 videos, 2 segments as csv"
    out = tmp_path / "out" / "mine.csv"
    dialog.path_edit.selectAll()
    qtbot.keyClicks(dialog.path_edit, str(out))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    assert out.is_file()
    assert str(out) in exporting.statusBar().currentMessage()
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    got = sorted((r["video"], r["label"], round(float(r["start_s"]), 3), round(float(r["end_s"]), 3))
                 for r in rows)
    assert got == [("demo", "cheering", 1.0, 3.0), ("demo", "talking", 5.0, 7.0)]


def test_only_reviewed_changes_the_summary_and_unreviewed_export_is_an_error(qtbot, exporting, project,
                                                                          tmp_path, monkeypatch):
    errors = []
    monkeypatch.setattr("sdanet_gui.ui.panels.export_dialog.show_error", lambda *a, **k: errors.append(a[2]))
    dialog = open_dialog(qtbot, exporting)
    qtbot.keyClicks(dialog.format_box, "csv")
    assert dialog.only_reviewed.isChecked()
    assert dialog.summary.text() == "0 videos, 0 segments as csv"
    out = tmp_path / "none.csv"
    dialog.path_edit.selectAll()
    qtbot.keyClicks(dialog.path_edit, str(out))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert errors and "nothing to export" in errors[0] and not out.exists()
    assert dialog.isVisible()  # the user can change the options and try again
    # reviewed up to 4 s (frame 112): only the segment ending inside the span is exported
    SetReviewState(project.video_id, "partial", 112).apply(project)
    dialog.update_summary()
    assert dialog.summary.text() == "1 videos, 1 segments as csv"
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    with out.open(newline="") as f:
        assert [r["label"] for r in csv.DictReader(f)] == ["cheering"]


def test_the_next_export_starts_where_and_as_the_last_one_went(qtbot, exporting, project, tmp_path):
    SetReviewState(project.video_id, "done").apply(project)
    dialog = open_dialog(qtbot, exporting)
    qtbot.keyClicks(dialog.format_box, "elan")
    out = tmp_path / "pipeline" / "eaf"
    dialog.path_edit.selectAll()
    qtbot.keyClicks(dialog.path_edit, str(out))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    again = open_dialog(qtbot, exporting)
    assert again.fmt() == "elan" and again.path_edit.text() == str(out)
    qtbot.keyClicks(again.format_box, "csv")         # another format: the same folder
    assert again.path_edit.text() == str(out.parent / "annotations.csv")
    again.reject()


def test_unreviewed_videos_without_segments_are_left_out_unless_asked(qtbot, exporting, project):
    project.add_video("nobody_looked", fps=25.0, frame_count=100)
    dialog = open_dialog(qtbot, exporting)
    qtbot.keyClicks(dialog.format_box, "csv")
    assert not dialog.include_empty.isEnabled()      # only reviewed: nothing unreviewed anyway
    qtbot.mouseClick(dialog.only_reviewed, Qt.MouseButton.LeftButton)
    assert dialog.summary.text() == "1 videos, 2 segments as csv"
    assert dialog.include_empty.isEnabled() and not dialog.include_empty.isChecked()
    qtbot.mouseClick(dialog.include_empty, Qt.MouseButton.LeftButton)
    assert dialog.summary.text() == "2 videos, 2 segments as csv"
    dialog.reject()


@pytest.mark.parametrize("answer", [False, True])
def test_a_folder_export_over_the_users_own_files_asks_first(qtbot, exporting, project, tmp_path,
                                                            monkeypatch, answer):
    """An ELAN folder holding the user's own `demo.eaf`: the export asks; Cancel leaves the file
    as it was, Yes replaces it (the export is redone with force)."""
    asked = []

    def confirm(parent, exc):
        asked.append((exc.overwritten, exc.deleted))
        return answer

    monkeypatch.setattr("sdanet_gui.ui.panels.export_dialog.confirm_replace", confirm)
    SetReviewState(project.video_id, "done").apply(project)
    folder = tmp_path / "elan"
    folder.mkdir()
    (folder / "demo.eaf").write_text("my own notes, not an export")
    dialog = open_dialog(qtbot, exporting)
    qtbot.keyClicks(dialog.format_box, "elan")
    dialog.path_edit.selectAll()
    qtbot.keyClicks(dialog.path_edit, str(folder))
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    assert asked == [(["demo.eaf"], [])]
    if answer:
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
        assert "ANNOTATION_DOCUMENT" in (folder / "demo.eaf").read_text()
    else:
        assert dialog.isVisible()
        assert (folder / "demo.eaf").read_text() == "my own notes, not an export"
