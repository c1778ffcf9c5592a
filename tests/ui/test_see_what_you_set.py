"""The frame you set is the frame you see: dragging or nudging a boundary shows that boundary's
frame in the player, and the player returns to where the reviewer was afterwards (a setting);
the History names edits by class and time, as the segment table does. Real video, real project,
mouse and keys as a user uses them."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt

from sdanet_gui import user_settings

from .mouse import LEFT, send
from .test_editing import frames, lane_pos, seg, t  # noqa: F401 - seg is a fixture

K = Qt.Key
CTRL = Qt.KeyboardModifier.ControlModifier


def settle(qtbot, review, frame):
    qtbot.waitUntil(lambda: review.player.position == frame and review.player.shown_frame == frame, timeout=5000)


def drag_end_of(qtbot, review, reader, from_frame, to_frame, seen):
    """Drag a boundary by hand; `seen` gets the frame the player shows after each move."""
    vp = review.timeline.viewport()
    a, b = lane_pos(review, t(reader, from_frame)), lane_pos(review, t(reader, to_frame))
    send(vp, QEvent.Type.MouseMove, a, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
    send(vp, QEvent.Type.MouseButtonPress, a, LEFT, LEFT)
    for i in range(1, 7):
        qtbot.wait(15)
        send(vp, QEvent.Type.MouseMove, a + (b - a) * (i / 6), Qt.MouseButton.NoButton, LEFT)
        seen.append(review.player.position)
    send(vp, QEvent.Type.MouseButtonRelease, b, LEFT, Qt.MouseButton.NoButton)


def test_dragging_an_end_shows_its_last_frame_then_returns_to_the_playhead(qtbot, review, project, reader, seg):
    review.player.seek_frame(20)
    settle(qtbot, review, 20)
    seen = []
    drag_end_of(qtbot, review, reader, 112, 120, seen)
    assert frames(project, seg) == (56, 120)
    assert seen[-1] == 119                 # the last frame inside the segment as it would end
    assert seen == sorted(seen) and seen[0] > 20
    settle(qtbot, review, 20)              # back where the reviewer was


def test_with_the_setting_off_the_player_stays_at_the_edited_boundary(qtbot, review, project, reader, seg):
    review.editor.set_return_after_edit(False)
    assert user_settings.get("return_to_playhead_after_edit") is False   # remembered per user
    review.player.seek_frame(20)
    settle(qtbot, review, 20)
    drag_end_of(qtbot, review, reader, 56, 50, [])                       # the start, 6 frames left
    assert frames(project, seg) == (50, 112)
    qtbot.wait(100)
    assert review.player.position == 50


def test_nudging_shows_the_boundary_and_returns_when_the_nudging_stops(qtbot, review, project, reader, seg):
    from sdanet_gui.ui.review.editing import NUDGE_RETURN_MS

    review.player.seek_frame(20)
    settle(qtbot, review, 20)
    review.editor.select(seg, "end")
    review.setFocus()
    qtbot.keyClick(review, K.Key_Right, CTRL)
    qtbot.keyClick(review, K.Key_Right, CTRL)
    assert frames(project, seg) == (56, 114)
    settle(qtbot, review, 113)             # the end's last frame is on screen
    qtbot.wait(NUDGE_RETURN_MS // 2)
    assert review.player.position == 113   # still nudging: it stays
    settle(qtbot, review, 20)              # then back


def test_history_names_edits_by_class_and_time_like_the_segment_table(qtbot, review, project, reader, seg):
    review.editor.select(seg, "end")
    review.setFocus()
    qtbot.keyClick(review, K.Key_Right, CTRL)
    qtbot.keyClick(review, K.Key_Right, CTRL)           # merged with the first nudge
    review.editor.add(1, 28, 56)
    review.player.seek_frame(80)
    settle(qtbot, review, 80)
    review.editor.select(seg)
    qtbot.keyClick(review, K.Key_S)
    undo = review.editor.undo_stack
    texts = [undo.text(i) for i in range(undo.count())]
    assert texts == ["Move end of arm wrestling 00:00:02.000–00:00:04.000 to 00:00:04.071",
                     "Add cheering 00:00:01.000–00:00:02.000",
                     "Split arm wrestling 00:00:02.000–00:00:04.071 at 00:00:02.857 (key S)"]
    assert not any("frame" in x or "segment " in x for x in texts)
