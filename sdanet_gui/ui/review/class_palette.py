"""The class palette: a small keyboard-driven popup (filter line + list) to pick a class by name.

Why: number keys reach only the first nine classes; THUMOS has 20 and ActivityNet 200. Typing a
few letters and Enter relabels the selected segment (a selected prediction is accepted and
relabelled in one undo step); with nothing selected the chosen class becomes the one the next
added segment gets (mark in / mark out adds in the current class lane).

Matching: case-insensitive; names that start with the filter first, then names containing it,
then names containing its letters in order (so "crbo" finds "CricketBowling");
the class order of the project breaks ties. Keys: typing filters, Up/Down/PageUp/PageDown move,
Enter picks, Escape closes. The palette changes nothing itself: the editor's commands do.
"""

from __future__ import annotations

from typing import Callable, Sequence

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout


def match_classes(classes: Sequence[str], text: str) -> list[int]:
    """Indices of `classes` matching the filter `text`, best first (see the module docstring)."""
    q = text.strip().lower()
    if not q:
        return list(range(len(classes)))
    prefix, contains, letters = [], [], []
    for i, name in enumerate(classes):
        n = name.lower()
        if n.startswith(q):
            prefix.append(i)
        elif q in n:
            contains.append(i)
        elif _in_order(q.replace(" ", ""), n):
            letters.append(i)
    return prefix + contains + letters


def _in_order(letters: str, name: str) -> bool:
    it = iter(name)
    return all(ch in it for ch in letters)


class ClassPalette(QDialog):
    """Popup with a filter and the matching classes; emits chosen(class index) on Enter."""

    chosen = Signal(int)

    def __init__(self, classes: Sequence[str], title: str = "", parent=None):
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("classPalette")
        self.classes = list(classes)
        self.title = QLabel(title, self)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setObjectName("classFilter")
        self.filter_edit.setPlaceholderText("Type to filter classes, Enter to choose")
        self.list = QListWidget(self)
        self.list.setObjectName("classList")
        self.list.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay in the filter line
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.list)
        self.filter_edit.textChanged.connect(self._refilter)
        self.filter_edit.installEventFilter(self)
        self.filter_edit.returnPressed.connect(self.choose_current)
        self.list.itemActivated.connect(lambda _item: self.choose_current())
        self.resize(340, 320)
        self._refilter("")

    def matches(self) -> list[int]:
        return [self.list.item(r).data(Qt.ItemDataRole.UserRole) for r in range(self.list.count())]

    def _refilter(self, text: str) -> None:
        self.list.clear()
        for i in match_classes(self.classes, text):
            hint = f"{i + 1}  " if i < 9 else "    "
            item = QListWidgetItem(f"{hint}{self.classes[i]}")
            item.setData(Qt.ItemDataRole.UserRole, i)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)

    def eventFilter(self, obj, event):  # noqa: N802 - arrows in the filter move the list
        if obj is self.filter_edit and event.type() == QEvent.Type.KeyPress:
            moves = {Qt.Key.Key_Down: 1, Qt.Key.Key_Up: -1, Qt.Key.Key_PageDown: 8, Qt.Key.Key_PageUp: -8}
            step = moves.get(Qt.Key(event.key()))
            if step is not None and self.list.count():
                row = min(max(self.list.currentRow() + step, 0), self.list.count() - 1)
                self.list.setCurrentRow(row)
                return True
        return super().eventFilter(obj, event)

    def choose_current(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        index = int(item.data(Qt.ItemDataRole.UserRole))
        self.accept()
        self.chosen.emit(index)


def open_palette(editor, parent, on_message: Callable[[str], None] | None = None) -> ClassPalette | None:
    """Show the palette for `editor` (EditController) under `parent`: the pick relabels the
    selection, or with none sets the class of the next added segment. Returns the popup."""
    if not editor.classes:
        if on_message:
            on_message("This project has no classes yet")
        return None
    sel = editor.selected_id
    title = ("Relabel the selected segment as…" if sel and sel > 0 else
             "Accept the selected prediction as…" if sel and sel < 0 else
             "Class for the next added segment…")
    palette = ClassPalette(editor.classes, title, parent)

    def picked(index: int) -> None:
        if editor.selected_id is not None:
            editor.relabel_or_accept(index)
        else:
            editor.current_row = index
            editor.timeline.focus_class(index)
            editor.message.emit(f"Next added segment: {editor.classes[index]}")

    palette.chosen.connect(picked)
    palette.finished.connect(palette.deleteLater)
    if parent is not None:
        center = parent.mapToGlobal(parent.rect().center())
        palette.move(center.x() - palette.width() // 2, center.y() - palette.height() // 2)
    palette.show()
    palette.filter_edit.setFocus()
    return palette
