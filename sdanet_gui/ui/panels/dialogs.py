"""Small dialogs shared by the window: errors with a Details section, About."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


def show_error(parent: QWidget | None, title: str, message: str, details: str | None = None) -> None:
    """One clear message; the traceback or log excerpt, if any, goes under "Show Details"."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, parent)
    if details:
        box.setDetailedText(details)
    box.setObjectName("errorDialog")
    box.open() if parent is not None else box.exec()


def show_about(parent: QWidget) -> None:
    from ... import __version__
    from ...paths import app_paths

    QMessageBox.about(
        parent, "About SDANet Review",
        f"<b>SDANet Review</b> {__version__}<p>Review and correct temporal action localization, "
        "backed by SDANet (Snippet-inter Difference Attention Network, IEEE TMM 2025).</p>"
        f"<p>Log file: {app_paths().log_file}</p>")
