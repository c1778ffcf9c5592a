"""`sdanet-gui PATH ...` (and a drop) opens every kind of path: a video, a folder of videos, a
feature file or folder, an annotation file, a project folder; without a project, a video gets a
new one in the default location and the window says where. The paths go through the real
argument parser and the same `open_paths` call `ui.application.run_app` makes."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from sdanet_gui.app import build_parser
from sdanet_gui.bundled import resource_files
from sdanet_gui.paths import app_paths


def _open(window, *argv):
    window.open_paths(build_parser().parse_args([str(a) for a in argv]).paths)


def _demo(tmp_path) -> Path:
    demo = tmp_path / "demo"
    shutil.copytree(Path(str(resource_files() / "demo")), demo)
    return demo


def test_a_video_without_a_project_gets_one_in_the_default_place_and_the_window_says_where(
        qtbot, window, demo_video):
    _open(window, demo_video)
    qtbot.waitUntil(lambda: window.review is not None and window.review.player.shown_frame == 0, timeout=15000)
    folder = Path(window.project.folder)
    assert folder.parent == app_paths().default_projects and (folder / "project.sqlite").is_file()
    assert str(folder) in window.project_label.text() and window.project_label.isVisible()  # always in sight
    # annotations for it that reach past its 10 s end: imported, clipped, and the user is told
    gt = Path(window.project.folder) / "late.csv"
    gt.write_text("video,label,start_s,end_s\nmmaction2__demo,action,9.0,12.0\n")
    _open(window, gt)
    box = window.findChild(QMessageBox, "errorDialog")
    assert box is not None and box.windowTitle() == "Some segments did not fit their video"
    assert "1 segment of" in box.text() and "clipped" in box.text()
    assert window.project.segments("mmaction2__demo")[-1].end_frame == 280


def test_feature_file_video_and_annotations_together_make_one_entry_per_video(qtbot, window, tmp_path):
    demo = _demo(tmp_path)
    _open(window, demo / "features" / "demo_1.h5", demo / "annotations.json", demo / "videos" / "demo_1.mp4")
    project = window.project
    qtbot.waitUntil(lambda: window.review is not None and window.review.player.shown_frame == 0, timeout=15000)
    names = [v.name for v in project.videos()]
    assert names == ["demo_1", "demo_2", "demo_3"]  # the video joined its entry: no "demo_1 (2)"
    rec = project.video("demo_1")
    assert Path(rec.feature_ref) == demo / "features" / "demo_1.h5"
    assert project.video_path("demo_1") == demo / "videos" / "demo_1.mp4" and rec.clock_kind == "decoded"
    assert len(project.segments("demo_1")) > 0 and project.classes()[:4] == ["Flash", "Slide", "Grow", "Spin"]


def test_folders_of_features_and_of_videos_and_a_project_folder(qtbot, window, tmp_path, demo_video):
    demo = _demo(tmp_path)
    _open(window, demo / "features")  # a folder with feature files only: all attached
    project = window.project
    assert sorted(Path(v.feature_ref).name for v in project.videos()) == ["demo_1.h5", "demo_2.h5", "demo_3.h5"]
    assert "Features attached" in window.statusBar().currentMessage()
    _open(window, demo / "videos")  # a folder of videos: all of them, the first shown
    qtbot.waitUntil(lambda: all(v.located for v in project.videos()), timeout=20000)
    assert len(project.videos()) == 3
    folder = project.folder
    window.close()

    from sdanet_gui.ui.shell.main_window import MainWindow

    again = MainWindow()
    qtbot.addWidget(again)
    _open(again, folder)  # the project folder
    qtbot.waitUntil(lambda: again.review is not None and again.review.player.shown_frame is not None, timeout=15000)
    assert Path(again.project.folder) == Path(folder) and len(again.project.videos()) == 3
    again.close()


def test_a_file_that_is_not_a_feature_file_is_one_clear_message(qtbot, window, tmp_path):
    bad = tmp_path / "notes.h5"
    bad.write_bytes(b"not hdf5")
    _open(window, bad)
    box = window.findChild(QMessageBox, "errorDialog")
    assert box is not None and str(bad) in box.text() and "HDF5" in box.text()
    assert str(bad) in window.statusBar().currentMessage() and window.project.videos() == []
