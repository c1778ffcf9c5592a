"""Edits made by single keys, made visible: each one says what it did, and a burst of them (what
typing into the window by mistake produces) offers to undo them all.

Why: single-letter keys (S split, M merge, I/O marks, R reviewed, 1-9 relabel, ...) are what make
review fast, and what a path typed into the window while a dialog failed to appear turns into
segments and review marks. So the keys stay, but every edit a key makes is named in the status
line and marked in the History ("… (key S)"), and when BURST_EDITS or more such edits follow
each other at typing speed (each within BURST_GAP_S of the one before) a toast over the player
says so with "Undo all", which rewinds the undo stack to before the first of them. A reviewer's
deliberate key edits are further apart (they look and listen first); typing is 5-10 keys a second.

`KeyEdits(undo_stack, parent)`: the review view calls `run(key_text, action)` for every keymap
action a key triggers; `toast` is the widget (hidden until a burst).
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

BURST_EDITS = 4          # this many edits from single keys ...
BURST_GAP_S = 0.5        # ... each this soon after the one before is a burst
TOAST_MS = 10_000        # the toast stays this long after the last edit of the burst


def is_single_key(key_text: str) -> bool:
    """A key without modifiers that types a character: what typing by mistake presses."""
    return len(key_text) == 1 and key_text.isprintable() and not key_text.isspace()


class BurstToast(QFrame):
    """"7 edits from keys in 1 s — Undo all", over the bottom of the player."""

    undo_all = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("keyBurstToast")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.label = QLabel(self)
        self.button = QPushButton("Undo all", self)
        self.button.setObjectName("undoKeyBurst")
        self.button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.button.clicked.connect(self.undo_all)
        close = QPushButton("×", self)
        close.setFlat(True)
        close.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        close.setToolTip("Keep the edits")
        close.clicked.connect(self.hide)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 4, 4, 4)
        row.addWidget(self.label)
        row.addWidget(self.button)
        row.addWidget(close)
        self.hide()

    def show_text(self, text: str) -> None:
        self.label.setText(text)
        self.adjustSize()
        parent = self.parentWidget()
        if parent is not None:
            self.move(max(0, (parent.width() - self.width()) // 2), max(0, parent.height() - self.height() - 12))
        self.show()
        self.raise_()


class KeyEdits:
    def __init__(self, undo_stack, toast: BurstToast, status):
        self.undo_stack = undo_stack
        self.toast = toast
        self.status = status                    # callable(text): the status line
        self._burst: list[tuple[float, int]] = []  # (time, undo index before the edit)
        self._hide = QTimer(toast)
        self._hide.setSingleShot(True)
        self._hide.setInterval(TOAST_MS)
        self._hide.timeout.connect(toast.hide)
        toast.undo_all.connect(self.undo_burst)

    def run(self, key_text: str, description: str, action) -> None:
        """Run `action` for a key; name the edit it made (status line, History)."""
        before = self.undo_stack.index()
        count = self.undo_stack.count()
        action()
        after = self.undo_stack.index()
        if after == before and self.undo_stack.count() == count:
            return  # no edit (a seek, a selection, a refused edit with its own message)
        text = self.undo_stack.text(after - 1)
        if not is_single_key(key_text):
            return
        command = self.undo_stack.command(after - 1)
        if command is not None and "(key " not in command.text():
            command.setText(f"{text} (key {key_text})")
        self.status(f"{key_text}: {description} — {text}")
        now = time.monotonic()
        if self._burst and now - self._burst[-1][0] > BURST_GAP_S:
            self._burst = []
        self._burst.append((now, before))
        if len(self._burst) >= BURST_EDITS:
            span = now - self._burst[0][0]
            self.toast.show_text(f"{len(self._burst)} edits from keys in {max(span, 0.1):.1f} s")
            self._hide.start()

    def undo_burst(self) -> None:
        """Rewind the undo stack to before the first edit of the burst."""
        if self._burst:
            self.undo_stack.setIndex(min(i for _, i in self._burst))
            self.status(f"Undid {len(self._burst)} edits made by keys")
        self._burst = []
        self.toast.hide()
