"""Launching with a video reuses the untitled project that already holds it (a user had five
"Untitled" projects after five launches), and empty untitled projects can be cleaned up."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox

from sdanet_gui.paths import app_paths
from sdanet_gui.project.store import Project


def launch_with(qtbot, new_window, video):
    window = new_window((1280, 800))
    window.open_paths([video])
    qtbot.waitUntil(lambda: window.review is not None and window.review.player.shown_frame == 0, timeout=15000)
    return window


def untitled():
    return sorted(p.name for p in app_paths().default_projects.glob("Untitled *"))


def test_the_same_video_twice_opens_the_same_project(qtbot, new_window, demo_video, sample_videos):
    first = launch_with(qtbot, new_window, demo_video)
    folder = first.project.folder
    first.review.editor.add(0, 10, 40)                # work the user expects to find again
    first.close()
    second = launch_with(qtbot, new_window, demo_video)
    assert second.project.folder == folder and untitled() == [folder.name]
    assert len(second.project.segments(second.current_video_id)) == 1
    second.close()
    other = next(v for v in sample_videos if v.name == "moviepy__chaplin.mp4")
    third = launch_with(qtbot, new_window, other)      # another video: a project of its own
    assert third.project.folder != folder and len(untitled()) == 2
    third.close()


def test_empty_untitled_projects_can_be_cleaned_up_and_nothing_else(qtbot, new_window, demo_video, tmp_path):
    root = app_paths().default_projects
    for name in ("Untitled 2026-01-01 000001", "Untitled 2026-01-01 000002"):
        Project.create(root / name).close()
    kept = Project.create(root / "Untitled 2026-01-01 000003")
    kept.add_video("something", duration=5.0)
    kept.close()
    mine = Project.create(root / "My project")               # not the program's: never touched
    mine.close()
    window = launch_with(qtbot, new_window, demo_video)
    box = window.opening.clean_up_projects()
    assert box is not None and "Remove 2 untitled project(s)" in box.text()
    box.button(QMessageBox.StandardButton.Yes).click()
    names = sorted(p.name for p in root.iterdir())
    assert "Untitled 2026-01-01 000001" not in names and "Untitled 2026-01-01 000002" not in names
    assert "Untitled 2026-01-01 000003" in names and "My project" in names
    assert window.project.folder.name in names               # the open one, of course
    assert window.opening.clean_up_projects() is None                 # nothing left to clean
