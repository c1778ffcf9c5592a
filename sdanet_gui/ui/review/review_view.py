"""The review area of the main window: player on top, transport bar, timeline below, and the
keyboard map a reviewer uses without touching the mouse.

Default keys (the registry and the user's overrides live in keymap.py): Space play/pause;
Left/Right or , . one frame; Shift+Left/Right 1 s; Alt+Left/Right 10 s; Home/End; [ ] slower/faster
(0.1x..4x); L loop the selected segment; Ctrl+G go to time; Tab / Shift+Tab next/previous segment;
Ctrl+Left/Right nudge the selected boundary 1 frame, Ctrl+Shift+Left/Right 10 frames; S split at
the playhead; M merge with the next; I / O mark in / out (adds a segment in the current lane); Del
delete; 1..9 relabel; P or Ctrl+K class palette; Enter confirm / accept; Shift+Enter confirm all
predictions in view; N / Shift+N next / previous review item (review_queue); R reviewed up to the
playhead; Ctrl+D video done; Ctrl+Z / Ctrl+Shift+Z undo / redo; F fit the timeline; + / - zoom.

Keys work wherever the focus is in the window (a plot after a wheel zoom, a table, a dock), not
only in the review area: each key of the keymap is a window-wide QShortcut (`_install_shortcuts`),
which Qt matches before any widget sees the key. Only while typing does a key belong to the
field: text fields claim typing keys themselves, and the keys they do not claim (Return, Tab)
are handed back to them; a slider or list box keeps its arrow keys. keymap.KeyMap turns a key
into an action id and `_build_handlers` maps ids to what they do; the same registry drives the
Help sheet. Edits made by single keys are named and bursts of them offered for undo
(key_edits.py).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QAbstractSlider, QAbstractSpinBox, QApplication,
                               QComboBox,
                               QDoubleSpinBox, QHBoxLayout, QInputDialog, QKeySequenceEdit, QLabel,
                               QLineEdit, QPlainTextEdit, QSplitter, QStyle, QTextEdit, QToolButton,
                               QVBoxLayout, QWidget)

from ...data.units import format_timecode, parse_timecode
from .editing import EditController
from .key_edits import BurstToast, KeyEdits, is_single_key
from .keymap import ACTIONS, PORTABLE, KeyMap, action, event_text
from .player import FrameView, PlayerController
from .review_queue import ReviewQueue
from .timeline import TimelineWidget

K = Qt.Key
M = Qt.KeyboardModifier

# (keys, description) of the default keymap, generated from the registry (keymap.help_html is the sheet)
KEYMAP_HELP = [(" / ".join(a.defaults), a.description) for a in ACTIONS]
TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox, QKeySequenceEdit, QComboBox)
NAVIGATION_KEYS = {"Left", "Right", "Up", "Down", "Home", "End", "PgUp", "PgDown"}


def _wants_key(widget, key: str) -> bool:
    """Whether the focused widget should get this key rather than the keymap: a text field, a
    list box or a table cell being edited gets every key that reaches a shortcut (Return, Tab:
    typing keys it claims itself); a slider keeps its navigation keys."""
    if widget is None:
        return False
    if isinstance(widget, TEXT_INPUTS):
        return True
    view = widget.parentWidget().parentWidget() if widget.parentWidget() is not None else None
    if isinstance(view, QAbstractItemView) and widget.parentWidget() is view.viewport():
        return True   # a cell editor
    return isinstance(widget, QAbstractSlider) and key.split("+")[-1] in NAVIGATION_KEYS


def _forward_key(widget, key: str, shortcuts) -> None:
    """Deliver a key a shortcut caught to the widget it was typed into (with the shortcuts off
    meanwhile: a sent key event is matched against shortcuts again)."""
    combo = QKeySequence(key, PORTABLE)[0]
    for sc in shortcuts:
        sc.setEnabled(False)
    try:
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(widget, QKeyEvent(kind, combo.key(), combo.keyboardModifiers()))
    finally:
        for sc in shortcuts:
            sc.setEnabled(True)


class ReviewView(QWidget):
    """Player + transport + timeline for one video, with the edit controller wired in.
    Signals: status(text) for the status line; action_triggered(action id) before a keymap
    action runs (whichever widget had the focus)."""

    status = Signal(str)
    action_triggered = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("reviewView")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.frame_view = FrameView(self)
        self.player = PlayerController(self.frame_view, self)
        self.timeline = TimelineWidget(self)
        self.timeline.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.editor = EditController(self.timeline, self.player, self)
        self.queue = ReviewQueue(self.editor, self)
        self.palette = None  # the open class_palette.ClassPalette

        self.play_button = QToolButton(self)
        self.play_button.setObjectName("playButton")
        self.play_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
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
        # display filter of the predictions (prediction_filter; saved in the project settings):
        # one widget, its words inside it, so the bar fits a 1280-px window
        self.filter_spin = QDoubleSpinBox(self)
        self.filter_spin.setObjectName("predictionFilter")
        self.filter_spin.setRange(0.0, 1.0)
        self.filter_spin.setSingleStep(0.05)
        self.filter_spin.setDecimals(2)
        self.filter_spin.setPrefix("Hide < ")
        self.filter_spin.setSuffix("× best")
        self.filter_spin.setValue(self.editor.min_relative_score)
        self.filter_spin.setToolTip(
            "Hide predicted segments scoring below this fraction of the best score of their class "
            "in this video (0: show all). Soft-NMS keeps overlapping duplicates with decayed scores; "
            "this hides them. Predictions stay stored; saved with the project.")
        self.filter_spin.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.filter_spin.valueChanged.connect(self.editor.set_prediction_filter)
        self.speed_label = QLabel("1x", self)
        self.speed_label.setObjectName("speedLabel")
        self.speed_label.setToolTip("Playback speed ([ slower, ] faster)")
        self.next_button = QToolButton(self)  # review queue: next item by uncertainty
        self.next_button.setObjectName("queueNextButton")
        self.next_button.setText("Next")
        self.next_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.next_button.clicked.connect(self.queue.next)
        self.queue_label = QLabel("", self)
        self.queue_label.setObjectName("queueLabel")
        self.queue.count_changed.connect(self._show_queue_count)
        self.queue.message.connect(self.status)
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.setSpacing(4)
        bar.addWidget(self.play_button)
        bar.addWidget(self.time_label)
        bar.addStretch(1)
        bar.addWidget(self.filter_spin)
        bar.addSpacing(6)
        bar.addWidget(self.next_button)
        bar.addWidget(self.queue_label)
        bar.addSpacing(6)
        bar.addWidget(self.speed_label)
        bar.addWidget(self.fit_button)
        self.bar_widgets = [self.play_button, self.time_label, self.filter_spin, self.next_button,
                            self.queue_label, self.speed_label, self.fit_button]

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
        self.player.playing_changed.connect(self._show_playing)
        self.player.speed_changed.connect(lambda s: self.speed_label.setText(f"{s:g}x"))
        self.player.error.connect(self.status)
        self.timeline.seek_requested.connect(self.player.seek_seconds)
        self.editor.message.connect(self.status)
        self.toast = BurstToast(self.frame_view)
        self.key_edits = KeyEdits(self.editor.undo_stack, self.toast, self.status.emit)
        self._shortcuts: list[QShortcut] = []
        self.keymap = KeyMap.load()
        self._handlers = self._build_handlers()
        self.reload_shortcuts()
        self._update_time_label()

    def _show_playing(self, on: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if on else QStyle.StandardPixmap.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(icon))

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
        self.queue.set_result(None)
        self.timeline.set_playhead(0.0)
        self.timeline.fit()
        # as wide as its widest text for this video, so the bar never reflows while playing
        # (a label that grows with each frame number would shift the timeline under the mouse)
        last = self.player.frame_count - 1
        widest = f"{format_timecode(self.player.duration)} / {format_timecode(self.player.duration)}  " \
                 f"frame {'8' * len(str(last))} / {last}"
        self.time_label.setFixedWidth(self.time_label.fontMetrics().horizontalAdvance(widest) + 6)
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
            f"{format_timecode(p.seconds())} / {format_timecode(p.duration)}  "
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
        a, b = self.player.seconds(seg.start_frame), self.player.seconds(seg.end_frame)
        self.status.emit(f"Looping {format_timecode(a)}–{format_timecode(b)} (L again: stop)")

    # --- keys ------------------------------------------------------------------------------------------
    def _build_handlers(self) -> dict:
        """Action id (keymap.ACTIONS) -> what it does here."""
        p, e, t = self.player, self.editor, self.timeline
        handlers = {
            "play_pause": p.toggle_play,
            "frame_back": lambda: p.step(-1), "frame_forward": lambda: p.step(1),
            "back_1s": lambda: p.jump(-1.0), "forward_1s": lambda: p.jump(1.0),
            "back_10s": lambda: p.jump(-10.0), "forward_10s": lambda: p.jump(10.0),
            "first_frame": p.home, "last_frame": p.end, "slower": p.slower, "faster": p.faster,
            "go_to_time": self.go_to_time, "loop": self.toggle_loop,
            "fit": t.fit, "zoom_in": lambda: t.zoom(0.5), "zoom_out": lambda: t.zoom(2.0),
            "next_segment": lambda: e.select_next(1), "previous_segment": lambda: e.select_next(-1),
            "nudge_back": lambda: e.nudge(-1), "nudge_forward": lambda: e.nudge(1),
            "nudge_back_10": lambda: e.nudge(-10), "nudge_forward_10": lambda: e.nudge(10),
            "split": e.split_at_playhead, "merge": e.merge_with_next,
            "mark_in": e.mark_in_here, "mark_out": e.mark_out_here, "delete": e.delete_selected,
            "class_palette": self.open_class_palette,
            "confirm": e.confirm_selected, "undo": e.undo_stack.undo, "redo": e.undo_stack.redo,
            "queue_next": self.queue.next, "queue_previous": self.queue.previous,
            "confirm_in_view": e.confirm_all_in_view,
            "reviewed_to_playhead": e.mark_reviewed_to_playhead, "mark_done": e.mark_done,
        }
        for n in range(1, 10):
            handlers[f"relabel_{n}"] = (lambda i=n - 1: e.relabel(i))
        missing = {a.id for a in ACTIONS} - set(handlers)
        assert not missing, f"keymap actions without a handler: {missing}"
        return handlers

    def reload_shortcuts(self, keymap: KeyMap | None = None) -> None:
        """Use `keymap` (default: the user's saved shortcuts) from now on; tooltips follow."""
        self.keymap = keymap if keymap is not None else KeyMap.load()
        self._install_shortcuts()
        self.next_button.setToolTip(f"Next review item, most uncertain first ({self.keymap.describe('queue_next')})")
        self.play_button.setToolTip(f"Play / pause ({self.keymap.describe('play_pause')})")
        self.fit_button.setToolTip(f"Show the whole video on the timeline ({self.keymap.describe('fit')})")

    def _install_shortcuts(self) -> None:
        """One window-wide QShortcut per key of the keymap, so a key works wherever the focus
        is in the window (a plot, a table, a dock), not only in the review area: Qt matches
        shortcuts before any widget sees the key, and a text field that wants a key (typing,
        its cursor keys) claims it first (ShortcutOverride). Keys the window's menus own (Undo,
        Redo) stay theirs; a symbol typed with Shift (+) also matches its binding."""
        for sc in self._shortcuts:
            sc.setEnabled(False)
            sc.deleteLater()
        self._shortcuts = []
        window = self.window()
        owned = {a.shortcut().toString(PORTABLE) for a in window.findChildren(QAction)
                 if window is not self and not a.shortcut().isEmpty()}
        bound = self.keymap.bound_keys()
        for aid, keys in self.keymap.bindings.items():
            for key in keys:
                if key in owned:
                    continue
                variants = [key]
                if is_single_key(key) and not key.isalnum() and f"Shift+{key}" not in bound:
                    variants.append(f"Shift+{key}")
                for text in variants:
                    sc = QShortcut(QKeySequence(text, PORTABLE), self)
                    sc.setContext(Qt.ShortcutContext.WindowShortcut)
                    sc.activated.connect(lambda aid=aid, key=key, text=text: self._shortcut(aid, key, text))
                    self._shortcuts.append(sc)

    def _shortcut(self, action_id: str, key: str, pressed: str) -> None:
        focus = QApplication.focusWidget()
        if _wants_key(focus, pressed):  # typing, or moving a slider: the key is the widget's
            _forward_key(focus, pressed, self._shortcuts)
            return
        self.run_action(action_id, key)

    def run_action(self, action_id: str, key: str = "") -> None:
        """Do what keymap action `action_id` does (pressed as `key`): edits made by single keys
        are named in the status line and the History, and a burst of them is offered for undo."""
        if self.player.reader is None:
            return
        self.action_triggered.emit(action_id)
        self.key_edits.run(key, action(action_id).description, self._handlers[action_id])

    def keyPressEvent(self, event):  # noqa: N802 - standalone view (no shortcut window): keys here
        action_id = self.keymap.action_for(event.key(), event.modifiers())
        if action_id is None:
            return super().keyPressEvent(event)
        event.accept()
        self.run_action(action_id, event_text(event.key(), event.modifiers()))

    def focusNextPrevChild(self, next_: bool) -> bool:  # noqa: N802 - Tab / Shift+Tab
        """Qt hands Tab / Shift+Tab here, not to keyPressEvent: run what the keymap binds them to."""
        if self.player.reader is None:
            return super().focusNextPrevChild(next_)
        action_id = self.keymap.action_for(Qt.Key.Key_Tab, M.NoModifier if next_ else M.ShiftModifier)
        if action_id is None:
            return super().focusNextPrevChild(next_)
        self.run_action(action_id, "Tab" if next_ else "Shift+Tab")
        return True

    # --- model versions, review queue, class palette ----------------------------------------------
    def go_to_segment(self, seg_id: int) -> None:
        """Select a segment (> 0 human, < 0 a prediction, negated) and seek to its start."""
        e = self.editor
        e.select(seg_id)
        seg = e.project.segment(seg_id) if seg_id > 0 else e.project.predicted_segment(-seg_id)
        self.player.seek_frame(seg.start_frame)

    def show_versions(self, active, previous, show_previous: bool) -> None:
        """Which model versions' predictions the lanes draw: the active version's (None: every
        stored prediction) and, with `show_previous`, the previous version's above them."""
        e = self.editor
        e.model_version_id = active.id if active is not None else None
        e.previous_version_id = previous.id if previous is not None else None
        e.show_previous = show_previous
        shown = previous if show_previous else None
        self.timeline.set_previous_caption(
            None if shown is None else
            f"dashed, above each lane: previous model '{shown.name}'; filled: active "
            f"'{active.name if active is not None else '?'}'")

    def show_model_result(self, result) -> None:
        """The jobs.scoring.VideoResult of the shown video: score curves and the review queue's ranking."""
        self.timeline.set_model_scores(result.spec, result.cas, result.attention, result.classes)
        self.queue.set_result(result)

    def _show_queue_count(self, left: int, total: int) -> None:
        self.queue_label.setText(f"{left} of {total} left" if total else "")
        self.queue_label.setToolTip("Review items (predicted segments and their boundaries) not yet "
                                    "confirmed, edited or inside the reviewed span")

    def open_class_palette(self) -> None:
        from .class_palette import open_palette

        self.palette = open_palette(self.editor, self, self.status.emit)
        if self.palette is not None:  # gone once closed: never keep a deleted popup around
            self.palette.destroyed.connect(lambda *_: setattr(self, "palette", None))
