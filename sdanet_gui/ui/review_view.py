"""The review area of the main window: player on top, transport bar, timeline below, and the
keyboard map a reviewer uses without touching the mouse.

Keys (also listed in KEYMAP_HELP): Space play/pause; Left/Right or , . one frame; Shift+Left/Right
1 s; Alt+Left/Right 10 s; Home/End; [ ] slower/faster (0.1x..4x); L loop the selected segment; Ctrl+G go to time; Tab /
Shift+Tab next/previous segment; Ctrl+Left/Right nudge the selected boundary 1 frame,
Ctrl+Shift+Left/Right 10 frames; S split at the playhead; M merge with the next; I / O mark in /
out (adds a segment in the current lane); Del delete; 1..9 relabel; Enter confirm / accept;
Ctrl+Z / Ctrl+Shift+Z undo / redo; F fit the timeline; + / - zoom the timeline.

Keys are handled in keyPressEvent of this widget (children pass unhandled keys up), so they work
wherever the focus is inside the review area, and the same table drives the Help sheet.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDoubleSpinBox, QHBoxLayout, QInputDialog, QLabel, QSplitter,
                               QToolButton, QVBoxLayout, QWidget)

from ..data.units import format_timecode, parse_timecode
from .editing import EditController
from .player import FrameView, PlayerController
from .timeline import TimelineWidget

K = Qt.Key
M = Qt.KeyboardModifier

KEYMAP_HELP = [
    ("Space", "Play / pause"), ("Left / Right, comma / period", "Previous / next frame"),
    ("Shift+Left / Shift+Right", "Back / forward 1 s"), ("Alt+Left / Alt+Right", "Back / forward 10 s"),
    ("Home / End", "First / last frame"), ("[ / ]", "Slower / faster (0.1x to 4x)"),
    ("Ctrl+G", "Go to time"), ("L", "Loop the selected segment (again: stop looping)"), ("Tab / Shift+Tab", "Next / previous segment"),
    ("Ctrl+Left / Ctrl+Right", "Nudge selected boundary 1 frame"),
    ("Ctrl+Shift+Left / Ctrl+Shift+Right", "Nudge selected boundary 10 frames"),
    ("S", "Split at the playhead"), ("M", "Merge with the next segment"),
    ("I / O", "Mark in / mark out (adds a segment)"), ("Delete", "Delete segment"),
    ("1..9", "Relabel as class 1..9"), ("Enter", "Confirm segment / accept prediction"),
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo"), ("F, + / -", "Fit / zoom the timeline"),
]


class ReviewView(QWidget):
    """Player + transport + timeline for one video, with the edit controller wired in."""

    status = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("reviewView")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.frame_view = FrameView(self)
        self.player = PlayerController(self.frame_view, self)
        self.timeline = TimelineWidget(self)
        self.timeline.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.editor = EditController(self.timeline, self.player, self)

        self.play_button = QToolButton(self)
        self.play_button.setObjectName("playButton")
        self.play_button.setText("▶")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.play_button.clicked.connect(self.player.toggle_play)
        self.fit_button = QToolButton(self)
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Show the whole video on the timeline (F)")
        self.fit_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.fit_button.clicked.connect(self.timeline.fit)
        self.time_label = QLabel(self)
        self.time_label.setObjectName("timeLabel")
        self.time_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # display filter of the predictions (prediction_filter; saved in the project settings)
        self.filter_label = QLabel("Hide predictions below", self)
        self.filter_spin = QDoubleSpinBox(self)
        self.filter_spin.setObjectName("predictionFilter")
        self.filter_spin.setRange(0.0, 1.0)
        self.filter_spin.setSingleStep(0.05)
        self.filter_spin.setDecimals(2)
        self.filter_spin.setSuffix(" × class best")
        self.filter_spin.setValue(self.editor.min_relative_score)
        self.filter_spin.setToolTip(
            "Show a predicted segment only if its score reaches this fraction of the best score of "
            "its class in this video (0: show all). Soft-NMS keeps overlapping duplicates with "
            "decayed scores; this hides them. Predictions stay stored; saved with the project.")
        self.filter_label.setToolTip(self.filter_spin.toolTip())
        self.filter_spin.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.filter_spin.valueChanged.connect(self.editor.set_prediction_filter)
        self.speed_label = QLabel("1x", self)
        self.speed_label.setObjectName("speedLabel")
        bar = QHBoxLayout()
        bar.setContentsMargins(6, 2, 6, 2)
        bar.addWidget(self.play_button)
        bar.addWidget(self.time_label, 1)
        bar.addWidget(self.filter_label)
        bar.addWidget(self.filter_spin)
        bar.addSpacing(12)
        bar.addWidget(self.speed_label)
        bar.addWidget(self.fit_button)

        top = QWidget(self)
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(0)
        top_layout.addWidget(self.frame_view, 1)
        top_layout.addLayout(bar)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.timeline)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setChildrenCollapsible(False)
        self.timeline.setMinimumHeight(240)
        self._sized = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

        self.player.position_changed.connect(self._on_position)
        self.player.frame_shown.connect(self._update_time_label)
        self.player.playing_changed.connect(lambda on: self.play_button.setText("⏸" if on else "▶"))
        self.player.speed_changed.connect(lambda s: self.speed_label.setText(f"{s:g}x"))
        self.player.error.connect(self.status)
        self.timeline.seek_requested.connect(self.player.seek_seconds)
        self.editor.message.connect(self.status)
        self._keys = self._build_keymap()
        self._update_time_label()

    # --- opening --------------------------------------------------------------------------------------
    def show_video(self, reader, project=None, video_id: int | None = None) -> None:
        """Show `reader` (media VideoReader); with a project, its segments become editable."""
        self.player.set_reader(reader)
        if project is not None and video_id is not None:
            self.editor.set_video(project, video_id, reader.clock)
            self.filter_spin.blockSignals(True)  # the project's saved value; not a new choice
            self.filter_spin.setValue(self.editor.min_relative_score)
            self.filter_spin.blockSignals(False)
        else:
            self.timeline.set_duration(reader.clock.duration)
        self.timeline.clear_scores()
        self.timeline.set_playhead(0.0)
        self.timeline.fit()
        self._update_time_label()

    def showEvent(self, event):  # noqa: N802
        super().showEvent(event)
        if not self._sized:  # first show: give the timeline a fair share of the height
            self._sized = True
            h = max(self.height(), 400)
            self.splitter.setSizes([int(h * 0.55), int(h * 0.45)])

    def close_video(self) -> None:
        self.player.close()

    # --- position display ---------------------------------------------------------------------------
    def _on_position(self, index: int) -> None:
        self.timeline.set_playhead(self.player.seconds(index))
        self._update_time_label()

    def _update_time_label(self, *_):
        p = self.player
        if p.reader is None:
            self.time_label.setText("No video")
            return
        self.time_label.setText(
            f"{format_timecode(p.seconds())} / {format_timecode(p.duration)}   "
            f"frame {p.position} / {p.frame_count - 1}")

    def go_to_time(self) -> None:
        text, ok = QInputDialog.getText(self, "Go to time", "Time (hh:mm:ss.fff, mm:ss or seconds):",
                                        text=format_timecode(self.player.seconds()))
        if ok and text.strip():
            try:
                self.player.seek_seconds(parse_timecode(text))
            except ValueError as exc:
                self.status.emit(str(exc))

    def toggle_loop(self) -> None:
        """L: loop playback over the selected segment; L again (or no selection) stops looping."""
        e = self.editor
        if self.player.loop is not None or e.selected_id is None:
            self.player.set_loop(None)
            self.status.emit("Loop off")
            return
        seg = (e.project.segment(e.selected_id) if e.selected_id > 0
               else e.project.predicted_segment(-e.selected_id))
        self.player.set_loop((seg.start_frame, seg.end_frame))
        self.status.emit(f"Looping frames {seg.start_frame}..{seg.end_frame - 1}")

    # --- keys ------------------------------------------------------------------------------------------
    def _build_keymap(self) -> dict:
        p, e, t = self.player, self.editor, self.timeline
        none, shift, ctrl, alt = M.NoModifier, M.ShiftModifier, M.ControlModifier, M.AltModifier
        keys = {
            (K.Key_Space, none): p.toggle_play,
            (K.Key_Left, none): lambda: p.step(-1), (K.Key_Right, none): lambda: p.step(1),
            (K.Key_Comma, none): lambda: p.step(-1), (K.Key_Period, none): lambda: p.step(1),
            (K.Key_Left, shift): lambda: p.jump(-1.0), (K.Key_Right, shift): lambda: p.jump(1.0),
            (K.Key_Left, alt): lambda: p.jump(-10.0), (K.Key_Right, alt): lambda: p.jump(10.0),
            (K.Key_Home, none): p.home, (K.Key_End, none): p.end,
            (K.Key_BracketLeft, none): p.slower, (K.Key_BracketRight, none): p.faster,
            (K.Key_G, ctrl): self.go_to_time, (K.Key_L, none): self.toggle_loop,
            (K.Key_Left, ctrl): lambda: e.nudge(-1), (K.Key_Right, ctrl): lambda: e.nudge(1),
            (K.Key_Left, ctrl | shift): lambda: e.nudge(-10),
            (K.Key_Right, ctrl | shift): lambda: e.nudge(10),
            (K.Key_S, none): e.split_at_playhead, (K.Key_M, none): e.merge_with_next,
            (K.Key_I, none): e.mark_in_here, (K.Key_O, none): e.mark_out_here,
            (K.Key_Delete, none): e.delete_selected, (K.Key_Backspace, none): e.delete_selected,
            (K.Key_Return, none): e.confirm_selected, (K.Key_Enter, none): e.confirm_selected,
            (K.Key_Z, ctrl): e.undo_stack.undo, (K.Key_Z, ctrl | shift): e.undo_stack.redo,
            (K.Key_Y, ctrl): e.undo_stack.redo,
            (K.Key_F, none): t.fit, (K.Key_Plus, none): lambda: t.zoom(0.5),
            (K.Key_Equal, none): lambda: t.zoom(0.5), (K.Key_Minus, none): lambda: t.zoom(2.0),
        }
        for n in range(1, 10):
            keys[(getattr(K, f"Key_{n}"), none)] = (lambda i=n - 1: e.relabel(i))
        return keys

    def keyPressEvent(self, event):  # noqa: N802
        mods = event.modifiers() & (M.ShiftModifier | M.ControlModifier | M.AltModifier | M.MetaModifier)
        action = self._keys.get((K(event.key()), mods))
        if action is None and mods & M.KeypadModifier:
            action = self._keys.get((K(event.key()), M.NoModifier))
        if action is None:
            return super().keyPressEvent(event)
        event.accept()
        action()

    def focusNextPrevChild(self, next_: bool) -> bool:  # noqa: N802 - Tab / Shift+Tab
        if self.player.reader is None:
            return super().focusNextPrevChild(next_)
        self.editor.select_next(1 if next_ else -1)
        return True
