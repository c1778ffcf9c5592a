"""What the window tells the reviewer without being asked: a damaged video that decodes only in
part, what the timeline's lines and bars mean, whether the player plays."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QStyle


def test_a_video_that_decodes_only_in_part_says_so_in_the_window(qtbot, window, shared_data):
    damaged = shared_data / "videos" / "decord__corrupted.mp4"   # header: 50 frames; 28 decode
    window.open_paths([damaged])
    qtbot.waitUntil(lambda: window.review is not None and window.review.player.reader is not None, timeout=20000)
    box = next(b for b in window.findChildren(QMessageBox, "errorDialog") if b.isVisible())
    assert box.windowTitle() == "Part of the video cannot be decoded"
    assert str(damaged) in box.text() and "28 of 50" in box.text()
    assert "28 of 50" in window.statusBar().currentMessage()
    box.close()
    window.open_paths([damaged])   # shown again in this session: no second dialog
    qtbot.wait(500)
    assert not any(b.isVisible() for b in window.findChildren(QMessageBox, "errorDialog"))


def test_the_timeline_explains_its_lines_and_bars_and_the_play_button_shows_pause(qtbot, window, demo_video):
    window.open_paths([demo_video])
    qtbot.waitUntil(lambda: window.review is not None and window.review.player.shown_frame == 0, timeout=15000)
    review = window.review
    tip = review.timeline.toolTip()
    for words in ("dashed grey", "attention", "dotted line", "threshold", "darker", "predicted"):
        assert words in tip
    style = review.style()
    play = style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay).cacheKey()
    pause = style.standardIcon(QStyle.StandardPixmap.SP_MediaPause).cacheKey()
    assert play != pause
    review.player.play()
    assert review.play_button.icon().pixmap(16).toImage() == style.standardIcon(
        QStyle.StandardPixmap.SP_MediaPause).pixmap(16).toImage()
    review.player.pause()
    assert review.play_button.icon().pixmap(16).toImage() == style.standardIcon(
        QStyle.StandardPixmap.SP_MediaPlay).pixmap(16).toImage()
