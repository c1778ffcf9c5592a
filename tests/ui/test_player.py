"""The player on a real video: frames arrive from the reader thread, keys drive the transport,
a click on the timeline shows the frame at that time, playback follows the monotonic clock."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import Qt

from sdanet_gui.data.units import format_timecode
from sdanet_gui.ui.review.player import FrameView, image_from_rgb

from .mouse import click

K = Qt.Key


def shown(view, index):
    return lambda: view.player.shown_frame == index


def test_space_plays_and_the_frame_index_advances_then_pauses(qtbot, review):
    qtbot.keyClick(review, K.Key_Space)
    assert review.player.playing
    qtbot.waitUntil(lambda: (review.player.shown_frame or 0) >= 10, timeout=5000)
    qtbot.keyClick(review, K.Key_Space)
    assert not review.player.playing
    stopped = review.player.position
    qtbot.wait(150)
    assert review.player.position == stopped


def test_click_on_the_timeline_at_2s_shows_the_frame_at_2s(qtbot, review, reader):
    tl = review.timeline
    click(tl.viewport(), tl.widget_pos("score", 2.0))
    expected = reader.clock.seconds_to_frame(2.0)
    assert abs(review.player.position - expected) <= 1  # one pixel is < 1 frame here
    qtbot.waitUntil(shown(review, review.player.position), timeout=5000)
    np.testing.assert_array_equal(review.frame_view.frame, reader.frame(review.player.position))
    assert tl.playhead == pytest.approx(reader.clock.frame_to_seconds(review.player.position))
    assert format_timecode(reader.clock.frame_to_seconds(review.player.position)) in review.time_label.text()


def test_frame_step_jumps_home_end_keys(qtbot, review, reader):
    p = review.player
    qtbot.keyClick(review, K.Key_Right)
    qtbot.keyClick(review, K.Key_Period)
    assert p.position == 2
    qtbot.keyClick(review, K.Key_Comma)
    assert p.position == 1
    qtbot.keyClick(review, K.Key_Right, Qt.KeyboardModifier.ShiftModifier)  # +1 s
    assert p.position == reader.clock.seconds_to_frame(reader.clock.frame_to_seconds(1) + 1.0)
    qtbot.keyClick(review, K.Key_End)
    assert p.position == reader.frame_count - 1
    qtbot.keyClick(review, K.Key_Left, Qt.KeyboardModifier.AltModifier)  # -10 s from the end
    assert p.seconds() == pytest.approx(reader.clock.frame_to_seconds(reader.frame_count - 1) - 10.0, abs=0.04)
    qtbot.keyClick(review, K.Key_Home)
    assert p.position == 0
    qtbot.waitUntil(shown(review, 0), timeout=5000)
    assert "frame 0 / 279" in review.time_label.text()


def test_speed_keys_clamp_between_0_1x_and_4x(qtbot, review):
    for _ in range(12):
        qtbot.keyClick(review, K.Key_BracketRight)
    assert review.player.speed == 4.0 and review.speed_label.text() == "4x"
    for _ in range(12):
        qtbot.keyClick(review, K.Key_BracketLeft)
    assert review.player.speed == pytest.approx(0.1)


def test_playback_position_comes_from_the_clock_not_from_ticks(qtbot, review, reader):
    p = review.player
    p.set_speed(2.0)
    p.play()
    t0 = time.monotonic()
    qtbot.wait(600)
    # block the UI thread for a while: ticks are missed, the position must still be right
    time.sleep(0.3)
    qtbot.wait(50)
    elapsed = time.monotonic() - t0
    p.pause()
    expected = 2.0 * elapsed
    assert p.seconds() == pytest.approx(expected, abs=0.15)


def test_go_to_time_dialog_seeks(qtbot, review, reader, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("00:00:05.500", True)))
    qtbot.keyClick(review, K.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert review.player.position == reader.clock.seconds_to_frame(5.5)


def test_frame_view_keeps_aspect_ratio_without_copying(qtbot):
    view = FrameView()
    qtbot.addWidget(view)
    view.resize(800, 300)
    frame = np.zeros((256, 340, 3), np.uint8)
    frame[:, :, 0] = 255
    view.set_frame(3, frame)
    rect = view.image_rect()
    assert rect.width() / rect.height() == pytest.approx(340 / 256, rel=1e-3)
    assert rect.height() == pytest.approx(300) and rect.center().x() == pytest.approx(400)
    img = image_from_rgb(frame)
    assert img.constBits() is not None and int(img.bytesPerLine()) == frame.strides[0]
    frame[0, 0] = (1, 2, 3)  # the image reads the array's memory: no copy was made
    assert img.pixelColor(0, 0).getRgb()[:3] == (1, 2, 3)
    pix = view.grab().toImage()
    assert pix.pixelColor(400, 150).red() == 255 and pix.pixelColor(5, 150).red() == 0  # bars


def test_portrait_rotated_video_is_shown_upright(qtbot, shared_data):
    from sdanet_gui.media.reader import open_video
    from sdanet_gui.ui.review.review_view import ReviewView

    r = open_video(shared_data / "videos" / "decord__video_90.mov")
    view = ReviewView()
    qtbot.addWidget(view)
    view.resize(800, 700)
    view.show()
    view.show_video(r)
    qtbot.waitUntil(shown(view, 0), timeout=5000)
    rect = view.frame_view.image_rect()
    assert rect.height() > rect.width()  # 320x568 portrait after rotation
    view.close_video()
    r.close()


def test_editing_keys_without_a_project_only_explain(qtbot, reader):
    from sdanet_gui.ui.review.review_view import ReviewView

    view = ReviewView()
    qtbot.addWidget(view)
    view.show()
    view.show_video(reader)
    qtbot.waitUntil(shown(view, 0), timeout=5000)
    view.setFocus()
    messages = []
    view.status.connect(messages.append)
    for key in (K.Key_I, K.Key_O, K.Key_S, K.Key_M, K.Key_Delete, K.Key_1, K.Key_Return, K.Key_Tab):
        qtbot.keyClick(view, key)
    qtbot.keyClick(view, K.Key_Right, Qt.KeyboardModifier.ControlModifier)
    assert any("project" in m for m in messages) and view.player.position == 0
    view.close_video()
