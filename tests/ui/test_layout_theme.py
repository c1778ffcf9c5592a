"""The window puts things back where the user left them (size, docks, the playhead of each video)
and its timeline follows the light / dark palette. Real windows, real videos, real projects."""

from __future__ import annotations


from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from sdanet_gui import user_settings
from sdanet_gui.project.exchange import locate_video_file
from sdanet_gui.project.store import Project
from sdanet_gui.ui.review import theme
from sdanet_gui.ui.shell.layout_memory import LAYOUT_KEY, POSITIONS_KEY
from sdanet_gui.ui.review.timeline import TimelineWidget


def _showing(window, name):
    return lambda: (window.review is not None and window.current_video_id is not None
                    and window.project.video(window.current_video_id).name == name
                    and window.review.player.shown_frame == window.review.player.position)


def test_size_docks_and_the_playhead_of_each_video_come_back(qtbot, tmp_path, demo_video, shared_data,
                                                             new_window):
    folder = tmp_path / "proj"
    with Project.create(folder) as p:
        p.add_classes(["action"])
        for name, video in (("a", demo_video), ("b", shared_data / "videos" / "mmaction2__test.avi")):
            p.add_video(name)
            locate_video_file(p, name, video)

    first = new_window()
    first.resize(760, 470)  # the default is 1280 x 800
    first.open_paths([folder])
    qtbot.waitUntil(_showing(first, "a"), timeout=15000)
    assert first.undo_dock.isVisible() and first.segment_dock.isVisible()
    first.review.player.seek_frame(100)
    first.open_video_id(first.project.video("b").id)  # switch: a's playhead is kept
    qtbot.waitUntil(_showing(first, "b"), timeout=15000)
    first.review.player.seek_frame(40)
    first.open_video_id(first.project.video("a").id)
    qtbot.waitUntil(lambda: _showing(first, "a")() and first.review.player.position == 100, timeout=15000)
    first.review.player.seek_frame(150)
    first.undo_dock.toggleViewAction().trigger()  # the user closes the History dock
    assert not first.undo_dock.isVisible()
    assert first.height() == 470  # (wider than asked: the docks need room)
    first.close()
    saved = user_settings.get(LAYOUT_KEY)
    assert saved["closed_docks"] == ["historyDock"] and saved["geometry"] and saved["state"]

    second = new_window()
    # the saved size (the offscreen screen is 800 px wide: a wider window is fitted to it)
    assert second.height() == 470 and 740 <= second.width() <= second.screen().availableGeometry().width()
    assert not second.video_dock.isVisible() and not second.undo_dock.isVisible()  # nothing open yet
    second.open_paths([folder])
    qtbot.waitUntil(lambda: _showing(second, "a")() and second.review.player.position == 150, timeout=15000)
    assert second.segment_dock.isVisible() and not second.undo_dock.isVisible()
    assert second.review.timeline.playhead == second.review.player.seconds(150)
    assert second.project.get_setting(POSITIONS_KEY)[str(second.project.video("b").id)] == \
        second.project.clock("b").frame_to_seconds(40)
    second.close()


def test_a_broken_saved_layout_is_ignored(qtbot, new_window):
    user_settings.update(window_layout={"geometry": "not base64!", "state": 7})
    w = new_window()  # starts with its defaults, no error
    assert w.isVisible() and not w.video_dock.isVisible()
    w.close()


def _background(timeline) -> QColor:
    img = timeline.grab().toImage()
    return img.pixelColor(QPoint(5, 5))  # the margin left of the axes: only background


def test_the_timeline_follows_the_palette_between_light_and_dark(qtbot):
    app = QApplication.instance()
    original = QPalette(QGuiApplication.palette())
    hints = QGuiApplication.styleHints()
    if hasattr(hints, "setColorScheme"):  # a real desktop switches here; offscreen ignores it
        hints.setColorScheme(Qt.ColorScheme.Dark)
    timeline = TimelineWidget()
    qtbot.addWidget(timeline)
    timeline.resize(700, 300)
    timeline.set_duration(30.0)
    timeline.set_classes(["jump", "run"])
    timeline.show()
    qtbot.waitExposed(timeline)
    try:
        start = theme.current_scheme()
        assert timeline.color_scheme == start
        assert _background(timeline).lightness() < 60 if start == "dark" else _background(timeline).lightness() > 200
        light = QPalette(QColor(239, 239, 239))
        app.setPalette(light)
        qtbot.waitUntil(lambda: timeline.color_scheme == "light")
        assert _background(timeline).lightness() > 200
        assert timeline.lane(1).color == theme.class_color(1, 2, "light") != theme.class_color(1, 2, "dark")
        assert timeline.lane_plot.getAxis("bottom").textPen().color() == theme.LIGHT.foreground
        dark = QPalette(QColor(45, 45, 45))
        app.setPalette(dark)
        qtbot.waitUntil(lambda: timeline.color_scheme == "dark")
        assert _background(timeline).lightness() < 60
        assert timeline.lane(1).color == theme.class_color(1, 2, "dark")
    finally:
        app.setPalette(original)
        if hasattr(hints, "unsetColorScheme"):
            hints.unsetColorScheme()
    assert theme.current_scheme() == start
