"""File > Export…: write the project's human segments in one of the project's export formats.

Why: the corrected annotations are the product of a review; this dialog is the one place in the
window that turns them into a file other tools read. It starts from what a ground-truth file
should hold (only reviewed videos) and from where this project was last exported, in the same
format. It only chooses options and calls
`project.exchange.export_annotations`; it never formats annotations itself. A UserError from the
writer becomes the error dialog; the window keeps running. A folder export that would overwrite
or delete files this program did not write asks first (`confirm_replace`) and is redone with
force only on Yes.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QMessageBox, QPushButton,
                               QWidget)

from ...project.exchange import EXPORT_FORMATS
from .dialogs import show_error

# formats written into a folder (one file per video or per class) rather than one file
FOLDER_FORMATS = ("thumos14", "elan", "wtalc")
LAST_EXPORT_KEY = "last_export"   # project setting {format, path, folder}; user setting {folder}
DEFAULT_NAMES = {"activitynet": "annotations.json", "csv": "annotations.csv",
                 "thumos14": "thumos14_annotations", "elan": "elan_annotations",
                 "wtalc": "wtalc_annotations"}


class ExportDialog(QDialog):
    """Format, only-reviewed, a summary of what will be written, a path, Export."""

    def __init__(self, project, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Export annotations")
        self.setObjectName("exportDialog")
        self.project = project
        self.written: Path | None = None
        self._suggested = ""   # the path this dialog proposed (replaced when the format changes)
        self.format_box = QComboBox(self)
        self.format_box.setObjectName("exportFormat")
        self.format_box.addItems(list(EXPORT_FORMATS))
        self.only_reviewed = QCheckBox("Only reviewed videos (and reviewed spans)", self)
        self.only_reviewed.setObjectName("exportOnlyReviewed")
        self.only_reviewed.setChecked(True)   # what a ground-truth file should hold
        self.include_empty = QCheckBox("Also unreviewed videos without segments, as having no action", self)
        self.include_empty.setObjectName("exportIncludeEmpty")
        self.include_empty.setToolTip("Off: a video nobody has looked at is left out instead of being "
                                      "written as a video where nothing happens")
        self.include_empty.setEnabled(False)
        self.summary = QLabel(self)
        self.summary.setObjectName("exportSummary")
        self.path_edit = QLineEdit(self)
        self.path_edit.setObjectName("exportPath")
        self.browse = QPushButton("Browse…", self)
        self.browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.browse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.export_button.setObjectName("exportButton")
        self.buttons.accepted.connect(self._export)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Format", self.format_box)
        form.addRow("", self.only_reviewed)
        form.addRow("", self.include_empty)
        form.addRow("Will write", self.summary)
        form.addRow("To", path_row)
        form.addRow(self.buttons)
        self.format_box.currentTextChanged.connect(self._format_changed)
        self.only_reviewed.toggled.connect(lambda on: self.include_empty.setEnabled(not on))
        self.only_reviewed.toggled.connect(self.update_summary)
        self.include_empty.toggled.connect(self.update_summary)
        self.path_edit.textChanged.connect(self._path_changed)
        last = self._last()
        if last.get("format") in EXPORT_FORMATS:
            self.format_box.setCurrentText(last["format"])
        self._format_changed(self.format_box.currentText())

    def fmt(self) -> str:
        return self.format_box.currentText()

    def _last(self) -> dict:
        """Where and how this project was last exported (its settings), else the user's last
        export folder (user settings), so an export goes where the pipeline reads it."""
        from ... import user_settings

        mine = self.project.get_setting(LAST_EXPORT_KEY)
        if isinstance(mine, dict):
            return mine
        theirs = user_settings.get(LAST_EXPORT_KEY)
        return {"folder": theirs.get("folder")} if isinstance(theirs, dict) else {}

    def _format_changed(self, fmt: str) -> None:
        text = self.path_edit.text().strip()
        if not text or text == self._suggested:  # keep a path the user typed
            last = self._last()
            if last.get("format") == fmt and last.get("path"):
                self._suggested = last["path"]
            else:
                folder = last.get("folder") or str(Path(self.project.folder) / "exports")
                self._suggested = str(Path(folder) / DEFAULT_NAMES[fmt])
            self.path_edit.setText(self._suggested)
        self.update_summary()

    def _path_changed(self, text: str) -> None:
        self.export_button.setEnabled(bool(text.strip()))

    def update_summary(self) -> None:
        """'N videos, M segments as FMT (a folder)' for the chosen options."""
        from ...project.exchange import project_annotations

        aset = project_annotations(self.project, only_reviewed=self.only_reviewed.isChecked(),
                                   include_empty_unreviewed=self.include_empty.isChecked())
        n_seg = sum(len(v.segments) for v in aset.videos.values())
        where = " (a folder)" if self.fmt() in FOLDER_FORMATS else ""
        self.summary.setText(f"{len(aset.videos)} videos, {n_seg} segments as {self.fmt()}{where}")

    def _browse(self) -> None:
        if self.fmt() in FOLDER_FORMATS:
            path = QFileDialog.getExistingDirectory(self, "Export into folder", self.path_edit.text())
        else:
            path, _ = QFileDialog.getSaveFileName(self, "Export to file", self.path_edit.text())
        if path:
            self.path_edit.setText(path)

    def _export(self, force: bool = False) -> None:
        from ...data.export_folder import ExportWouldOverwrite
        from ...errors import UserError
        from ...project.exchange import export_annotations

        from ... import user_settings

        path = Path(self.path_edit.text().strip())
        try:
            self.written = export_annotations(self.project, self.fmt(), path,
                                              only_reviewed=self.only_reviewed.isChecked(),
                                              include_empty_unreviewed=self.include_empty.isChecked(),
                                              force=force)
        except ExportWouldOverwrite as exc:  # files we did not write: only with the user's yes
            if not force and confirm_replace(self, exc):
                self._export(force=True)
            return
        except UserError as exc:
            show_error(self, "Cannot export", str(exc))
            return
        last = {"format": self.fmt(), "path": str(path), "folder": str(path.parent)}
        try:   # remembered for next time: a convenience, never a reason to fail the export
            self.project.set_setting(LAST_EXPORT_KEY, last)
            user_settings.update(**{LAST_EXPORT_KEY: {"folder": last["folder"]}})
        except UserError:
            pass
        self.accept()


def confirm_replace(parent: QWidget, exc) -> bool:
    """Ask before an export overwrites or deletes files this program did not write."""
    from ...data.export_folder import short_list

    lines = [f"{exc.folder} holds files this program did not write:"]
    lines += [f"{what}: {short_list(names, 8)}" for what, names in
              (("overwritten", exc.overwritten), ("deleted", exc.deleted)) if names]
    lines.append("Replace them?")
    answer = QMessageBox.question(parent, "Replace files?", "\n".join(lines),
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                  QMessageBox.StandardButton.Cancel)
    return answer == QMessageBox.StandardButton.Yes
