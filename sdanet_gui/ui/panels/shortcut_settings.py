"""Edit > Keyboard shortcuts…: change the review window's keys, reset them, refuse conflicts.

The dialog edits a copy of the bindings of keymap.py's registry: pick an action in the table,
press the new key in the "New key" field, then Assign (replaces the action's keys) or Add (one
more key). A key another action (or a menu, keymap.RESERVED) already uses is refused with a
message naming that action; nothing changes. "Reset to defaults" resets all, "Reset action" the
selected one. OK saves (user_settings "shortcuts", only what differs from the defaults) and
emits saved(KeyMap); Cancel forgets the edits. The dialog never performs an action.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHBoxLayout,
                               QHeaderView, QKeySequenceEdit, QLabel, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout)

from ..review import keymap
from ..review.keymap import ACTIONS, KeyMap


class ShortcutSettingsDialog(QDialog):
    saved = Signal(object)  # keymap.KeyMap

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("shortcutSettings")
        self.setWindowTitle("Keyboard shortcuts")
        self.bindings: dict[str, tuple[str, ...]] = keymap.load_bindings()
        self.table = QTableWidget(len(ACTIONS), 3, self)
        self.table.setObjectName("shortcutTable")
        self.table.setHorizontalHeaderLabels(["Group", "Action", "Keys"])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.key_edit = QKeySequenceEdit(self)
        self.key_edit.setObjectName("newKey")
        self.key_edit.setMaximumSequenceLength(1)  # one key combination, no chords
        self.assign_button = QPushButton("&Assign", self)
        self.add_button = QPushButton("A&dd", self)
        self.clear_button = QPushButton("&Clear keys", self)
        self.reset_action_button = QPushButton("Reset &action", self)
        self.reset_all_button = QPushButton("&Reset to defaults", self)
        self.message = QLabel("", self)
        self.message.setObjectName("shortcutMessage")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        for button in (self.assign_button, self.add_button):
            button.setAutoDefault(False)
        self.assign_button.clicked.connect(lambda: self.assign(self._new_key(), replace=True))
        self.add_button.clicked.connect(lambda: self.assign(self._new_key(), replace=False))
        self.clear_button.clicked.connect(self.clear_selected)
        self.reset_action_button.clicked.connect(self.reset_selected)
        self.reset_all_button.clicked.connect(self.reset_all)

        edit_row = QHBoxLayout()
        edit_row.addWidget(QLabel("New key:", self))
        edit_row.addWidget(self.key_edit, 1)
        edit_row.addWidget(self.assign_button)
        edit_row.addWidget(self.add_button)
        edit_row.addWidget(self.clear_button)
        reset_row = QHBoxLayout()
        reset_row.addWidget(self.reset_action_button)
        reset_row.addWidget(self.reset_all_button)
        reset_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(edit_row)
        layout.addWidget(self.message)
        layout.addLayout(reset_row)
        layout.addWidget(self.buttons)
        self._fill()
        self.table.selectRow(0)
        self.resize(640, 600)

    # --- table --------------------------------------------------------------------------------------
    def _fill(self) -> None:
        for row, a in enumerate(ACTIONS):
            for col, text in enumerate((a.group, a.description, self._keys_text(a.id))):
                item = self.table.item(row, col)
                if item is None:
                    item = QTableWidgetItem()
                    item.setData(Qt.ItemDataRole.UserRole, a.id)
                    self.table.setItem(row, col, item)
                item.setText(text)

    def _keys_text(self, action_id: str) -> str:
        return ", ".join(keymap.display_text(k) for k in self.bindings.get(action_id, ()))

    def row_of(self, action_id: str) -> int:
        return next(i for i, a in enumerate(ACTIONS) if a.id == action_id)

    def select_action(self, action_id: str) -> None:
        self.table.selectRow(self.row_of(action_id))

    def selected_action(self) -> str | None:
        row = self.table.currentRow()
        return ACTIONS[row].id if 0 <= row < len(ACTIONS) else None

    def _new_key(self) -> str:
        seq = self.key_edit.keySequence()
        return seq.toString(QKeySequence.SequenceFormat.PortableText) if not seq.isEmpty() else ""

    # --- edits (of the copy) ------------------------------------------------------------------------
    def assign(self, key: str, replace: bool = True) -> bool:
        """Give the selected action `key` (portable text); False + message when refused."""
        aid = self.selected_action()
        if aid is None:
            return False
        if not key:
            self.message.setText("Press the new key in the \"New key\" field first")
            return False
        keys = [key] if replace else [*self.bindings.get(aid, ()), key]
        problem = keymap.check_assignment(self.bindings, aid, keys)
        if problem:
            self.message.setText(f"Refused: {problem}.")
            return False
        self.bindings[aid] = tuple(dict.fromkeys(keymap.normalize(k) for k in keys))
        self.message.setText(f"{keymap.action(aid).description}: {self._keys_text(aid)}")
        self.key_edit.clear()
        self._fill()
        return True

    def clear_selected(self) -> None:
        aid = self.selected_action()
        if aid is not None:
            self.bindings[aid] = ()
            self.message.setText(f"{keymap.action(aid).description}: no key")
            self._fill()

    def reset_selected(self) -> None:
        aid = self.selected_action()
        if aid is None:
            return
        default = keymap.defaults()[aid]
        problem = keymap.check_assignment({**self.bindings, aid: ()}, aid, default)
        if problem:
            self.message.setText(f"Refused: {problem}.")
            return
        self.bindings[aid] = default
        self.message.setText(f"{keymap.action(aid).description}: {self._keys_text(aid)}")
        self._fill()

    def reset_all(self) -> None:
        self.bindings = keymap.defaults()
        self.message.setText("All shortcuts reset to their defaults (OK to keep)")
        self._fill()

    def accept(self) -> None:
        try:
            keymap.save_bindings(self.bindings)
        except ValueError as exc:  # cannot happen through assign(); a guard for direct callers
            self.message.setText(f"Refused: {exc}.")
            return
        except Exception as exc:  # noqa: BLE001 - UserError (disk): say so, keep the dialog
            self.message.setText(str(exc))
            return
        self.saved.emit(KeyMap(self.bindings))
        super().accept()


def install(window) -> None:
    """Add Edit > Keyboard shortcuts… to a MainWindow; saved keys apply to its review view at once."""
    from PySide6.QtGui import QAction

    act = QAction("&Keyboard shortcuts…", window)
    act.setObjectName("actionShortcutSettings")

    def open_dialog():
        dialog = ShortcutSettingsDialog(window)
        dialog.saved.connect(lambda km: window.review is not None and window.review.reload_shortcuts(km))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        window.shortcut_dialog = dialog  # tests drive it
        return dialog

    act.triggered.connect(open_dialog)
    window.menu_edit.addSeparator()
    window.menu_edit.addAction(act)
    window.action_shortcut_settings = act
    window.open_shortcut_settings = open_dialog
