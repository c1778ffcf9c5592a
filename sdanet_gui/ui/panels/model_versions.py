"""Model > Versions…: every model version of the project with its metrics, and one-click
rollback (or roll-forward).

Why: after fine-tuning (or loading another checkpoint) the user must see whether the new model is
better and be able to go back in one click. The dialog lists name (the bundled demo model says it
is one), created, parent, held-out average mAP before -> after (from the fine-tune metrics when
present; what it rests on in the tooltip) and checkpoint (a missing file is shown as such),
marks the active and the previous version, and shows what the last switch changed
(`session.change_summary`, session/versions.py). "Make active" is `session.adopt`: a version a
run did not adopt can be chosen here too. It never writes predictions or human segments and
never runs the model.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHeaderView, QLabel, QPlainTextEdit,
                               QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout)

from ...session.versions import finetune_map_text, held_out_text, version_label
from ..relay import observe

ID_ROLE = Qt.ItemDataRole.UserRole

# --- the dialog -------------------------------------------------------------------------------

def _local_time(iso: str) -> str:
    """A stored UTC time stamp as local 'YYYY-MM-DD HH:MM:SS'."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError):
        return str(iso)


class ModelVersionsDialog(QDialog):
    """Model > Versions…: every model version of the project; "Make active" rolls back (or
    forward) in one click through `session.adopt`."""

    COLUMNS = ("", "Version", "Created", "Parent", "Held-out avg mAP (before → after)", "Checkpoint")
    STATE, NAME, CREATED, PARENT, MAP, CHECKPOINT = range(6)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.setObjectName("modelVersionsDialog")
        self.setWindowTitle("Model versions")
        self.resize(860, 420)
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("modelVersionsTree")
        self.tree.setColumnCount(len(self.COLUMNS))
        self.tree.setHeaderLabels(self.COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.itemDoubleClicked.connect(lambda *_: self.make_active())
        self.changes = QPlainTextEdit(self)
        self.changes.setObjectName("modelChanges")
        self.changes.setReadOnly(True)
        self.changes.setMaximumHeight(130)
        self.changes.setPlaceholderText("What changed when a version becomes active is shown here.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        self.make_active_button = QPushButton("Make active", self)
        self.make_active_button.setObjectName("makeActiveButton")
        self.make_active_button.setToolTip(
            "Use this version: its predictions are shown (re-scored in the background where no "
            "cached scores exist). Human segments are never changed.")
        self.make_active_button.clicked.connect(self.make_active)
        buttons.addButton(self.make_active_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree, 1)
        layout.addWidget(QLabel("Last change of the active model:", self))
        layout.addWidget(self.changes)
        layout.addWidget(buttons)
        observe(self, session.events.versions_changed, self.refresh)
        self.refresh()

    def refresh(self) -> None:
        project = self.session.project
        selected = self.selected_version_id()
        self.tree.clear()
        if project is None or project.closed:
            return
        active = project.active_model_version()
        previous = self.session.previous
        names = {}
        for mv in project.model_versions():
            names[mv.id] = mv.name
            ckpt = project.model_checkpoint(mv)
            ckpt_text = "—" if ckpt is None else (str(ckpt) if ckpt.is_file() else f"{ckpt} (missing)")
            state = ("● active" if active is not None and mv.id == active.id
                     else "previous" if previous is not None and mv.id == previous.id else "")
            item = QTreeWidgetItem([state, version_label(project, mv), _local_time(mv.created),
                                    names.get(mv.parent_id, "—" if mv.parent_id is None else f"#{mv.parent_id}"),
                                    finetune_map_text(mv), ckpt_text])
            item.setData(0, ID_ROLE, mv.id)
            rests_on = held_out_text(mv)
            if rests_on:
                item.setToolTip(self.MAP, f"Held out: {rests_on} (change and 95 % interval, points)")
            classes = mv.metrics.get("classes") if isinstance(mv.metrics, dict) else None
            if classes:
                item.setToolTip(self.NAME, f"Classes: {', '.join(classes)}")
            if ckpt is not None and not ckpt.is_file():
                item.setForeground(self.CHECKPOINT, Qt.GlobalColor.gray)
                item.setToolTip(self.CHECKPOINT, "The checkpoint file is missing: videos without "
                                                 "cached scores cannot be re-scored with this version")
            if state == "● active":
                for c in range(len(self.COLUMNS)):
                    font = QFont(item.font(c))
                    font.setBold(True)
                    item.setFont(c, font)
            self.tree.addTopLevelItem(item)
            if mv.id == selected:
                item.setSelected(True)
        summary = self.session.change_summary
        self.changes.setPlainText(summary.details_text() if summary is not None else "")
        self._update_buttons()

    def items(self) -> list[QTreeWidgetItem]:
        return [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]

    def item_of(self, mid: int) -> QTreeWidgetItem | None:
        return next((it for it in self.items() if it.data(0, ID_ROLE) == mid), None)

    def selected_version_id(self) -> int | None:
        items = self.tree.selectedItems() if self.tree is not None else []
        return int(items[0].data(0, ID_ROLE)) if items else None

    def _update_buttons(self) -> None:
        project = self.session.project
        mid = self.selected_version_id()
        active = project.active_model_version() if project is not None and not project.closed else None
        self.make_active_button.setEnabled(mid is not None and (active is None or mid != active.id))

    def make_active(self) -> None:
        mid = self.selected_version_id()
        project = self.session.project
        if mid is None or project is None:
            return
        self.session.adopt(project.model_version(mid))
        self.refresh()

